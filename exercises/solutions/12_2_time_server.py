"""Solution in Python: a Time server, RFC 868 (section 12.2). For teachers.

    deno task exercise time-server -- python3 exercises/solutions/12_2_time_server.py

struct's "!I" is one unsigned 32-bit number in network byte order
(big-endian); sendall loops until every byte is out.
"""
import socket
import struct
import sys
import time

FROM_1900 = 2_208_988_800  # seconds from 1900 to 1970

port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 10037
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()
print(f"Listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
while True:
    client, _ = server.accept()
    seconds = (int(time.time()) + FROM_1900) % 2**32
    client.sendall(struct.pack("!I", seconds))
    client.close()
