"""A client written the way people write one with Python's ssl module: it
verifies the server's certificate against a CA file and the name "localhost",
sends one line, prints the reply, then sends DESCONEXION and closes.

Usage: python3 tls_client.py <port> <ca-file> <message>
"""
import socket
import ssl
import sys

port, ca_file, message = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca_file)
with socket.create_connection(("127.0.0.1", port)) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall((message + "\n").encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = tls.recv(1024)
            if not chunk:
                break
            reply += chunk
        print(reply.decode().rstrip("\n"))
        print("verified:", tls.getpeercert()["subject"][0][0][1])
        tls.sendall(b"DESCONEXION")
        print("closed by the server" if tls.recv(1024) == b"" else "not closed")
