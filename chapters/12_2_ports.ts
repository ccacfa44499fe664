/**
 * Ports: which program on a machine (section 12.2, Table 12.1)
 *
 * An IP address finds a machine; a port, a 16-bit number, finds one program
 * on it. Well-known services wait on fixed ports (Table 12.1): web servers
 * on 80 and 443, SSH on 22. With --port N this says whether N is free here,
 * found out the only sure way: by trying to listen on it.
 *
 *   $ deno task ports
 *   Table 12.1: Some preset ports
 *   ...
 *   Listening on port 0 asks the operating system for any free port:
 *   it gave us 127.0.0.1:38733, in the registered range.
 *   ...
 *   $ deno task ports --port 443
 *   Port 443 is in the well-known range (0-1023): HTTPS (Web) in Table 12.1.
 *   127.0.0.1:443 needs administrator rights here; use a port from 1024 up.
 *
 * That is an ordinary user on Linux or macOS. As root, on Windows, or in most
 * Docker containers: `127.0.0.1:443 is free: no program listens there, so
 * one could.` With `deno task tcp-server` running, `--port 10001` says
 * `127.0.0.1:10001 is in use: another program is listening there.`
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const HELP = `Usage: deno task ports [--port PORT] [--host HOST]
  --port PORT  a port to ask about, 0 to 65535 (default: show the whole page)
  --host HOST  the address to try it on (default 127.0.0.1; ::1 for IPv6)`;

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1" },
  unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
});
const hostname = flags.host.replace(/^\[(.*)\]$/, "$1"); // [::1] means ::1
// Letters, digits, `_ . : -` only: this turns away `[::1`, `::1]`, control
// characters, and zones such as fe80::1%eth0, which we do not support.
if (!/^[\w.:-]+$/.test(hostname)) usage("--host must be a name or an address");
const asked = flags.port === undefined ? undefined : Number(flags.port);
if (asked !== undefined && !(/^\d{1,5}$/.test(flags.port!) && asked <= 65535)) {
  usage("--port must be a whole number from 0 to 65535");
}

// `127.0.0.1:10001`, or `[::1]:10001` for IPv6, as in URLs (and --allow-net).
const host = hostname.includes(":") ? `[${hostname}]` : hostname;
const address = (port: number) => `${host}:${port}`;

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

// The three ranges, as IANA keeps them (RFC 6335). IANA assigns the first
// two to services and programs; nobody assigns the third.
const RANGES = [
  { name: "well-known", first: 0, last: 1023, who: "services (IANA)" },
  { name: "registered", first: 1024, last: 49151, who: "programs (IANA)" },
  { name: "dynamic/private", first: 49152, last: 65535, who: "never assigned" },
];
const rangeOf = (port: number) => RANGES.find((range) => port <= range.last)!;

/**
 * Tries to listen on `port` and lets go at once. Answers the port it got
 * (for port 0, the one the system picked), or why it could not.
 */
function tryToListen(port: number): number | string {
  try {
    const listener = Deno.listen({ hostname, port });
    try {
      return listener.addr.port;
    } finally {
      listener.close(); // Let go, whatever happens: we only wanted to know.
    }
  } catch (error) {
    // These two are answers to our question, not failures.
    if (error instanceof Deno.errors.AddrInUse) {
      return "is in use: another program is listening there.";
    } else if (error instanceof Deno.errors.PermissionDenied) {
      // Linux below net.ipv4.ip_unprivileged_port_start; macOS below 1024 on
      // one address such as 127.0.0.1 (see the page below).
      return "needs administrator rights here; use a port from 1024 up.";
    } else if (error instanceof Deno.errors.NotCapable) {
      const command = `deno run --allow-net=${host} chapters/12_2_ports.ts`;
      exit(
        1,
        `Deno may not listen on ${host}: run ${command} with the same flags.`,
      );
    } else if (error instanceof Deno.errors.AddrNotAvailable) {
      exit(1, `${hostname} is not an address of this computer.`);
    }
    exit(1, `${address(port)}: ${error}`);
  }
}

// Try first, before printing anything: if we may not even try (a --host
// outside --allow-net), one error line is all the reader sees.
const answer = tryToListen(asked ?? 0);

/** Port 0: the system picks a free port, from a range of its own. */
function portZero(port: number): void {
  // The book says the third range (49152-65535) is, in general, the one the
  // operating system hands out. Linux's own range begins lower, in the
  // registered range. These are the usual settings (on Linux, yours are in
  // /proc/sys/net/ipv4/ip_local_port_range). The system picks from there for
  // port 0 and for the client's end of every connection.
  console.log(`Listening on port 0 asks the operating system for any free port:
it gave us ${address(port)}, in the ${rangeOf(port).name} range.
Linux picks from 32768-60999, which begins in the registered range;
macOS and Windows pick from 49152-65535.`);
}

if (asked === undefined) {
  console.log("Table 12.1: Some preset ports\n\n  Port  Description");
  for (const [port, what] of TABLE_12_1) {
    console.log(`  ${String(port).padStart(4)}  ${what}`);
  }
  // 16 bits: 2 ** 16 = 65,536 numbers, 0 to 65535.
  console.log(`
A port is a 16-bit number: 2^16 = 65,536 ports, in three ranges:
`);
  for (const { name, first, last, who } of RANGES) {
    const size = (last - first + 1).toLocaleString("en-US").padStart(6);
    const span = `${String(first).padStart(5)} - ${String(last).padEnd(5)}`;
    console.log(`  ${name.padEnd(15)} ${span}  ${size} ports  ${who}`);
  }
  // Who may listen on the well-known ports? The book does not say, and it
  // depends on the system. Linux lets only administrators listen below
  // net.ipv4.ip_unprivileged_port_start (1024 unless changed; Docker sets 0
  // in its containers). macOS lets anyone since Mojave (10.14), but only on
  // all addresses at once (0.0.0.0): 127.0.0.1:80 still needs root. Windows
  // never reserved them. And Python writes an address as a tuple;
  // Deno.connect and Deno.listen take an object with the same two things.
  console.log(`
Ports below 1024: Linux lets only administrators listen on them (unless
net.ipv4.ip_unprivileged_port_start is lowered, as Docker does); macOS
lets anyone on 0.0.0.0 since 10.14; Windows lets anyone.

TCP and UDP have a set of 65,536 ports each: TCP port 53 and UDP
port 53 are two different ports.

A program on a network is found by (host, port). The book's Python
tuple ("www.yahoo.es", 80) is, in Deno, the object
{ hostname: "www.yahoo.es", port: 80 }.
`);
  portZero(answer as number);
} else {
  const service = TABLE_12_1.get(asked);
  const listed = service ? `${service} in Table 12.1` : "not in Table 12.1";
  const { name, first, last } = rangeOf(asked);
  const range = `${name} range (${first}-${last})`;
  console.log(`Port ${asked} is in the ${range}: ${listed}.`);
  const free = "is free: no program listens there, so one could.";
  if (asked === 0) portZero(answer as number); // 0 means "pick one for me".
  else console.log(`${address(asked)} ${answer === asked ? free : answer}`);
}
