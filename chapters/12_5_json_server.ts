/**
 * JSON echo server (section 12.5, the book's `json_server.py`)
 *
 * An echo server sends every byte a client sends straight back to it. The
 * book uses one to bounce JSON back to `json_client.py`; this one also
 * reads the JSON in passing and logs each value, which shows the central
 * fact of TCP: it carries a stream of bytes, not messages. A JSON value may
 * arrive in many pieces, or several values in one piece, and the receiver
 * has to find where each one ends.
 *
 * Terminal 1 (the server):
 *
 *   $ deno task json-server
 *   Listening on 127.0.0.1:12345
 *   Connected: 127.0.0.1:50312
 *   127.0.0.1:50312 sent JSON: {"name":"Johanna","female":true}
 *   Disconnected: 127.0.0.1:50312 (echoed 36 bytes)
 *
 * Terminal 2 (a client):
 *
 *   $ deno task json-client
 *   {"name":"Johanna","female":true}
 *
 * Any TCP client works too. With netcat, `nc 127.0.0.1 12345`, type
 * `[1, 2] "three"` and Enter: the line comes back, and the server logs two
 * values, `[1,2]` and `"three"`. Type `hello` and the server logs, once,
 * that this is not JSON, and goes on echoing without reading it. The book's
 * own `json_client.py` and `pickle.py` (with `socket.gethostname()` changed
 * to "127.0.0.1") work against this server too. Ctrl-C stops the server.
 *
 * Flags: --host (default 127.0.0.1), --port (default 12345, as in the book;
 * --port 0 lets the operating system pick a free port, printed on the
 * first line). --host ::1 listens on IPv6 instead.
 *
 * What we do differently from the book, and why:
 *
 * - The book accepts once (`s.accept()` outside any loop): it serves one
 *   client, and exits when that client leaves. A server should outlive its
 *   clients: this one serves any number of clients, at the same time, until
 *   you press Ctrl-C. Then it closes the listening socket and every open
 *   client connection, and exits with status 0.
 * - The book binds to `socket.gethostname()` and prints the host name. We
 *   bind to 127.0.0.1 ("this computer only"; `--host 0.0.0.0` opens it to
 *   the network, see README.md) and print the address we really listen on.
 * - The book reads 1024 bytes at a time; we read 64 KiB at a time, so a big
 *   stream takes 64 times fewer trips through the read/write loop. For the
 *   echo itself nothing else is needed: the bytes go back the moment they
 *   arrive, with no waiting for a newline or for the end of the stream (the
 *   book's client sends no newline and waits for its reply without closing).
 * - Like the book's `sendall`, we wait until each piece is fully written
 *   before reading the next one. A client that sends a lot and never reads
 *   its echo is therefore slowed down by TCP itself (its sends block when
 *   our replies pile up), instead of making the server buffer without end.
 *   The other clients are served meanwhile: each has its own async loop.
 * - The JSON log can never cost the echo much, nor much memory: we stop
 *   reading a client's JSON (and say so in one line) once its bytes turn
 *   out not to be JSON, once one value grows past 1 MiB, or after 100
 *   values. From then on its bytes are only echoed.
 * - A client that disappears abruptly (a "connection reset") costs one log
 *   line, not the server.
 *
 * @module
 */

import {
  acceptConnections,
  describeNetworkError,
  exitWithError,
  formatAddress,
  onCtrlC,
  parseFlags,
  parseHost,
  parsePort,
  printListening,
} from "./_shared/plumbing.ts";
// JsonSplitter finds where each JSON value ends as text arrives in pieces:
// see chapters/_shared/json_splitter.ts.
import { JsonSplitter } from "./_shared/json_splitter.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task json-server [--host HOST] [--port PORT]

Echoes every byte back to the client that sent it, and logs the JSON
values it finds in each client's stream.

  --host HOST   address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT   port to listen on (default 12345; 0 = any free port)`,
  string: ["host", "port"],
  defaults: { host: "127.0.0.1", port: "12345" },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);

/**
 * How many bytes one read may return. The book's MAX_SIZE is 1024; a bigger
 * buffer means fewer round trips through the loop for the same bytes, which
 * is most of what makes an echo server fast.
 */
const READ_SIZE = 64 * 1024;

/** The longest JSON value (in characters) we hold on to, to log it. */
const MAX_VALUE_LENGTH = 1024 * 1024;

/** How many JSON values of one client we log, at most. */
const MAX_LOGGED_VALUES = 100;

/** How much of a value one log line shows. */
const MAX_SHOWN = 200;

// ---------------------------------------------------------------------------
// Logging what one client sends

/**
 * Reads one client's bytes as JSON, only to log the values. It never holds
 * up the echo for long: once it stops (not JSON, a value too long, or
 * enough values logged), `watch` returns at once.
 */
class JsonLog {
  #client: string;
  // `fatal: true` makes bytes that are not UTF-8 an error (and so "not
  // JSON") instead of silently turning them into "\uFFFD". The streaming
  // decoder keeps a character that was cut in two between reads until its
  // second half arrives.
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #splitter = new JsonSplitter();
  #logged = 0;
  #watching = true;

  constructor(client: string) {
    this.#client = client;
  }

  /** True if the client stopped in the middle of a JSON value. */
  get inValue(): boolean {
    return this.#watching && this.#splitter.inValue;
  }

  /** Looks at the next bytes the client sent. */
  watch(bytes: Uint8Array): void {
    if (!this.#watching) return;
    try {
      const text = this.#decoder.decode(bytes, { stream: true });
      this.#logAll(this.#splitter.push(text));
    } catch {
      this.#stop("sent something that is not JSON");
      return;
    }
    if (this.#watching && this.#splitter.unfinishedLength > MAX_VALUE_LENGTH) {
      this.#stop("sent a JSON value longer than 1 MiB");
    }
  }

  /** The client has finished sending: a last bare word ends here. */
  end(): void {
    if (!this.#watching) return;
    try {
      this.#decoder.decode(); // throws if a character was left unfinished
      this.#logAll(this.#splitter.end());
    } catch {
      this.#stop("sent something that is not JSON");
    }
  }

  #logAll(texts: string[]): void {
    for (const text of texts) {
      if (!this.#watching) return;
      // Throws a SyntaxError (caught by the caller) if it is not JSON.
      const value = JSON.parse(text);
      // Written back as JSON, control characters become `\u001b` and the
      // like: a client cannot send escape codes to the server's terminal.
      let shown = JSON.stringify(value);
      if (shown.length > MAX_SHOWN) {
        shown = `${shown.slice(0, MAX_SHOWN)}... (${shown.length} characters)`;
      }
      console.log(`${this.#client} sent JSON: ${shown}`);
      this.#logged += 1;
      if (this.#logged === MAX_LOGGED_VALUES) {
        this.#stop(`sent ${MAX_LOGGED_VALUES} JSON values`);
      }
    }
  }

  #stop(reason: string): void {
    this.#watching = false;
    console.log(
      `${this.#client} ${reason}; echoing the rest without logging it.`,
    );
  }
}

// ---------------------------------------------------------------------------
// The server

let listener: Deno.TcpListener;
try {
  listener = Deno.listen({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, { hostname, port }));
}
printListening(listener.addr);

// Every connection still open, so that Ctrl-C can close them all: an open
// connection with a read waiting on it would keep the program running.
const openConnections = new Set<Deno.TcpConn>();
let stopping = false;

onCtrlC(() => {
  stopping = true;
  listener.close();
  for (const conn of openConnections) conn.close();
  openConnections.clear();
});

/** Echoes everything `conn` sends back to it, until it leaves. */
async function echo(conn: Deno.TcpConn): Promise<void> {
  const client = formatAddress(conn.remoteAddr);
  console.log(`Connected: ${client}`);
  const log = new JsonLog(client);
  const buffer = new Uint8Array(READ_SIZE);
  let echoed = 0;
  try {
    while (true) {
      // Whatever has arrived, 1 byte or 64 KiB; `null` once the client
      // has closed its side of the connection.
      const count = await conn.read(buffer);
      if (count === null) break;
      const received = buffer.subarray(0, count);
      log.watch(received);
      // `conn.write` may write only part of what we give it. Like Python's
      // `sendall`, go on until every byte is out; each `await` waits until
      // TCP can take more, which is what slows down a client that does not
      // read. Only then do we reuse the buffer for the next read.
      let written = 0;
      while (written < count) {
        written += await conn.write(received.subarray(written));
      }
      echoed += count;
    }
    log.end();
    const left = log.inValue ? "; it left in the middle of a JSON value" : "";
    console.log(`Disconnected: ${client} (echoed ${echoed} bytes${left})`);
  } catch (error) {
    // Ctrl-C closed the connection under our feet: nothing to report.
    if (stopping) return;
    // Otherwise the client vanished (reset, broken pipe): one line, and
    // the server goes on serving everyone else.
    const middle = log.inValue ? " It was in the middle of a JSON value." : "";
    console.error(`${describeNetworkError(error, conn.remoteAddr)}${middle}`);
  } finally {
    // Close it unless Ctrl-C already did.
    if (openConnections.delete(conn)) conn.close();
  }
}

for await (const conn of acceptConnections(listener)) {
  openConnections.add(conn);
  // No `await`: the loop goes straight back to accepting the next client
  // while this one is served.
  echo(conn);
}
console.log("Server stopped.");
