# tcp_server.py, from the book (section 12.4); host and port from argv.
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
host = sys.argv[1]
port = int(sys.argv[2])
s.bind((host, port))
s.listen(5)
print("Listening on {}:{}".format(*s.getsockname()), flush=True)

count = 0
while True:
    s_client, address = s.accept()
    print("Connection from:", address)
    message = "{}. Hi new friend!\n".format(count)
    s_client.send(message.encode("ascii"))
    s_client.close()
    count += 1
