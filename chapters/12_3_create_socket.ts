/**
 * Sockets: the four kinds, made and closed (section 12.3, the book's
 * create_socket.py)
 *
 * A socket is a program's end of a network conversation. The book makes one
 * from an address family (AF_INET is IPv4, AF_INET6 is IPv6) and a type
 * (SOCK_STREAM is TCP, SOCK_DGRAM is UDP). In Deno a socket is made already
 * bound or connected; this makes each kind on this computer, then closes all.
 *
 *   $ deno task create-socket
 *   The book's create_socket.py makes a socket with no address:
 *   ...
 *   Sockets on this computer, each on a port the system chose:
 *
 *     TCP listener AF_INET  SOCK_STREAM 127.0.0.1:36111
 *     TCP listener AF_INET6 SOCK_STREAM [::1]:37985
 *     TCP client   AF_INET  SOCK_STREAM 127.0.0.1:35820 -> 127.0.0.1:36111
 *     UDP socket   AF_INET  SOCK_DGRAM  127.0.0.1:34927
 *     UDP socket   AF_INET6 SOCK_DGRAM  [::1]:58663
 *
 *   Closed all 5 sockets.
 *
 * Your ports will differ. UDP needs Deno's --unstable-net; the task passes it.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

commandLine(); // no flags, only --help: see the end
introduce(); // the book's socket, and Deno's three calls: see below

// Every socket we make goes in `sockets`, so that we can close them all at
// the end, whatever happens on the way. Port 0 means "any free port": the
// system picks one, and `.addr` says which. (Python: s.bind(("::1", 0)).)
const sockets: { close(): void }[] = [];
let ipv6 = true;
try {
  try {
    // The book's socket(AF_INET, SOCK_STREAM), then bind() and listen(), in
    // one call: the family follows from the address (127.0.0.1 is IPv4).
    const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    sockets.push(tcp);
    show("TCP listener", tcp.addr);
    try {
      // socket(AF_INET6, SOCK_STREAM): the same, on IPv6's loopback address.
      const tcp6 = Deno.listen({ hostname: "::1", port: 0 });
      sockets.push(tcp6);
      show("TCP listener", tcp6.addr);
    } catch (error) {
      // A computer may have IPv6 switched off: then ::1 is not its address.
      if (!(error instanceof Deno.errors.AddrNotAvailable)) throw error;
      console.log("  (none on IPv6: ::1 is not an address of this computer)");
      ipv6 = false;
    }
    // A client: Deno.connect returns once the system has made the
    // connection. The listener need not accept() for that: the system queues
    // the connection for it. The client's own end gets a port too, picked by
    // the system: that is its local address; the remote is the listener.
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: tcp.addr.port,
    });
    sockets.push(client);
    show("TCP client", client.localAddr, client.remoteAddr);
    // socket(AF_INET, SOCK_DGRAM) and bind(). UDP has no listeners and sets
    // up no connection (no handshake): a UDP socket is bound to an address
    // and can send to, and receive from, anyone. (`as Deno.NetAddr`: Deno's
    // types allow for a Unix socket's address too, which has no port.)
    for (const hostname of ipv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]) {
      const udp = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
      sockets.push(udp);
      show("UDP socket", udp.addr as Deno.NetAddr);
    }
  } finally {
    // The book never closes its socket (Python does when the program ends).
    // We close every one, even if making the next one failed.
    for (const socket of sockets) socket.close();
  }
} catch (error) {
  exit(1, `Could not make a socket: ${error}`);
}
console.log(`\nClosed all ${sockets.length} sockets.`);

/** The book's socket with no address, and Deno's three calls. */
function introduce() {
  // The book's printout is from an older Python: Python 3.11 prints
  // family=2, type=1 there, the numbers behind the names. laddr=('0.0.0.0',
  // 0) means "no address yet". The book adds that listen() "does not work"
  // unless the socket is bound first: not so on Linux, where listen() binds
  // an unbound socket to a free port on all addresses by itself (ip(7)), as
  // connect() does, and so does a UDP socket's first sendto() (udp(7)). A
  // server binds first so that its clients know where to find it.
  console.log(`The book's create_socket.py makes a socket with no address:

  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  print(s)
  <socket.socket fd=3, family=AddressFamily.AF_INET,
  type=SocketKind.SOCK_STREAM, proto=0, laddr=('0.0.0.0', 0)>

In Deno a socket is born with its address, by one of three calls:

  Deno.listen          = socket + bind + listen   (TCP)
  Deno.connect         = socket + connect         (TCP)
  Deno.listenDatagram  = socket + bind            (UDP)

Sockets on this computer, each on a port the system chose:
`);
}

/** One line: what the socket is, the book's family and type, its address. */
function show(what: string, local: Deno.NetAddr, remote?: Deno.NetAddr) {
  const family = local.hostname.includes(":") ? "AF_INET6" : "AF_INET";
  const type = local.transport === "tcp" ? "SOCK_STREAM" : "SOCK_DGRAM";
  const to = remote ? ` -> ${address(remote)}` : "";
  const columns = `${what.padEnd(12)} ${family.padEnd(8)} ${type.padEnd(11)}`;
  console.log(`  ${columns} ${address(local)}${to}`);
}

// ---- The command line and printing addresses: as in every lesson ----

/** No flags but --help; and UDP needs --unstable-net. */
function commandLine() {
  const help = `Usage: deno task create-socket
  (no flags: it always uses 127.0.0.1 and ::1, and ports the system picks)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  parseArgs(Deno.args, {
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // UDP in Deno is still "unstable": without --unstable-net,
  // Deno.listenDatagram does not exist at all.
  if (typeof Deno.listenDatagram !== "function") {
    exit(
      1,
      "UDP needs Deno's --unstable-net flag: deno task create-socket " +
        "passes it.",
    );
  }
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}

/** `127.0.0.1:39361`, or `[::1]:41537` for IPv6, as in URLs. */
function address({ hostname, port }: Deno.NetAddr): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
