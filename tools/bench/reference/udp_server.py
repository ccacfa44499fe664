# udp_server.py, from the book (section 12.4); host and port from argv.
import socket
import sys

MAXSIZE = 2048

server_port = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], server_port))
print("Listening on {}:{}".format(*s.getsockname()), flush=True)

while True:
    data, addr = s.recvfrom(MAXSIZE)
    print(data.decode('ascii'))
    response = "Response for {}".format(addr[0])
    s.sendto(response.encode('utf-8'), addr)
