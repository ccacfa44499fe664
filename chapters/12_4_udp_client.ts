/**
 * UDP client: one datagram out, one back (section 12.4, the book's
 * `udp_client.py`)
 *
 * With UDP there is no connection to open: the client puts the server's
 * address on a datagram and sends it. Then it waits for the answer, a
 * datagram from the server's address, and prints it. Nothing guarantees
 * that either datagram arrives, so the client waits only so long.
 *
 * Unstable API: UDP in Deno is still marked unstable. `Deno.listenDatagram`
 * exists only when Deno runs with `--unstable-net`; the task in deno.json
 * passes it for you.
 *
 * Terminal 1 (the server):              Terminal 2 (the client):
 *
 *   $ deno task udp-server                $ deno task udp-client
 *   Listening on 127.0.0.1:25000          Response for 127.0.0.1
 *   From 127.0.0.1:52711: Hi, I'm sending this message.
 *
 * Over IPv6: `deno task udp-server --host ::1`, then
 * `deno task udp-client --host ::1` prints `Response for ::1`. The book's
 * `udp_server.py` answers this client too. With no server running, the
 * client waits two seconds and says so in one sentence.
 *
 * Flags: --host (default 127.0.0.1), --port (default 25000, as in the
 * book), --message (default `Hi, I'm sending this message.`), --timeout
 * (seconds to wait for the answer, default 2).
 *
 * What we do differently from the book, and why:
 *
 * - The book's `socket.gethostname('localhost')` is an error:
 *   `gethostname()` takes no argument and returns this computer's name.
 *   It meant `socket.gethostbyname('localhost')`, which gives 127.0.0.1.
 *   Our default is 127.0.0.1, and `--host localhost` means the same.
 * - The book's `recvfrom` waits forever: if the server is not running, or
 *   a datagram is lost on the way (UDP does not resend), the client hangs.
 *   We wait --timeout seconds, then say what may have happened and exit 1.
 * - The book takes the first datagram that arrives, from anyone. We take
 *   only one from the server's address and port, and ignore the rest.
 * - The book receives at most 2048 bytes (`MAXSIZE`); a longer answer would
 *   be cut without a word. We receive into a 64 KiB buffer, room for any
 *   datagram.
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
  usageError,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task udp-client [--host HOST] [--port PORT] [--message TEXT]
                            [--timeout SECONDS]

Sends one datagram to the UDP server and prints the answer.

  --host HOST        server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT        server's port (default 25000)
  --message TEXT     what to send (default "Hi, I'm sending this message.")
  --timeout SECONDS  how long to wait for the answer (default 2)`,
  string: ["host", "port", "message", "timeout"],
  defaults: {
    host: "127.0.0.1",
    port: "25000",
    message: "Hi, I'm sending this message.",
    timeout: "2",
  },
});
// What the book meant by gethostbyname('localhost'): 127.0.0.1.
const given = parseHost(flags.host);
const hostname = given === "localhost" ? "127.0.0.1" : given;
// A datagram needs a real port to go to: 0 means "any" only when binding.
const port = parseWholeNumber(flags.port, "--port", 1, 65535);
const seconds = parseSeconds(flags.timeout, "--timeout");
const server = { hostname, port, server: "deno task udp-server" };

/** The most data one UDP datagram can carry over IPv4. */
const MAX_DATAGRAM = 65_507;

const message = new TextEncoder().encode(flags.message);
if (message.length > MAX_DATAGRAM) {
  usageError(
    `--message is ${message.length} bytes, more than the ${MAX_DATAGRAM} ` +
      `one UDP datagram can carry`,
  );
}

// Deno has no socket that is not bound to an address, so unlike Python we
// bind our own socket before sending. Port 0 lets the operating system pick
// a free port for us, which is what Python's `sendto` does silently on an
// unbound socket. The address must be of the server's family (IPv4 or
// IPv6): a loopback address when the server is on this computer, else the
// "any" address of that family, which needs its own --allow-net.
const isIPv6 = hostname.includes(":");
const isLoopback = hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
const local = isLoopback
  ? (isIPv6 ? "::1" : "127.0.0.1")
  : (isIPv6 ? "::" : "0.0.0.0");

let socket: Deno.DatagramConn;
try {
  socket = Deno.listenDatagram({ transport: "udp", hostname: local, port: 0 });
} catch (error) {
  if (error instanceof Deno.errors.NotCapable) {
    const flagHost = isIPv6 ? `[${hostname}]` : hostname;
    exitWithError(
      `Deno was not given permission to use the network at ` +
        `${formatAddress(server)}. The deno.json tasks allow only this ` +
        `computer; to go further, run deno run --unstable-net ` +
        `--allow-net=${flagHost},${isIPv6 ? "[::]" : "0.0.0.0"} ` +
        `chapters/12_4_udp_client.ts (see README.md).`,
    );
  }
  exitWithError(describeNetworkError(error, { hostname: local, port: 0 }));
}

/**
 * Is `from` the server? For an IP address, it must match exactly. A host
 * name may stand for several addresses and Deno does not tell us which one
 * it sent to, so then we can only check the port.
 */
function isServer(from: Deno.NetAddr): boolean {
  const isIPAddress = isIPv6 || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
  return from.port === port && (!isIPAddress || from.hostname === hostname);
}

// If no answer comes in time, closing the socket makes the `receive` we
// wait in fail at once, so no operation is left waiting.
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  socket.close();
}, seconds * 1000);

const buffer = new Uint8Array(64 * 1024);
let answer: Uint8Array;
try {
  // Like the book's `sendto`: the data, and where it should go.
  await socket.send(message, { transport: "udp", hostname, port });
  while (true) {
    const [data, from] = await socket.receive(buffer);
    if (isServer(from as Deno.NetAddr)) {
      answer = data;
      break;
    }
    // Anyone can send a datagram to our port; this one is not the answer.
  }
} catch (error) {
  if (timedOut) {
    exitWithError(
      `No answer from ${formatAddress(server)} within ${seconds} ` +
        `second${seconds === 1 ? "" : "s"}; UDP promises nothing, so the ` +
        `server may not be running (start it with: deno task udp-server), ` +
        `or the message or its answer was lost (try again, or wait longer ` +
        `with --timeout).`,
    );
  }
  exitWithError(describeNetworkError(error, server));
}
clearTimeout(timer);
socket.close();

// The book decodes the answer as UTF-8, and so do we.
console.log(new TextDecoder().decode(answer));
