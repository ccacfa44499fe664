/**
 * Solution: one server, two address families (section 12.3). For
 * teachers.
 *
 * The second socket asks for the port the first one got. Each loop waits
 * for ever, so they run side by side (Promise.all), not one after the
 * other.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["port"],
  default: { port: "10006" },
});
const ipv4 = Deno.listen({ hostname: "127.0.0.1", port: Number(flags.port) });
console.log(`Listening on 127.0.0.1:${ipv4.addr.port}`);
// With --port 0, ipv4.addr.port is the port the system picked: ask for it.
const ipv6 = Deno.listen({ hostname: "::1", port: ipv4.addr.port });
console.log(`Listening on [::1]:${ipv6.addr.port}`);
await Promise.all([serve(ipv4), serve(ipv6)]);

async function serve(listener: Deno.TcpListener) {
  for await (const conn of listener) greet(conn);
}

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
