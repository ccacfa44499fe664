/**
 * Ports: which program on a machine (section 12.2, Table 12.1)
 *
 * An IP address finds a machine; a port, a 16-bit number, finds one program
 * on it. Well-known services wait on fixed ports (Table 12.1): web servers
 * on 80 and 443, SSH on 22. With --port N this tries to take N here, for TCP
 * and for UDP, as a server would, and says what that does and does not show.
 *
 *   $ deno task ports
 *   Table 12.1: Some preset ports
 *   ...
 *   Listening on port 0 asks the system for any free port:
 *   it gave us 127.0.0.1:38733, in the registered range. ...
 *   $ deno task ports --port 443
 *   Port 443 is in the well-known range (0-1023; RFC 6335: System Ports):
 *   HTTPS (Web) in Table 12.1.
 *   TCP 127.0.0.1:443 needs administrator rights here; use a port from 1024 up.
 *   UDP 127.0.0.1:443 needs administrator rights here; use a port from 1024 up.
 *   Tried on 127.0.0.1 only, by a program that sets SO_REUSEADDR ...
 *
 * That is an ordinary user on Linux; as root or in most Docker containers,
 * each `is free: no program has it now, so one could.` With `deno task
 * tcp-server` running, --port 10001 says TCP's `is in use: a program ...`.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

// --host: `hostname` as given, `host` as in URLs ([::1]); --port: `asked`
const { hostname, host, asked } = commandLine(); // flags: see the end

// Try first, before printing anything: if we may not even try (a --host
// outside --allow-net), one error line is all the reader sees. Port 0 asks
// the system for any free port; a port of yours we try for TCP and for UDP,
// which have 65,536 ports each: TCP port 53 and UDP port 53 are two ports.
const tcp = take("tcp", asked ?? 0);
const udp = asked ? take("udp", asked) : 0;

/**
 * Takes `port` on our address, as a server does, and lets go at once: a TCP
 * listener (Deno.listen; it sets SO_REUSEADDR, as most servers do) or a UDP
 * socket (Deno.listenDatagram). Answers the port it got (for port 0, the one
 * the system picked), or why it could not.
 */
function take(transport: "tcp" | "udp", port: number): number | string {
  try {
    // The book's Python tuple ("www.yahoo.es", 80) is, in Deno, an object:
    // { hostname: "www.yahoo.es", port: 80 }, as these calls take it.
    const socket = transport === "tcp"
      ? Deno.listen({ hostname, port })
      : Deno.listenDatagram({ hostname, port, transport });
    socket.close(); // Let go: we only wanted to know.
    return (socket.addr as Deno.NetAddr).port;
  } catch (error) {
    // These two are answers to our question, not failures. In use: by a
    // listener, a UDP socket, one end of a connection, or connections in
    // TIME_WAIT that a server without SO_REUSEADDR left (see below).
    if (error instanceof Deno.errors.AddrInUse) {
      return "is in use: a program or old connections have it (ss -tunap).";
    } else if (error instanceof Deno.errors.PermissionDenied) {
      // Linux below net.ipv4.ip_unprivileged_port_start; macOS below 1024 on
      // one address such as 127.0.0.1 (see "Ports below 1024", further down).
      return "needs administrator rights here; use a port from 1024 up.";
    } else if (error instanceof Deno.errors.NotCapable) {
      const why = `Deno may not listen on ${host}: run deno run ` +
        `--unstable-net --allow-net=${host} chapters/12_2_ports.ts ` +
        "with the same flags.";
      exit(1, why);
    }
    exit(1, `${host}:${port}: ${error}`);
  }
}

/** Table 12.1, exactly as the book lists it. */
const TABLE_12_1 = new Map([
  [21, "FTP CONTROL"],
  [22, "SSH"],
  [23, "Telnet"],
  [25, "SMTP (email)"],
  [37, "Time"],
  [42, "Host Name Server (Nameserv)"],
  [53, "Domain Name System (DNS)"],
  [80, "HTTP (Web)"],
  [110, "POP3 (email)"],
  [118, "SQL Services"],
  [119, "NNTP (News)"],
  [443, "HTTPS (Web)"],
]);

// The three ranges: the book's name, RFC 6335's, the first and last port.
const RANGES: [string, string, number, number][] = [
  ["well-known", "System Ports", 0, 1023],
  ["registered", "User Ports", 1024, 49151],
  ["dynamic/private", "Dynamic and/or Private Ports", 49152, 65535],
];
const rangeOf = (port: number) => RANGES.find((range) => port <= range[3])!;

if (asked === undefined) {
  console.log("Table 12.1: Some preset ports\n\n  Port  Description");
  for (const [port, what] of TABLE_12_1) {
    console.log(`  ${String(port).padStart(4)}  ${what}`);
  }
  // 16 bits: 2 ** 16 = 65,536 numbers, 0 to 65535. IANA assigns ports in
  // the first two ranges to services and programs, never in the third.
  console.log(`
A port is a 16-bit number: 65,536 TCP ports, as many UDP ports (TCP
port 53 and UDP port 53 are two), in three ranges (the book's names
first, then RFC 6335's):\n`);
  for (const [name, rfc, first, last] of RANGES) {
    const size = (last - first + 1).toLocaleString("en-US").padStart(6);
    const span = `${String(first).padStart(5)} - ${String(last).padEnd(5)}`;
    console.log(`  ${name.padEnd(15)} ${span}  ${size} ports  ${rfc}`);
  }
  // Who may listen on the well-known ports? The book does not say, and it
  // depends on the system. Linux lets only administrators listen below
  // net.ipv4.ip_unprivileged_port_start (1024 unless changed; Docker sets 0
  // in its containers). macOS lets anyone since Mojave (10.14), but only on
  // all addresses at once (0.0.0.0): 127.0.0.1:80 still needs root. Windows
  // never reserved them.
  console.log(`
Ports below 1024: Linux lets only administrators listen on them (unless
net.ipv4.ip_unprivileged_port_start is lowered, as Docker does); macOS
lets anyone on 0.0.0.0 since 10.14; Windows lets anyone.`);
} else {
  const service = TABLE_12_1.get(asked);
  const listed = service ? `${service} in Table 12.1` : "not in Table 12.1";
  const [name, rfc, first, last] = rangeOf(asked);
  console.log(`Port ${asked} is in the ${name} range (${first}-${last}; \
RFC 6335: ${rfc}):\n${listed}.`);
  const free = "is free: no program has it now, so one could.";
  if (asked) console.log(`TCP ${host}:${asked} ${tcp === asked ? free : tcp}`);
  if (asked) console.log(`UDP ${host}:${asked} ${udp === asked ? free : udp}`);
  // What "free" shows, and what not. We tried one address: a server on
  // 0.0.0.0 (every address) needs the port free on each. And Deno sets
  // SO_REUSEADDR; the book's server (Python) does not. On Linux a port's
  // closed connections wait out TIME_WAIT (60 s, for stray packets; `ss
  // -tan` lists them), and they stop a new listener unless both it and the
  // server that left them set SO_REUSEADDR. After a Deno server we say
  // "free" and the book's server fails with "Address already in use"; after
  // the book's server (on this address) we say "in use" too.
  if (asked) {
    console.log(`Tried on ${host} only, by a program that sets SO_REUSEADDR,
as Deno does. Closed connections wait out TIME_WAIT (a minute on Linux;
ss -tan lists them); SO_REUSEADDR listens past them if their server set it
too. The book's server does not: it cannot, and we cannot past its own.`);
  }
}
// Port 0: the system picks a free port, from a range of its own. The book
// says the third range (49152-65535) is, in general, the one the operating
// system hands out. Linux's own range begins lower, in the registered
// range. These are the usual settings (on Linux, yours are in
// /proc/sys/net/ipv4/ip_local_port_range). The system picks from there for
// port 0 and for the client's end of every connection.
if (!asked) {
  console.log(`\nListening on port 0 asks the system for any free port:
it gave us ${host}:${tcp as number}, in the ${rangeOf(tcp as number)[0]} range.
Linux picks from 32768-60999, which begins in the registered range;
macOS and Windows pick from 49152-65535.`);
}

// ---- The command line: as in every lesson ----

/** --port and --host, checked: a usage error ends the program. */
function commandLine() {
  const help = `Usage: deno task ports [--port PORT] [--host HOST]
  --port PORT  a port to ask about, 0 to 65535 (default: show the whole page)
  --host HOST  the address to try it on (default 127.0.0.1; ::1 for IPv6)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port"],
    default: { host: "127.0.0.1" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(/^\d{1,5}$/.test(flags.port!) && port <= 65535)) {
    usage("--port must be a whole number from 0 to 65535");
  }
  // `127.0.0.1`, or `[::1]` for IPv6, as in URLs (and --allow-net).
  const inUrls = host.includes(":") ? `[${host}]` : host;
  return { hostname: host, host: inUrls, asked: port };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
