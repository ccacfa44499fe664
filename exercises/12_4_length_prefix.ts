/**
 * Exercise: messages with their length in front, both ways (section 12.4)
 *
 * TCP keeps the bytes in order, not the pieces: one read may bring two
 * messages, or half of one. So each message goes with its length in
 * front: 4 bytes, one 32-bit number, most significant byte first, then
 * that many bytes. (fragment-server's `Length: N` line does the same in
 * text; TLS, HTTP/2 and WebSocket frame their messages in binary so.)
 *
 * The check's server sends 5 messages, cut up and glued together in the
 * worst ways, and hangs up once it has all 5 back. Your client prints
 * `Got N bytes` for each message, sends each one back framed the same
 * way, and ends (status 0) when the server hangs up.
 *
 * Your task: readFrame() and writeFrame() at the bottom.
 *
 *   Check it:  deno task exercise length-prefix
 *
 * It runs with --host 127.0.0.1 --port P (the check's server).
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "10004" },
});
const hostname = flags.host, port = Number(flags.port);
const conn = await Deno.connect({ hostname, port });
while (true) {
  const message = await readFrame(conn);
  if (message === null) break; // the server hung up
  console.log(`Got ${message.length} bytes`);
  await writeFrame(conn, message);
}
conn.close();

/** The next message; null if the server hung up before it began. */
async function readFrame(conn: Deno.Conn): Promise<Uint8Array | null> {
  // TODO: a read returns what has arrived: part of a length, part of a
  // message, or more than one message.
  const buffer = new Uint8Array(65536);
  const n = await conn.read(buffer);
  if (n === null) return null;
  const length = new DataView(buffer.buffer).getUint32(0);
  return buffer.subarray(4, 4 + length);
}

/** Sends one message: its length, then its bytes. */
async function writeFrame(conn: Deno.Conn, message: Uint8Array) {
  // TODO: the length first, 4 bytes, most significant first; and every
  // byte (write() may take only part).
  await conn.write(message);
}
