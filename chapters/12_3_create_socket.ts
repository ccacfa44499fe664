/**
 * Sockets: what a socket is and how one comes to be (section 12.3, the
 * book's `create_socket.py`)
 *
 * Unstable API: `Deno.listenDatagram` (UDP) still needs the
 * `--unstable-net` flag. `deno task create-socket` passes it for you.
 *
 * A socket is the program's end of a network conversation. The book makes
 * one from two choices: the address family, `AF_INET` (IPv4) or
 * `AF_INET6` (IPv6), and the type, `SOCK_STREAM` (TCP) or `SOCK_DGRAM`
 * (UDP). It then prints the new socket, which has no address yet:
 *
 *   s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
 *   print(s)
 *   <socket.socket fd=3, family=AddressFamily.AF_INET,
 *   type=SocketKind.SOCK_STREAM, proto=0, laddr=('0.0.0.0', 0)>
 *
 * Deno has no such half-made socket. A socket comes into being already
 * bound to an address, or already connected, by one of three calls:
 *
 *   Deno.listen          = socket + bind + listen   (TCP)
 *   Deno.connect         = socket + connect         (TCP)
 *   Deno.listenDatagram  = socket + bind            (UDP)
 *
 * So this lesson makes all four kinds the book names (IPv4 and IPv6, TCP
 * and UDP) on this computer, prints what each one is, and closes them:
 *
 *   $ deno task create-socket
 *   ...          (first the book's code and the three calls, as above)
 *   Five sockets on this computer, each on a port the system chose:
 *
 *     TCP listener AF_INET  SOCK_STREAM tcp  127.0.0.1:39361
 *     TCP listener AF_INET6 SOCK_STREAM tcp  [::1]:41537
 *     TCP client   AF_INET  SOCK_STREAM tcp  127.0.0.1:52914 -> 127.0.0.1:39361
 *     UDP socket   AF_INET  SOCK_DGRAM  udp  127.0.0.1:43917
 *     UDP socket   AF_INET6 SOCK_DGRAM  udp  [::1]:52263
 *
 *   Closed all five sockets.
 *
 * Each line says what the socket is, the family and type you would pass
 * to Python's socket.socket for it, the transport Deno reports, and the
 * socket's address; for the client, its own address -> the listener's.
 * Your port numbers will differ: the listeners and UDP sockets ask for
 * port 0, which means "any free port, you choose", and the operating
 * system picks one. The client gets its port (52914 above) the same way
 * without asking, when it connects, as the book says in section 12.4.
 *
 * Flags: only --help. (No --host or --port: the lesson is the sockets
 * themselves, always on 127.0.0.1 and ::1, always on port 0.)
 *
 * What we do differently from the book, and why:
 *
 * - The book's socket is unbound (laddr=('0.0.0.0', 0)): it does nothing
 *   until bind or connect. Deno's calls return sockets that already have
 *   an address, so a socket cannot be used before it is ready.
 * - The book's output is from an older Python. Python 3.11 prints
 *   `family=2, type=1` there: the numbers behind AF_INET and SOCK_STREAM.
 * - The book never closes its socket; Python closes it when the program
 *   ends. We close every socket ourselves, as every program should: with
 *   `using` (closed at the end of the block) or try/finally.
 *
 * @module
 */

import {
  describeNetworkError,
  exitWithError,
  formatAddress,
  parseFlags,
} from "./_shared/plumbing.ts";

parseFlags(Deno.args, {
  help: `
Usage: deno task create-socket

Opens a TCP listener, a TCP connection and a UDP socket, on IPv4
(127.0.0.1) and IPv6 (::1), shows what each one is, and closes them all.
The book's socket.socket(family, type) pairs are shown beside each one.`,
});

// Without --unstable-net, `Deno.listenDatagram` does not exist at all.
if (typeof Deno.listenDatagram !== "function") {
  exitWithError(
    "Deno.listenDatagram (UDP) is unstable and needs the --unstable-net " +
      "flag: run deno task create-socket, which passes it.",
  );
}

console.log("The book's create_socket.py makes a socket with no address:");
console.log();
console.log("  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)");
console.log("  print(s)");
console.log("  <socket.socket fd=3, family=AddressFamily.AF_INET,");
console.log("  type=SocketKind.SOCK_STREAM, proto=0, laddr=('0.0.0.0', 0)>");
console.log();
console.log(
  "In Deno a socket is born with its address, by one of three calls:",
);
console.log();
console.log("  Deno.listen          = socket + bind + listen   (TCP)");
console.log("  Deno.connect         = socket + connect         (TCP)");
console.log("  Deno.listenDatagram  = socket + bind            (UDP)");
console.log();
console.log("Five sockets on this computer, each on a port the system chose:");
console.log();

/** One line: what it is, the book's family and type, and its address. */
function show(what: string, address: Deno.NetAddr, remote?: Deno.NetAddr) {
  // Python names the address family after the address: ":" means IPv6.
  const family = address.hostname.includes(":") ? "AF_INET6" : "AF_INET";
  const type = address.transport === "tcp" ? "SOCK_STREAM" : "SOCK_DGRAM";
  const where = remote === undefined
    ? formatAddress(address)
    : `${formatAddress(address)} -> ${formatAddress(remote)}`;
  console.log(
    `  ${what.padEnd(12)} ${family.padEnd(8)} ${type.padEnd(11)} ` +
      `${address.transport}  ${where}`,
  );
}

/**
 * Runs `open`, or ends the script with one sentence saying which socket
 * could not be made (for example when IPv6 is switched off here).
 */
async function make<T>(
  what: string,
  hostname: string,
  open: () => T | Promise<T>,
): Promise<T> {
  try {
    return await open();
  } catch (error) {
    exitWithError(
      `Could not open a ${what} on ${hostname}: ` +
        describeNetworkError(error, { hostname, port: 0 }),
    );
  }
}

/** Opens the five sockets, shows each, and closes them all on the way out. */
async function openShowAndClose(): Promise<void> {
  // Port 0 means "any free port": the operating system chooses, and
  // `.addr` tells us what it chose. (In Python: s.bind(("127.0.0.1", 0)).)
  //
  // `using` closes each socket when this function ends, in reverse order,
  // whether it ends normally or by an error.
  using tcp4 = await make(
    "TCP listener",
    "127.0.0.1",
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  show("TCP listener", tcp4.addr);

  using tcp6 = await make(
    "TCP listener",
    "::1",
    () => Deno.listen({ hostname: "::1", port: 0 }),
  );
  show("TCP listener", tcp6.addr);

  // A client socket: Deno.connect returns once the connection is made. The
  // operating system gives the client's end a port of its own (localAddr);
  // remoteAddr is the listener we connected to. The listener need not
  // accept() for this: the system completes the connection and queues it.
  using client = await make(
    "TCP client",
    "127.0.0.1",
    () => Deno.connect({ hostname: "127.0.0.1", port: tcp4.addr.port }),
  );
  show("TCP client", client.localAddr, client.remoteAddr);

  // UDP has no listeners and no connections: a UDP socket is bound to an
  // address and can send to, and receive from, anyone. Its type (unstable
  // still) does not support `using` yet, so try/finally closes it.
  const udp4 = await make(
    "UDP socket",
    "127.0.0.1",
    () =>
      Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" }),
  );
  try {
    show("UDP socket", udp4.addr as Deno.NetAddr);
    const udp6 = await make(
      "UDP socket",
      "::1",
      () => Deno.listenDatagram({ hostname: "::1", port: 0, transport: "udp" }),
    );
    try {
      show("UDP socket", udp6.addr as Deno.NetAddr);
    } finally {
      udp6.close();
    }
  } finally {
    udp4.close();
  }
}

await openShowAndClose();
// Every socket is closed by now: `using` and `finally` saw to it when
// openShowAndClose returned.
console.log();
console.log("Closed all five sockets.");
