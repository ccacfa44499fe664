/**
 * Exercise: read the whole greeting (section 12.4)
 *
 * The greeting server sends one line and hangs up. But TCP carries a
 * stream of bytes, not messages: the line may come in pieces, with pauses
 * between them, and a read returns only what has arrived so far. This
 * client reads once, as the book's tcp_server-listener.py does.
 *
 * Your task: print the whole greeting, however the network cuts it up.
 * Read until the server hangs up, and make sure a character cut in two
 * between pieces (👋 is 4 bytes) still comes out whole.
 *
 *   Check it:  deno task exercise whole-greeting
 *   By hand:   deno task tcp-server                     (terminal 1)
 *              deno run --allow-net=127.0.0.1 exercises/12_4_whole_greeting.ts
 *              0. Hi new friend!                        (terminal 2)
 *
 * The check runs it with --host 127.0.0.1 --port P against a server that
 * sends its greeting in three pieces, 150 ms apart.
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

// TODO: one read returns whatever has arrived so far: perhaps one piece.
const buffer = new Uint8Array(1024);
const n = await conn.read(buffer);
const greeting = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
conn.close();
console.log(greeting.trimEnd());
