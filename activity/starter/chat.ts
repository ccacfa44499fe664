/**
 * Activity 12.1: a chat for two over TCP (deno-chat version 1). Starter.
 *
 * Run it in two terminals (from the project's folder):
 *   deno run --allow-net activity/starter/chat.ts server --username alice
 *   deno run --allow-net activity/starter/chat.ts client --username bob
 * Check it:
 *   deno task check-chat -- deno run --allow-net activity/starter/chat.ts
 *
 * As it is, it does step 1 only: the server listens and accepts one client,
 * the client connects; then both hang up. activity/README.md takes you
 * through the other steps, one at a time; chat/README.md is the protocol.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const args = parseArgs(Deno.args, {
  string: ["username", "host", "port"],
  default: { host: "127.0.0.1", port: "10002" },
});
const role = String(args._[0]);
const username = args.username ?? "";
const hostname = args.host;
const port = Number(args.port);
if (!/^(server|client)$/.test(role) || !/^[\w.-]{1,32}$/.test(username)) {
  console.error(
    "usage: chat.ts server|client --username NAME [--host HOST] [--port PORT]",
  );
  Deno.exit(2);
}

/** Sends one frame: a JSON object on one line, then a newline. */
async function sendFrame(conn: Deno.Conn, frame: object): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(frame) + "\n");
  for (let sent = 0; sent < bytes.length;) {
    sent += await conn.write(bytes.subarray(sent));
  }
}

// Step 1: the server listens and accepts one client; the client connects.
let conn: Deno.TcpConn;
let listener: Deno.TcpListener | undefined; // step 12 (busy) needs it again
try {
  if (role === "server") {
    listener = Deno.listen({ hostname, port });
    console.log(`Listening on ${hostname}:${port}`);
    conn = await listener.accept();
    const { hostname: host, port: from } = conn.remoteAddr;
    console.log(`Someone connected from ${host}:${from}`);
  } else {
    conn = await Deno.connect({ hostname, port });
    console.log(`Connected to ${hostname}:${port}`);
  }
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}

// Step 2: the hellos (the server's first), with sendFrame above.
// Step 3 and on: the turns, the messages, leaving... see the task sheet.
void sendFrame;
conn.close();
listener?.close();
