/**
 * Exercise: who am I? An address as bytes, and as text (section 12.1)
 *
 * An IPv4 address is 4 bytes, an IPv6 address 16; people write them as
 * text. The check's server tells each client the address it sees it come
 * from, as a STUN server does for a video call: as bytes, not text. It
 * sends 4 bytes of IPv4 (or 16 of IPv6), then 2 bytes of port, each number
 * most significant byte first ("network byte order"), and hangs up.
 *
 * Your task: print what the server saw, as the lessons print addresses:
 *   6 bytes  7f 00 00 01 a3 44          ->  127.0.0.1:41796
 *   18 bytes 00 00 ... 00 01 a3 44      ->  [::1]:41796
 * (Any IPv6 spelling will do: [0:0:0:0:0:0:0:1]:41796 too.)
 *
 *   Check it:  deno task exercise my-address
 *
 * The check runs it twice, with --host 127.0.0.1 and with --host ::1,
 * each time with the --port of its server.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "3478" },
});
const hostname = flags.host, port = Number(flags.port);
const conn = await Deno.connect({ hostname, port });
// Every byte, until the server hangs up (this part is done for you).
const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());

// TODO: 6 bytes are an IPv4 address and a port; 18 are IPv6 and a port.
console.log(bytes.join("."));
