/**
 * Solution: read the whole greeting (section 12.4). For teachers.
 *
 * Read until the server hangs up, through a streaming decoder: it holds
 * the first half of a character cut between two pieces until the rest
 * comes. (Collecting the bytes and decoding them once at the end is just
 * as right.)
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "10001" },
});
const hostname = flags.host, port = Number(flags.port);
const conn = await Deno.connect({ hostname, port });

// Each turn brings what has arrived; the loop ends when the server hangs
// up. Reading the stream to its end also closes the connection.
let greeting = "";
for await (const piece of conn.readable.pipeThrough(new TextDecoderStream())) {
  greeting += piece;
}
console.log(greeting.trimEnd());
