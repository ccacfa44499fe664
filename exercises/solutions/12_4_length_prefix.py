"""Solution in Python: messages with their length in front (section 12.4).
For teachers.

    deno task exercise length-prefix -- python3 exercises/solutions/12_4_length_prefix.py

recv(n) returns at most n bytes, perhaps fewer: read_exactly() asks again
until it has them all. struct's "!I" is a 32-bit number in network byte
order (big-endian); sendall() loops until every byte is out.
"""
import socket
import struct
import sys


def flag(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def read_exactly(conn, size):
    """Exactly size bytes; None if the server hung up before the first."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            if not data:
                return None
            sys.exit("error: the server hung up inside a message")
        data += chunk
    return data


conn = socket.create_connection((flag("--host", "127.0.0.1"), int(flag("--port", "10004"))))
while True:
    header = read_exactly(conn, 4)
    if header is None:
        break  # the server hung up between two messages: the end
    (length,) = struct.unpack("!I", header)
    message = read_exactly(conn, length) if length else b""
    if message is None:
        sys.exit("error: the server hung up inside a message")
    print(f"Got {length} bytes")
    conn.sendall(struct.pack("!I", length) + message)
conn.close()
