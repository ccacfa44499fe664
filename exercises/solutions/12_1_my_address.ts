/**
 * Solution: who am I? An address as bytes, and as text (section 12.1).
 * For teachers.
 *
 * A DataView reads 16-bit numbers big-endian unless told otherwise: the
 * network's byte order. IPv4 is its four bytes in decimal, joined by dots;
 * IPv6 is eight 16-bit groups in hexadecimal, joined by colons, which the
 * URL parser writes the short way (RFC 5952), in brackets.
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
const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
if (bytes.length !== 6 && bytes.length !== 18) {
  console.error(`error: expected 6 or 18 bytes, got ${bytes.length}`);
  Deno.exit(1);
}

const view = new DataView(bytes.buffer);
const seen = view.getUint16(bytes.length - 2); // big-endian by default
if (bytes.length === 6) {
  console.log(`${bytes.subarray(0, 4).join(".")}:${seen}`);
} else {
  const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => view.getUint16(i));
  const text = groups.map((group) => group.toString(16)).join(":");
  console.log(`${new URL(`http://[${text}]`).hostname}:${seen}`);
}
