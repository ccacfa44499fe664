/**
 * Solution: a Time server, port 37 of Table 12.1 (section 12.2). For
 * teachers.
 *
 * Date.now() counts milliseconds since 1970; RFC 868 counts seconds since
 * 1900: 70 years more, 17 of them leap years, 2,208,988,800 seconds. A
 * DataView writes a 32-bit number most significant byte first unless told
 * otherwise. The 32 bits run out on 7 February 2036: `% 2 ** 32` starts the
 * count again from 0, as RFC 868's successors agree to read it.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const FROM_1900 = 2_208_988_800; // seconds from 1900 to 1970

const flags = parseArgs(Deno.args, {
  string: ["port"],
  default: { port: "10037" },
});
const hostname = "127.0.0.1", port = Number(flags.port);
const listener = Deno.listen({ hostname, port });
console.log(`Listening on ${hostname}:${listener.addr.port}`);
for await (const conn of listener) serve(conn);

async function serve(conn: Deno.TcpConn) {
  const seconds = Math.floor(Date.now() / 1000) + FROM_1900;
  const time = new Uint8Array(4);
  new DataView(time.buffer).setUint32(0, seconds % 2 ** 32);
  try {
    // write() may take only part: loop until all 4 bytes are out. The
    // client sends nothing, so closing right after loses nothing.
    for (let sent = 0; sent < time.length;) {
      sent += await conn.write(time.subarray(sent));
    }
  } catch {
    // The client left first: nothing to do.
  }
  conn.close();
}
