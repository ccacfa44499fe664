/**
 * A fake server that ends with a reset (RST), for the clients' tests. Deno
 * has no SO_LINGER, and its close() with unread bytes closes in order here,
 * so it is a python3 process: it accepts one connection, reads `read` bytes
 * of the client's, sends `reply`, and resets (SO_LINGER 0, then close).
 *
 * @module
 */

import { PYTHON, pythonServer } from "./_helpers.ts";

const SCRIPT = `
import socket, struct, sys
read, reply = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
got = b""
while len(got) < read:
    more = conn.recv(read - len(got))
    if not more:
        break
    got += more
conn.sendall(reply)
conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()
`;

/** Is python3 here? Tests that need a resetter are skipped without it. */
export const noPython = PYTHON === null;

/**
 * Starts the resetter and runs `client` with its port; the resetter has
 * ended (or is killed) when this returns.
 */
export async function withResetter(
  read: number,
  reply: Uint8Array,
  client: (port: number) => Promise<void>,
): Promise<void> {
  const hex = [...reply].map((b) => b.toString(16).padStart(2, "0")).join("");
  await using resetter = await pythonServer(SCRIPT, [`${read}`, hex]);
  await client(resetter.port);
}
