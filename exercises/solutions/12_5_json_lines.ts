/**
 * Solution: JSON values, one per line (section 12.5). For teachers.
 *
 * Decode as a stream ({ stream: true } keeps half a character for the next
 * piece), split at each newline, and keep the unfinished end for the next
 * piece. @std/streams' TextLineStream does the same:
 * conn.readable.pipeThrough(new TextDecoderStream()).pipeThrough(new
 * TextLineStream()).
 *
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

/** One whole line: one JSON value. */
function show(line: string) {
  if (line.trim() === "") return;
  const { name, score } = JSON.parse(line);
  console.log(`${name}: ${score}`);
  total += score;
}

const decoder = new TextDecoder();
let rest = ""; // the end of the last piece, waiting for its newline
for await (const piece of conn.readable) {
  rest += decoder.decode(piece, { stream: true });
  const lines = rest.split("\n");
  rest = lines.pop()!; // after the last newline: not a whole line yet
  lines.forEach(show);
}
// Every line ends with a newline: what is left at the end was cut.
if (rest.trim() !== "") throw new Error("the server hung up inside a line");
console.log(`Total: ${total}`);
