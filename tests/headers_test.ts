// Section 12.2, Figures 12.1 and 12.2: `deno task headers` decodes packet
// captures. Four kinds of check, none needing root or tshark:
//
// 1. The committed captures (chapters/captures/) against tshark's decode of
//    them, field by field. tshark's values are stored in
//    tests/fixtures/headers/NAME.tsv, with the SHA-256 of the capture they
//    describe; regenerate them with `sh tests/fixtures/headers/expectations.sh`
//    (and the captures with `deno task lab capture chapters/captures`, on
//    Linux). When tshark is on PATH, the test asks it live instead, so a
//    capture regenerated with other ports and sequence numbers is still
//    checked; when the capture changed and tshark is missing, only the
//    invariants below are checked (pinned values would be stale).
// 2. Invariants that hold for any capture of the same experiment: checksums
//    verify, relative sequence numbers start at 0, the handshake's flags come
//    in order, UDP's Length = 8 + the data, lost segments are sent again.
// 3. Small captures made here, byte by byte, for what the committed ones do
//    not hold: both pcap byte orders, nanosecond timestamps, pcapng in both
//    byte orders with if_tsresol, every link type, IPv6 with extension
//    headers, damaged checksums, a snap length that cuts packets, lengths
//    that contradict the bytes around them (checked against tshark when it
//    is here), and bad input (truncated, not a capture, unknown link type,
//    unsafe file names, usage errors).
// 4. A big capture made here (64 MiB of small packets, not committed: see
//    fixtures/headers/big_capture.ts): decoded whole in under 150 MB; and
//    captures read as they come, through "-", stopping after --packet N.

import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { concat } from "@std/bytes/concat";
import { ROOT, runTask } from "./_helpers.ts";
import { taskArgs } from "../tools/task_process.ts";
import { writeBigCapture } from "./fixtures/headers/big_capture.ts";

const CAPTURES = [
  "greeting.pcap",
  "greeting.pcapng",
  "udp.pcap",
  "lossy.pcap",
  "loopback-offload.pcap",
];
const capturePath = (name: string) => `chapters/captures/${name}`;
const read = (path: string) => Deno.readFileSync(new URL(path, ROOT));

/** Runs `deno task headers ARGS`; fails the test unless it exits 0. */
async function headers(...args: string[]): Promise<string> {
  const result = await runTask("headers", args);
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stderr, "");
  return result.stdout;
}

// ------------------------------------------------------ parsing our output

/** One packet of the conversation view (`deno task headers FILE`). */
interface Line {
  number: number;
  time: string;
  from: string;
  to: string;
  what: string;
  tags: string[];
}
function conversation(stdout: string): Line[] {
  const lines: Line[] = [];
  for (const line of stdout.split("\n")) {
    const match = line.match(/^\s*(\d+)\s+(\S+)\s+(\S+) → (\S+)\s+(.*)$/);
    if (!match) continue;
    const tags = [...match[5].matchAll(/ \[([a-zA-Z ]+)\]/g)].map((m) => m[1]);
    const what = match[5].replace(/( \[[a-zA-Z ]+\])+$/, "");
    lines.push({
      number: Number(match[1]),
      time: match[2],
      from: match[3],
      to: match[4],
      what,
      tags,
    });
  }
  return lines;
}

/** One packet of the detailed view (`--packet N` or `--packet all`). */
interface Detail {
  number: number;
  length: number;
  captured: number;
  time: string;
  /** "TCP.Sequence number" -> [value, meaning] */
  rows: Map<string, [string, string]>;
  notes: string[];
}
function details(stdout: string): Detail[] {
  const packets: Detail[] = [];
  let layer = "";
  for (const line of stdout.split("\n")) {
    const head = line.match(
      /^Packet (\d+): (\d+) bytes, (?:only (\d+)|all) captured, at (\S+) s$/,
    );
    if (head) {
      const length = Number(head[2]);
      packets.push({
        number: Number(head[1]),
        length,
        captured: head[3] ? Number(head[3]) : length,
        time: head[4],
        rows: new Map(),
        notes: [],
      });
    } else if (/^ {2}\S/.test(line)) {
      layer = line.trim().split(/[ (]/)[0];
      packets.at(-1)!.notes.push(line.trim());
    } else if (/^ {4}/.test(line)) {
      const name = line.slice(4, 27).trim();
      const rest = line.slice(27);
      const value = rest.split(/ {2,}/)[0];
      const meaning = rest.slice(value.length).trim();
      packets.at(-1)!.rows.set(`${layer}.${name}`, [value, meaning]);
    }
  }
  return packets;
}

// ------------------------------------------------- tshark, stored or live

/** tshark's fields for each packet: "tcp.seq" -> "1" ("" when absent). */
type Fields = Record<string, string>;

function parseTsv(text: string): Fields[] {
  const lines = text.split("\n").filter((line) => line && line[0] !== "#");
  const names = lines[0].split("\t");
  return lines.slice(1).map((line) => {
    const values = line.split("\t");
    return Object.fromEntries(names.map((name, i) => [name, values[i] ?? ""]));
  });
}

/** Is tshark on PATH? (Then the test asks it, not the stored fixtures.) */
async function hasTshark(): Promise<boolean> {
  try {
    const command = new Deno.Command("tshark", { args: ["--version"] });
    return (await command.output()).success;
  } catch {
    return false; // not installed
  }
}
const tshark = await hasTshark();

/** tshark's decode of FILE, run now (tshark must be on PATH). */
async function tsharkLive(file: string): Promise<Fields[]> {
  const result = await new Deno.Command("sh", {
    args: ["tests/fixtures/headers/expectations.sh", "--print", file],
    cwd: ROOT,
  }).output();
  assert(result.success, new TextDecoder().decode(result.stderr));
  return parseTsv(new TextDecoder().decode(result.stdout));
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes.slice());
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * tshark's decode of a committed capture: live when tshark is here, else
 * the stored fixture if it describes this very file, else null.
 */
async function expectations(name: string): Promise<Fields[] | null> {
  if (tshark) return await tsharkLive(capturePath(name));
  const fixture = `tests/fixtures/headers/${name}.tsv`;
  const text = new TextDecoder().decode(read(fixture));
  const stored = text.match(/^# sha256 ([0-9a-f]{64})/)?.[1];
  if (stored !== await sha256(read(capturePath(name)))) {
    console.warn(
      `${name} changed since ${fixture} was made and tshark is not here: ` +
        "its field values are not checked (run " +
        "sh tests/fixtures/headers/expectations.sh where tshark is).",
    );
    return null;
  }
  return parseTsv(text);
}

// ------------------------------------------- ours against tshark, by field

const first = (text?: string) => text?.split(" ")[0];
const statusOf = (verdict: string) =>
  verdict === "correct" ? "1" : verdict.startsWith("not checked") ? "2" : "0";

/**
 * For each tshark field, how to read the same value from our output
 * (undefined: we show no such field for this packet).
 */
const FIELDS: [string, (p: Detail, line: Line) => string | undefined][] = [
  ["frame.len", (p) => String(p.length)],
  ["frame.cap_len", (p) => String(p.captured)],
  ["frame.time_relative", (p) => p.time],
  ["eth.src", (p) => p.rows.get("Ethernet.Source MAC")?.[0]],
  ["eth.dst", (p) => p.rows.get("Ethernet.Destination MAC")?.[0]],
  ["eth.type", (p) =>
    // tshark gives the outer type: a VLAN tag's
    p.rows.has("Ethernet.VLAN tag")
      ? "0x8100"
      : first(p.rows.get("Ethernet.Type")?.[0])],
  ["ip.version", (p) =>
    // tshark says it of both IPv4 and IPv6
    (p.rows.get("IPv4.Version") ?? p.rows.get("IPv6.Version"))?.[0]],
  ["ip.hdr_len", (p) => first(p.rows.get("IPv4.Header length")?.[0])],
  ["ip.dsfield", (p) => {
    const value = p.rows.get("IPv4.DSCP, ECN")?.[0];
    const [dscp, ecn] = (value ?? "").split(", ").map(Number);
    return value === undefined ? undefined : String(dscp << 2 | ecn);
  }],
  ["ip.len", (p) => first(p.rows.get("IPv4.Total length")?.[0])],
  ["ip.id", (p) => p.rows.get("IPv4.Identification")?.[0]],
  ["ip.flags.df", (p) => flag(p.rows.get("IPv4.Flags")?.[0], "DF")],
  ["ip.flags.mf", (p) => flag(p.rows.get("IPv4.Flags")?.[0], "MF")],
  ["ip.frag_offset", (p) => p.rows.get("IPv4.Fragment offset")?.[0]],
  ["ip.ttl", (p) => p.rows.get("IPv4.Time to live")?.[0]],
  ["ip.proto", (p) => first(p.rows.get("IPv4.Protocol")?.[0])],
  ["ip.checksum", (p) => p.rows.get("IPv4.Header checksum")?.[0]],
  ["ip.checksum.status", (p) => {
    const verdict = p.rows.get("IPv4.Header checksum")?.[1];
    return verdict === undefined ? undefined : statusOf(verdict);
  }],
  ["ip.src", (p) => p.rows.get("IPv4.Source")?.[0]],
  ["ip.dst", (p) => p.rows.get("IPv4.Destination")?.[0]],
  ["ipv6.tclass", (p) => p.rows.get("IPv6.Traffic class")?.[0]],
  ["ipv6.flow", (p) => p.rows.get("IPv6.Flow label")?.[0]],
  ["ipv6.plen", (p) => first(p.rows.get("IPv6.Payload length")?.[0])],
  ["ipv6.nxt", (p) => first(p.rows.get("IPv6.Next header")?.[0])],
  ["ipv6.hlim", (p) => p.rows.get("IPv6.Hop limit")?.[0]],
  ["ipv6.src", (p) => p.rows.get("IPv6.Source")?.[0]],
  ["ipv6.dst", (p) => p.rows.get("IPv6.Destination")?.[0]],
  ["tcp.srcport", (p) => p.rows.get("TCP.Source port")?.[0]],
  ["tcp.dstport", (p) => p.rows.get("TCP.Destination port")?.[0]],
  ["tcp.seq", (p) => first(p.rows.get("TCP.Sequence number")?.[0])],
  ["tcp.seq_raw", (p) => absolute(p.rows.get("TCP.Sequence number")?.[0])],
  ["tcp.ack", (p) => {
    const value = p.rows.get("TCP.Acknowledgment number")?.[0];
    return value?.includes("ACK off") ? "0" : first(value); // as Wireshark
  }],
  ["tcp.ack_raw", (p) => {
    const value = p.rows.get("TCP.Acknowledgment number")?.[0];
    return value?.includes("ACK off") ? first(value) : absolute(value);
  }],
  [
    "tcp.hdr_len",
    (p) => p.rows.get("TCP.Data offset")?.[0].match(/= (\d+) bytes/)?.[1],
  ],
  ["tcp.flags", (p) => first(p.rows.get("TCP.Flags")?.[0])],
  ["tcp.window_size_value", (p) => first(p.rows.get("TCP.Window")?.[0])],
  ["tcp.window_size", (p) => {
    const value = p.rows.get("TCP.Window")?.[0];
    return value?.match(/= (\d+)\)/)?.[1] ?? value;
  }],
  ["tcp.checksum", (p) => p.rows.get("TCP.Checksum")?.[0]],
  ["tcp.checksum.status", (p) => {
    const verdict = p.rows.get("TCP.Checksum")?.[1];
    return verdict === undefined ? undefined : statusOf(verdict);
  }],
  ["tcp.checksum_calculated", (p) => calculated(p.rows.get("TCP.Checksum"))],
  ["tcp.urgent_pointer", (p) => p.rows.get("TCP.Urgent pointer")?.[0]],
  ["tcp.len", (p) => first(p.rows.get("TCP.Data")?.[0])],
  ["tcp.options.mss_val", (p) => first(p.rows.get("TCP.MSS")?.[0])],
  [
    "tcp.options.wscale.shift",
    (p) => first(p.rows.get("TCP.Window scale")?.[0]),
  ],
  [
    "tcp.options.sack_perm",
    (p) => p.rows.has("TCP.SACK permitted") ? "present" : undefined,
  ],
  [
    "tcp.options.timestamp.tsval",
    (p) => first(p.rows.get("TCP.Timestamps")?.[0]),
  ],
  [
    "tcp.options.timestamp.tsecr",
    (p) => p.rows.get("TCP.Timestamps")?.[0].split(" ")[1],
  ],
  ["tcp.options.sack_le", (p) => edges(p.rows.get("TCP.SACK")?.[0], 0)],
  ["tcp.options.sack_re", (p) => edges(p.rows.get("TCP.SACK")?.[0], 1)],
  [
    "tcp.analysis.retransmission",
    (_, line) => line.tags.includes("sent again") ? "present" : undefined,
  ],
  ["udp.srcport", (p) => p.rows.get("UDP.Source port")?.[0]],
  ["udp.dstport", (p) => p.rows.get("UDP.Destination port")?.[0]],
  ["udp.length", (p) => first(p.rows.get("UDP.Length")?.[0])],
  ["udp.checksum", (p) => p.rows.get("UDP.Checksum")?.[0]],
  ["udp.checksum.status", (p) => {
    const verdict = p.rows.get("UDP.Checksum")?.[1];
    return verdict === undefined ? undefined : statusOf(verdict);
  }],
  ["udp.checksum_calculated", (p) => calculated(p.rows.get("UDP.Checksum"))],
];
function flag(value: string | undefined, name: string) {
  return value === undefined ? undefined : value.includes(name) ? "1" : "0";
}
function absolute(value: string | undefined) {
  return value?.match(/(\d+) \(absolute\)/)?.[1];
}
/** The checksum the packet should hold, when it was checked. */
function calculated(row: [string, string] | undefined) {
  if (row === undefined || row[1].startsWith("not checked")) return undefined;
  return row[1] === "correct" ? row[0] : row[1].match(/0x[0-9a-f]{4}/)?.[0];
}
/** Left (0) or right (1) edges of "a-b c-d", as tshark lists them: "a,c". */
function edges(value: string | undefined, side: number) {
  // "21721-24617 18825-20273 bytes received beyond a gap": the blocks only.
  return value?.split(" ").filter((word) => /^\d+-\d+$/.test(word))
    .map((block) => block.split("-")[side]).join(",");
}

/** tshark's value and ours the same? Numbers compare as numbers (0x0010 = 16). */
function same(theirs: string, ours: string | undefined): boolean {
  if (theirs === "") return ours === undefined;
  if (ours === undefined) return false;
  if (theirs === ours) return true;
  const number = (text: string) =>
    /^(0x[0-9a-f]+|\d+(\.\d+)?)(,|$)/i.test(text) && !text.includes(",")
      ? Number(text)
      : NaN;
  if (ours === "present") return true; // tshark's value for a flag varies
  return number(theirs) === number(ours);
}

/**
 * Decodes FILE with both views and compares every field with tshark's.
 * Returns how many values it compared.
 */
async function compareWithTshark(file: string, expected: Fields[]) {
  const all = details(await headers(file, "--packet", "all"));
  const lines = conversation(await headers(file));
  assertEquals(all.length, expected.length, "packets in the file");
  assertEquals(lines.length, expected.length, "lines of the conversation");
  let compared = 0;
  for (const [i, fields] of expected.entries()) {
    // A segment whose bytes were sent before is "sent again" to us. tshark
    // calls some of them "out-of-order" instead, by a guess from timing
    // (within one round trip of the highest sequence number). Our captures
    // are taken where packets leave the sender, on a cable that never
    // reorders, so for them tshark's "out-of-order" is a resend too.
    if (fields["tcp.analysis.out_of_order"]) {
      fields["tcp.analysis.retransmission"] = "1";
    }
    for (const [name, ours] of FIELDS) {
      if (!(name in fields)) continue;
      const value = ours(all[i], lines[i]);
      assert(
        same(fields[name], value),
        `${file}, packet ${i + 1}, ${name}: tshark says ` +
          `${JSON.stringify(fields[name])}, we say ${JSON.stringify(value)}`,
      );
      if (fields[name] !== "") compared++;
    }
  }
  return compared;
}

for (const name of CAPTURES) {
  Deno.test(`headers: ${name} decodes as tshark decodes it, field by field`, async () => {
    const expected = await expectations(name);
    if (expected === null) return; // said why (console.warn)
    const compared = await compareWithTshark(capturePath(name), expected);
    assertGreater(compared, 20 * expected.length);
  });
}

// --------------------------------------------- invariants of the captures

/** Every checksum in a --packet all output, as [packet, verdict]. */
function verdicts(all: Detail[]): [number, string][] {
  return all.flatMap((p) =>
    [...p.rows].filter(([key]) => /Checksum$|Header checksum$/.test(key))
      .map(([, [, verdict]]): [number, string] => [p.number, verdict])
  );
}

Deno.test("headers: greeting.pcap is a handshake, a greeting and a FIN each way", async () => {
  for (const file of ["greeting.pcap", "greeting.pcapng"]) {
    const stdout = await headers(capturePath(file));
    assertMatch(stdout, new RegExp(`^chapters/captures/${file}: `));
    const lines = conversation(stdout);
    const [client, server] = [lines[0].from, lines[0].to];
    // The three-way handshake: SYN, SYN-ACK, ACK; each side's first
    // sequence number is 0 (relative), and each ACK is the other's + 1.
    assertEquals(lines.slice(0, 3).map((l) => [l.from, l.to, l.what]), [
      [client, server, "[SYN] seq=0 len=0"],
      [server, client, "[SYN, ACK] seq=0 ack=1 len=0"],
      [client, server, "[ACK] seq=1 ack=1 len=0"],
    ]);
    // The greeting: N bytes from the server, numbered 1 to N; its ACK asks
    // for byte N + 1.
    const data = lines.find((l) => !l.what.includes(" len=0"))!;
    const size = Number(data.what.match(/len=(\d+)/)![1]);
    assertEquals(data.from, server);
    assertMatch(data.what, /^\[PSH, ACK\] seq=1 ack=1 len=\d+ "\d+\. Hi new/);
    const acked = new RegExp(` ack=${size + 1} len=0$`);
    assert(lines.some((l) => l.from === client && acked.test(l.what)));
    // A FIN each way, each counting as one byte in its direction.
    const fins = lines.filter((l) => l.what.startsWith("[FIN"));
    assertEquals(fins.map((l) => l.from).sort(), [client, server].sort());
    assertEquals(lines.at(-1)!.what, `[ACK] seq=${size + 2} ack=2 len=0`);
    // Nothing tagged: every checksum verifies, nothing cut or sent again.
    assertEquals(lines.flatMap((l) => l.tags), []);
    const all = details(await headers(capturePath(file), "--packet", "all"));
    for (const [number, verdict] of verdicts(all)) {
      assertEquals(verdict, "correct", `packet ${number}`);
    }
  }
});

Deno.test("headers: the pcap and pcapng greetings say the same", async () => {
  const strip = (text: string) => text.split("\n").slice(1).join("\n");
  // Only if they hold the same packets (they may be regenerated apart).
  const pcap = conversation(await headers(capturePath("greeting.pcap")));
  const pcapng = conversation(await headers(capturePath("greeting.pcapng")));
  if (pcap[0].from !== pcapng[0].from) return;
  assertEquals(pcapng, pcap);
  const a = await headers(capturePath("greeting.pcap"), "--packet", "all");
  const b = await headers(capturePath("greeting.pcapng"), "--packet", "all");
  assertEquals(strip(b), strip(a));
});

Deno.test("headers: udp.pcap, one datagram each way, Length = 8 + data", async () => {
  const lines = conversation(await headers(capturePath("udp.pcap")));
  assertEquals(lines.length, 2);
  assertEquals([lines[1].from, lines[1].to], [lines[0].to, lines[0].from]);
  assertMatch(lines[0].what, /^UDP len=29 "Hi, I'm sending this"…$/);
  assertMatch(lines[1].what, /^UDP len=\d+ "Response for /);
  const all = details(
    await headers(capturePath("udp.pcap"), "--packet", "all"),
  );
  for (const p of all) {
    const length = Number(first(p.rows.get("UDP.Length")![0]));
    const data = Number(first(p.rows.get("UDP.Data")![0]));
    assertEquals(length, 8 + data);
    assertMatch(
      p.rows.get("UDP.Length")![1],
      /in BYTES \(the book says bits\)/,
    );
    assertEquals(p.rows.get("UDP.Checksum")![1], "correct");
    assertEquals(p.rows.get("IPv4.Header checksum")![1], "correct");
    assertEquals(p.rows.get("IPv4.Total length")![0], `${20 + length} bytes`);
  }
});

Deno.test("headers: lossy.pcap shows segments sent again, and cut ones", async () => {
  const file = capturePath("lossy.pcap");
  const stdout = await headers(file);
  const lines = conversation(stdout);
  const again = lines.filter((l) => l.tags.includes("sent again"));
  assertGreater(again.length, 0);
  // A retransmission repeats bytes that an earlier segment carried.
  const range = (l: Line) => {
    const [, seq, len] = l.what.match(/seq=(\d+).* len=(\d+)/)!.map(Number);
    return [seq, seq + len];
  };
  for (const line of again) {
    const [seq] = range(line);
    assert(
      lines.some((l) =>
        l.number < line.number && l.from === line.from &&
        range(l)[0] <= seq && seq < range(l)[1]
      ),
      `packet ${line.number}`,
    );
  }
  assertStringIncludes(stdout, "[sent again]: a retransmission");
  // Cut packets are said to be cut, and their checksums are not checked.
  const all = details(await headers(file, "--packet", "all"));
  for (const [i, p] of all.entries()) {
    assertEquals(lines[i].tags.includes("cut"), p.captured < p.length);
    if (p.captured < p.length && p.rows.has("TCP.Checksum")) {
      assertEquals(
        p.rows.get("TCP.Checksum")![1],
        "not checked: the capture cut it",
      );
    } else if (p.rows.has("TCP.Checksum")) {
      assertEquals(p.rows.get("TCP.Checksum")![1], "correct");
    }
  }
});

Deno.test("headers: loopback-offload.pcap, unfinished checksums, not damage", async () => {
  const file = capturePath("loopback-offload.pcap");
  const stdout = await headers(file);
  const lines = conversation(stdout);
  for (const line of lines) assertEquals(line.tags, ["checksum unfinished"]);
  assertStringIncludes(stdout, "[checksum unfinished]: checksum offload");
  const all = details(await headers(file, "--packet", "all"));
  for (const p of all) {
    assertMatch(
      p.rows.get("TCP.Checksum")![1],
      /^unfinished: checksum offload; it should be 0x[0-9a-f]{4}$/,
    );
    assertEquals(p.rows.get("IPv4.Header checksum")![1], "correct");
  }
  // The value it should have is the one an independent sum gives.
  const frames = readPcap(read(file)).packets;
  for (const [i, frame] of frames.entries()) {
    const ip = frame.data.subarray(14);
    const should = transportChecksum(ip);
    assertStringIncludes(
      all[i].rows.get("TCP.Checksum")![1],
      `0x${should.toString(16).padStart(4, "0")}`,
    );
  }
});

Deno.test("headers: --figure draws Figures 12.1 and 12.2 with the values", async () => {
  const stdout = await headers(
    "--figure",
    capturePath("greeting.pcap"),
    capturePath("udp.pcap"),
  );
  const all = details(
    await headers(capturePath("greeting.pcap"), "--packet", "1"),
  )[0];
  assertStringIncludes(
    stdout,
    "Figure 12.1, the TCP header of packet 1 (RFC 9293, section 3.1; " +
      "the book's RFC 3168 is ECN)",
  );
  assertStringIncludes(
    stdout,
    "Figure 12.2, the UDP header of packet 1 (RFC 768)",
  );
  const ruler =
    " 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1";
  assertStringIncludes(stdout, ruler);
  // Every row of a box is 32 bits wide: 65 characters, like the ruler.
  for (const line of stdout.split("\n").filter((l) => /^[|+]/.test(l))) {
    assertEquals(line.length, 65, line);
  }
  // The SYN's values in their boxes: ports, sequence number, flag bits.
  const port = all.rows.get("TCP.Source port")![0];
  assertMatch(stdout, new RegExp(`\\|\\s+${port}\\s+\\|`));
  assertStringIncludes(
    stdout,
    `0 (relative), ${
      absolute(all.rows.get("TCP.Sequence number")![0])
    } (absolute)`,
  );
  assertStringIncludes(stdout, "|R|E|G|K|H|T|N|N|");
  assertStringIncludes(stdout, "|0|0|0|0|0|0|1|0|"); // SYN only
  assertStringIncludes(stdout, "MSS 1460 bytes, SACK permitted, Timestamps");
  assertMatch(stdout, /\|\s+37 bytes\s+\|/); // UDP Length
  assertStringIncludes(stdout, '29 bytes "Hi, I\'m sending this message."');
  // --packet N chooses the packet; a checksum that is not correct is said.
  const offload = await headers(
    "--figure",
    "--packet",
    "4",
    capturePath("loopback-offload.pcap"),
  );
  assertStringIncludes(offload, "TCP header of packet 4");
  assertStringIncludes(offload, "|0|0|0|1|1|0|0|0|"); // ACK PSH
  assertMatch(offload, /\n\|\s+unfinished\s+\|/);
  assertMatch(
    offload,
    /\nChecksum: unfinished: checksum offload; it should be 0x/,
  );
});

Deno.test("headers: --packet N shows every field, and what it means", async () => {
  const stdout = await headers(capturePath("greeting.pcap"), "--packet", "4");
  for (
    const text of [
      "Packet 4: 84 bytes, all captured, at ",
      "  Ethernet (14 bytes)",
      "  IPv4 (20 bytes)",
      "  TCP (32 bytes): Figure 12.1",
    ]
  ) assertStringIncludes(stdout, text);
  const p = details(stdout)[0];
  for (
    const name of [
      "IPv4.Version",
      "IPv4.Header length",
      "IPv4.DSCP, ECN",
      "IPv4.Total length",
      "IPv4.Identification",
      "IPv4.Flags",
      "IPv4.Fragment offset",
      "IPv4.Time to live",
      "IPv4.Protocol",
      "IPv4.Header checksum",
      "IPv4.Source",
      "IPv4.Destination",
      "TCP.Source port",
      "TCP.Destination port",
      "TCP.Sequence number",
      "TCP.Acknowledgment number",
      "TCP.Data offset",
      "TCP.Reserved",
      "TCP.Flags",
      "TCP.Window",
      "TCP.Checksum",
      "TCP.Urgent pointer",
      "TCP.Options",
      "TCP.NOP",
      "TCP.Timestamps",
      "TCP.Data",
    ]
  ) { // deno-fmt-ignore
    assert(p.rows.has(name), `no ${name}`);
    assert(p.rows.get(name)![1] !== "", `${name} has no meaning`);
  }
  assertEquals(p.rows.get("IPv4.Flags")![0], "DF");
  assertEquals(
    p.rows.get("TCP.Flags"),
    ["0x18 ACK PSH", "CWR 0 ECE 0 URG 0 ACK 1 PSH 1 RST 0 SYN 0 FIN 0"],
  );
  assertMatch(p.rows.get("TCP.Sequence number")![1], /counts BYTES/);
  // The window scale of the SYNs (2^10) applies to this segment's Window.
  assertMatch(p.rows.get("TCP.Window")![0], /^\d+ \(× 1024 = \d+\)$/);
});

// ------------------------------------------------ captures made right here

/** Numbers as bytes, in either byte order. */
function u16(value: number, little = false): Uint8Array {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, little);
  return bytes;
}
function u32(value: number, little = false): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, little);
  return bytes;
}
const u8 = (...values: number[]) => new Uint8Array(values);

interface Frame {
  time: bigint; // nanoseconds
  data: Uint8Array;
  length: number;
}

/** A pcap file's records (our own small reader, for the test's sources). */
function readPcap(bytes: Uint8Array): { link: number; packets: Frame[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const little = view.getUint32(0, true) === 0xa1b2c3d4;
  assert(little || view.getUint32(0) === 0xa1b2c3d4, "a microsecond pcap");
  const packets: Frame[] = [];
  for (let at = 24; at < bytes.length;) {
    const size = view.getUint32(at + 8, little);
    packets.push({
      time: BigInt(view.getUint32(at, little)) * 1_000_000_000n +
        BigInt(view.getUint32(at + 4, little)) * 1000n,
      data: bytes.slice(at + 16, at + 16 + size),
      length: view.getUint32(at + 12, little),
    });
    at += 16 + size;
  }
  return { link: view.getUint32(20, little), packets };
}

/** A pcap file: either byte order, µs or ns timestamps. */
function pcap(
  link: number,
  packets: Frame[],
  { little = true, nano = false } = {},
): Uint8Array {
  const parts = [
    u32(nano ? 0xa1b23c4d : 0xa1b2c3d4, little),
    u16(2, little),
    u16(4, little),
    u32(0, little),
    u32(0, little),
    u32(262144, little),
    u32(link, little),
  ];
  for (const { time, data, length } of packets) {
    const fraction = time % 1_000_000_000n;
    parts.push(
      u32(Number(time / 1_000_000_000n), little),
      u32(Number(nano ? fraction : fraction / 1000n), little),
      u32(data.length, little),
      u32(length, little),
      data,
    );
  }
  return concat(parts);
}

/** A pcapng block: type, length, body (padded to 4 bytes), length. */
function block(type: number, body: Uint8Array, little: boolean): Uint8Array {
  const padded = concat([body, new Uint8Array((4 - body.length % 4) % 4)]);
  const length = u32(padded.length + 12, little);
  return concat([u32(type, little), length, padded, length]);
}
const shb = (little: boolean) =>
  block(
    0x0a0d0d0a,
    concat([
      u32(0x1a2b3c4d, little),
      u16(1, little),
      u16(0, little),
      u32(0xffffffff, little),
      u32(0xffffffff, little),
    ]),
    little,
  );
/** An interface: link type, snap length, and if_tsresol when given. */
function idb(link: number, little: boolean, tsresol?: number) {
  const options = tsresol === undefined ? [] : [
    u16(9, little), // if_tsresol
    u16(1, little),
    u8(tsresol, 0, 0, 0),
    u16(0, little), // opt_endofopt
    u16(0, little),
  ];
  return block(
    1,
    concat([u16(link, little), u16(0, little), u32(0, little), ...options]),
    little,
  );
}
function epb(iface: number, units: bigint, record: Frame, little: boolean) {
  return block(
    6,
    concat([
      u32(iface, little),
      u32(Number(units >> 32n), little),
      u32(Number(units & 0xffffffffn), little),
      u32(record.data.length, little),
      u32(record.length, little),
      record.data,
    ]),
    little,
  );
}

/** Writes BYTES to a temporary file, runs `deno task headers` on it. */
async function decodeBytes(bytes: Uint8Array, ...args: string[]) {
  const file = await Deno.makeTempFile({ prefix: "headers-", suffix: ".cap" });
  try {
    await Deno.writeFile(file, bytes);
    const result = await runTask("headers", [file, ...args]);
    return { ...result, file };
  } finally {
    await Deno.remove(file);
  }
}
/** The same, but it must succeed; what it printed, file name replaced. */
async function decodeOk(bytes: Uint8Array, ...args: string[]) {
  const result = await decodeBytes(bytes, ...args);
  assertEquals(result.code, 0, result.stderr);
  return result.stdout.replaceAll(result.file, "FILE");
}

/** The one's complement checksum over several pieces (an even length each). */
function internetChecksum(...parts: Uint8Array[]): number {
  const all = concat(parts);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) {
    sum += (all[i] << 8) + (all[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
/** The TCP or UDP checksum an IPv4 packet should carry. */
function transportChecksum(ip: Uint8Array): number {
  const size = (ip[0] & 15) * 4, total = (ip[2] << 8) | ip[3];
  const segment = ip.slice(size, total);
  const at = ip[9] === 6 ? 16 : 6;
  segment[at] = segment[at + 1] = 0;
  const pseudo = concat([
    ip.subarray(12, 20),
    u8(0, ip[9]),
    u16(segment.length),
  ]);
  return internetChecksum(pseudo, segment);
}

// The greeting's packets, without their Ethernet headers: IPv4 packets to
// wrap in every other link type.
const source = readPcap(read(capturePath("greeting.pcap")));
const ipPackets = source.packets.map((p) => ({
  ...p,
  data: p.data.slice(14),
  length: p.length - 14,
}));
/** What a decode says, without its first line and its time column. */
const shape = (stdout: string) =>
  conversation(stdout).map(({ number, from, to, what, tags }) =>
    [number, from, to, what, ...tags].join(" ")
  );
const reference = shape(await headers(capturePath("greeting.pcap")));

/** Live check of a file made here, when tshark is present. */
async function crossCheck(bytes: Uint8Array) {
  if (!tshark) return;
  const file = await Deno.makeTempFile({ prefix: "headers-", suffix: ".cap" });
  try {
    await Deno.writeFile(file, bytes);
    await compareWithTshark(file, await tsharkLive(file));
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("headers: pcap in both byte orders, µs and ns timestamps", async () => {
  for (const little of [true, false]) {
    // Each packet 123 ns later than in the original, to see the ns.
    const packets = source.packets.map((p, i) => ({
      ...p,
      time: p.time + BigInt(i) * 123n,
    }));
    for (const nano of [false, true]) {
      const bytes = pcap(1, packets, { little, nano });
      const stdout = await decodeOk(bytes);
      const unit = nano ? "nanoseconds" : "microseconds";
      assertStringIncludes(stdout, `FILE: pcap (${unit}), Ethernet\n`);
      assertEquals(shape(stdout), reference);
      const times = conversation(stdout).map((l) => l.time);
      for (const [i, p] of packets.entries()) {
        const t = p.time - packets[0].time;
        const ns = nano ? t : t / 1000n * 1000n;
        const digits = String(ns % 1_000_000_000n).padStart(9, "0");
        const expected = `${ns / 1_000_000_000n}.${digits}`;
        assertEquals(times[i], nano ? expected : expected.slice(0, -3));
      }
      await crossCheck(bytes);
    }
  }
});

Deno.test("headers: pcapng in both byte orders, with if_tsresol, several interfaces", async () => {
  for (const little of [true, false]) {
    // Interface 0: Ethernet, µs (no if_tsresol); 1: raw IP, ns (9);
    // 2: raw IP, 2^-20 s (0x94). Packets go round the three; then a
    // Simple Packet Block (no time).
    const blocks = [shb(little), idb(1, little), idb(101, little, 9)];
    blocks.push(idb(101, little, 0x80 | 20));
    // A Name Resolution Block holding no names: a block to skip.
    blocks.push(block(4, concat([u16(0, little), u16(0, little)]), little));
    const start = source.packets[0].time;
    for (const [i, p] of source.packets.entries()) {
      const iface = i % 3;
      const ns = p.time - start + 1_700_000_000_000_000_000n;
      const units = [ns / 1000n, ns, ns * 2n ** 20n / 1_000_000_000n][iface];
      const record = iface === 0 ? p : ipPackets[i];
      blocks.push(epb(iface, units, record, little));
    }
    const spb = source.packets[3]; // on interface 0, Ethernet
    blocks.push(block(3, concat([u32(spb.length, little), spb.data]), little));
    const stdout = await decodeOk(concat(blocks));
    assertStringIncludes(stdout, "FILE: pcapng, Ethernet, raw IP\n");
    const lines = conversation(stdout);
    assertEquals(shape(stdout).slice(0, 8), reference);
    // ns from interface 1, 2^-20 s from interface 2 (shown as µs or finer).
    const digits = lines.slice(0, 8).map((l) => l.time.split(".")[1].length);
    assertEquals(digits, Array(8).fill(9));
    const original = conversation(await headers(capturePath("greeting.pcap")));
    for (const [i, line] of lines.slice(0, 8).entries()) {
      // Within a microsecond of the original (2^-20 s rounds down).
      const ours = Number(line.time), theirs = Number(original[i].time);
      assert(
        Math.abs(ours - theirs) < 2e-6,
        `${line.time} ${original[i].time}`,
      );
    }
    // The Simple Packet Block: no timestamp, same packet as number 4.
    assertEquals(lines[8].time, "?");
    assertEquals(lines[8].what, conversation(stdout)[3].what);
    await crossCheck(concat(blocks.slice(0, -1)));
  }
});

Deno.test("headers: every link type: Ethernet+VLAN, SLL, SLL2, NULL, raw", async () => {
  const mac = u8(2, 0, 0, 0, 0, 1);
  const wrap: [number, string, (ip: Uint8Array) => Uint8Array][] = [
    [
      1,
      "Ethernet",
      (ip) =>
        concat([
          u8(2, 0, 0, 0, 0, 2),
          mac,
          u16(0x8100),
          u16(0x6064),
          u16(0x0800),
          ip,
        ]),
    ],
    [
      113,
      "Linux cooked v1",
      (ip) => concat([u16(4), u16(1), u16(6), mac, u8(0, 0), u16(0x0800), ip]),
    ],
    [
      276,
      "Linux cooked v2",
      (ip) =>
        concat([
          u16(0x0800),
          u16(0),
          u32(7),
          u16(1),
          u8(4, 6),
          mac,
          u8(0, 0),
          ip,
        ]),
    ],
    [0, "BSD loopback", (ip) => concat([u32(2, true), ip])], // little-endian host
    [0, "BSD loopback", (ip) => concat([u32(2, false), ip])], // big-endian host
    [101, "raw IP", (ip) => ip],
    [12, "raw IP", (ip) => ip],
    [228, "raw IPv4", (ip) => ip],
  ]; // deno-fmt-ignore
  for (const [link, name, frame] of wrap) {
    const packets = ipPackets.map((p) => {
      const data = frame(p.data);
      return { ...p, data, length: p.length + data.length - p.data.length };
    });
    const bytes = pcap(link, packets);
    const stdout = await decodeOk(bytes);
    assertStringIncludes(stdout, `FILE: pcap (microseconds), ${name}\n`);
    // MAC-less link types show IP addresses; all show the same talk.
    assertEquals(shape(stdout), reference, name);
    const p = details(await decodeOk(bytes, "--packet", "4"))[0];
    if (link === 1) {
      assertEquals(p.rows.get("Ethernet.VLAN tag")![0], "100, priority 3");
      assertEquals(p.rows.get("Ethernet.Type")![0], "0x0800 (IPv4)");
    }
    if (link === 276) {
      assertEquals(p.rows.get("Linux.Interface index")![0], "7");
      assertEquals(p.rows.get("Linux.Packet type")![0], "4 (by us)");
      assertEquals(p.rows.get("Linux.Link-layer address")![0], "02:00:00:00:00:01");
    }
    if (link === 0) assertEquals(p.rows.get("BSD.Family")![0], "2 (IPv4)");
    assertEquals(p.rows.get("TCP.Checksum")![1], "correct");
    await crossCheck(bytes);
  }
});

/**
 * A greeting IPv4 packet as an IPv6 one (its checksum redone), with the
 * extension headers given as [type, the 7 bytes after next-header].
 */
function asIPv6(ip: Uint8Array, extensions: [number, Uint8Array][] = []) {
  // The server (the first packet's destination) becomes 2001:db8::1, the
  // client 2001:db8:0:0:1:0:0:N (N: the last byte of its IPv4 address).
  const server = ipPackets[0].data.subarray(16, 20).join(".");
  const address = (v4: Uint8Array) =>
    v4.join(".") === server
      ? u8(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
      : u8(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, v4[3]);
  const [src, dst] = [
    address(ip.subarray(12, 16)),
    address(ip.subarray(16, 20)),
  ];
  const size = (ip[0] & 15) * 4, total = (ip[2] << 8) | ip[3];
  const segment = ip.slice(size, total), protocol = ip[9];
  const at = protocol === 6 ? 16 : 6;
  segment[at] = segment[at + 1] = 0;
  const pseudo = concat([src, dst, u32(segment.length), u8(0, 0, 0, protocol)]);
  segment.set(u16(internetChecksum(pseudo, segment)), at);
  // Each extension header starts with the type of the one after it.
  const types = [...extensions.map(([type]) => type), protocol];
  const chain = extensions.map(([, body], i) =>
    concat([u8(types[i + 1]), body])
  );
  const payload = concat([...chain, segment]);
  return concat([
    u32(0x60112345), // version 6, traffic class 0x01, flow label 0x12345
    u16(payload.length),
    u8(types[0], ip[8]), // next header; hop limit = the TTL
    src,
    dst,
    payload,
  ]);
}

Deno.test("headers: IPv6, with extension headers stepped over", async () => {
  // Hop-by-hop options (0) and destination options (60), each 8 bytes with
  // a PadN option; a fragment header (44) for a whole datagram (offset 0,
  // no more fragments); then TCP.
  const padded = u8(0, 1, 4, 0, 0, 0, 0);
  const chain: [number, Uint8Array][] = [
    [0, padded],
    [60, padded],
    [44, u8(0, 0, 0, 0x12, 0x34, 0x56, 0x78)],
  ];
  for (const extensions of [[], chain]) {
    const packets = ipPackets.map((p) => {
      const data = asIPv6(p.data, extensions);
      return { ...p, data, length: data.length };
    });
    const bytes = pcap(229, packets);
    const stdout = await decodeOk(bytes);
    assertStringIncludes(
      stdout,
      "FILE: pcap (microseconds), raw IPv6\n",
    );
    const lines = conversation(stdout);
    // RFC 5952: the longest run of zeros becomes ::, the first if two tie.
    assertMatch(lines[0].from, /^\[2001:db8::1:0:0:\d+\]:\d+$/);
    assertMatch(lines[0].to, /^\[2001:db8::1\]:\d+$/);
    assertEquals(
      lines.map((l) => l.what),
      conversation(await headers(capturePath("greeting.pcap"))).map((l) =>
        l.what
      ),
    );
    const p = details(await decodeOk(bytes, "--packet", "4"))[0];
    assertEquals(p.rows.get("IPv6.Flow label")![0], "0x12345");
    assertEquals(p.rows.get("IPv6.Traffic class")![0], "0x01");
    assertEquals(p.rows.get("TCP.Checksum")![1], "correct");
    if (extensions.length) {
      assertEquals(p.rows.get("IPv6.Next header")![0], "0 (?)");
      assertEquals(p.rows.get("IPv6.Hop-by-hop options")![0], "8 bytes");
      assertEquals(p.rows.get("IPv6.Destination options")![0], "8 bytes");
      assertEquals(p.rows.get("IPv6.Fragment")![0], "8 bytes, offset 0");
    }
    await crossCheck(bytes);
  }
});

Deno.test("headers: damaged packets: checksums detect it, and say so", async () => {
  const packets = source.packets.map((p) => ({ ...p, data: p.data.slice() }));
  packets[3].data[70] ^= 0x20; // one bit of the greeting's text
  packets[4].data[22] = 1; // the ACK's TTL, in the IPv4 header
  const bytes = pcap(1, packets);
  const lines = conversation(await decodeOk(bytes));
  assertEquals(lines[3].tags, ["checksum WRONG"]);
  assertEquals(lines[4].tags, ["checksum WRONG"]);
  const [data, ack] = details(await decodeOk(bytes, "--packet", "all")).slice(
    3,
    5,
  );
  const should = transportChecksum(packets[3].data.subarray(14));
  assertEquals(
    data.rows.get("TCP.Checksum")![1],
    `WRONG: it should be 0x${
      should.toString(16).padStart(4, "0")
    }; the packet was damaged`,
  );
  assertEquals(data.rows.get("IPv4.Header checksum")![1], "correct");
  assertMatch(
    ack.rows.get("IPv4.Header checksum")![1],
    /^WRONG: it should be 0x[0-9a-f]{4}$/,
  );
  await crossCheck(bytes);
  // UDP with checksum 0 over IPv4: "none", which is allowed.
  const udp = readPcap(read(capturePath("udp.pcap"))).packets;
  udp[0].data.set([0, 0], 14 + 20 + 6);
  const none = details(await decodeOk(pcap(1, udp), "--packet", "1"))[0];
  assertEquals(none.rows.get("UDP.Checksum"), [
    "0x0000",
    "none (allowed on IPv4)",
  ]);
});

Deno.test("headers: a snap length that cuts packets: decode what is there", async () => {
  const cut = (p: Frame, size: number) => ({
    ...p,
    data: p.data.slice(0, size),
  });
  const packets = [
    cut(source.packets[3], 70), // every header, 4 of the 18 data bytes
    cut(source.packets[3], 50), // into the TCP header
    cut(source.packets[3], 20), // into the IPv4 header
    cut(source.packets[3], 10), // into the Ethernet header
  ];
  const bytes = pcap(1, packets);
  const lines = conversation(await decodeOk(bytes));
  for (const line of lines) assert(line.tags.includes("cut"), line.what);
  // Alone in its capture, it has no SYN before it: numbers from 1.
  assertEquals(lines[0].what, '[PSH, ACK] seq=1 ack=1 len=18 "0. H"');
  assertEquals(lines[1].what, "(the capture ends inside the TCP header)");
  assertEquals(lines[2].what, "(the capture ends inside the IPv4 header)");
  assertEquals(
    lines[3].what,
    "(the capture ends inside the link-layer header)",
  );
  const [whole, tcp] = details(await decodeOk(bytes, "--packet", "all"));
  assertEquals([whole.length, whole.captured], [84, 70]);
  assertEquals(
    whole.rows.get("TCP.Checksum")![1],
    "not checked: the capture cut it",
  );
  assertEquals(tcp.rows.get("IPv4.Header checksum")![1], "correct");
  assert(!tcp.rows.has("TCP.Source port"));
  assertEquals(tcp.notes.at(-1), "And the capture ends inside the TCP header.");
});

// ------------------------------- values that contradict the bytes around them

/** An IPv4 packet, 10.0.0.2 → 10.0.0.1 (or back), its header checksum right. */
function ipv4Packet(
  protocol: number,
  payload: Uint8Array,
  { total = 20 + payload.length, flags = 0x4000, back = false } = {},
): Uint8Array {
  const [a, b] = back ? [1, 2] : [2, 1];
  const header = concat([
    u8(0x45, 0),
    u16(total),
    u16(0x1234),
    u16(flags),
    u8(64, protocol, 0, 0, 10, 0, 0, a, 10, 0, 0, b),
  ]);
  header.set(u16(internetChecksum(header)), 10);
  return concat([header, payload]);
}
/** The checksum of a TCP or UDP `segment` inside an IPv4 packet. */
function v4Sum(protocol: number, segment: Uint8Array, back = false) {
  const [a, b] = back ? [1, 2] : [2, 1];
  const pseudo = u8(10, 0, 0, a, 10, 0, 0, b, 0, protocol);
  return internetChecksum(pseudo, u16(segment.length), segment);
}
/** A TCP segment 40000 → 80 (or back), its checksum over the bytes given. */
function tcpSegment(
  data: Uint8Array,
  {
    flags = 0x18,
    seq = 1000,
    ack = 0,
    offset = 0,
    options = u8(),
    window = 1000,
    back = false,
  } = {},
): Uint8Array {
  const words = offset || (20 + options.length) / 4;
  const ports = back ? [u16(80), u16(40000)] : [u16(40000), u16(80)];
  const segment = concat([
    ...ports,
    u32(seq),
    u32(ack),
    u16(words << 12 | flags),
    u16(window),
    u16(0),
    u16(0),
    options,
    data,
  ]);
  segment.set(u16(v4Sum(6, segment, back)), 16);
  return segment;
}
/** A UDP datagram 40000 → 7000 with Length `length`, its checksum right. */
function udpDatagram(data: Uint8Array, length = 8 + data.length, v6 = false) {
  const datagram = concat([u16(40000), u16(7000), u16(length), u16(0), data]);
  const pseudo = v6
    ? concat([
      u8(...Array(15).fill(0), 2, ...Array(15).fill(0), 1),
      u32(datagram.length),
      u8(0, 0, 0, 17),
    ])
    : concat([u8(10, 0, 0, 2, 10, 0, 0, 1, 0, 17), u16(datagram.length)]);
  datagram.set(u16(internetChecksum(pseudo, datagram) || 0xffff), 6);
  return datagram;
}
/** An IPv6 packet ::2 → ::1 whose Payload length says `payload` bytes. */
function ipv6Packet(next: number, data: Uint8Array, payload = data.length) {
  const address = (last: number) => u8(...Array(15).fill(0), last);
  return concat([
    u32(0x60000000),
    u16(payload),
    u8(next, 64),
    address(2),
    address(1),
    data,
  ]);
}

/** tshark's values of some fields, one row per packet (tshark must be here). */
async function tsharkFields(
  bytes: Uint8Array,
  fields: string[],
  options: string[] = [],
) {
  const file = await Deno.makeTempFile({ prefix: "headers-", suffix: ".cap" });
  try {
    await Deno.writeFile(file, bytes);
    const args = ["-r", file, "-T", "fields", ...options];
    for (const field of fields) args.push("-e", field);
    const result = await new Deno.Command("tshark", { args }).output();
    const lines = new TextDecoder().decode(result.stdout).split("\n");
    return lines.slice(0, -1).map((line) => line.split("\t"));
  } finally {
    await Deno.remove(file);
  }
}

// Each case: a capture made here; the line of the conversation (its tag
// [malformed] included); a row of --packet 1 with its value and meaning;
// and tshark's values of the same fields (checked when tshark is here;
// the fragments with its reassembly off, to see the first one alone).
const hello = new TextEncoder().encode("hello");
const A = new Uint8Array(2992).fill(0x41); // "AAAA..."
const fragment = udpDatagram(A), segment = tcpSegment(A);
const WRONG: {
  name: string;
  bytes: Uint8Array;
  line: string;
  row: [string, string, string];
  tshark: [string[], string[]];
}[] = [
  {
    name: "IPv4 Total length longer than the packet",
    bytes: pcap(101, [
      frame(ipv4Packet(6, tcpSegment(hello), { total: 65535 })),
    ]),
    line: '[PSH, ACK] seq=1 ack=1 len=5 "hello" [malformed]',
    row: [
      "IPv4.Total length",
      "65535 bytes",
      "WRONG: the packet holds only 45 bytes",
    ],
    tshark: [["ip.len", "tcp.len"], ["65535", "5"]],
  },
  {
    name: "UDP Length longer than what IP carries",
    bytes: pcap(101, [frame(ipv4Packet(17, udpDatagram(hello, 65535)))]),
    line: 'UDP len=5 "hello" [malformed]',
    row: ["UDP.Length", "65535 bytes", "WRONG: IP carries 13 bytes of UDP"],
    tshark: [["udp.length", "data.len"], ["65535", "5"]],
  },
  {
    name: "UDP Length shorter than its own header",
    bytes: pcap(101, [frame(ipv4Packet(17, udpDatagram(hello, 4)))]),
    line: 'UDP len=5 "hello" [malformed]',
    row: ["UDP.Length", "4 bytes", "WRONG: IP carries 13 bytes of UDP"],
    tshark: [["udp.length"], ["4"]],
  },
  {
    name: "TCP data offset past the end of the segment",
    bytes: pcap(101, [frame(ipv4Packet(6, tcpSegment(hello, { offset: 15 })))]),
    line: "[PSH, ACK] seq=1 ack=1 len=? [malformed]",
    row: [
      "TCP.Data offset",
      "15 (× 4 = 60 bytes)",
      "WRONG: the segment has 25 bytes",
    ],
    tshark: [["tcp.hdr_len", "tcp.len"], ["60", ""]],
  },
  {
    name: "IPv6 Payload length longer than the packet",
    bytes: pcap(229, [
      frame(ipv6Packet(17, udpDatagram(hello, 13, true), 1000)),
    ]),
    line: 'UDP len=5 "hello" [malformed]',
    row: ["IPv6.Payload length", "1000 bytes", "WRONG: only 13 bytes follow"],
    tshark: [["ipv6.plen", "udp.length", "data.len"], ["1000", "13", "5"]],
  },
  {
    name: "IPv6 extension header longer than the packet",
    bytes: pcap(229, [
      frame(
        ipv6Packet(
          0,
          concat([u8(6, 255, 1, 4, 0, 0, 0, 0), new Uint8Array(20)]),
        ),
      ),
    ]),
    line: "IPv6 with a broken extension header [malformed]",
    row: [
      "IPv6.Hop-by-hop options",
      "2048 bytes",
      "WRONG: only 28 bytes are left",
    ],
    tshark: [["ipv6.plen", "ipv6.hopopts.len_oct"], ["28", "2048"]],
  },
  {
    name: "a packet whole on the wire that ends inside its TCP header",
    bytes: pcap(101, [frame(ipv4Packet(6, tcpSegment(hello).subarray(0, 10)))]),
    line: "(the packet ends inside the TCP header) [malformed]",
    row: ["IPv4.Total length", "30 bytes", "this header and all it carries"],
    tshark: [["ip.len", "tcp.srcport"], ["30", "40000"]],
  },
  {
    name: "a first IPv4 fragment of UDP: the Data it carries",
    bytes: pcap(101, [
      frame(ipv4Packet(17, fragment.subarray(0, 1480), { flags: 0x2000 })),
    ]),
    line: 'UDP len=2992, 1472 in this fragment "AAAAAAAAAAAAAAAAAAAA"…',
    row: [
      "UDP.Data",
      "1472 of 2992 bytes",
      `"${"A".repeat(40)}"… in this fragment`,
    ],
    tshark: [["udp.length", "data.len"], ["3000", "1472"]],
  },
  {
    name: "a first IPv4 fragment of TCP: the Data it carries",
    bytes: pcap(101, [
      frame(ipv4Packet(6, segment.subarray(0, 1480), { flags: 0x2000 })),
    ]),
    line:
      '[PSH, ACK] seq=1 ack=1 len=1460 in this fragment "AAAAAAAAAAAAAAAAAAAA"…',
    row: ["TCP.Data", "1460 bytes", `"${"A".repeat(40)}"… in this fragment`],
    tshark: [["tcp.hdr_len", "tcp.len"], ["20", ""]],
  },
];
/** A frame of a made capture: all of it captured. */
function frame(data: Uint8Array): Frame {
  return { time: 1_700_000_000_000_000_000n, data, length: data.length };
}

for (const { name, bytes, line, row, tshark: [fields, values] } of WRONG) {
  Deno.test(`headers: called out, not printed as fact: ${name}`, async () => {
    const [ours] = conversation(await decodeOk(bytes));
    assertEquals(
      [ours.what, ...ours.tags.map((tag) => `[${tag}]`)].join(" "),
      line,
    );
    const [p] = details(await decodeOk(bytes, "--packet", "1"));
    assertEquals(p.rows.get(row[0]), [row[1], row[2]]);
    if (line.includes("[malformed]")) {
      assertStringIncludes(
        await decodeOk(bytes),
        "  [malformed]: a length in it contradicts",
      );
    }
    if (tshark) {
      const options = ["-o", "ip.defragment:FALSE"];
      assertEquals((await tsharkFields(bytes, fields, options))[0], values);
    }
  });
}

// RFC 7323, section 2.3: a window scale over 14 is used as 14. Both SYNs
// ask for 15 here: the ACK's Window of 3 means 3 × 2^14 = 49152 bytes.
Deno.test("headers: a window scale over 14 counts as 14, and says so", async () => {
  const scale = u8(1, 3, 3, 15); // NOP, then window scale 15
  const bytes = pcap(
    101,
    [
      ipv4Packet(
        6,
        tcpSegment(u8(), { flags: 0x02, seq: 100, options: scale }),
      ),
      ipv4Packet(
        6,
        tcpSegment(u8(), {
          flags: 0x12,
          seq: 500,
          ack: 101,
          options: scale,
          back: true,
        }),
        { back: true },
      ),
      ipv4Packet(
        6,
        tcpSegment(u8(), { flags: 0x10, seq: 101, ack: 501, window: 3 }),
      ),
    ].map(frame),
  ); // deno-fmt-ignore
  const [syn, , ack] = details(await decodeOk(bytes, "--packet", "all"));
  assertEquals(
    syn.rows.get("TCP.Window scale")![0],
    "15 (× 16384): over 14, counts as 14 (RFC 7323, 2.3)",
  );
  assertEquals(ack.rows.get("TCP.Window")![0], "3 (× 16384 = 49152)");
  if (tshark) {
    const fields = [
      "tcp.options.wscale.shift",
      "tcp.options.wscale.multiplier",
      "tcp.window_size",
    ];
    assertEquals(await tsharkFields(bytes, fields), [
      ["15", "16384", "1000"],
      ["15", "16384", "1000"],
      ["", "", "49152"],
    ]);
    await crossCheck(bytes);
  }
});

Deno.test("headers: bad input: one sentence, exit 1", async () => {
  const cases: [Uint8Array, RegExp][] = [
    [
      new TextEncoder().encode('{"not": "a capture"}\n'),
      /^error: FILE is not a packet capture \(neither pcap nor pcapng\)\.$/,
    ],
    [new Uint8Array(0), /^error: FILE is not a packet capture/],
    [
      pcap(147, ipPackets),
      /^error: FILE has packets of link type 147, unknown here\.$/,
    ],
  ]; // deno-fmt-ignore
  for (const [bytes, message] of cases) {
    const result = await decodeBytes(bytes);
    assertEquals(result.code, 1, result.stdout);
    assertEquals(result.stdout, "");
    assertMatch(result.stderr.replaceAll(result.file, "FILE").trim(), message);
  }
  const missing = await runTask("headers", ["no/such/file.pcap"]);
  assertEquals(missing.code, 1);
  assertEquals(
    missing.stderr.trim(),
    "error: no/such/file.pcap: no such file.",
  );
  const beyond = await runTask("headers", [
    capturePath("udp.pcap"),
    "--packet",
    "3",
  ]);
  assertEquals(beyond.code, 1);
  assertEquals(
    beyond.stderr.trim(),
    "error: chapters/captures/udp.pcap has no packet 3: it holds 2.",
  );
  const folder = await runTask("headers", ["chapters"]);
  assertEquals(folder.code, 1);
  assertMatch(folder.stderr.trim(), /^error: chapters: IsADirectory: /);
});

// A capture cut in the middle of a packet (a download that stopped, a
// tcpdump killed while writing): every whole packet is shown, then one
// sentence, as tshark does ("appears to have been cut short in the middle
// of a packet").
Deno.test("headers: a truncated capture: every whole packet, then one sentence", async () => {
  const greeting = read(capturePath("greeting.pcap"));
  const ng = read(capturePath("greeting.pcapng"));
  const cases: [Uint8Array, number][] = [
    [greeting.subarray(0, greeting.length - 10), 7], // inside packet 8
    [greeting.subarray(0, 24 + 8), 0], // inside the first record's header
    [greeting.subarray(0, 20), 0], // inside the file's own header
    [ng.subarray(0, ng.length - 4), 7], // inside the last block
  ];
  for (const [bytes, whole] of cases) {
    for (const args of [[], ["--packet", "all"]]) {
      const result = await decodeBytes(bytes, ...args);
      assertEquals(result.code, 1, result.stderr);
      assertEquals(
        result.stderr.replaceAll(result.file, "FILE").trim(),
        "error: FILE ends in the middle of a packet (it was cut short).",
      );
      const shown = args.length
        ? details(result.stdout).map((p) => p.number)
        : conversation(result.stdout).map((line) => line.number);
      assertEquals(shown, Array.from({ length: whole }, (_, i) => i + 1));
    }
    if (tshark) { // tshark shows the same whole packets before its sentence
      const file = await Deno.makeTempFile({ suffix: ".cap" });
      try {
        await Deno.writeFile(file, bytes);
        const theirs = await new Deno.Command("tshark", {
          args: ["-r", file, "-T", "fields", "-e", "frame.number"],
        }).output();
        const numbers = new TextDecoder().decode(theirs.stdout).trim();
        assertEquals(numbers ? numbers.split("\n").length : 0, whole);
        assertStringIncludes(
          new TextDecoder().decode(theirs.stderr),
          "cut short in the middle of a packet",
        );
      } finally {
        await Deno.remove(file);
      }
    }
  }
});

// ------------------------------------- a capture of any size, as it comes

/** Starts `deno task headers ARGS` (its task's own command line). */
function startHeaders(args: string[], stdin: "piped" | "null" = "null") {
  return new Deno.Command(Deno.execPath(), {
    args: [...taskArgs("headers"), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// The lesson reads the capture in pieces and forgets each packet once it is
// shown: its memory does not grow with the capture. (Before, it read the
// whole file and kept every packet decoded, about 7 KB each: 64 MiB of
// small packets ran V8 out of memory after a minute.) The peak is the
// kernel's own count, VmHWM ("high water mark") in /proc/PID/status, read
// every 20 ms; past the limit the test stops the run at once.
Deno.test({
  name: "headers: a 64 MiB capture of small packets in under 150 MB",
  ignore: Deno.build.os !== "linux", // /proc is Linux's
  async fn() {
    const LIMIT = 150_000_000; // bytes
    const file = await Deno.makeTempFile({
      prefix: "headers-",
      suffix: ".pcap",
    });
    try {
      const { packets } = await writeBigCapture(file, 64);
      const child = startHeaders([file]);
      let peak = 0; // bytes
      const poll = setInterval(() => {
        try {
          const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
          const kB = Number(status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? 0);
          peak = Math.max(peak, kB * 1024);
          if (peak > LIMIT) child.kill("SIGKILL");
        } catch {
          // it has just ended: /proc/PID is gone, or has no memory left
        }
      }, 20);
      let lines = 0, tail = "";
      const errors = new Response(child.stderr).text();
      for await (const chunk of child.stdout) {
        for (const byte of chunk) if (byte === 10) lines++;
        tail = (tail + text(chunk)).slice(-200);
      }
      const status = await child.status;
      clearInterval(poll);
      const megabytes = (peak / 1e6).toFixed(0);
      assert(peak > 0, "VmHWM was never read");
      assert(peak < LIMIT, `its peak was ${megabytes} MB (VmHWM)`);
      assertEquals(status.code, 0, await errors);
      // Every packet shown: the first line names the file, the last is the
      // last packet, and a few lines between say what a tag means.
      assert(lines >= 1 + packets && lines < 1 + packets + 5, `${lines}`);
      assertMatch(tail, new RegExp(`\\n ?${packets}  \\d+\\.\\d{6}  .*\\n$`));
      console.log(`  ${packets} packets, peak ${megabytes} MB`);
    } finally {
      await Deno.remove(file);
    }
  },
});

// --packet N reads nothing after packet N: the 9th record here says it
// holds 4 GB (a broken file), and the 8th is shown all the same.
Deno.test("headers: --packet N reads nothing after packet N", async () => {
  const greeting = read(capturePath("greeting.pcap"));
  const broken = concat([
    greeting,
    u32(0, true),
    u32(0, true),
    u32(0xffffffff, true),
    u32(60, true),
  ]); // deno-fmt-ignore
  const eighth = details(await decodeOk(broken, "--packet", "8"));
  assertEquals(eighth.map((p) => p.number), [8]);
  const all = await decodeBytes(broken);
  assertEquals(all.code, 1);
  assertEquals(conversation(all.stdout).length, 8);
  assertEquals(
    all.stderr.replaceAll(all.file, "FILE").trim(),
    "error: FILE has a broken record.",
  );
});

// "-" reads the capture from the standard input, and each packet is shown
// as soon as its bytes have come: here the writer stops after 4 packets and
// keeps the pipe open, and --packet 3 is shown (and the lesson ends) all the
// same. This is what makes `tcpdump -U -w - | deno task headers -` live.
Deno.test("headers: - reads the standard input, packet by packet as it comes", async () => {
  const greeting = read(capturePath("greeting.pcap"));
  const frames = readPcap(greeting).packets;
  const four = 24 +
    frames.slice(0, 4).reduce((n, f) => n + 16 + f.data.length, 0);
  const child = startHeaders(["-", "--packet", "3"], "piped");
  const writer = child.stdin.getWriter();
  try {
    await writer.write(greeting.subarray(0, four));
    const { code, stdout, stderr } = await child.output();
    assertEquals(code, 0, text(stderr));
    assertEquals(details(text(stdout)).map((p) => p.number), [3]);
    assertMatch(text(stdout), /^-: pcap \(microseconds\), Ethernet\n/);
  } finally {
    await writer.close().catch(() => {});
  }
  // The whole capture through "-" says what the file says.
  const piped = startHeaders(["-"], "piped");
  const input = piped.stdin.getWriter();
  await input.write(greeting);
  await input.close();
  const whole = await piped.output();
  assertEquals(whole.code, 0, text(whole.stderr));
  assertEquals(shape(text(whole.stdout)), reference);
});

// Deno reads devices such as /dev/stdin only with --allow-all, which the
// task does not grant: the sentence says so, and the command it gives works.
Deno.test("headers: /dev/stdin: the advice names a command that works", async () => {
  const refused = await runTask("headers", ["/dev/stdin"]);
  assertEquals(refused.code, 1);
  const advice = "deno run --allow-all chapters/12_2_headers.ts /dev/stdin";
  assertEquals(
    refused.stderr.trim(),
    `error: Deno was not allowed to read /dev/stdin (to allow it: ${advice})`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: advice.split(" ").slice(1),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(read(capturePath("greeting.pcap")));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assertEquals(code, 0, text(stderr));
  assertEquals(shape(text(stdout)), reference);
});

// A file name may hold any byte but / and NUL: ESC (a terminal command)
// and newlines included. Every sentence shows it escaped, Deno's own error
// text (which quotes the path) included, and so does the first line.
Deno.test("headers: file names are shown safely, in every sentence", async () => {
  const folder = await Deno.makeTempDir({ prefix: "headers-" });
  try {
    const name = `${folder}/evil\x1b[2J\nname.pcap`;
    const shown = `${folder}/evil\\u{1b}[2J\\u{a}name.pcap`;
    await Deno.writeTextFile(name, '{"not": "a capture"}\n');
    const notCapture = await runTask("headers", [name]);
    assertEquals(
      notCapture.stderr,
      `error: ${shown} is not a packet capture (neither pcap nor pcapng).`,
    );
    const inside = await runTask("headers", [`${name}/inner.pcap`]);
    assertEquals(inside.code, 1);
    assertStringIncludes(inside.stderr, `${shown}/inner.pcap`); // Deno's text
    const raw = ["\x1b", "\n"].filter((c) => inside.stderr.includes(c));
    assertEquals(raw, [], JSON.stringify(inside.stderr)); // one safe line
    await Deno.writeFile(name, read(capturePath("udp.pcap")));
    const decoded = await runTask("headers", [name]);
    assertEquals(
      decoded.stdout.split("\n")[0],
      `${shown}: pcap (microseconds), Ethernet`,
    );
    for (const result of [notCapture, inside, decoded]) {
      assert(
        !result.stdout.includes("\x1b") && !result.stderr.includes("\x1b"),
      );
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("headers: usage errors exit 2; --help exits 0; no FILE = the greeting", async () => {
  for (
    const args of [["--packet", "0"], ["--packet", "x"], ["--packet"], [
      "--bogus",
    ]]
  ) {
    const result = await runTask("headers", args);
    assertEquals(result.code, 2, args.join(" "));
    assertEquals(result.stdout, "");
    assertMatch(
      result.stderr.trim(),
      /^error: .* \(run with --help for usage\)$/,
    );
  }
  const help = await runTask("headers", ["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /^Usage: deno task headers /);
  assertEquals(await headers(), await headers(capturePath("greeting.pcap")));
});

Deno.test("headers: the excerpt in the lesson's header is what it prints today", async () => {
  const source = await Deno.readTextFile(
    new URL("chapters/12_2_headers.ts", ROOT),
  );
  const shown = source.split("\n")
    .filter((line) => /^ \* {3}(chapters\/captures\/|\s+\d+ )/.test(line))
    .map((line) => line.slice(" *   ".length));
  assertGreater(shown.length, 2);
  const printed =
    (await runTask("headers", ["chapters/captures/greeting.pcap"]))
      .stdout.split("\n").slice(0, shown.length);
  // A line too long for the page (80 columns) ends in "…" there: what it
  // shows must be how the printed line begins.
  const cut = (line: string, i: number) =>
    line.endsWith("…") && printed[i].startsWith(line.slice(0, -1))
      ? printed[i]
      : line;
  assertEquals(shown.map(cut), printed);
});
