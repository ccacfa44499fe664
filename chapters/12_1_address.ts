/**
 * IP addresses: from a name to its numbers (section 12.1)
 *
 * Every machine on a network has an IP address; people use names instead.
 * This lesson asks the operating system which addresses a name stands for,
 * the way `ping` does, and then takes each address apart: an IPv4 address
 * is one 32-bit number, written as four bytes; an IPv6 address is one
 * 128-bit number, written as eight groups of 16 bits in hexadecimal.
 *
 *   $ deno task address
 *   What this computer's resolver says localhost is (what ping uses):
 *
 *     IPv4  127.0.0.1
 *           as one 32-bit number:       2130706433 (hex 7f000001)
 *           its 32 bits, by byte:       01111111.00000000.00000000.00000001
 *
 *     IPv6  none: the resolver gave no IPv6 address for localhost.
 *
 *   IPv6 addresses to compare:
 *
 *     IPv6  ::1 (the loopback address, IPv6's 127.0.0.1)
 *           full, 8 groups of 16 bits:  0000:0000:0000:0000:0000:0000:0000:0001
 *           compressed (RFC 5952):      ::1
 *     IPv6  20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001 (the book's example)
 *           full, 8 groups of 16 bits:  20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001
 *           compressed (RFC 5952):      20f1:db8:aab:12f1:110:1bde:bfd:1
 *
 *   How many addresses there can be:
 *     IPv4: 2^32  = 4,294,967,296
 *     IPv6: 2^128 = 340,282,366,920,938,463,463,374,607,431,768,211,456
 *
 *   The book gives 199.27.76.223 for www.python.org. That is out of
 *   date: addresses change, names stay, which is why programs use
 *   names. Today's answer: deno task address --name www.python.org
 *
 * "none" is an honest answer: many Linux machines list localhost only as
 * 127.0.0.1 in /etc/hosts. Where localhost also has ::1, you see both, and
 * ::1 is not repeated under "to compare".
 *
 * Other names: `deno task address --name www.python.org` (the task may
 * look that one up too), `--name 127.0.0.1`, `--name ::1`. For any other
 * name Deno needs your permission, and the script tells you the command:
 * `deno run --allow-net=example.com chapters/12_1_address.ts
 * --name example.com`.
 *
 * Flags: --name (default localhost): a host name or an IP address (IPv6
 * also in brackets, as in URLs: [::1]).
 *
 * What we do differently from the book, and why:
 *
 * - The book says www.python.org "has 199.27.76.223 as its IP address".
 *   That was true when it was written; python.org has moved since.
 *   Addresses change, names stay: that is why programs connect to names.
 *   Run `deno task address --name www.python.org` for today's answer.
 * - The book runs `ping` to see the address. ping shows one address
 *   (usually the first IPv4 one), but a name may have several of each
 *   kind. We print them all, from the same resolver ping asks.
 * - The book writes 4.294.967.296 with dots between thousands (the
 *   Spanish way). In English, and in this script, that is 4,294,967,296.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import {
  describeNetworkError,
  exitWithError,
  parseFlags,
  parseHost,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task address [--name NAME]

Looks up the IPv4 and IPv6 addresses of a name, as ping does, and shows
each address as a number and as bits.

  --name NAME   a host name or IP address (default localhost; ::1 or
                [::1] for IPv6). Names other than localhost and
                www.python.org need: deno run --allow-net=NAME
                chapters/12_1_address.ts --name NAME`,
  string: ["name"],
  defaults: { name: "localhost" },
});
const name = parseHost(flags.name, "--name");

// ---------------------------------------------------------------------------
// Asking for the addresses
//
// `lookup` asks the operating system's resolver (the C function
// getaddrinfo), exactly as ping and Python's socket.getaddrinfo do: it reads
// /etc/hosts first, then asks DNS. So localhost works with no network at all.
//
// Deno also has `Deno.resolveDns`, but it is the wrong tool here: it skips
// /etc/hosts and sends its own DNS queries straight to the nameserver. So
// it needs --allow-net for the nameserver's address (which differs from
// machine to machine, and no task can know), and its answer is not the
// one ping gets.
//
// An IP address given as the name (127.0.0.1, ::1) comes back as it is.

let answers: { address: string; family: number }[];
try {
  answers = await lookup(name, { all: true });
} catch (error) {
  exitWithError(explainLookupError(error));
}

/** One sentence for a failed lookup: what happened and what to do. */
function explainLookupError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "EPERM") {
    // Deno refused: the task may look up only localhost and www.python.org.
    return `Deno was not given permission to look up "${name}"; run ` +
      `deno run --allow-net=${name} chapters/12_1_address.ts --name ${name}`;
  }
  if (code === "ENOTFOUND") {
    return `Could not find any address for "${name}" (the name does not ` +
      `resolve); check the spelling, and note that without a network ` +
      `connection only local names such as localhost resolve.`;
  }
  if (code === "EAI_AGAIN") {
    return `The name server did not answer for "${name}" (temporary ` +
      `failure); check your network connection and try again.`;
  }
  return describeNetworkError(error, { hostname: name });
}

// ---------------------------------------------------------------------------
// IPv4: four bytes, one 32-bit number

/** The four bytes of `a.b.c.d`, or null if it is not an IPv4 address. */
function parseIPv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) {
    return null;
  }
  const bytes = parts.map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : null;
}

/**
 * The four bytes as one number: the first byte counts 256 * 256 * 256
 * times, the next 256 * 256 times, and so on, as the digits of a number in
 * base 256. (Not `a << 24`: JavaScript's bit operators work on signed
 * 32-bit numbers, and 200 << 24 comes out negative.)
 */
function ipv4ToNumber(bytes: number[]): number {
  let value = 0;
  for (const byte of bytes) value = value * 256 + byte;
  return value;
}

/** Each byte as 8 binary digits: 127 -> 01111111. */
function ipv4ToBits(bytes: number[]): string {
  return bytes.map((byte) => byte.toString(2).padStart(8, "0")).join(".");
}

// ---------------------------------------------------------------------------
// IPv6: eight groups of 16 bits

/**
 * The eight 16-bit groups of an IPv6 address, or null if it is not one.
 * Two shorthands make this more than a split on ":":
 * - `::` stands for as many all-zero groups as are missing (once at most);
 * - the last 32 bits may be written as IPv4, as in `::ffff:192.0.2.1`
 *   (an "IPv4-mapped" address: an IPv4 address seen through IPv6).
 * A zone after `%` (as in `fe80::1%eth0`) names a network card; it is not
 * part of the 128 bits, so we leave it out.
 */
function parseIPv6(text: string): number[] | null {
  const address = text.split("%")[0];
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const hasGap = halves.length === 2;
  const head = readGroups(halves[0], !hasGap);
  const tail = hasGap ? readGroups(halves[1], true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (hasGap ? missing < 1 : missing !== 0) return null;
  return [...head, ...new Array(missing).fill(0), ...tail];
}

/** The groups in `a:b:c` (hex, 1 to 4 digits); IPv4 allowed at the end. */
function readGroups(text: string, mayEndInIPv4: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const bytes = mayEndInIPv4 && i === parts.length - 1
      ? parseIPv4(part)
      : null;
    if (bytes !== null) {
      groups.push(bytes[0] * 256 + bytes[1], bytes[2] * 256 + bytes[3]);
    } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/** All 8 groups, 4 hex digits each: the form with nothing left out. */
function ipv6Full(groups: number[]): string {
  return groups.map((group) => group.toString(16).padStart(4, "0"))
    .join(":");
}

/**
 * The short form everyone should print (RFC 5952): lowercase, no leading
 * zeros in a group, and the longest run of two or more all-zero groups
 * (the first, if two runs are equally long) written as `::`.
 */
function ipv6Compressed(groups: number[]): string {
  // An IPv4-mapped address keeps its IPv4 tail (RFC 5952, section 5).
  if (
    groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff
  ) {
    const bytes = [
      groups[6] >> 8,
      groups[6] & 255,
      groups[7] >> 8,
      groups[7] & 255,
    ];
    return `::ffff:${bytes.join(".")}`;
  }
  let bestStart = 0;
  let bestLength = 0;
  let i = 0;
  while (i < 8) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestLength < 2) return hex.join(":");
  return hex.slice(0, bestStart).join(":") + "::" +
    hex.slice(bestStart + bestLength).join(":");
}

// ---------------------------------------------------------------------------
// The page

/** One line under an address: a label, then the value in its column. */
function detail(label: string, value: string): void {
  console.log(`        ${`${label}:`.padEnd(28)}${value}`);
}

function printIPv4(address: string): void {
  console.log(`  IPv4  ${address}`);
  const bytes = parseIPv4(address);
  if (bytes === null) {
    console.log("        (not in the a.b.c.d form this lesson reads)");
    return;
  }
  const number = ipv4ToNumber(bytes);
  const hex = number.toString(16).padStart(8, "0");
  detail("as one 32-bit number", `${number} (hex ${hex})`);
  detail("its 32 bits, by byte", ipv4ToBits(bytes));
}

function printIPv6(address: string, note = ""): void {
  console.log(`  IPv6  ${address}${note}`);
  const groups = parseIPv6(address);
  if (groups === null) {
    console.log("        (not in a form this lesson reads)");
    return;
  }
  detail("full, 8 groups of 16 bits", ipv6Full(groups));
  detail("compressed (RFC 5952)", ipv6Compressed(groups));
}

const ipv4 = answers.filter((answer) => answer.family === 4);
const ipv6 = answers.filter((answer) => answer.family === 6);

// An IP address given as the name needs no looking up: it is its own
// answer, and of course it has only its own family.
const givenAnAddress = parseIPv4(name) !== null || parseIPv6(name) !== null;
if (givenAnAddress) {
  console.log(`${name} is already an IP address (nothing to look up):`);
} else {
  console.log(
    `What this computer's resolver says ${name} is (what ping uses):`,
  );
}
console.log();
if (ipv4.length === 0 && !givenAnAddress) {
  console.log(`  IPv4  none: the resolver gave no IPv4 address for ${name}.`);
}
for (const answer of ipv4) printIPv4(answer.address);
if (!givenAnAddress) console.log();
if (ipv6.length === 0 && !givenAnAddress) {
  console.log(`  IPv6  none: the resolver gave no IPv6 address for ${name}.`);
}
for (const answer of ipv6) printIPv6(answer.address);

// Whatever the name gave, show IPv6 at work on two more addresses (unless
// the name already gave us that very address).
const shown = new Set(
  ipv6.map((answer) => parseIPv6(answer.address)?.join(":")),
);
const examples = [
  ["::1", " (the loopback address, IPv6's 127.0.0.1)"],
  ["20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001", " (the book's example)"],
].filter(([address]) => !shown.has(parseIPv6(address)?.join(":")));
console.log();
console.log("IPv6 addresses to compare:");
console.log();
for (const [address, note] of examples) printIPv6(address, note);

// 2 ** 128 is far beyond what a JavaScript number holds exactly (about
// 2 ** 53), so we count with BigInt (the `n` suffix): exact at any size.
const format = (value: bigint) => value.toLocaleString("en-US");
console.log();
console.log("How many addresses there can be:");
console.log(`  IPv4: 2^32  = ${format(2n ** 32n)}`);
console.log(`  IPv6: 2^128 = ${format(2n ** 128n)}`);
console.log();
console.log("The book gives 199.27.76.223 for www.python.org. That is out of");
console.log("date: addresses change, names stay, which is why programs use");
console.log("names. Today's answer: deno task address --name www.python.org");
