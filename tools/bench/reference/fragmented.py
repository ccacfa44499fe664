# fragmented.py, from the book (section 12.4), with its two slips fixed so it
# runs: it connects (to argv's host and port) before receiving, and joins the
# bytes with b"" (the book's "".join raises TypeError in Python 3).
import hashlib
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((sys.argv[1], int(sys.argv[2])))
MAX_SIZE = 1024

fragments = []
finish = False
while not finish:
    chunk = s.recv(MAX_SIZE)
    if not chunk:
        break
    fragments.append(chunk)

# Joining original message
message = b"".join(fragments)
print("Received {} bytes in {} chunks".format(len(message), len(fragments)))
print("SHA-256", hashlib.sha256(message).hexdigest())
