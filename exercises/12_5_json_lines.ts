/**
 * Exercise: JSON values, one per line (section 12.5)
 *
 * The book's client hands one recv() to json.loads, as if one read were
 * one value. But TCP carries a stream: one read may bring three values,
 * or half of one. JSON Lines ends each value with a newline. JSON itself
 * never writes a raw newline (inside a string it is the two characters
 * \n), so the newline says where each value ends, however the bytes come.
 *
 * The check's server sends six scores, one JSON object per line, like
 *   {"name": "Ann", "score": 3}
 * then hangs up. Your task: print `NAME: SCORE` for each, in order, and
 * then `Total: N`, the sum of the scores:
 *   Ann: 3
 *   ...
 *   Total: 18
 *
 *   Check it:  deno task exercise json-lines
 *
 * It runs with --host 127.0.0.1 --port P (the check's server).
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "10005" },
});
const hostname = flags.host, port = Number(flags.port);
const conn = await Deno.connect({ hostname, port });
let total = 0;

// TODO: one read may hold several lines, or part of one.
const buffer = new Uint8Array(1024);
for (let n; (n = await conn.read(buffer)) !== null;) {
  const value = JSON.parse(new TextDecoder().decode(buffer.subarray(0, n)));
  console.log(`${value.name}: ${value.score}`);
  total += value.score;
}
conn.close();
console.log(`Total: ${total}`);
