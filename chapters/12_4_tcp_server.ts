/**
 * TCP server: the greeting server (section 12.4, the book's tcp_server.py)
 *
 * A server waits on a port for clients to connect. This one greets each
 * client with one line, `N. Hi new friend!` (N counts clients from 0), and
 * hangs up. No client waits for another: each greeting runs on its own
 * while the loop goes back to accepting.
 *
 *   Terminal 1                             Terminal 2
 *   $ deno task tcp-server                 $ deno task tcp-listener
 *   Listening on 127.0.0.1:10001           0. Hi new friend!
 *   Connection from: 127.0.0.1:41796       $ nc 127.0.0.1 10001
 *   Connection from: 127.0.0.1:41800       1. Hi new friend!
 *   ^CServer stopped (SIGINT).
 *
 * nc stays open after the greeting, for you to type: Ctrl-D ends it.
 * --host ::1 listens on IPv6; --port 0 lets the system pick a free port.
 * Ctrl-C (or SIGTERM, or closing the terminal) stops accepting at once; a
 * greeting under way gets at most 2 seconds more to finish.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const HELP = `Usage: deno task tcp-server [--host HOST] [--port PORT]
  --host HOST  address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT  port to listen on (default 10001; 0 = any free port)`;

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "10001" },
  unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
});
const hostname = flags.host.replace(/^\[(.*)\]$/, "$1"); // [::1] means ::1
const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
if (!/^[\w.:-]+$/.test(hostname)) usage("--host must be a name or an address");
// A --port that is not digits became NaN above, and NaN <= 65535 is false:
// so the next line turns it away too.
if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");

// Ctrl-C (SIGINT), `kill` (SIGTERM) and closing the terminal (SIGHUP) stop
// the server: it stops accepting at once, and greetings under way finish (in
// 2 s at most, see greet). A second abort does nothing, which matters:
// under `deno task` one Ctrl-C arrives twice, from the terminal and passed
// on by deno task, in the same millisecond.
const stop = new AbortController();
const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const; // Windows: SIGINT
for (const signal of signals.slice(0, Deno.build.os === "windows" ? 1 : 3)) {
  Deno.addSignalListener(signal, () => stop.abort(signal));
}

/** `127.0.0.1:10001`, or `[::1]:10001` for IPv6, as in URLs. */
const address = ({ hostname, port }: Deno.NetAddr) =>
  hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;

async function greet(conn: Deno.TcpConn, count: number): Promise<void> {
  console.log(`Connection from: ${address(conn.remoteAddr)}`);
  const greeting = new TextEncoder().encode(`${count}. Hi new friend!\n`);
  // A client that never hangs up must not hold us: after 2 s, close anyway
  // (the read or write waiting below then fails, and we are done).
  const timer = setTimeout(() => conn.close(), 2000);
  try {
    // The book calls send(), which may send only part of a message. Deno's
    // conn.write() is the same: loop until all is out, as sendall() does.
    for (let sent = 0; sent < greeting.length;) {
      sent += await conn.write(greeting.subarray(sent));
    }
    await conn.closeWrite(); // "That was all": the client reads end of file.
    // The book closes at once. But closing with bytes from the client still
    // unread (typing in netcat, say) makes the system reset the connection,
    // which can destroy the greeting on its way. So we read and drop what
    // comes until the client hangs up too (read returns null), then close.
    while ((await conn.read(new Uint8Array(256))) !== null) continue;
    clearTimeout(timer);
    conn.close();
  } catch {
    // The client left early, or the 2 s ran out: the timer closes `conn`.
  }
}

let count = 0;
try {
  // The book's socket(), bind() and listen(5) in one call. (The 5 was the
  // queue of clients not yet accepted, not a limit on clients.) The book
  // binds to gethostname(), which other computers may reach; 127.0.0.1 is
  // this computer only, until you choose --host 0.0.0.0.
  const listener = Deno.listen({ hostname, port });
  // listener.addr is the real address: with --port 0, the port we got.
  console.log(`Listening on ${address(listener.addr)}`);
  stop.signal.onabort = () => listener.close(); // That ends the loop below.
  // Each turn waits for the next client: the book's accept(). We do not wait
  // for the greeting: the loop goes straight back to accepting.
  for await (const conn of listener) greet(conn, count++);
} catch (error) {
  if (error instanceof Deno.errors.AddrInUse) {
    exit(1, `Port ${port} on ${hostname} is in use by another program.`);
  }
  exit(1, `${hostname} port ${port}: ${error}`); // e.g. too many open files
}
console.log(`Server stopped (${stop.signal.reason}).`);
