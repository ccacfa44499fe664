/**
 * Receiving a message in fragments (section 12.4, the book's
 * `fragmented.py`)
 *
 * A read from a TCP connection returns whatever has arrived so far, at most
 * as many bytes as you asked for. A long message therefore comes out in
 * many pieces ("chunks"), whose sizes have nothing to do with how the
 * sender wrote it. This client reads chunk after chunk until the sender
 * closes the connection, keeps them all, joins them into the one message,
 * and prints how many chunks it took, how many bytes arrived, and the
 * message's SHA-256 digest (its fingerprint).
 *
 * Terminal 1 (a server to receive from):
 *
 *   $ deno task fragment-server
 *   Listening on 127.0.0.1:10003
 *   Message: 1048576 bytes, SHA-256 207f8672807d3e33...b697b9fcb0befed0
 *   Sent 1048576 bytes in 16 writes to 127.0.0.1:43574
 *
 * Terminal 2 (this client):
 *
 *   $ deno task fragmented
 *   Received 1048576 bytes in 1025 chunks
 *   SHA-256 207f8672807d3e336aaef553a73f765ac34b39bebc689f82b697b9fcb0befed0
 *
 * The same digest on both sides means every byte arrived, in order. The
 * server wrote 16 pieces of 64 KiB; we read chunks of at most 1 KiB. 1024
 * full chunks would have done, but at least one read caught up with the
 * sender and returned only the bytes that had arrived by then: a read
 * never waits for a full chunk. Run it again and the count may change; the
 * bytes and the digest never do.
 *
 * Any TCP sender works, not only ours. Send a file with netcat (-N: hang up
 * when the file is sent; older netcats spell it `nc -q 0 -l -p 10003`) and
 * compare digests:
 *
 *   $ nc -N -l 10003 < some.file        $ deno task fragmented
 *   $ sha256sum some.file                 Received 300000 bytes in 293 chunks
 *   651725b6...  some.file                SHA-256 651725b6...
 *
 * The other way round works too: the book's own `fragmented.py`, with the
 * two slips described below fixed (tests/bench/reference/fragmented.py),
 * receives from our server and prints the same two lines:
 * `python3 tests/bench/reference/fragmented.py 127.0.0.1 10003`.
 *
 * Flags: --host (default 127.0.0.1; ::1 for IPv6); --port (default 10003,
 * the fragment server's); --chunk-size (the most one read returns; default
 * 1024, the book's MAX_SIZE; 1 to 16777216); --max-bytes (give up beyond
 * this many bytes, so that a sender that never stops cannot fill the
 * memory; default 1073741824 = 1 GiB).
 *
 * Chunk size and speed: each read is a trip into the operating system and
 * back, and for small chunks the trips, not the bytes, are what costs. A
 * 100 MB message takes about 100,000 reads of 1 KiB, or 1,500 of 64 KiB.
 * On the machine this was written on, `deno task fragment-server --size
 * 100000000` and then `deno task fragmented` took about 0.6 s, and
 * `deno task fragmented --chunk-size 65536` about 0.3 s, a third of which
 * is joining the chunks and another third computing the digest.
 *
 * What we do differently from the book, and why:
 *
 * - The book calls `s.recv` on a socket that never connected to anything
 *   (there is no `s.connect` call), so its first read raises an error. In
 *   Deno there is no unconnected TCP socket to make that mistake with:
 *   `Deno.connect` returns the connection only once it is connected.
 * - The book joins the chunks with `"".join(fragments)`. The chunks are
 *   bytes and `""` is a str, and Python 3 refuses to mix them: TypeError.
 *   It should be `b"".join(fragments)`. Here the chunks are Uint8Arrays and
 *   std's `concat` joins them.
 * - The book's idea, keeping the chunks in a list and joining them once at
 *   the end, is the right one, and we keep it. The tempting alternative,
 *   `message = message + chunk` after every read, copies the whole message
 *   so far each time: for n bytes in chunks of k that is about n²/2k bytes
 *   copied, so a message ten times longer takes a hundred times longer
 *   (100 MB in 1 KiB chunks: some 5 TB of copying). Joining once copies
 *   each byte once: ten times longer takes ten times longer.
 * - The book's loop tests a `finish` flag that is never set; it ends by
 *   `break`. We drop the flag.
 * - The book never closes its socket; we do.
 * - We stop at --max-bytes, with one sentence, rather than let a sender
 *   that never stops use up all the memory.
 *
 * @module
 */

import { concat } from "@std/bytes/concat";
import { encodeHex } from "@std/encoding/hex";
import {
  describeNetworkError,
  exitWithError,
  formatAddress,
  parseFlags,
  parseHost,
  parsePort,
  parseWholeNumber,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task fragmented [--host HOST] [--port PORT] [--chunk-size BYTES]
                            [--max-bytes BYTES]

Receives one message, chunk by chunk, until the sender closes the
connection; prints the number of chunks, the bytes and the SHA-256 digest.

  --host HOST          sender's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT          sender's port (default 10003)
  --chunk-size BYTES   the most one read returns (default 1024, the book's
                       MAX_SIZE; 1 to 16777216)
  --max-bytes BYTES    give up if the message is longer than this
                       (default 1073741824 = 1 GiB)`,
  string: ["host", "port", "chunk-size", "max-bytes"],
  defaults: {
    host: "127.0.0.1",
    port: "10003",
    "chunk-size": "1024",
    "max-bytes": "1073741824",
  },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);
const chunkSize = parseWholeNumber(
  flags["chunk-size"],
  "--chunk-size",
  1,
  16 * 1024 * 1024,
);
// The whole message is kept in memory (twice, for a moment, while the
// chunks are joined), so we allow no more than 4 GiB.
const maxBytes = parseWholeNumber(
  flags["max-bytes"],
  "--max-bytes",
  0,
  4 * 1024 * 1024 * 1024,
);
const server = { hostname, port, server: "deno task fragment-server" };

// The book creates a socket here and forgets to connect it. `Deno.connect`
// creates and connects in one step, so there is nothing to forget.
let conn: Deno.TcpConn;
try {
  conn = await Deno.connect({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, server));
}

// Python's `recv` returns a new bytes object each time. Deno's `conn.read`
// instead fills a buffer we hand it. So each read gets a fresh buffer of
// its own: reusing one buffer for every read would overwrite the chunk we
// kept last time, and every kept chunk would end up showing the bytes of
// the last read. (Reusing one buffer is fine only if we copy the bytes out
// after each read. That works too, but the extra copy shows: 100 MB in
// 64 KiB reads took us about 140 ms that way, 90 ms with fresh buffers.)
const fragments: Uint8Array[] = [];
let received = 0;
try {
  while (true) {
    const buffer = new Uint8Array(chunkSize);
    // Waits until some bytes have arrived and returns how many it put in
    // `buffer` (1 to chunkSize), or `null` once the sender has closed the
    // connection: the book's `if not chunk: break`.
    const count = await conn.read(buffer);
    if (count === null) break;
    received += count;
    if (received > maxBytes) {
      exitWithError(
        `${formatAddress(server)} sent more than ${maxBytes} bytes, the ` +
          `--max-bytes limit, so we stopped reading; raise --max-bytes to ` +
          `receive more.`,
      );
    }
    // Keep the `count` bytes that arrived. `subarray` is a view into the
    // buffer, no copy; but it keeps the whole buffer alive, so when a read
    // filled less than half of it we keep a copy (`slice`) instead and let
    // the buffer go. Otherwise a sender trickling 1 byte at a time into
    // 1 MiB buffers would cost us a MiB of memory per byte.
    const chunk = count > chunkSize / 2
      ? buffer.subarray(0, count)
      : buffer.slice(0, count);
    fragments.push(chunk);
  }
} catch (error) {
  exitWithError(describeNetworkError(error, server));
} finally {
  conn.close();
}

// `concat` adds up the chunks' lengths, makes one array that size, and
// copies each chunk into place: every byte is copied once. This is the
// book's `b"".join(fragments)`.
const message = concat(fragments);

// The message's fingerprint, computed as the fragment server computes its
// own: equal digests mean equal messages, byte for byte.
const digest = encodeHex(await crypto.subtle.digest("SHA-256", message));

const chunks = fragments.length === 1 ? "chunk" : "chunks";
console.log(
  `Received ${message.length} bytes in ${fragments.length} ${chunks}`,
);
console.log(`SHA-256 ${digest}`);
