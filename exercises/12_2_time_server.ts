/**
 * Exercise: a Time server, port 37 of Table 12.1 (section 12.2)
 *
 * Table 12.1 lists port 37, Time: one of the Internet's oldest services
 * (RFC 868, 1983). A client connects and sends nothing; the server sends
 * the time as one 32-bit number, the seconds since 1 January 1900, 00:00
 * UTC, as 4 bytes, the most significant first; then it hangs up. No text.
 *
 * Your task: make serve() send those 4 bytes, then hang up. (Listening
 * below port 1024 needs administrator rights: this uses 10037.)
 *
 *   Check it:  deno task exercise time-server
 *   By hand:   deno run --allow-net=127.0.0.1 exercises/12_2_time_server.ts
 *              Listening on 127.0.0.1:10037
 *              then in terminal 2: nc 127.0.0.1 10037 | od -An -tu1
 *              233 201 95 60        (four numbers: the time, in bytes)
 *
 * The check starts it with --port 0 (any free port), reads the port from
 * the `Listening on` line, and connects twice at once.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["port"],
  default: { port: "10037" },
});
const hostname = "127.0.0.1", port = Number(flags.port);
const listener = Deno.listen({ hostname, port });
console.log(`Listening on ${hostname}:${listener.addr.port}`);
for await (const conn of listener) serve(conn);

async function serve(conn: Deno.TcpConn) {
  // TODO: the seconds since 1900, as 4 bytes, most significant first.
  const time = new Uint8Array(0);
  await conn.write(time);
  conn.close();
}
