/**
 * Exercise: one server, two address families (section 12.3)
 *
 * A socket belongs to one address family: AF_INET (IPv4) or AF_INET6
 * (IPv6). A server listening on 127.0.0.1 does not hear a client that
 * dials ::1, the IPv6 loopback address. This server listens on IPv4 only.
 *
 * Your task: listen on ::1 too, with a second socket on the SAME port, and
 * greet the clients of both sockets, at the same time. Print a line for
 * each socket, with the port it really got:
 *
 *   Listening on 127.0.0.1:10006
 *   Listening on [::1]:10006
 *
 * greet() is done: it tells each client which family it came over.
 *
 *   Check it:  deno task exercise dual-stack
 *   By hand:   deno run --allow-net=127.0.0.1,[::1] exercises/12_3_dual_stack.ts
 *              then in terminal 2: nc ::1 10006
 *              Hello [::1]:53124, you came over IPv6
 *
 * The check starts it with --port 0: the system then picks the first
 * socket's port, and the second must ask for the same one.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["port"],
  default: { port: "10006" },
});
const ipv4 = Deno.listen({ hostname: "127.0.0.1", port: Number(flags.port) });
console.log(`Listening on 127.0.0.1:${ipv4.addr.port}`);
// TODO: a second socket, on ::1 and the same port; accept on both at once.
for await (const conn of ipv4) greet(conn);

/** Greets a client: its address, and the family it came over. */
async function greet(conn: Deno.TcpConn) {
  const { hostname, port } = conn.remoteAddr;
  const ipv6 = hostname.includes(":");
  const who = ipv6 ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  const family = ipv6 ? "IPv6" : "IPv4";
  const text = `Hello ${who}, you came over ${family}\n`;
  const bytes = new TextEncoder().encode(text);
  try {
    for (let sent = 0; sent < bytes.length;) {
      sent += await conn.write(bytes.subarray(sent));
    }
  } catch {
    // The client left early: nothing to do.
  }
  conn.close();
}
