/**
 * Solution: messages with their length in front, both ways (section
 * 12.4). For teachers.
 *
 * readExactly() reads into a buffer of exactly the size wanted, as many
 * times as it takes: a read never takes more than that, so nothing of
 * the next message is ever read too early, and nothing needs keeping.
 *
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

/** Exactly `size` bytes; null if the server hung up before the first. */
async function readExactly(conn: Deno.Conn, size: number) {
  const bytes = new Uint8Array(size);
  for (let got = 0; got < size;) {
    const n = await conn.read(bytes.subarray(got));
    if (n === null && got === 0) return null;
    if (n === null) throw new Error("the server hung up inside a message");
    got += n;
  }
  return bytes;
}

/** The next message; null if the server hung up before it began. */
async function readFrame(conn: Deno.Conn): Promise<Uint8Array | null> {
  const header = await readExactly(conn, 4);
  if (header === null) return null;
  const length = new DataView(header.buffer).getUint32(0); // big-endian
  if (length === 0) return new Uint8Array(0);
  const message = await readExactly(conn, length);
  if (message === null) throw new Error("the server hung up inside a message");
  return message;
}

/** Sends one message: its length, then its bytes. */
async function writeFrame(conn: Deno.Conn, message: Uint8Array) {
  const framed = new Uint8Array(4 + message.length);
  new DataView(framed.buffer).setUint32(0, message.length);
  framed.set(message, 4);
  for (let sent = 0; sent < framed.length;) {
    sent += await conn.write(framed.subarray(sent));
  }
}
