/**
 * Fragment server: a long message to receive in pieces (section 12.4, ours;
 * it gives the book's `fragmented.py` something to receive)
 *
 * The book shows a client that receives "the whole message fragmented in
 * chunks" but no server that sends one. This is that server. It builds one
 * long message when it starts (1 MiB of numbered lines unless you ask for
 * another size), prints its size and SHA-256 digest, and sends it to every
 * client that connects, in pieces of 64 KiB. Then it hangs up: the end of
 * the connection is how the client learns "that was all".
 *
 * Terminal 1 (the server):
 *
 *   $ deno task fragment-server
 *   Listening on 127.0.0.1:10003
 *   Message: 1048576 bytes, SHA-256 207f8672807d3e33...b697b9fcb0befed0
 *   Sent 1048576 bytes in 16 writes to 127.0.0.1:43574
 *
 * Terminal 2 (the book's client, `fragmented`):
 *
 *   $ deno task fragmented
 *   Received 1048576 bytes in 1025 chunks
 *   SHA-256 207f8672807d3e336aaef553a73f765ac34b39bebc689f82b697b9fcb0befed0
 *
 * The digest is a fingerprint of the message: the same digest on both sides
 * means every byte arrived, in order. (We shortened it on the server's line
 * to fit this page; the server prints all 64 digits.) The message is plain
 * text, so netcat shows what it looks like:
 *
 *   $ nc 127.0.0.1 10003 | head -n 2
 *   Line 00000001: TCP keeps the bytes in order but not the pieces.
 *   Line 00000002: TCP keeps the bytes in order but not the pieces.
 *
 * (Ubuntu's netcat then waits for you to type: press Ctrl-D to end it.)
 * `head` hangs up after two lines, long before the end. But 1 MiB can fit
 * in the operating system's buffers between the two programs, so terminal
 * 1 may still say "Sent 1048576 bytes". Start it with a bigger message,
 * `deno task fragment-server --size 16777216`, and it says in one line
 * that the client left early, and goes on serving:
 *
 *   Stopped sending to 127.0.0.1:42030 after 131072 of 16777216 bytes: the
 *   client closed the connection abruptly (connection reset) before the
 *   conversation was over.
 *
 * `nc 127.0.0.1 10003 | sha256sum` prints the digest a third time (again,
 * Ctrl-D ends netcat). Ctrl-C stops the server, even while clients are
 * still receiving.
 *
 * Flags: --host (default 127.0.0.1; ::1 for IPv6); --port (default 10003;
 * the book has no server here, so it gives no port, and we chose 10003,
 * near the greeting server's 10001; 0 = any free port); --size (bytes in
 * the message, default 1048576 = 1 MiB, from 0 up to 1073741824 = 1 GiB).
 * Every line is 64 bytes; the last one is cut short if --size is not a
 * multiple of 64.
 *
 * What we do differently from the book, and why:
 *
 * - The book has no server for `fragmented.py`. We wrote the smallest one
 *   that shows the point of that example: a message too big for one read.
 * - It sends the message in 64 KiB pieces, on purpose, while the client
 *   reads 1 KiB at a time: the 16 writes of terminal 1 become some 1025
 *   reads in terminal 2. How a sender cuts its writes and how a receiver
 *   cuts its reads have nothing to do with each other.
 * - Like the greeting server (`tcp-server`), it binds to 127.0.0.1, serves
 *   every client at once, and loops until each piece is fully written,
 *   because `conn.write`, like Python's `send`, may write less than asked.
 *
 * @module
 */

import { encodeHex } from "@std/encoding/hex";
import {
  acceptConnections,
  describeNetworkError,
  exitWithError,
  formatAddress,
  onCtrlC,
  parseFlags,
  parseHost,
  parsePort,
  parseWholeNumber,
  printListening,
} from "./_shared/plumbing.ts";

/** The biggest message we agree to build: 1 GiB, all of it in memory. */
const MAX_MESSAGE = 1024 * 1024 * 1024;

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task fragment-server [--host HOST] [--port PORT] [--size BYTES]

Sends every client that connects the same long message, in pieces of
64 KiB, then hangs up. Prints the message's size and SHA-256 digest.

  --host HOST    address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT    port to listen on (default 10003; 0 = any free port)
  --size BYTES   length of the message (default 1048576 = 1 MiB;
                 0 to ${MAX_MESSAGE} = 1 GiB)`,
  string: ["host", "port", "size"],
  defaults: { host: "127.0.0.1", port: "10003", size: "1048576" },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);
const size = parseWholeNumber(flags.size, "--size", 0, MAX_MESSAGE);

// ---------------------------------------------------------------------------
// Listening

// We take the port first, so that a port already in use is reported at
// once, not after building a big message. Clients that connect while the
// message is being built wait in the operating system's queue.
let listener: Deno.TcpListener;
try {
  listener = Deno.listen({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, { hostname, port }));
}

// ---------------------------------------------------------------------------
// The message

/** Line number `n` of the message: always 64 bytes, "\n" included. */
function line(n: number): string {
  const number = String(n).padStart(8, "0");
  return `Line ${number}: TCP keeps the bytes in order but not the pieces.\n`;
}

/**
 * Builds the message: numbered lines, cut to exactly `size` bytes.
 *
 * The text is plain ASCII, one byte per character, so that `nc | head`
 * shows something readable. We encode 1024 lines at a time into the final
 * array, instead of line by line: that is three times faster, and it matters
 * when you ask for a message of 100 MB.
 */
function buildMessage(size: number): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const message = new Uint8Array(size);
  let filled = 0;
  let next = 1;
  while (filled < size) {
    const lines: string[] = [];
    for (let i = 0; i < 1024; i++) {
      lines.push(line(next));
      next += 1;
    }
    // `encodeInto` writes as much as fits and says how much it wrote, so the
    // last batch is cut off exactly at the end of the message.
    const rest = message.subarray(filled);
    filled += encoder.encodeInto(lines.join(""), rest).written;
  }
  return message;
}

// Built once, when the server starts, and shared by every client: sending
// it to ten clients does not make ten copies of it.
const message = buildMessage(size);

// SHA-256 turns the message into 32 bytes, its "digest". Change one byte of
// the message and the digest changes completely, so two programs that print
// the same digest hold the same message. `encodeHex` writes the 32 bytes as
// 64 hexadecimal digits, as `sha256sum` does.
const digest = encodeHex(await crypto.subtle.digest("SHA-256", message));

// Only now, with the message ready, do we announce that we are listening.
printListening(listener.addr);
console.log(`Message: ${message.length} bytes, SHA-256 ${digest}`);

// The clients we are sending to right now. A slow client (one that reads
// little or nothing) would keep its connection, and with it this program,
// alive for ever after Ctrl-C; so Ctrl-C closes them all, not only the
// listener.
const clients = new Set<Deno.TcpConn>();
let stopping = false;
onCtrlC(() => {
  stopping = true;
  listener.close();
  for (const conn of clients) conn.close();
  clients.clear();
});

// ---------------------------------------------------------------------------
// Sending

/**
 * How many bytes one piece of the message holds. The receiver's reads do
 * not line up with these pieces at all (the `fragmented` client reads 1024
 * bytes at a time; netcat, something else again): how a sender cuts its
 * writes and how a receiver cuts its reads are unrelated, and TCP promises
 * only that the bytes come out in the order they went in. 64 KiB is big
 * enough that a 100 MB message takes only some 1500 writes, which keeps the
 * server fast; a piece of 1 KiB would take 100,000.
 */
const PIECE = 64 * 1024;

/** Sends the whole message to one client in pieces, then hangs up. */
async function send(conn: Deno.TcpConn): Promise<void> {
  const client = formatAddress(conn.remoteAddr as Deno.NetAddr);
  let sent = 0;
  let writes = 0;
  try {
    while (sent < message.length) {
      // `subarray` is a view into the message, not a copy: the piece costs
      // no memory.
      const piece = message.subarray(sent, sent + PIECE);
      // `conn.write` returns how many bytes it wrote, which can be fewer
      // than we asked for. Like Python's `sendall`, keep going until the
      // whole piece is out; we count that as one write.
      let written = 0;
      while (written < piece.length) {
        const count = await conn.write(piece.subarray(written));
        written += count;
        sent += count;
      }
      writes += 1;
    }
    console.log(
      `Sent ${sent} bytes in ${writes} ${writes === 1 ? "write" : "writes"} ` +
        `to ${client}`,
    );
  } catch (error) {
    // One line, and the server goes on serving everyone else.
    const why = stopping
      ? "the server is stopping."
      : describeNetworkError(error, { hostname: "the client" });
    console.error(
      `Stopped sending to ${client} after ${sent} of ${message.length} ` +
        `bytes: ${why}`,
    );
  } finally {
    // Closing is how we say "that was all": the client's next read returns
    // end-of-file. (If Ctrl-C closed the connection already, it is no longer
    // in `clients`.)
    if (clients.delete(conn)) conn.close();
  }
}

for await (const conn of acceptConnections(listener)) {
  clients.add(conn);
  // Not awaited: the loop goes straight back to accepting, so a client that
  // reads slowly does not hold up the next one.
  send(conn);
}
console.log("Server stopped.");
