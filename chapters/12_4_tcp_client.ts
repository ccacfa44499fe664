/**
 * TCP client: asking a web server for a page (section 12.4, the book's
 * tcp_client.py)
 *
 * A web server speaks HTTP over TCP. The client connects, sends a few lines
 * of text asking for the page `/`, and the server answers: a status line,
 * headers, a blank line, the page. This prints the answer raw as it arrives.
 *
 *   $ python3 -m http.server 8000 --bind 127.0.0.1          (terminal 1)
 *   Serving HTTP on 127.0.0.1 port 8000 (http://127.0.0.1:8000/) ...
 *   127.0.0.1 - - [25/Nov/2026 13:55:00] "GET / HTTP/1.1" 200 -
 *
 *   $ deno task tcp-client --host 127.0.0.1 --port 8000     (terminal 2)
 *   HTTP/1.0 200 OK
 *   Server: SimpleHTTP/0.6 Python/3.11.7
 *   ...
 *
 *   <!DOCTYPE HTML>
 *   ...
 *
 * With no flags it asks www.python.org on port 80, as the book does, which
 * needs the Internet; offline it says `error: Could not find the address of
 * "www.python.org" (the name does not resolve).` --host ::1 uses IPv6.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { hostname, port, where, seconds } = commandLine(); // flags: see the end

// The book's request, plus `Connection: close`. An HTTP/1.1 connection stays
// open after the answer by default, waiting for the next question; as we
// read until the server closes, we would wait with it (the book reads once,
// so it never waits). `Connection: close` asks the server to hang up after
// its answer. The Host header names the host we asked for (the book always
// wrote www.python.org), with :PORT unless it is 80: one server may hold
// many sites, and this says which. HTTP/1.1 is RFC 9110 and 9112 today
// (Host: RFC 9110, section 7.2); the book's RFC 2616 is long replaced.
const host = port === 80 ? where.replace(/:80$/, "") : where;
const request = `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

let conn: Deno.TcpConn;
try {
  // The signal gives up on connecting after --timeout seconds: an address
  // that never answers would otherwise keep us waiting for minutes.
  const signal = AbortSignal.timeout(seconds * 1000);
  conn = await Deno.connect({ hostname, port, signal });
  // The book's sendall(): write() may take only part, so loop until all out.
  const bytes = new TextEncoder().encode(request);
  for (let i = 0; i < bytes.length;) i += await conn.write(bytes.subarray(i));
} catch (error) {
  exit(1, explain(error));
}

// The book reads once, recv(1024), and decodes ASCII: it shows at most the
// first 1024 bytes, and one "é" makes decode fail. TCP delivers a stream, in
// pieces; we read until the server closes, and write each piece to stdout as
// it comes, bytes unchanged. Raw on purpose, as curl does: this is how HTTP
// looks. The other lessons show control characters from the network as
// \u{1b} and so on, so that a peer cannot write on your terminal; here a
// hostile server could, so ask servers you trust (or add `| cat -v`).
const buffer = new Uint8Array(64 * 1024);
let received = 0;
try {
  while (true) {
    // Silence for --timeout seconds closes the connection, which cancels the
    // read waiting on it (Interrupted, below; or BadResource, when it closes
    // as a read ends, for the next read). Each read has its own timer: only
    // silence counts, not a long page.
    const timer = setTimeout(() => conn.close(), seconds * 1000);
    const count = await conn.read(buffer).finally(() => clearTimeout(timer));
    if (count === null) break; // The server has closed: that is all.
    received += count;
    try {
      for (let out = 0; out < count;) {
        out += await Deno.stdout.write(buffer.subarray(out, count));
      }
    } catch {
      // Our output was closed (`| head` had seen enough): stop quietly.
      break;
    }
  }
  conn.close();
} catch (error) {
  const silence = `${where} sent nothing for ${seconds} s and did not close ` +
    "the connection (wait longer with --timeout).";
  const closed = /^(Interrupted|BadResource):/.test(`${error}`); // by the timer
  exit(1, closed ? silence : explain(error));
}
if (received === 0) {
  exit(1, `${where} closed the connection without answering.`);
}

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused): start a ` +
      `web server first (python3 -m http.server ${port} --bind ${hostname}).`;
  } else if (error instanceof Deno.errors.NotCapable) {
    return `Deno was not allowed to reach ${where} (to allow it: deno run ` +
      `--allow-net=${where} chapters/12_4_tcp_client.ts --host ${hostname}` +
      ` --port ${port})`;
  } else if (/^(ConnectionReset|NotConnected|BrokenPipe):/.test(`${error}`)) {
    return `${where} reset the connection: an abrupt end, so what came (if ` +
      "anything) may be incomplete.";
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${hostname}" (the name does not ` +
      "resolve).";
  } else if (error instanceof DOMException && error.name === "TimeoutError") {
    return `${where} did not accept the connection within ${seconds} s ` +
      "(wait longer with --timeout).";
  }
  return `${where}: ${error}`;
}

// ---- The command line: as in every lesson ----

/** The flags, checked: a usage error ends the program (exit status 2). */
function commandLine() {
  const help = `Usage: deno task tcp-client [--host H] [--port P] [--timeout S]
  --host HOST  the web server (default www.python.org; ::1 for IPv6)
  --port PORT  its port (default 80)
  --timeout S  give up after S seconds of silence (default 10, at most 86400)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "timeout"],
    default: { host: "www.python.org", port: "80", timeout: "10" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character (it would end up in our request), no stray bracket, no zone
  // (fe80::1%eth0: not supported).
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
  // `127.0.0.1:80`, or `[::1]:80` for IPv6, as in URLs.
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { hostname: host, port, where, seconds: time };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
