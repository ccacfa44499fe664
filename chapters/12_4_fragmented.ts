/**
 * Receiving a message in fragments (section 12.4, the book's fragmented.py)
 *
 * A read returns whatever has arrived, at most the size asked for, so a long
 * message comes in many chunks that have nothing to do with the sender's
 * writes. This client reads chunks until the sender hangs up, puts them
 * together, and prints how many it took and the message's SHA-256 digest.
 *
 *   $ deno task fragment-server             (terminal 1; run it first)
 *   $ deno task fragmented                  (terminal 2)
 *   Received 1048576 bytes in 1025 chunks (Length checked)
 *   SHA-256 207f8672807d3e336aaef553a73f765ac34b39bebc689f82b697b9fcb0befed0
 *
 * Any sender works (-N: netcat hangs up at the end of the file), and a
 * Length line first lets us check that nothing was cut. Each time, start the
 * sender in terminal 1 (some.file: any file, here one of 300,000 bytes),
 * then `deno task fragmented` in terminal 2; it prints the line under each:
 *
 *   $ nc -N -l 10003 < some.file
 *   Received 300000 bytes in 293 chunks (no Length line: a cut looks the same)
 *   $ { printf 'Length: %d\n' "$(wc -c < some.file)"; cat some.file; } |
 *     nc -N -l 10003
 *   Received 300000 bytes in 294 chunks (Length checked)
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { encodeHex } from "@std/encoding/hex";

// --host, --port, --chunk-size, --max-bytes, --timeout: see the end
const { hostname, port, where, chunkSize, maxBytes, seconds } = commandLine();
// One deadline for all of it (the book has none): a silent sender, or one
// that trickles a byte now and then, would keep us waiting for ever. When
// it passes, the timer ends the program with its sentence.
const late = `${where} did not finish sending within ${seconds} s (--timeout).`;
const timer = setTimeout(() => exit(1, late), seconds * 1000);
// Memory follows the bytes received: every read lands in one buffer, which
// doubles when the next read might not fit. A resizable ArrayBuffer grows in
// place: it reserves addresses for `room` bytes but takes memory only as it
// grows. Where growing means copying (Python's bytearray, a plain array),
// doubling still keeps it cheap: the copies add up to less than the message,
// so n bytes cost about 2n of work (amortised linear). `message = message +
// chunk` copies everything after every read: n²/2k bytes for chunks of k,
// quadratic. The book's list joined once is linear too, but each chunk is an
// object of its own: a sender trickling a byte per write makes a million of
// them or more. (An earlier version of this lesson kept such a list: 1.5 MB
// sent so, some 120,000 chunks, took 160 to 180 MiB. In one buffer it takes
// about 50 MiB, near the 45 MiB of the same 1.5 MB sent at once.)
const room = 2 * (maxBytes + chunkSize); // the most it can double up to
const buffer = new ArrayBuffer(0, { maxByteLength: room });
const data = new Uint8Array(buffer); // a view that grows with the buffer
let received = 0, chunks = 0;
try {
  // The book calls s.recv() on a socket it never connected (there is no
  // connect line), so its first read fails. Deno.connect connects, or throws.
  const conn = await Deno.connect({ hostname, port });
  // The book loops `while not finish` but never sets `finish`: only `break`
  // ends its loop. Ours says what it means: loop until the sender hangs up.
  while (true) {
    const end = received + chunkSize; // The most this read can fill up to.
    if (end > data.length) buffer.resize(2 * end);
    // Up to chunkSize bytes, as they come; null once the sender hangs up.
    const count = await conn.read(data.subarray(received, end));
    if (count === null) break;
    received += count;
    chunks += 1;
    if (received > maxBytes) exit(1, `${where} sent more than --max-bytes.`);
  }
  clearTimeout(timer);
  conn.close(); // The book never closes its socket.
} catch (error) {
  exit(1, explain(error));
}

// TCP's end of stream cannot tell "the sender finished" from "the sender was
// stopped": both are a hang-up. So fragment-server starts with `Length: N`:
// then exactly N bytes must follow. Without it, a cut looks like the end.
const head = new TextDecoder().decode(data.subarray(0, 30));
const header = head.match(/^Length: (\d{1,10})\n/);
const message = data.subarray(header?.[0].length ?? 0, received); // a view
const announced = Number(header?.[1] ?? message.length);
const cut = `${where} announced ${announced} bytes and sent ${message.length}`;
if (message.length < announced) exit(1, `The transfer was cut: ${cut}.`);
if (message.length > announced) exit(1, `More than announced: ${cut}.`);
// The book joins its chunks with "".join(fragments): a str joining bytes,
// a TypeError in Python 3 (b"".join works). Ours are in one piece already.
// SHA-256, the message's fingerprint: equal digests, equal messages.
const digest = encodeHex(await crypto.subtle.digest("SHA-256", message));
const note = header ? "Length checked" : "no Length line: a cut looks the same";
const pieces = chunks === 1 ? "1 chunk" : `${chunks} chunks`;
console.log(`Received ${message.length} bytes in ${pieces} (${note})`);
console.log(`SHA-256 ${digest}`);

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused): ` +
      "start the server first (deno task fragment-server).";
  } else if (error instanceof Deno.errors.NotCapable) {
    return `Deno was not allowed to reach ${where} (to allow it: deno run ` +
      `--allow-net=${where} chapters/12_4_fragmented.ts --host ${hostname} ` +
      `--port ${port})`;
  } else if (/^(ConnectionReset|NotConnected):/.test(String(error))) {
    // A reset may come after the last byte too: we say what we know. One
    // that comes as Deno.connect finishes is NotConnected (Deno asks the
    // socket for its peer's address, and a reset socket has no peer).
    return `${where} reset the connection after ${received} bytes: not a ` +
      "proper end, so the message may be incomplete.";
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${hostname}" (the name does not ` +
      "resolve).";
  }
  return `${where}: ${error}.`;
}

// ---- The command line: as in every lesson ----

function commandLine() {
  const help = `Usage: deno task fragmented [--host HOST] [--port PORT] [FLAGS]
  --host HOST     the sender's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT     the sender's port (default 10003)
  --chunk-size B  the most one read returns (default 1024; 1 to 16777216)
  --max-bytes B   stop beyond B bytes (default and most: 1073741824 = 1 GiB)
  --timeout S     give up after S seconds in all (default 10; at most a day)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "chunk-size", "max-bytes", "timeout"],
    default: { host: "127.0.0.1", port: "10003", timeout: "10" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const whole = (s: string) => /^[1-9]\d{0,9}$/.test(s) ? Number(s) : NaN;
  const port = whole(flags.port);
  const chunkSize = whole(flags["chunk-size"] ?? "1024");
  const maxBytes = whole(flags["max-bytes"] ?? "1073741824");
  const time = /^\d+(\.\d+)?$/.test(flags.timeout) ? Number(flags.timeout) : 0;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 1 to 65535");
  if (!(chunkSize <= 2 ** 24)) usage("--chunk-size must be from 1 to 16777216");
  if (!(maxBytes <= 2 ** 30)) usage("--max-bytes must be from 1 to 1073741824");
  // A day at most: a timer over 2^31-1 ms (24.8 days) fires at once.
  if (!(time > 0 && time <= 86400)) {
    usage("--timeout must be a number of seconds above 0, at most 86400");
  }
  // `127.0.0.1:10003`, or `[::1]:10003` for IPv6, as in URLs.
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { hostname: host, port, where, chunkSize, maxBytes, seconds: time };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
