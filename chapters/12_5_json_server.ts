/**
 * JSON echo server (section 12.5, the book's json_server.py)
 *
 * An echo server sends every byte back to the client that sent it; the book
 * bounces JSON off one. The log shows what each read brought: TCP carries a
 * stream of bytes, not messages, so a value may come in two pieces, or two
 * values in one piece.
 *
 *   Terminal 1                            Terminal 2
 *   $ deno task json-server               $ deno task json-client
 *   Listening on 127.0.0.1:12345          {"name": "Johanna", "female": true}
 *   Connected: 127.0.0.1:56968
 *   127.0.0.1:56968 sent 35 bytes: {"name": "Johanna", "female": true}
 *   Disconnected: 127.0.0.1:56968 (echoed 35 bytes)
 *   ^CServer stopped (SIGINT).
 *
 * With `nc 127.0.0.1 12345`, type `[1, 2] "three"` and Enter: it comes back,
 * logged as `sent 15 bytes: [1, 2] "three"\u{a}` (Enter shown, not obeyed).
 * Ctrl-C ends nc (Ctrl-D only with nc -N); the log then says Disconnected.
 *
 * The book accepts once: it serves one client and exits. This serves up to
 * 1024 at a time until Ctrl-C (then 2 s to finish), and hangs up on a client
 * stuck for --timeout seconds (default 60). --host ::1 listens on IPv6.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { hostname, port, seconds } = commandLine(); // flags: see the end

// The book's socket(), bind() and listen(1) in one call. It binds to
// gethostname(); we, to 127.0.0.1 (this computer only) unless --host.
let listener: Deno.TcpListener;
try {
  listener = Deno.listen({ hostname, port });
} catch (error) {
  const inUse = `Port ${port} on ${hostname} is in use by another program.`;
  exit(1, error instanceof Deno.errors.AddrInUse ? inUse : `${error}`);
}
console.log(`Listening on ${address(listener.addr)}`);
// Ctrl-C closes the listener: no new clients; open connections get 2 s.
const stop = stopOnSignals(listener);

// Each open connection has an AbortController: abort(why) closes it, and
// `why` ends up in its Disconnected line. A second abort does nothing, so
// the sweeper below and echo() itself may each call it. With it we keep
// since when we wait for the client, and the `why` if that lasts too long
// ("idle": it sends nothing; "not reading": it reads nothing of what we
// send back). Nothing else: no unfinished JSON.
const open = new Map<AbortController, { since: number; why: string }>();
let refused = 0; // clients turned away: see echo()
// Twice a second, for each open connection: hang up if we have waited for
// the client for --timeout seconds or, once a stop's grace is over, anyway.
// (One timer for all, not one per client to set again at every read.)
const sweeper = setInterval(() => {
  for (const [closing, { since, why }] of open) {
    if (Date.now() - since >= seconds * 1000) closing.abort(`; ${why}`);
    if (stop.end !== null && Date.now() >= stop.end) closing.abort("; stop");
  }
}, 500);

// The book calls accept() once. We loop, and do not wait for echo(): the
// loop goes straight back to accepting the next client.
let pause = 0; // ms to wait after a failed accept(); 0 while accepts work
while (true) {
  try {
    echo(await listener.accept());
    pause = 0;
  } catch (error) {
    if (stop.end !== null) break; // a signal closed the listener: we stop
    // A client gone before we took it (it reset): take the next at once.
    if (error instanceof Deno.errors.NotConnected) continue;
    // A classic server bug is to end the loop here, as `for await` over the
    // listener does: one bad moment ("Too many open files" while many
    // clients are connected) and everyone after is refused. Such errors
    // pass, so, as Go's net/http does, we wait 5 ms, doubling up to 1 s, and
    // accept again. One line for a run of failures, not one per failure.
    if (pause === 0) console.log(`Cannot accept: ${error}; retrying.`);
    pause = pause === 0 ? 5 : Math.min(2 * pause, 1000);
    await new Promise((go) => setTimeout(go, pause));
  }
}
// Stopping: open connections may finish for 2 s (or until a second signal);
// then the sweeper closes the rest, which say so in their Disconnected line.
while (open.size > 0) await new Promise((go) => setTimeout(go, 50));
clearInterval(sweeper);
console.log(`Server stopped (${stop.signal}).`);

async function echo(conn: Deno.TcpConn): Promise<void> {
  // 1024 clients at once is our limit: we hang up on more straight away,
  // with one line per 1000 of them (a flood must not flood the log).
  if (open.size >= 1024) {
    if (refused % 1000 === 0) console.log("Server full.");
    refused += 1;
    return conn.close();
  }
  const client = address(conn.remoteAddr);
  console.log(`Connected: ${client}`);
  const closing = new AbortController();
  closing.signal.onabort = () => conn.close();
  // A streaming decoder keeps a character cut in two between reads (like
  // "ö", two bytes) until its second half arrives.
  const utf8 = new TextDecoder();
  // The book reads 1024 bytes at a time, and so do we at first: 1,000 idle
  // clients then cost 1 MB. Each time a read fills the buffer, we double
  // it, up to 64 KiB: a busy client then needs few trips per megabyte.
  let buffer = new Uint8Array(1024), echoed = 0, reads = 0;
  try {
    while (true) {
      open.set(closing, { since: Date.now(), why: "idle" }); // from now
      // Each read brings n bytes, whatever has arrived; null once the client
      // has finished sending (the book's `if not data: break`).
      const n = await conn.read(buffer);
      if (n === null) break;
      // Log the text as it came, never a JSON.stringify(JSON.parse()) of it:
      // that can change numbers and keys (see json-client). At most 20 lines
      // per client, each cut to its first 200 characters: /^.{0,200}/ with
      // u (a character, not half of an emoji) and s (line ends too).
      reads += 1;
      if (reads <= 20) {
        const text = utf8.decode(buffer.subarray(0, n), { stream: true });
        const shown = safe(text.match(/^.{0,200}/su)![0]);
        console.log(`${client} sent ${n} byte${n === 1 ? "" : "s"}: ${shown}`);
      } else if (reads === 21) console.log(`${client}: echoing, not logging`);
      // The book's sendall(): write() may take only part, so we loop. Each
      // piece is out before the next read, so a client that never reads is
      // slowed down by TCP itself, instead of making us keep its bytes. And
      // one that reads nothing for --timeout seconds is hung up on.
      for (let i = 0; i < n;) {
        open.set(closing, { since: Date.now(), why: "not reading" });
        i += await conn.write(buffer.subarray(i, n));
      }
      echoed += n;
      if (n === buffer.length && n < 65536) buffer = new Uint8Array(2 * n);
    }
  } catch (error) {
    // The connection failed (reset by the client, say), or the sweeper
    // closed it: the first reason given to abort() is the one kept.
    closing.abort(`; ${error}`);
  }
  closing.abort(""); // closes it, unless the sweeper or an error did
  open.delete(closing);
  const why = closing.signal.reason;
  console.log(`Disconnected: ${client} (echoed ${echoed} bytes${why})`);
}

// ---- The command line, stopping, printing safely: as in every lesson ----

/** --host, --port, --timeout, checked: a usage error ends the program. */
function commandLine() {
  const help = `Usage: deno task json-server [--host H] [--port P] [--timeout S]
  --host HOST  address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT  port to listen on (default 12345; 0 = any free port)
  --timeout S  hang up on a client stuck for S seconds (default 60)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "timeout"],
    default: { host: "127.0.0.1", port: "12345", timeout: "60" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
  const time = /^\d+(\.\d+)?$/.test(flags.timeout) ? Number(flags.timeout) : 0;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
  if (!(time > 0)) usage("--timeout must be a number of seconds above 0");
  return { hostname: host, port, seconds: time };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}

/**
 * Ctrl-C (SIGINT), `kill` (SIGTERM), closing the terminal (SIGHUP): the
 * first closes the listener and gives open connections until `end`, 2 s on.
 */
function stopOnSignals(listener: Deno.TcpListener) {
  const stop = { signal: "", end: null as number | null };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const; // Windows: SIGINT
  for (const signal of signals.slice(0, Deno.build.os === "windows" ? 1 : 3)) {
    Deno.addSignalListener(signal, () => {
      // A second signal in the same moment does nothing (see README); one
      // 0.5 s or more after the first ends the 2 s at once.
      if (stop.end === null) {
        [stop.signal, stop.end] = [signal, Date.now() + 2000];
        listener.close();
      } else if (Date.now() >= stop.end - 1500) stop.end = Date.now();
    });
  }
  return stop;
}

/** `127.0.0.1:12345`, or `[::1]:12345` for IPv6, as in URLs. */
function address({ hostname, port }: Deno.NetAddr): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * Text from the network may hold control characters (ESC starts commands
 * to the terminal), invisible ones, or ones that turn text right-to-left:
 * we show each one as \u{HEX} instead of letting the terminal obey it.
 */
function safe(text: string): string {
  const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
  return text.replace(unsafe, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
