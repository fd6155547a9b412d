"""A server written the way most hand-written servers of this exercise are.

One recv(1024) is one message; it is uppercased and sent back (stripped of its
newline with --strip, as some do); the text is compared to DESCONEXION exactly;
one client at a time.

Usage: python3 recv_server.py CLIENTS [--strip]
Prints its port, then one line per client saying how the client left.
"""

import socket
import sys

clients, strip = int(sys.argv[1]), "--strip" in sys.argv
with socket.create_server(("127.0.0.1", 0)) as server:
    print(server.getsockname()[1], flush=True)
    for _ in range(clients):
        conn, _ = server.accept()
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    print("left without DESCONEXION", flush=True)
                    break
                text = data.decode("utf-8")
                if text == "DESCONEXION":
                    print("DESCONEXION received", flush=True)
                    break
                conn.send((text.strip() if strip else text).upper().encode("utf-8"))
