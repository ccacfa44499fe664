/**
 * Ports: which program on a machine (section 12.2, Table 12.1)
 *
 * An IP address finds a machine; a port finds one program on it. A port is
 * a 16-bit number, so there are 2^16 = 65,536 of them, 0 to 65535, split
 * into three ranges. Well-known services have fixed ports (Table 12.1):
 * web servers wait on 80 and 443, SSH on 22. A program on a network is
 * therefore found by a pair: (host, port).
 *
 *   $ deno task ports
 *   Table 12.1: Some preset ports
 *
 *     Port  Description
 *       21  FTP CONTROL
 *       ...
 *      443  HTTPS (Web)
 *
 *   A port is a 16-bit number: 2^16 = 65,536 ports, in three ranges:
 *
 *     well-known          0 - 1023    1,024 ports  services (IANA)
 *     registered       1024 - 49151  48,128 ports  programs (IANA)
 *     dynamic/private 49152 - 65535  16,384 ports  handed out by the OS
 *
 *   TCP and UDP have a set of 65,536 ports each: TCP port 53 and UDP
 *   port 53 are two different ports.
 *
 *   A program on a network is found by (host, port). The book's Python
 *   tuple ("www.yahoo.es", 80) is, in Deno, the object
 *   { hostname: "www.yahoo.es", port: 80 }.
 *
 *   Listening on port 0 asks the operating system for any free port:
 *   it gave us 127.0.0.1:38733, in the registered range.
 *   (Linux's default is 32768-60999: it begins in the registered range.)
 *
 * (Your port will differ: the system picks a new one on every run.)
 *
 *   $ deno task ports --port 443
 *   Port 443 is in the well-known range (0-1023): HTTPS (Web) in Table 12.1.
 *   127.0.0.1:443 needs administrator rights: ports below 1024 are reserved
 *   for them here; use a port from 1024 up.
 *
 * That second line (one line on screen) is what an ordinary user sees on
 * Linux. As root, or where any user may listen on these ports (Windows;
 * most Docker containers), it says instead:
 *
 *   127.0.0.1:443 is free: no program listens there, so one could.
 *
 * Whether a port is free is found out the only sure way: by trying to
 * listen on it, and letting go at once. The answer is one of: free; in use
 * (another program listens there: try `deno task tcp-server` in a second
 * terminal, then `deno task ports --port 10001`); or needs administrator
 * rights (ports below 1024, for ordinary users on most systems).
 *
 * Flags: --port N (0 to 65535) to ask about one port; --host (default
 * 127.0.0.1; ::1 for IPv6) the address to try it on.
 *
 * What we do differently from the book, and why:
 *
 * - The book says the dynamic/private range is, in general, the one the
 *   operating system hands out. That is IANA's advice, and what Windows
 *   and macOS do; Linux uses 32768-60999 instead, so a port the system
 *   picks may well be a "registered" one. The page shows where yours
 *   falls.
 * - The book's Python tuple ("www.yahoo.es", 80) is, in Deno, the object
 *   { hostname: "www.yahoo.es", port: 80 } that Deno.connect and
 *   Deno.listen take.
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
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task ports [--port PORT] [--host HOST]

Prints Table 12.1 (some preset ports) and the three port ranges. With
--port, says which range PORT is in and whether it is free here.

  --port PORT   a port to ask about, 0 to 65535
  --host HOST   address to try it on (default 127.0.0.1; ::1 for IPv6)`,
  string: ["host", "port"],
  defaults: { host: "127.0.0.1" },
});
const hostname = parseHost(flags.host);
const askedPort = flags.port === undefined ? undefined : parsePort(flags.port);

// ---------------------------------------------------------------------------
// The book's table and the three ranges

/** Table 12.1, exactly as the book lists it. */
const TABLE_12_1: [number, string][] = [
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
];

/** The three ranges (IANA, RFC 6335), with who decides what goes there. */
const RANGES = [
  { name: "well-known", first: 0, last: 1023, who: "services (IANA)" },
  { name: "registered", first: 1024, last: 49151, who: "programs (IANA)" },
  {
    name: "dynamic/private",
    first: 49152,
    last: 65535,
    who: "handed out by the OS",
  },
];

/** The range a port is in. */
function rangeOf(port: number): (typeof RANGES)[number] {
  return RANGES.find((range) => range.first <= port && port <= range.last)!;
}

/** `49152-65535`, the way a range is written in the lines below. */
function span(range: { first: number; last: number }): string {
  return `${range.first}-${range.last}`;
}

/** 65536 -> "65,536". */
function withCommas(value: number): string {
  return value.toLocaleString("en-US");
}

// Where the operating system hands out ports for "any free port" (and for
// the client's end of every connection). Without --allow-read we cannot
// read Linux's setting (/proc/sys/net/ipv4/ip_local_port_range), so we
// state the usual values.
const SYSTEM_PORTS: Record<
  string,
  { name: string; first: number; last: number }
> = {
  linux: { name: "Linux", first: 32768, last: 60999 },
  darwin: { name: "macOS", first: 49152, last: 65535 },
  windows: { name: "Windows", first: 49152, last: 65535 },
};

// ---------------------------------------------------------------------------
// Is a port free? Try to listen on it.

type Verdict = "free" | "in use" | "needs administrator rights";

/**
 * Listens on `hostname:port` and closes again at once. `Deno.listen` is
 * TCP only, so this answers for TCP: UDP ports are a separate set.
 * Returns the port actually bound (different from `port` only for port 0).
 */
function tryToListen(port: number): { verdict: Verdict; bound: number } {
  try {
    // `using` closes the listener when the block ends, however it ends.
    using listener = Deno.listen({ hostname, port });
    return { verdict: "free", bound: listener.addr.port };
  } catch (error) {
    // These two errors are answers to our question, not failures.
    if (error instanceof Deno.errors.AddrInUse) {
      return { verdict: "in use", bound: port };
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return { verdict: "needs administrator rights", bound: port };
    }
    // Anything else (an address outside --allow-net, an address that is
    // not this computer's) means we could not ask: say why and stop.
    exitWithError(describeNetworkError(error, { hostname, port }));
  }
}

/** "it gave us 127.0.0.1:38211, in the registered range", and why. */
function printPortZero(): void {
  const { bound } = tryToListen(0);
  const address = formatAddress({ hostname, port: bound });
  console.log(
    "Listening on port 0 asks the operating system for any free port:",
  );
  console.log(`it gave us ${address}, in the ${rangeOf(bound).name} range.`);
  const system = SYSTEM_PORTS[Deno.build.os];
  if (system === undefined) return;
  const where = system.first < 49152
    ? "it begins in the registered range"
    : "the dynamic/private range";
  console.log(`(${system.name}'s default is ${span(system)}: ${where}.)`);
}

// ---------------------------------------------------------------------------
// The whole page, or one port

/** Table 12.1, the three ranges, (host, port), and port 0. */
function printPage(): void {
  console.log("Table 12.1: Some preset ports");
  console.log();
  console.log("  Port  Description");
  for (const [port, description] of TABLE_12_1) {
    console.log(`  ${String(port).padStart(4)}  ${description}`);
  }
  console.log();
  const total = withCommas(2 ** 16);
  console.log(
    `A port is a 16-bit number: 2^16 = ${total} ports, in three ranges:`,
  );
  console.log();
  for (const range of RANGES) {
    const size = withCommas(range.last - range.first + 1).padStart(6);
    console.log(
      `  ${range.name.padEnd(15)} ${String(range.first).padStart(5)} - ` +
        `${String(range.last).padEnd(5)}  ${size} ports  ${range.who}`,
    );
  }
  console.log();
  console.log(
    "TCP and UDP have a set of 65,536 ports each: TCP port 53 and UDP",
  );
  console.log("port 53 are two different ports.");
  console.log();
  console.log(
    "A program on a network is found by (host, port). The book's Python",
  );
  console.log('tuple ("www.yahoo.es", 80) is, in Deno, the object');
  console.log('{ hostname: "www.yahoo.es", port: 80 }.');
  console.log();
  printPortZero();
}

/** "Port 443 is in the well-known range (0-1023): HTTPS (Web) ..." */
function describePort(port: number): string {
  const range = rangeOf(port);
  const service = TABLE_12_1.find(([listed]) => listed === port);
  const listed = service === undefined
    ? "not in Table 12.1"
    : `${service[1]} in Table 12.1`;
  return `Port ${port} is in the ${range.name} range (${span(range)}): ` +
    `${listed}.`;
}

/** Which range `port` is in, its Table 12.1 service, and is it free here. */
function askAbout(port: number): void {
  if (port === 0) {
    // Nobody listens on port 0 as such: it means "pick one for me".
    console.log(describePort(port));
    printPortZero();
    return;
  }
  // Try first, so that if we may not even try (a --host outside
  // --allow-net), the one-line error is all that is printed.
  const { verdict } = tryToListen(port);
  const where = formatAddress({ hostname, port });
  console.log(describePort(port));
  if (verdict === "free") {
    console.log(`${where} is free: no program listens there, so one could.`);
  } else if (verdict === "in use") {
    console.log(`${where} is in use: another program is listening there.`);
  } else {
    console.log(
      `${where} needs administrator rights: ports below 1024 are ` +
        `reserved for them here; use a port from 1024 up.`,
    );
  }
}

if (askedPort === undefined) {
  printPage();
} else {
  askAbout(askedPort);
}
