/**
 * TCP client of the greeting server (section 12.4, the book's
 * tcp_server-listener.py)
 *
 * A client connects to a server's host and port, reads what the server
 * sends until it hangs up, and prints it. Only the server needs a fixed
 * port; the system gives the client one of its own.
 *
 *   Terminal 1                             Terminal 2
 *   $ deno task tcp-server                 $ deno task tcp-listener
 *   Listening on 127.0.0.1:10001           0. Hi new friend!
 *   Connection from: 127.0.0.1:41796       $ deno task tcp-listener
 *   Connection from: 127.0.0.1:41800       1. Hi new friend!
 *
 * With no server running:
 *   $ deno task tcp-listener
 *   error: Nothing is listening on 127.0.0.1:10001 (connection refused):
 *   start the server first (deno task tcp-server).
 *
 * --host ::1 connects over IPv6. What the server sends is shown safely: a
 * control character such as ESC appears as \u{1b} instead of being obeyed.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { hostname, port, where, seconds } = commandLine(); // flags: see the end
// One deadline for all of it: a wrong address may not answer, and a program
// on the wrong port may never hang up.
const signal = AbortSignal.timeout(seconds * 1000);
let greeting = "";
try {
  // Deno.connect creates the socket and connects it in one step: the book's
  // socket() and connect(). Our host is 127.0.0.1, where the server listens;
  // the book's gethostname() may name another address of this computer.
  const conn = await Deno.connect({ hostname, port, signal });
  // The book reads once, recv(1024), as if one read held the whole message.
  // TCP delivers a stream: a read returns whatever has arrived so far. So we
  // read until the server hangs up. The book decodes ASCII, which fails on
  // any byte above 127; a streaming UTF-8 decoder also keeps a character cut
  // in two between reads until its second half comes.
  const text = conn.readable.pipeThrough(new TextDecoderStream(), { signal });
  for await (const piece of text) {
    greeting += piece;
    // No greeting is 65,536 characters long: stop before memory fills up.
    if (greeting.length > 65536) exit(1, `${where} sent more than a greeting.`);
  }
} catch (error) {
  exit(1, explain(error));
}
// A server that hangs up at once has greeted nobody: that is no success.
if (greeting === "") exit(1, `${where} hung up without a greeting.`);
console.log(safe(greeting.trimEnd()));

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused): ` +
      "start the server first (deno task tcp-server).";
  } else if (error instanceof Deno.errors.NotCapable) {
    return `Deno was not allowed to reach ${where} (to allow it: deno run ` +
      `--allow-net=${where} chapters/12_4_tcp_listener.ts --host ${hostname}` +
      ` --port ${port})`;
  } else if (/^(ConnectionReset|NotConnected):/.test(`${error}`)) {
    return `${where} reset the connection (an abrupt end) before it closed.`;
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${hostname}" (the name does not ` +
      "resolve).";
  } else if (error instanceof DOMException && error.name === "TimeoutError") {
    return `${where} sent no whole greeting within ${seconds} s (--timeout).`;
  }
  return `${where}: ${error}`;
}

// ---- The command line and printing safely: as in every lesson ----

function commandLine() {
  const help =
    `Usage: deno task tcp-listener [--host HOST] [--port PORT] [--timeout S]
  --host HOST  the server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT  the server's port (default 10001)
  --timeout S  give up after S seconds (default 10; at most a day)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "timeout"],
    default: { host: "127.0.0.1", port: "10001", timeout: "10" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const port = /^[1-9]\d{0,4}$/.test(flags.port) ? Number(flags.port) : NaN;
  const time = /^\d+(\.\d+)?$/.test(flags.timeout) ? Number(flags.timeout) : 0;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 1 to 65535");
  // A day at most: a timer over 2^31-1 ms (24.8 days) fires at once.
  if (!(time > 0 && time <= 86400)) {
    usage("--timeout must be a number of seconds above 0, at most 86400");
  }
  // `127.0.0.1:10001`, or `[::1]:10001` for IPv6, as in URLs.
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { hostname: host, port, where, seconds: time };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
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
