/**
 * UDP server: answers each datagram (section 12.4, the book's `udp_server.py`)
 *
 * UDP has no connections. A UDP server binds a port and waits for
 * datagrams: self-contained messages, each arriving whole or not at all,
 * with the sender's address attached. This server prints each message and
 * sends one datagram back to the address it came from:
 * `Response for 127.0.0.1` (the sender's IP address).
 *
 * Unstable API: UDP in Deno is still marked unstable. `Deno.listenDatagram`
 * exists only when Deno runs with `--unstable-net`; the task in deno.json
 * passes it for you.
 *
 * Terminal 1 (the server):
 *
 *   $ deno task udp-server
 *   Listening on 127.0.0.1:25000
 *   From 127.0.0.1:52711: Hi, I'm sending this message.
 *   From 127.0.0.1:40390: Hi, I'm sending this message.
 *
 * Terminal 2 (clients):
 *
 *   $ deno task udp-client
 *   Response for 127.0.0.1
 *   $ python3 udp_client.py          # the book's client, slip fixed (below)
 *   Response for 127.0.0.1
 *
 * The book's own `udp_client.py` talks to this server, once its one slip
 * is fixed: `socket.gethostname('localhost')` must read
 * `socket.gethostbyname('localhost')`. Netcat works too:
 * `echo -n hello | nc -u -w1 127.0.0.1 25000`. Ctrl-C stops the server.
 *
 * Flags: --host (default 127.0.0.1; --host ::1 for IPv6, where the answer
 * is `Response for ::1`), --port (default 25000, as in the book; --port 0
 * lets the operating system pick a free port, printed on the first line).
 *
 * What we do differently from the book, and why:
 *
 * - The book binds to `""`, which means every network of the computer:
 *   anyone who can reach the machine can send it datagrams. We bind to
 *   127.0.0.1 ("this computer only"); `--host 0.0.0.0` opens it to every
 *   network when you decide so (see README.md).
 * - The book receives with `recvfrom(2048)`. A datagram longer than 2048
 *   bytes is not split in two: the rest of it is silently thrown away. One
 *   UDP datagram can carry up to 65,507 bytes over IPv4 (65,527 over IPv6),
 *   so we receive into a 64 KiB buffer, large enough for any of them.
 *   (The log shows the length of a long one and its first 200 characters.)
 * - The book decodes with `'ascii'`: a single byte above 127 (an "é", say)
 *   raises an error and the server is gone. We decode UTF-8 and turn bytes
 *   that are not text into "�"; a strange datagram is printed, never fatal.
 * - The book prints what peers send as it is. Text can hold control
 *   characters, and ESC `[2J` tells a terminal to clear the screen: a peer
 *   could write on our screen. We print control characters as Python's
 *   repr would, `\x1b`, `\n`, so the log shows exactly what came in.
 * - A datagram may be empty: zero bytes is a legal message (programs send
 *   one to ask "are you there?"). We log it and answer it like any other.
 * - When answering one peer fails, the book's server dies; ours logs one
 *   line and goes on serving the others.
 * - The book prints each message as it comes. Printing is the slowest thing
 *   this server does, so we collect the lines and print them together a
 *   few milliseconds later (see `log` below): too soon for you to notice,
 *   and under load it keeps up with many thousand datagrams a second.
 *
 * @module
 */

import {
  describeNetworkError,
  exitWithError,
  formatAddress,
  onCtrlC,
  parseFlags,
  parseHost,
  parsePort,
  printListening,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task udp-server [--host HOST] [--port PORT]

Prints every datagram that arrives and answers "Response for SENDER'S-IP".

  --host HOST   address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT   port to listen on (default 25000; 0 = any free port)`,
  string: ["host", "port"],
  defaults: { host: "127.0.0.1", port: "25000" },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);

// The book creates a SOCK_DGRAM socket and binds it. `Deno.listenDatagram`
// does both in one call; `transport: "udp"` is what makes it a UDP socket.
let socket: Deno.DatagramConn;
try {
  socket = Deno.listenDatagram({ transport: "udp", hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, { hostname, port }));
}
printListening(socket.addr);

// Ctrl-C closes the socket; the `receive` we are waiting in then fails
// with "interrupted", which ends the loop at the bottom.
onCtrlC(() => socket.close());

/** Room for the largest datagram there is (65,527 bytes, over IPv6). */
const buffer = new Uint8Array(64 * 1024);

// A datagram of 65,507 bytes is a wall of text; we show its beginning.
const LONGEST_SHOWN = 200;

// `fatal: false` (the default) is what turns bad bytes into "�" instead of
// throwing, as Python's decode(errors="replace") would.
const decoder = new TextDecoder("utf-8", { fatal: false });
const encoder = new TextEncoder();

// Control characters: C0 (0x00-0x1f, ESC is 0x1b), DEL (0x7f), and C1
// (0x80-0x9f, which some terminals also obey).
// deno-lint-ignore no-control-regex -- finding them is the point.
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const NAMED: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** `text` with every control character written out, like `\x1b`. */
function printable(text: string): string {
  return text.replace(
    CONTROL,
    (char) =>
      NAMED[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** The log line for one datagram: who sent it, and what it says. */
function describeDatagram(data: Uint8Array, sender: Deno.NetAddr): string {
  const from = formatAddress(sender);
  if (data.length === 0) return `From ${from} (empty datagram)`;
  const text = decoder.decode(data);
  if (text.length <= LONGEST_SHOWN) return `From ${from}: ${printable(text)}`;
  // toWellFormed: the cut may fall inside a character written as two
  // UTF-16 units (an emoji, say); this makes that half a "�".
  const start = printable(text.slice(0, LONGEST_SHOWN).toWellFormed());
  return `From ${from} (${data.length} bytes, the first ` +
    `${LONGEST_SHOWN} characters shown): ${start}…`;
}

// Printing is the slowest thing this server does. Each console.log is a
// system call, and whoever reads our output (a terminal, a pipe, a log
// file) wakes up for each line. So we collect the lines and write them
// together: 10 ms after the first one, or at once when 256 have piled up.
// A person cannot see 10 ms, and under load one write carries hundreds of
// lines. (Python's print does the same when its output is not a terminal.)
let lines: string[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;

/** Prints `line` soon, together with the lines that come after it. */
function log(line: string): void {
  lines.push(line);
  if (lines.length >= 256) flushLog();
  else flushTimer ??= setTimeout(flushLog, 10);
}

/** Writes out the lines collected so far. */
function flushLog(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (lines.length === 0) return;
  const bytes = encoder.encode(lines.join("\n") + "\n");
  lines = [];
  try {
    // Like conn.write, writeSync may write only part: loop until done.
    let written = 0;
    while (written < bytes.length) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  } catch {
    exitWithError(
      "Could not print the log (standard output was closed); stopping.",
    );
  }
}

// "Response for 127.0.0.1" is the same bytes for every datagram from the
// same address, so we encode it again only when the address changes.
let lastAddress = "";
let response = new Uint8Array(0);

while (true) {
  let data: Uint8Array;
  let sender: Deno.NetAddr;
  try {
    // `receive` waits for the next datagram and returns it, together with
    // the sender's address, like the book's `recvfrom`. Given our buffer,
    // it fills that one; without it, Deno would allocate a new 65,507-byte
    // buffer for every datagram (and cut IPv6 datagrams at that size).
    // `data` is a view into `buffer`, valid until the next receive.
    [data, sender] = await socket.receive(buffer) as [
      Uint8Array,
      Deno.NetAddr,
    ];
  } catch (error) {
    if (
      error instanceof Deno.errors.BadResource ||
      error instanceof Deno.errors.Interrupted
    ) {
      break; // The socket was closed: Ctrl-C.
    }
    // Some systems report here that an earlier answer could not be
    // delivered. That is about one peer, not about us: log it, go on.
    flushLog();
    console.error(`Could not receive: ${describeNetworkError(error)}`);
    continue;
  }

  if (sender.hostname !== lastAddress) {
    lastAddress = sender.hostname;
    response = encoder.encode(`Response for ${sender.hostname}`);
  }
  // We answer first and print second: the client is waiting for the
  // answer, not for our screen.
  let failure: unknown = undefined;
  try {
    await socket.send(response, sender);
  } catch (error) {
    failure = error;
  }
  log(describeDatagram(data, sender));
  if (failure !== undefined) {
    if (
      failure instanceof Deno.errors.BadResource ||
      failure instanceof Deno.errors.Interrupted
    ) {
      break; // The socket was closed: Ctrl-C.
    }
    // One peer we cannot answer (its address is unreachable, say) is no
    // reason to stop answering the others.
    flushLog();
    console.error(
      `Could not answer ${formatAddress(sender)}: ` +
        describeNetworkError(failure, sender),
    );
  }
}
flushLog();
console.log("Server stopped.");
