"""Activity 12.1: a chat for two over TCP (deno-chat version 1). Starter.

Run it in two terminals:
    python3 chat.py server --username alice
    python3 chat.py client --username bob
Check it (from the project's folder):
    deno task check-chat -- python3 activity/starter/chat.py

As it is, it does step 1 only: the server listens and accepts one client,
the client connects; then both hang up. activity/README.md takes you
through the other steps, one at a time; chat/README.md is the protocol.
"""

import argparse
import json
import re
import socket
import sys


def command_line():
    """server|client, --username, --host and --port, as the checker gives them."""
    parser = argparse.ArgumentParser(description="A chat for two over TCP.")
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--username", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10002)
    args = parser.parse_args()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", args.username):
        parser.error('--username: 1 to 32 letters, digits, "_", "." or "-"')
    return args


def connect(args):
    """Step 1: the server listens and accepts one client; the client connects.

    Returns the connected socket, and the server's listening socket (None for
    the client): step 12 (busy) needs the listening socket again.
    """
    if args.role == "server":
        listener = socket.create_server((args.host, args.port))
        print(f"Listening on {args.host}:{args.port}", flush=True)
        sock, address = listener.accept()
        print(f"Someone connected from {address[0]}:{address[1]}", flush=True)
        return sock, listener
    sock = socket.create_connection((args.host, args.port))
    print(f"Connected to {args.host}:{args.port}", flush=True)
    return sock, None


def send_frame(sock, frame):
    """Sends one frame: a JSON object on one line, then a newline."""
    sock.sendall(json.dumps(frame).encode("utf-8") + b"\n")


def main():
    args = command_line()
    try:
        sock, listener = connect(args)
    except OSError as error:
        sys.exit(f"error: {error}")
    # Step 2: the hellos (the server's first).
    # Step 3 and on: the turns, the messages, leaving... see the task sheet.
    sock.close()
    if listener is not None:
        listener.close()


if __name__ == "__main__":
    main()
