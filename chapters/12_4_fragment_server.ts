/**
 * Fragment server: a long message to receive in pieces (section 12.4, ours;
 * the book's fragmented.py receives one but shows no sender)
 *
 * Sends every client one message in writes of 64 KiB, after a line with its
 * length (--size N sets it; --host ::1 serves over IPv6). The client's reads
 * need not line up with these writes: TCP keeps the bytes in order.
 *
 *   $ deno task fragment-server
 *   Listening on 127.0.0.1:10003
 *   Message: 1048576 bytes
 *   SHA-256 207f8672807d3e336aaef553a73f765ac34b39bebc689f82b697b9fcb0befed0
 *   Sent 1048576 bytes in 17 writes to 127.0.0.1:35762
 *   ^CServer stopped (SIGINT).
 *
 *   $ deno task fragmented                          (in terminal 2)
 *   Received 1048576 bytes in 1025 chunks (Length checked)
 *   SHA-256 207f8672807d3e336aaef553a73f765ac34b39bebc689f82b697b9fcb0befed0
 *
 * Any client will do (Ctrl-D ends netcat; the server logs its Sent too):
 *   $ nc 127.0.0.1 10003 | head -n 2
 *   Length: 1048576
 *   Line 00000001: TCP keeps the bytes in order but not the pieces.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { encodeHex } from "@std/encoding/hex";

const { hostname, port, size } = commandLine(); // flags: see the end
// A signal while the message is built ends the program at once: nothing to
// save yet. From here on, it stops the server (see the end).
const { data, digest } = await buildMessage(size); // the Length line first
const { stop, cut } = stopOnSignals(); // Ctrl-C, kill: see the end
const sending = new Set<Deno.TcpConn>(); // transfers under way

let pause = 0; // ms to wait after a failed accept(); 0 while accepts work
try {
  const listener = Deno.listen({ hostname, port });
  console.log(`Listening on ${address(listener.addr)}`);
  console.log(`Message: ${size} bytes\nSHA-256 ${digest}`);
  stop.onabort = () => listener.close(); // accept() then fails: we stop.
  while (true) {
    try {
      // Not awaited: the loop goes straight back to accepting.
      serve(await listener.accept());
      pause = 0;
    } catch (error) {
      if (stop.aborted) break; // a signal closed the listener: we stop
      // A client gone before we took it (it reset): take the next at once.
      if (error instanceof Deno.errors.NotConnected) continue;
      // A classic server bug is to end here: one bad moment ("Too many open
      // files" while a crowd of clients is connected) and everyone after is
      // refused. Such errors pass, so, as Go's net/http does, we wait 5 ms,
      // doubling up to 1 s, and accept again. One line for a run of
      // failures, not one per failure.
      if (pause === 0) console.log(`Cannot accept: ${error}; retrying.`);
      pause = pause === 0 ? 5 : Math.min(2 * pause, 1000);
      await sleep(pause);
    }
  }
} catch (error) {
  // Cannot listen (--host 0.0.0.0 needs --allow-net=0.0.0.0): Deno's own
  // words, as one sentence.
  const inUse = `Port ${port} on ${hostname} is in use by another program.`;
  exit(1, error instanceof Deno.errors.AddrInUse ? inUse : `${error}`);
}
// Transfers under way get 2 s to finish (see stopOnSignals).
while (sending.size > 0 && !cut.aborted) await sleep(50);
const cutShort = sending.size ? `; transfers cut short: ${sending.size}` : "";
console.log(`Server stopped (${stop.reason})${cutShort}.`);
// Deno.exit closes the connections left; their clients see the cut.
Deno.exit(0);

async function serve(conn: Deno.TcpConn) {
  const client = address(conn.remoteAddr);
  sending.add(conn);
  let sent = 0, writes = 0;
  try {
    // 64 KiB per write, while fragmented reads 1 KiB at a time. (The Length
    // line makes 1 MiB spill into a 17th write.) conn.write, like the book's
    // send(), may write only part: loop until all is out.
    while (sent < data.length) {
      sent += await conn.write(data.subarray(sent, sent + 65536));
      writes += 1;
    }
    await conn.closeWrite(); // "That was all": the client reads end of file.
    console.log(`Sent ${size} bytes in ${writes} writes to ${client}`);
  } catch (error) {
    const stream = `${sent} of ${data.length} bytes, the Length line included`;
    console.log(`Stopped sending to ${client} after ${stream}: ${error}`);
  }
  sending.delete(conn);
  // One of TCP's classic pitfalls: close a connection while bytes from the
  // client lie unread (typing in netcat, an HTTP request), and the system
  // resets it, destroying what we sent that is still on its way. So read and
  // drop what comes until the client hangs up, or 3 s pass; either way, that
  // closes `conn`. (If the message is larger than the system's buffers and
  // the client sends more than they hold before it reads, each side waits
  // for the other to read, until Ctrl-C.)
  const signal = AbortSignal.timeout(3000);
  await conn.readable.pipeTo(new WritableStream(), { signal }).catch(() => {});
}

/** What every client gets: the Length line, then `size` bytes of message;
 * and the message's SHA-256 digest. */
async function buildMessage(size: number) {
  // TCP's end of stream cannot tell "the sender finished" from "the sender
  // was stopped" (Ctrl-C, a crash): both look like a hang-up. So we send a
  // line with the message's length first: a client that gets fewer bytes
  // knows it was cut short. (A plain sender, `nc -N -l 10003 < file`,
  // cannot say that.)
  const encoder = new TextEncoder();
  const header = `Length: ${size}\n`; // ASCII: one byte per character
  const data = new Uint8Array(header.length + size); // built once, for all
  let at = encoder.encodeInto(header, data).written;
  // Then the message: numbered lines of 64 bytes, plain text so that netcat
  // shows it, cut to `size` (encodeInto writes what fits and says how much).
  const text = ": TCP keeps the bytes in order but not the pieces.\n";
  for (let n = 1; at < data.length; n++) {
    const line = "Line " + String(n).padStart(8, "0") + text;
    at += encoder.encodeInto(line, data.subarray(at)).written;
  }
  // SHA-256 turns the message (not the Length line) into 32 bytes, its
  // fingerprint: change one byte and it changes completely. encodeHex
  // writes it in hexadecimal, as sha256sum does.
  const message = data.subarray(header.length); // a view, not a copy
  const digest = encodeHex(await crypto.subtle.digest("SHA-256", message));
  return { data, digest };
}

// ---- The command line, stopping, printing addresses: as in every lesson ----

function commandLine(): { hostname: string; port: number; size: number } {
  const help =
    `Usage: deno task fragment-server [--host HOST] [--port PORT] [--size N]
  --host HOST  address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT  port to listen on (default 10003; 0 = any free port)
  --size N     bytes in the message (default 1048576 = 1 MiB; at most 1 GiB)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "size"],
    default: { host: "127.0.0.1", port: "10003", size: "1048576" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
  const size = /^\d{1,10}$/.test(flags.size) ? Number(flags.size) : NaN;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
  if (!(size <= 2 ** 30)) usage("--size must be from 0 to 1073741824 bytes");
  return { hostname: host, port, size };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}

/** Ctrl-C (SIGINT), kill (SIGTERM) or a closed terminal (SIGHUP) aborts
 * `stop`: no more accepting; then `cut`, 2 s later, ends the transfers under
 * way. A second signal, 0.5 s or more after the first, aborts `cut` at once
 * (not sooner: a second in the same moment does nothing, see README). */
function stopOnSignals(): { stop: AbortSignal; cut: AbortSignal } {
  const stop = new AbortController(), cut = new AbortController();
  let first = 0; // when the first signal came
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const; // Windows: SIGINT
  for (const signal of signals.slice(0, Deno.build.os === "windows" ? 1 : 3)) {
    Deno.addSignalListener(signal, () => {
      if (first === 0) {
        first = Date.now();
        setTimeout(() => cut.abort(), 2000);
      } else if (Date.now() - first >= 500) cut.abort();
      stop.abort(signal); // The second time, this does nothing.
    });
  }
  return { stop: stop.signal, cut: cut.signal };
}

/** `127.0.0.1:10003`, or `[::1]:10003` for IPv6, as in URLs. */
function address({ hostname, port }: Deno.NetAddr): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms));
}
