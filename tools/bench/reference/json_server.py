# json_server.py, from the book (section 12.5); host and port from argv.
# Like the book's, it serves one client, then exits.
import socket
import sys

MAX_SIZE = 1024

host = sys.argv[1]
port = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

s.bind((host, port))
s.listen(1)
print("Listening on {}:{}".format(*s.getsockname()), flush=True)
conn, addr = s.accept()
print('Connected:', addr)

while True:
    data = conn.recv(MAX_SIZE)
    if not data:
        break
    conn.sendall(data)

conn.close()
