/**
 * TCP client for the greeting server (section 12.4, the book's
 * `tcp_server-listener.py`)
 *
 * A client connects to a server's host and port, reads what the server
 * sends, and prints it. The operating system picks the client's own port;
 * only the server needs a fixed, known one.
 *
 * Terminal 1:                          Terminal 2:
 *
 *   $ deno task tcp-server               $ deno task tcp-listener
 *   Listening on 127.0.0.1:10001         0. Hi new friend!
 *   Connection from: 127.0.0.1:41796
 *
 * Run terminal 2 again and the number goes up. With no server running you
 * get one sentence saying so, not a stack trace.
 *
 * Flags: --host (default 127.0.0.1), --port (default 10001). For a server
 * started with --port 0, pass the port it printed. --timeout (default 10
 * seconds): give up, with one sentence, if the server has not closed by
 * then (a program on the wrong port may hold the connection open).
 *
 * What we do differently from the book, and why:
 *
 * - The book reads once, `s_client.recv(1024)`, and assumes that one read
 *   holds the whole message. TCP promises the bytes in order, not that they
 *   arrive in one piece: a read returns whatever has arrived so far. The
 *   greeting is short, so the book is usually lucky. We read until the
 *   server closes the connection, which is how this server says "that was
 *   all".
 * - The book decodes what it read as ASCII, which fails on any byte above
 *   127. We decode as UTF-8 with a streaming decoder, which keeps a
 *   character that was cut in two between reads until its second half
 *   arrives.
 * - The book connects to `socket.gethostname()`; the server listens on
 *   127.0.0.1, so that is where we connect.
 *
 * @module
 */

import {
  describeNetworkError,
  exitWithError,
  formatAddress,
  parseFlags,
  parseHost,
  parsePort,
  parseSeconds,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task tcp-listener [--host HOST] [--port PORT]

Connects to the greeting server and prints its greeting.

  --host HOST   server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT   server's port (default 10001)
  --timeout S   give up if the server has not closed after S seconds
                (default 10)`,
  string: ["host", "port", "timeout"],
  defaults: { host: "127.0.0.1", port: "10001", timeout: "10" },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);
const timeout = parseSeconds(flags.timeout, "--timeout");
const server = { hostname, port, server: "deno task tcp-server" };

/** The book's MAX_SIZE: the most one read may return. */
const MAX_SIZE = 1024;

/** A greeting is one short line; a server that sends more is not ours. */
const MAX_GREETING = 64 * 1024;

// No socket exists before `Deno.connect` returns one, already connected:
// in Deno you cannot use a socket before it connects.
let conn: Deno.TcpConn;
try {
  conn = await Deno.connect({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, server));
}

// "Read until the server closes" trusts the server to close. A program on
// the wrong port may keep the connection open and say nothing: rather than
// wait for ever, give up after --timeout seconds with one sentence.
const timer = setTimeout(() => {
  exitWithError(
    `${formatAddress(server)} has not closed the connection after ` +
      `${timeout} s; is it the greeting server (deno task tcp-server)?`,
  );
}, timeout * 1000);

const buffer = new Uint8Array(MAX_SIZE);
const decoder = new TextDecoder();
let greeting = "";
let received = 0;
try {
  while (true) {
    // `read` waits for some bytes and returns how many it put in `buffer`,
    // or `null` once the server has closed the connection.
    const count = await conn.read(buffer);
    if (count === null) break;
    received += count;
    if (received > MAX_GREETING) {
      exitWithError(
        `${formatAddress(server)} sent more than ${MAX_GREETING} bytes; ` +
          `that is not the greeting server.`,
      );
    }
    greeting += decoder.decode(buffer.subarray(0, count), { stream: true });
  }
  greeting += decoder.decode();
} catch (error) {
  exitWithError(describeNetworkError(error, server));
} finally {
  clearTimeout(timer);
  conn.close();
}

// The greeting ends with "\n"; console.log adds its own.
console.log(greeting.trimEnd());
