"""A client written the way most hand-written clients of this exercise are.

It sends the text with no newline, reads the answer with one recv(1024), then
sends DESCONEXION bare and waits for the server to close.

Usage: python3 recv_client.py PORT MESSAGE
Prints the answer, then "closed by the server" once recv returns nothing.
"""

import socket
import sys

port, message = int(sys.argv[1]), sys.argv[2]
with socket.create_connection(("127.0.0.1", port)) as conn:
    conn.send(message.encode("utf-8"))
    print(conn.recv(1024).decode("utf-8"))
    conn.send(b"DESCONEXION")
    if conn.recv(1024) == b"":
        print("closed by the server")
