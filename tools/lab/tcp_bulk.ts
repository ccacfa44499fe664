/**
 * A bulk TCP transfer with a SHA-256 on both sides, for the lab's lossy
 * and slow paths (not a lesson: `deno task lab loss` and `lab slow` run it
 * inside their "computers").
 *
 *   B $ deno run --allow-net=0.0.0.0:10009 tools/lab/tcp_bulk.ts receive
 *   Listening on 0.0.0.0:10009
 *   A $ deno run --allow-net=10.77.0.2:10009 tools/lab/tcp_bulk.ts send \
 *         --host 10.77.0.2 --size 4194304
 *   B: Received 4194304 bytes from 10.77.0.1:40112, SHA-256 5e1f...
 *   A: Sent 4194304 bytes in 1.312 s, SHA-256 5e1f...
 *
 * The sender makes SIZE bytes from a seeded generator (tools/lab/bytes.ts:
 * the same --seed, the same bytes), writes them all, says "that was all"
 * (closeWrite) and waits for the receiver's digest and end of file; the
 * time it prints runs from connecting to that end, so it covers every
 * resent segment. The receiver takes one connection, reads to end of file,
 * and prints and sends back the SHA-256 of what it got. Equal digests mean
 * every byte arrived, in order, unchanged. Stopped early (Ctrl-C, SIGTERM
 * or --timeout), the receiver still says how many bytes it had, and their
 * SHA-256.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { seededBytes, sha256 } from "./bytes.ts";

const HELP =
  `Usage: tcp_bulk.ts receive|send [--host HOST] [--port PORT] [--size BYTES]
                   [--seed N] [--timeout S]
  receive        take one connection, read to the end, print its SHA-256
  send           send SIZE bytes to HOST:PORT, print time and SHA-256
  --host HOST    receive: address to listen on (default 0.0.0.0);
                 send: the receiver's address (default 127.0.0.1)
  --port PORT    the receiver's port (default 10009)
  --size BYTES   send: how many bytes, at most 268435456 (default 4194304)
  --seed N       send: which bytes (the same N, the same bytes; default 1)
  --timeout S    give up after S seconds (default 120)`;

const MAX = 256 * 1024 * 1024;

function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["host", "port", "size", "seed", "timeout"],
  default: { port: "10009", size: "4194304", seed: "1", timeout: "120" },
  unknown: (arg: string) =>
    arg === "receive" || arg === "send" ||
    usage(`unknown argument ${JSON.stringify(arg)}`),
});
const role = String(flags._[0] ?? "");
if (flags._.length !== 1 || !["receive", "send"].includes(role)) {
  usage(`say receive or send`);
}
const whole = (text: string) => /^\d{1,9}$/.test(text) ? Number(text) : NaN;
const port = whole(flags.port);
const size = whole(flags.size);
const seed = whole(flags.seed);
const seconds = /^\d+(\.\d+)?$/.test(flags.timeout) ? Number(flags.timeout) : 0;
const hostname = flags.host ?? (role === "receive" ? "0.0.0.0" : "127.0.0.1");
if (!/^[\w.:-]+$/.test(hostname)) usage("--host must be a name or an address");
if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
if (!(size >= 1 && size <= MAX)) usage(`--size must be 1 to ${MAX}`);
if (!(seed >= 0)) usage("--seed must be a whole number");
if (!(seconds > 0 && seconds <= 86400)) {
  usage("--timeout must be a number of seconds above 0, at most 86400");
}

const address = ({ hostname, port }: Deno.NetAddr) =>
  hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;

/** What the receiver has so far. */
const chunks: Uint8Array[] = [];
let total = 0;
let from = "";

/** Everything received so far, in one array. */
function received(): Uint8Array<ArrayBuffer> {
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Reads until end of file, at most `max` bytes, keeping what comes. */
async function readAll(conn: Deno.Conn, max: number): Promise<void> {
  const buffer = new Uint8Array(256 * 1024);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    total += n;
    if (total > max) throw new Error(`more than ${max} bytes`);
    chunks.push(buffer.slice(0, n));
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let sent = 0; sent < bytes.length;) {
    sent += await conn.write(bytes.subarray(sent));
  }
}

/** The receiver, stopped before the end: what it had, then exit 1. */
async function stopReceiving(why: string): Promise<never> {
  const digest = await sha256(received());
  console.log(
    `Received ${total} bytes${from ? ` from ${from}` : ""} before ${why}, ` +
      `SHA-256 ${digest}`,
  );
  Deno.exit(1);
}

const timer = setTimeout(() => {
  if (role === "receive") {
    stopReceiving(`the time ran out (--timeout ${seconds} s)`);
  } else {
    exit(1, `the transfer did not finish within ${seconds} s (--timeout).`);
  }
}, seconds * 1000);

try {
  if (role === "receive") {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => stopReceiving(`${signal} came`));
    }
    const listener = Deno.listen({ hostname, port });
    console.log(`Listening on ${address(listener.addr as Deno.NetAddr)}`);
    const conn = await listener.accept();
    listener.close();
    from = address(conn.remoteAddr as Deno.NetAddr);
    await readAll(conn, MAX);
    const digest = await sha256(received());
    console.log(`Received ${total} bytes from ${from}, SHA-256 ${digest}`);
    await writeAll(conn, new TextEncoder().encode(digest + "\n"));
    conn.close();
    Deno.exit(0); // the signal listeners would keep the program running
  } else {
    const data = seededBytes(size, seed);
    const digest = await sha256(data);
    const started = performance.now();
    const conn = await Deno.connect({ hostname, port });
    await writeAll(conn, data);
    await conn.closeWrite();
    await readAll(conn, 100);
    const answer = new TextDecoder().decode(received()).trim();
    const took = ((performance.now() - started) / 1000).toFixed(3);
    conn.close();
    console.log(`Sent ${size} bytes in ${took} s, SHA-256 ${digest}`);
    if (answer !== digest) {
      exit(1, `the receiver's SHA-256 differs: ${JSON.stringify(answer)}`);
    }
  }
} catch (error) {
  if (role === "receive") await stopReceiving(`an error: ${error}`);
  exit(1, `${hostname}:${port}: ${error}`);
}
clearTimeout(timer);
