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
 * nc stays open after the greeting: what you type in the next 2 s is read
 * and dropped, then the server hangs up and the next line you type ends nc
 * (Ctrl-D ends it at any time). --host ::1 listens on IPv6; --port 0 picks
 * a free port. Ctrl-C (or SIGTERM, or closing the terminal) stops accepting
 * at once; a greeting under way gets at most 2 seconds more to finish.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { hostname, port } = commandLine(); // flags: see the end
const stop = stopOnSignals(); // Ctrl-C, kill: see the end

let count = 0; // clients so far: the N of each greeting
let pause = 0; // ms to wait after a failed accept(); 0 while accepts work
try {
  // The book's socket(), bind() and listen(5) in one call. (The 5 was the
  // queue of clients not yet accepted, not a limit on clients.) The book
  // binds to the computer's name, gethostname(): that may stand for a
  // network address, or (on Debian) for 127.0.1.1, reachable from this
  // computer only, as 127.0.0.1 is. To listen on every address: deno run
  // --allow-net=0.0.0.0 chapters/12_4_tcp_server.ts --host 0.0.0.0
  const listener = Deno.listen({ hostname, port });
  // listener.addr is the real address: with --port 0, the port we got.
  console.log(`Listening on ${address(listener.addr)}`);
  stop.onabort = () => listener.close(); // accept() then fails: we stop.
  while (true) {
    try {
      // The book's accept(): wait for the next client. We do not wait for
      // the greeting: the loop goes straight back to accepting.
      greet(await listener.accept(), count++);
      pause = 0;
    } catch (error) {
      if (stop.aborted) break; // a signal closed the listener: we stop
      // A client gone before we took it (it reset): take the next at once.
      if (error instanceof Deno.errors.NotConnected) continue;
      // A classic server bug, the book's too, is to end here: one bad moment
      // ("Too many open files" while a crowd of clients is connected) and
      // everyone after is refused. Such errors pass, so, as Go's net/http
      // does, we wait 5 ms, doubling up to 1 s, and accept again. One line
      // for a run of failures, not one per failure.
      if (pause === 0) console.log(`Cannot accept: ${error}; retrying.`);
      pause = pause === 0 ? 5 : Math.min(2 * pause, 1000);
      await new Promise((go) => setTimeout(go, pause));
    }
  }
} catch (error) {
  const inUse = `Port ${port} on ${hostname} is in use by another program.`;
  exit(1, error instanceof Deno.errors.AddrInUse ? inUse : `${error}`);
}
console.log(`Server stopped (${stop.reason}).`);

async function greet(conn: Deno.TcpConn, count: number): Promise<void> {
  console.log(`Connection from: ${address(conn.remoteAddr)}`);
  const greeting = new TextEncoder().encode(`${count}. Hi new friend!\n`);
  // A client that never hangs up must not hold us: after 2 s, close anyway
  // (the write or read waiting below then fails, and we are done).
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
    const scrap = new Uint8Array(256);
    while ((await conn.read(scrap)) !== null) continue;
    clearTimeout(timer);
    conn.close();
  } catch {
    // The client left early, or the 2 s ran out: the timer closes `conn`.
  }
}

// ---- The command line, stopping, printing addresses: as in every lesson ----

function commandLine(): { hostname: string; port: number } {
  const help = `Usage: deno task tcp-server [--host HOST] [--port PORT]
  --host HOST  address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT  port to listen on (default 10001; 0 = any free port)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port"],
    default: { host: "127.0.0.1", port: "10001" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
  return { hostname: host, port };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}

/** Aborted by Ctrl-C (SIGINT), kill (SIGTERM) or closing the terminal. */
function stopOnSignals(): AbortSignal {
  const stop = new AbortController();
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const; // Windows: SIGINT
  for (const signal of signals.slice(0, Deno.build.os === "windows" ? 1 : 3)) {
    // A second signal in the same moment does nothing (see README).
    Deno.addSignalListener(signal, () => stop.abort(signal));
  }
  return stop.signal;
}

/** `127.0.0.1:10001`, or `[::1]:10001` for IPv6, as in URLs. */
function address({ hostname, port }: Deno.NetAddr): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
