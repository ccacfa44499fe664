/**
 * IP addresses: from a name to its numbers (section 12.1)
 *
 * Every machine on the Internet has an IP address; people use names. This
 * asks the system's resolver, as ping does, what a name stands for, then
 * takes each address apart: IPv4 is one 32-bit number written as four bytes,
 * IPv6 one 128-bit number written as eight groups of 16 bits.
 *
 *   $ deno task address
 *   What the resolver says localhost is, its preferred address first:
 *
 *     IPv4  127.0.0.1
 *           as one 32-bit number:       2130706433 (hex 7f000001)
 *           its 32 bits, by byte:       01111111.00000000.00000000.00000001
 *     IPv6  none: the resolver gave no IPv6 address for localhost.
 *
 *   ping localhost uses the first (ping -4 forces IPv4).
 *   ...   (::1 and the book's 20f1:0db8:... taken apart; 2^32 and 2^128)
 *
 * --name ::1 or --name 10.0.0.1 takes that address apart; --name
 * www.python.org needs the Internet; any other name needs deno run
 * --allow-net=NAME (the error says the whole command).
 * @module
 */
import { lookup } from "node:dns/promises";
import { parseArgs } from "@std/cli/parse-args";

const name = commandLine(); // --name: see the end

// `lookup` asks the system's resolver (the C function getaddrinfo), the one
// ping and Python's socket module ask: it follows the system's settings
// (/etc/hosts first, then DNS, on most systems) and sorts the addresses in
// the order the system prefers. That is why this is the one lesson with a
// `node:` import: Deno's own Deno.resolveDns is a DNS client of its own. It
// asks for one kind of address at a time (A for IPv4, AAAA for IPv6) and
// does not sort them as the system does, so it may not answer what ping
// would see: on a computer whose /etc/hosts gives localhost no IPv6
// address, it still answers ::1 for localhost.
// "verbatim" keeps the resolver's order, preferred address first (Deno would
// otherwise put IPv4 first). An address given as the name comes back as is.
let answers: { address: string; family: number }[] = [];
try {
  answers = await lookup(name, { all: true, order: "verbatim" });
} catch (error) {
  // Node's errors carry the resolver's code: EPERM is Deno's permission
  // check (the task may look up localhost and www.python.org only).
  const code = String((error as { code?: string }).code);
  const run = `deno run --allow-net=${name} chapters/12_1_address.ts`;
  const sentences: Record<string, string> = {
    EPERM: `Deno may not look up "${name}": run ${run} --name ${name} instead.`,
    ENOTFOUND:
      `Could not find the address of "${name}" (the name does not resolve).`,
    EAI_AGAIN: `No name server answered for "${name}" (is the network up?).`,
  };
  exit(1, sentences[code] ?? `${name}: ${error}`);
}

/** One line under an address: a label, then the value in its column. */
const detail = (label: string, value: string) =>
  console.log(`        ${`${label}:`.padEnd(28)}${value}`);

function showIPv4(address: string): void {
  console.log(`  IPv4  ${address}`);
  // The four bytes are the digits of one number in base 256. (Not a << 24:
  // JavaScript's << works on signed 32-bit numbers; 200 << 24 is negative.)
  const bytes = address.split(".").map(Number);
  const number = bytes.reduce((sum, byte) => sum * 256 + byte, 0);
  const hex = number.toString(16).padStart(8, "0");
  detail("as one 32-bit number", `${number} (hex ${hex})`);
  const bits = bytes.map((byte) => byte.toString(2).padStart(8, "0"));
  detail("its 32 bits, by byte", bits.join("."));
}

/** The eight 16-bit groups of an IPv6 address, however it is written. */
function groupsOf(address: string): number[] {
  // The last 32 bits may be written as IPv4 (::ffff:192.0.2.1): 2 groups.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (...bytes) => {
    const [a, b, c, d] = bytes.slice(1, 5).map(Number);
    return `${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}`;
  });
  // `::` (at most once) stands for as many zero groups as are missing.
  const [head, tail] = text.split("::");
  const hex = (part = "") =>
    part ? part.split(":").map((g) => parseInt(g, 16)) : [];
  const missing = 8 - hex(head).length - hex(tail).length;
  return [...hex(head), ...new Array(missing).fill(0), ...hex(tail)];
}

/** RFC 5952's short form, the one programs should print. */
function compressed(groups: number[]): string {
  // An IPv4 address seen through IPv6 (::ffff:a.b.c.d) keeps its IPv4 form.
  if (groups.slice(0, 6).join(":") === "0:0:0:0:0:65535") {
    const [g, h] = groups.slice(6);
    return `::ffff:${g >> 8}.${g & 255}.${h >> 8}.${h & 255}`;
  }
  // Find the longest run of zero groups (the first, when two are as long)...
  // (`run`: how many zero groups end at group i.)
  let [start, length, run] = [0, 0, 0];
  for (let i = 0; i < 8; i++) {
    run = groups[i] === 0 ? run + 1 : 0;
    if (run > length) [start, length] = [i - run + 1, run];
  }
  // ...write each group in lowercase hex without leading zeros, and the run
  // as `::`; a single zero group stays `0`.
  const hex = groups.map((group) => group.toString(16));
  if (length < 2) return hex.join(":");
  const [before, after] = [hex.slice(0, start), hex.slice(start + length)];
  return `${before.join(":")}::${after.join(":")}`;
}

function showIPv6(address: string, note = ""): void {
  console.log(`  IPv6  ${address}${note}`);
  const groups = groupsOf(address);
  const full = groups.map((group) => group.toString(16).padStart(4, "0"));
  detail("full, 8 groups of 16 bits", full.join(":"));
  detail("compressed (RFC 5952)", compressed(groups));
}

// An address given as the name needs no looking up: it is its own answer.
const given = answers.length === 1 && answers[0].address === name;
const found = `What the resolver says ${name} is, its preferred address first:`;
console.log(given ? `${name} is an IP address (nothing to look up):` : found);
console.log();
// In the resolver's order. (The book says to run `ping hostname` to see a
// name's address: ping shows only one of them, see below.)
for (const { address, family } of answers) {
  if (family === 4) showIPv4(address);
  else showIPv6(address);
}
for (const family of given ? [] : [4, 6]) {
  if (answers.some((a) => a.family === family)) continue;
  console.log(`  IPv${family}  none: the resolver gave no IPv${family} \
address for ${name}.`);
}
// ping uses the first address of this list, the resolver's preferred one:
// IPv6 when this computer has IPv6 to reach it with (RFC 6724's rules),
// else IPv4. `ping -4` forces IPv4.
if (!given) console.log(`\nping ${name} uses the first (ping -4 forces IPv4).`);

// IPv6 at work on two more addresses, unless the name already gave them.
const short = (address: string) => compressed(groupsOf(address));
const seen = answers.filter((a) => a.family === 6).map((a) => short(a.address));
console.log("\nIPv6 addresses to compare:\n");
const examples = [
  ["::1", " (the loopback address, IPv6's 127.0.0.1)"],
  ["20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001", " (the book's example)"],
];
for (const [address, note] of examples) {
  if (!seen.includes(short(address))) showIPv6(address, note);
}

// A JavaScript number keeps about 16 significant digits: every whole
// number up to 2 ** 53 is exact, but 2 ** 128 would print as
// 340,282,366,920,938,500,000,000,000,000,000,000,000. So we count with
// BigInt (the `n` suffix), exact at any size. The book writes
// 4.294.967.296, the Spanish way; in English it is 4,294,967,296.
const count = (bits: bigint) => (2n ** bits).toLocaleString("en-US");
console.log("\nHow many addresses there can be:");
console.log(`  IPv4: 2^32  = ${count(32n)}`);
console.log(`  IPv6: 2^128 = ${count(128n)}`);
// The book gives www.python.org "199.27.76.223": true when it was written,
// no longer. Addresses change, names stay: that is why programs use names.
console.log(`\nThe book's 199.27.76.223 for www.python.org is out of date:
addresses change, names stay (see deno task address --name www.python.org).`);

// ---- The command line: as in every lesson ----

/** --name, checked: a usage error ends the program. */
function commandLine(): string {
  const help = `Usage: deno task address [--name NAME]
  --name NAME  a host name or an IP address (default localhost; ::1 for IPv6)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["name"],
    default: { name: "localhost" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0, the network card
  // for a link-local address: not supported).
  const name = flags.name.replace(/^\[(.*)\]$/, "$1");
  if (!/^[\w.:-]+$/.test(name)) usage("--name must be a name or an address");
  return name;
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
