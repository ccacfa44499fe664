/**
 * TCP server: the greeting server (section 12.4, the book's `tcp_server.py`)
 *
 * A server waits on a port for clients to connect. This one greets each
 * client with one line, `N. Hi new friend!`, and hangs up. N counts the
 * clients from 0 in the order they arrived.
 *
 * Terminal 1 (the server):             Terminal 2 (a client):
 *
 *   $ deno task tcp-server               $ deno task tcp-listener
 *   Listening on 127.0.0.1:10001         0. Hi new friend!
 *   Connection from: 127.0.0.1:41796     $ deno task tcp-listener
 *   Connection from: 127.0.0.1:41800     1. Hi new friend!
 *
 * Any TCP client can be the second terminal, for example netcat:
 * `nc 127.0.0.1 10001` prints `2. Hi new friend!`. (Ubuntu's netcat then
 * waits for you to type; Ctrl-D or Enter ends it.) Ctrl-C stops the server.
 *
 * Flags: --host (default 127.0.0.1), --port (default 10001, as in the book;
 * --port 0 lets the operating system pick a free port, printed on the
 * first line). --host ::1 listens on IPv6 instead.
 *
 * What we do differently from the book, and why:
 *
 * - The book binds to `socket.gethostname()`, the machine's name, which may
 *   resolve to an address other computers can reach, or to one its client
 *   does not try. We bind to 127.0.0.1 ("this computer only"): a server is
 *   reachable from other machines only when you decide so, with
 *   `--host 0.0.0.0` (see "Serving another computer" in README.md).
 * - The book greets one client at a time: while it talks to one, the others
 *   wait in the operating system's queue. Here each client is greeted by its
 *   own async call, and the loop goes straight back to accepting, so one
 *   slow client cannot hold up the rest.
 * - The book calls `send`, which may send only the first part of a message
 *   and return how much it sent; `sendall` is the call that sends it all.
 *   Deno's `conn.write` behaves like `send`, so we loop until every byte is
 *   out.
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

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task tcp-server [--host HOST] [--port PORT]

Greets every client that connects with "N. Hi new friend!" and hangs up.

  --host HOST   address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT   port to listen on (default 10001; 0 = any free port)`,
  string: ["host", "port"],
  defaults: { host: "127.0.0.1", port: "10001" },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);

// `Deno.listen` does in one call what the book does in three: create the
// socket, bind it to the host and port, and start listening. From now on
// the operating system queues up clients that connect, until we accept them.
let listener: Deno.TcpListener;
try {
  listener = Deno.listen({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, { hostname, port }));
}

// `listener.addr` holds the real address: with --port 0 it is the only way
// to learn which port the operating system chose.
printListening(listener.addr);

// Ctrl-C closes the listening socket, which ends the loop at the bottom.
onCtrlC(() => listener.close());

const encoder = new TextEncoder();

/** Sends the greeting for client number `count`, then hangs up. */
async function greet(conn: Deno.TcpConn, count: number): Promise<void> {
  const message = encoder.encode(`${count}. Hi new friend!\n`);
  try {
    // `conn.write` returns how many bytes it wrote, which can be fewer than
    // we asked for. Like Python's `sendall`, keep going until all are out.
    let written = 0;
    while (written < message.length) {
      written += await conn.write(message.subarray(written));
    }
  } catch (error) {
    // The client may vanish before we greet it. That is its problem, not
    // the server's: say so, and keep serving everyone else.
    const client = conn.remoteAddr;
    console.error(
      `Could not greet client ${count}: ${describeNetworkError(error, client)}`,
    );
  } finally {
    // Closing the connection tells the client "that was all": its read
    // returns end-of-file.
    conn.close();
  }
}

let count = 0;
for await (const conn of acceptConnections(listener)) {
  console.log("Connection from:", formatAddress(conn.remoteAddr));
  // The client's number is fixed here, in the order of arrival. We do not
  // `await` the greeting: the loop goes straight back to accepting.
  greet(conn, count);
  count += 1;
}
console.log("Server stopped.");
