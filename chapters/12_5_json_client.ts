/**
 * JSON client (section 12.5, the book's `json_client.py`)
 *
 * JSON turns data (objects, arrays, strings, numbers, true, false, null)
 * into text that any language can read back: Python's `json.dumps` and
 * JavaScript's `JSON.stringify` write it, `json.loads` and `JSON.parse`
 * read it. This client sends one JSON value to the echo server, reads the
 * value that comes back, and prints it.
 *
 * Terminal 1 (the server):             Terminal 2 (this client):
 *
 *   $ deno task json-server              $ deno task json-client
 *   Listening on 127.0.0.1:12345         {"name":"Johanna","female":true}
 *   Connected: 127.0.0.1:50312
 *   127.0.0.1:50312 sent JSON: {"name":"Johanna","female":true}
 *   Disconnected: 127.0.0.1:50312 (echoed 36 bytes)
 *
 * Send your own value with --data (quote it for the shell):
 *
 *   $ deno task json-client --data '[1, "two", {"three": 3.5}]'
 *   [1,"two",{"three":3.5}]
 *
 * What goes out is exactly the book's bytes: `{"name": "Johanna",
 * "female": true}`, which is what Python's `json.dumps` makes of the
 * book's dictionary, followed by a newline so that it is one line of text
 * (handy for tools that read line by line; the echo server does not need
 * it). What we print is the value that came back, written by
 * `JSON.stringify`: compact, without spaces, in JSON's own spelling (the
 * book prints Python's `{'name': 'Johanna', 'female': True}`).
 *
 * Flags: --host (default 127.0.0.1), --port (default 12345), --data (the
 * JSON to send; anything that is not JSON is refused, exit status 2),
 * --timeout (seconds to wait for the reply, default 5).
 *
 * This client also works against the book's own `json_server.py` (with
 * `socket.gethostname()` changed to "127.0.0.1"), which serves one client
 * and then exits.
 *
 * What we do differently from the book, and why:
 *
 * - The book reads once, `s.recv(1024)`, and hands that to `json.loads`.
 *   TCP delivers a stream of bytes, not messages: the reply may come in
 *   several pieces, and a value longer than 1024 bytes never fits in one
 *   read. Either way `json.loads` gets half a value and fails. We read
 *   piece after piece and follow the JSON as it arrives, until one whole
 *   value has come back.
 * - We decode the bytes as UTF-8 with a streaming decoder, which keeps a
 *   character cut in two between pieces (like "ö", two bytes) until its
 *   second half arrives.
 * - The book waits for its reply for ever, and would accept a reply of any
 *   size. We give up after --timeout seconds, or after 1 MiB with no value
 *   ended, each with one sentence saying so.
 * - The book connects to `socket.gethostname()`; our server listens on
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
  usageError,
} from "./_shared/plumbing.ts";
// JsonSplitter finds where a JSON value ends as text arrives in pieces (the
// same as json-server uses): see chapters/_shared/json_splitter.ts. std's
// ConcatenatedJsonParseStream would wait for more after the reply `42` and a
// newline, so `--data 42` would time out.
import { JsonSplitter } from "./_shared/json_splitter.ts";

/** The book's `json.dumps({"name": "Johanna", "female": True})`. */
const BOOK_MESSAGE = '{"name": "Johanna", "female": true}';

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task json-client [--host HOST] [--port PORT] [--data JSON]
                             [--timeout SECONDS]

Sends one JSON value, as one line, to the JSON echo server, and prints the
value that comes back (as JSON.stringify writes it).

  --host HOST        server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT        server's port (default 12345)
  --data JSON        what to send (default ${BOOK_MESSAGE})
  --timeout SECONDS  how long to wait for the reply (default 5)`,
  string: ["host", "port", "data", "timeout"],
  defaults: {
    host: "127.0.0.1",
    port: "12345",
    data: BOOK_MESSAGE,
    timeout: "5",
  },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);
const timeout = parseSeconds(flags.timeout, "--timeout");
const server = { hostname, port, server: "deno task json-server" };
const where = formatAddress(server);

// Check --data before anything goes on the wire: sending text that is not
// JSON to a JSON server is a mistake in how we were called.
try {
  JSON.parse(flags.data);
} catch {
  const oneLine = flags.data.replace(/\s+/g, " ");
  const shown = oneLine.length > 40 ? `${oneLine.slice(0, 40)}...` : oneLine;
  usageError(`--data must be JSON, like '{"name": "Ann"}', not '${shown}'`);
}
// We send the text as given (not re-written by JSON.stringify), so the
// bytes are exactly yours. In valid JSON a line break can only be white
// space between two parts, never inside a string (there it must be written
// \n), so turning line breaks into spaces keeps the value the same and
// makes it one line.
const message = flags.data.replace(/[\r\n]+/g, " ") + "\n";

/** The longest reply we wait for; an echo of our --data is far shorter. */
const MAX_REPLY = 1024 * 1024;

// ---------------------------------------------------------------------------
// The conversation

// The whole conversation must be over within --timeout seconds. When the
// time is up, this ends the script wherever it is waiting.
const timer = setTimeout(() => {
  exitWithError(
    `${where} sent back no whole JSON value within ${timeout} ` +
      `${timeout === 1 ? "second" : "seconds"}; ` +
      `check that it is the JSON echo server, or wait longer with --timeout.`,
  );
}, timeout * 1000);

let conn: Deno.TcpConn;
try {
  conn = await Deno.connect({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, server));
}

// Send the whole line: like Python's `sendall`, write until every byte is
// out, since one `conn.write` may take only part of it.
try {
  const bytes = new TextEncoder().encode(message);
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
} catch (error) {
  exitWithError(describeNetworkError(error, server));
}

// Read piece after piece until one whole JSON value has come back.
const notJson = `${where} sent back something that is not JSON; check ` +
  `that it is the JSON echo server (deno task json-server).`;
const buffer = new Uint8Array(64 * 1024);
const decoder = new TextDecoder("utf-8", { fatal: true });
const splitter = new JsonSplitter();
let received = 0;
let texts: string[] = [];
while (texts.length === 0) {
  let count: number | null;
  try {
    count = await conn.read(buffer);
  } catch (error) {
    exitWithError(describeNetworkError(error, server));
  }
  try {
    if (count === null) {
      // The server closed. A bare word like `42` ends here; anything else
      // was cut short.
      decoder.decode();
      texts = splitter.end();
      if (texts.length === 0) {
        exitWithError(
          `${where} closed the connection before a whole JSON value came ` +
            `back.`,
        );
      }
      break;
    }
    received += count;
    if (received > MAX_REPLY) {
      exitWithError(
        `${where} sent back more than 1 MiB without ending a JSON value; ` +
          `that is not the echo of what we sent.`,
      );
    }
    // `fatal: true`: bytes that are not UTF-8 throw, instead of quietly
    // turning into "\uFFFD".
    texts = splitter.push(decoder.decode(buffer.subarray(0, count), {
      stream: true,
    }));
  } catch {
    exitWithError(notJson);
  }
}

let value: unknown;
try {
  value = JSON.parse(texts[0]);
} catch {
  exitWithError(notJson);
}
clearTimeout(timer);
conn.close();

console.log(JSON.stringify(value));
