/**
 * TCP client: asking a web server for a page (section 12.4, the book's
 * `tcp_client.py`)
 *
 * A web server speaks HTTP over TCP. The client connects to port 80, sends
 * a few lines of text that ask for the page `/`, and the server answers
 * with a status line, headers, a blank line and the page itself. This
 * client prints the whole answer, exactly as it arrives.
 *
 * With the Internet (the book's example):
 *
 *   $ deno task tcp-client
 *   HTTP/1.1 301 Moved Permanently
 *   Location: https://www.python.org/
 *   Connection: close
 *   ...
 *
 * (python.org sends plain-HTTP visitors on to HTTPS.) Without the Internet,
 * www.python.org cannot be looked up; that is expected, and you get one
 * sentence saying so (exit status 1):
 *
 *   $ deno task tcp-client
 *   error: Could not find the address of "www.python.org" (the name does
 *   not resolve). Check the spelling, or use an IP address such as 127.0.0.1.
 *
 * A web server on your own computer works either way:
 *
 * Terminal 1 (a web server):            Terminal 2 (the client):
 *
 *   $ python3 -m http.server 8000 --bind 127.0.0.1
 *   Serving HTTP on 127.0.0.1 port 8000 (http://127.0.0.1:8000/) ...
 *   127.0.0.1 - - [...] "GET / HTTP/1.1" 200 -
 *                                        $ deno task tcp-client \
 *                                            --host 127.0.0.1 --port 8000
 *                                        HTTP/1.0 200 OK
 *                                        Server: SimpleHTTP/0.6 Python/3.11.7
 *                                        Date: ...
 *                                        Content-type: text/html; ...
 *                                        Content-Length: ...
 *
 *                                        <!DOCTYPE HTML>
 *                                        ...
 *
 * Flags: --host (default www.python.org), --port (default 80), --timeout
 * (default 10: give up when the server sends nothing for that many
 * seconds). The task may reach www.python.org on port 80 and this computer
 * (127.0.0.1, [::1], localhost); --host ::1 works over IPv6.
 *
 * What we do differently from the book, and why:
 *
 * - The book reads once, `recv(1024)`, and prints that: at most the first
 *   1024 bytes, of an answer that is usually far longer and arrives in
 *   pieces (TCP keeps the bytes in order, not in one piece). We read until
 *   the server closes the connection, and print each piece as it comes,
 *   so even a large page never has to fit in memory at once.
 * - "Until the server closes" needs the server to close. In HTTP/1.1 a
 *   connection stays open after the answer by default, ready for the next
 *   question, so the book's request lets the server keep us waiting. We
 *   add `Connection: close` ("one answer, then hang up"), and also give up
 *   after --timeout seconds of silence, with one sentence, exit 1.
 * - The book decodes the answer as ASCII: one "é" on the page and it
 *   fails. We print the bytes unchanged; your terminal shows the UTF-8.
 * - The book's `Host` header is fixed to www.python.org. Ours names the
 *   host you asked for (with `:PORT` when the port is not 80, and IPv6
 *   addresses in brackets, as in `Host: [::1]:8000`): a server that hosts
 *   several sites picks the site by this header.
 *
 * @module
 */

import {
  describeNetworkError,
  exitWithError,
  formatAddress,
  parseFlags,
  parseHost,
  parseSeconds,
  parseWholeNumber,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task tcp-client [--host HOST] [--port PORT] [--timeout SECONDS]

Asks a web server for its page "/" over plain HTTP and prints the whole answer.

  --host HOST        web server (default www.python.org; ::1 for IPv6)
  --port PORT        its port (default 80)
  --timeout SECONDS  give up after this long with nothing new (default 10)`,
  string: ["host", "port", "timeout"],
  defaults: { host: "www.python.org", port: "80", timeout: "10" },
});
const hostname = parseHost(flags.host);
// We connect to a real port: 0 means "any" only when listening.
const port = parseWholeNumber(flags.port, "--port", 1, 65535);
const seconds = parseSeconds(flags.timeout, "--timeout");
const place = { hostname, port };
const where = formatAddress(place);
const timeoutMs = seconds * 1000;
const secondsText = `${seconds} second${seconds === 1 ? "" : "s"}`;

// The request, as in the book, plus `Connection: close`. Each line ends in
// "\r\n", and an empty line ends the request. The Host header is written
// like the host part of a URL: `[::1]` for IPv6, `:PORT` unless it is 80,
// the port HTTP takes for granted. parseHost has made sure the host holds
// no spaces or line breaks, so nothing can be slipped into the request.
const hostHeader = port === 80
  ? (hostname.includes(":") ? `[${hostname}]` : hostname)
  : where;
const request = "GET / HTTP/1.1\r\n" +
  `Host: ${hostHeader}\r\n` +
  "Connection: close\r\n" +
  "\r\n";

// `signal` gives up on connecting after --timeout seconds too: an address
// that never answers would otherwise keep us waiting for minutes.
let conn: Deno.TcpConn;
try {
  conn = await Deno.connect({
    hostname,
    port,
    signal: AbortSignal.timeout(timeoutMs),
  });
} catch (error) {
  if (error instanceof DOMException) { // Aborted: the time ran out.
    exitWithError(
      `${where} did not accept the connection within ${secondsText}; ` +
        `check the host and port, or wait longer with --timeout.`,
    );
  }
  exitWithError(describeNetworkError(error, place));
}

// Giving up: closing the connection makes the read that is waiting fail
// at once. The timer runs only while we wait for the server, and starts
// again for every read, so only silence counts, not a long page.
let timedOut = false;
function giveUp(): void {
  timedOut = true;
  conn.close();
}

/** Writes all of `bytes` to `writer` (one write may take only part). */
async function writeAll(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}

// Up to 64 KiB per read: a large page takes few reads, not thousands.
const buffer = new Uint8Array(64 * 1024);
let received = 0;
try {
  // The book's `sendall`.
  await writeAll(conn, new TextEncoder().encode(request));
  while (true) {
    // `read` waits for some bytes, puts them in `buffer` and says how many;
    // `null` means the server has closed the connection: the answer is all
    // here.
    const timer = setTimeout(giveUp, timeoutMs);
    const count = await conn.read(buffer).finally(() => clearTimeout(timer));
    if (count === null) break;
    received += count;
    try {
      await writeAll(Deno.stdout, buffer.subarray(0, count));
    } catch {
      // Our output was closed (`deno task tcp-client | head`, and head has
      // seen enough): nobody wants the rest. Stop quietly.
      break;
    }
  }
} catch (error) {
  if (timedOut) {
    exitWithError(
      `${where} sent nothing for ${secondsText} and did not close the ` +
        `connection, so we gave up (wait longer with --timeout).`,
    );
  }
  exitWithError(describeNetworkError(error, place));
}
conn.close();

if (received === 0) {
  exitWithError(`${where} closed the connection without answering.`);
}
