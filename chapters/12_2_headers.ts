/**
 * Figures 12.1 and 12.2, the TCP and UDP headers, filled in with real
 * packets (section 12.2; the book has no program for them)
 *
 * Reads a packet capture (pcap or pcapng, as tcpdump and Wireshark save
 * them) and decodes each packet byte by byte: link layer, IP, then TCP or
 * UDP. Where the book slips: a checksum DETECTS damage, it cannot fix it
 * (TCP sends the bytes again); sequence numbers count bytes, not packets;
 * UDP's Length is in bytes, not bits; TCP sends segments; the TCP header
 * is in RFC 9293, section 3.1 (the book's RFC 3168, section 6.1, is ECN).
 *
 *   $ deno task headers chapters/captures/greeting.pcap
 *   chapters/captures/greeting.pcap: pcap (microseconds), Ethernet, 8 packets
 *      1  0.000000  10.77.0.2:46676 → 10.77.0.1:10001  [SYN] seq=0 len=0
 *      2  0.000072  10.77.0.1:10001 → 10.77.0.2:46676  [SYN, ACK] seq=0 ack=1 len=0
 *      3  0.000089  10.77.0.2:46676 → 10.77.0.1:10001  [ACK] seq=1 ack=1 len=0
 *      4  0.007420  10.77.0.1:10001 → 10.77.0.2:46676  [PSH, ACK] seq=1 ack=1 len=18 "0. Hi new friend!\u{a}"
 *
 * --packet 4 shows every field of packet 4 and what it means; --figure
 * draws Figures 12.1 and 12.2 with the packet's values in the boxes. Also
 * in chapters/captures/: udp.pcap, lossy.pcap (segments lost and sent
 * again), loopback-offload.pcap (unfinished checksums), greeting.pcapng.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const HELP = `Usage: deno task headers [FILE...] [--packet N|all] [--figure]
  FILE        a capture, pcap or pcapng (default: the greeting, captured in
              chapters/captures/greeting.pcap beside this lesson)
  --packet N  every field of packet N and what it means (all: every packet)
  --figure    Figures 12.1 and 12.2: the TCP and UDP headers as the RFCs
              draw them, values filled in (default: the first TCP and the
              first UDP packet; with --packet N, packet N)`;

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["packet", "_"], // "_": file names stay text, even "1"
  boolean: ["figure"],
  unknown: (arg: string) =>
    /^-./.test(arg) ? usage(`unknown argument ${JSON.stringify(arg)}`) : true,
});
if (flags.packet !== undefined && !/^([1-9]\d{0,8}|all)$/.test(flags.packet)) {
  usage("--packet must be a packet number (1, 2, ...) or all");
}
const only = flags.packet === "all" ? 0 : Number(flags.packet ?? 0);

// Text from a capture (file names, data) may hold control characters: show
// each one as \u{HEX}, never obey it.
const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const safe = (text: string) =>
  text.replace(unsafe, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
const hex = (n: number, digits = 4) => n.toString(16).padStart(digits, "0");

// ------------------------------------------------------------- containers
// A capture file is a header, then one record per packet: when it was seen,
// its length on the wire, and its bytes, or only the first ones if the
// capture was told to keep fewer (its "snap length").
interface Packet {
  time: bigint | null; // nanoseconds since 1970 (null: the file does not say)
  link: number; // the link type: which header comes first (1 = Ethernet)
  data: Uint8Array;
  length: number;
}
type Capture = { format: string; digits: number; packets: Packet[] };
// deno-fmt-ignore
const LINKS: Record<number, string> = {
  0: "BSD loopback", 1: "Ethernet", 12: "raw IP", 101: "raw IP",
  108: "BSD loopback", 113: "Linux cooked v1", 228: "raw IPv4",
  229: "raw IPv6", 276: "Linux cooked v2",
};
const truncated = (name: string, whole: number): never =>
  exit(1, `${name} ends in the middle of packet ${whole + 1} (truncated).`);

function readCapture(bytes: Uint8Array, name: string): Capture {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = bytes.length >= 24 ? view.getUint32(0) : 0;
  if (magic === 0x0a0d0d0a) return readPcapng(bytes, view, name);
  // pcap's first 4 bytes say which way round numbers are written (a1b2...
  // read backwards: little-endian) and if timestamps count µs or ns (3c4d).
  if (![0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) {
    exit(1, `${name} is not a packet capture (neither pcap nor pcapng).`);
  }
  const little = (magic & 0xff) === 0xa1;
  const nano = (view.getUint32(0, little) & 0xffff) === 0x3c4d;
  const link = view.getUint32(20, little) & 0xffff;
  const packets: Packet[] = [];
  // Each record: seconds, µs (or ns), bytes captured, bytes on the wire.
  for (let at = 24; at < bytes.length;) {
    const size = at + 16 <= bytes.length ? view.getUint32(at + 8, little) : 0;
    if (at + 16 + size > bytes.length) truncated(name, packets.length);
    const seconds = BigInt(view.getUint32(at, little)) * 1_000_000_000n;
    const part = BigInt(view.getUint32(at + 4, little)) * (nano ? 1n : 1000n);
    const data = bytes.subarray(at + 16, at + 16 + size);
    const length = view.getUint32(at + 12, little);
    packets.push({ time: seconds + part, link, data, length });
    at += 16 + size;
  }
  const unit = nano ? "nanoseconds" : "microseconds";
  return { format: `pcap (${unit})`, digits: nano ? 9 : 6, packets };
}

// pcapng is a chain of blocks: type, length, body, length again. A Section
// Header Block (SHB) says the byte order; an Interface Description Block
// (IDB) gives one interface's link type and clock; each Enhanced Packet
// Block (EPB) or Simple Packet Block (SPB) holds a packet. Others: skipped.
function readPcapng(bytes: Uint8Array, view: DataView, name: string) {
  let little = true, digits = 6;
  let interfaces: { link: number; snap: number; perSecond: bigint }[] = [];
  const packets: Packet[] = [];
  for (let at = 0; at < bytes.length;) {
    if (at + 12 > bytes.length) truncated(name, packets.length);
    const type = view.getUint32(at, little); // an SHB's reads the same both ways
    if (type === 0x0a0d0d0a) {
      little = view.getUint32(at + 8, true) === 0x1a2b3c4d;
      if (!little && view.getUint32(at + 8) !== 0x1a2b3c4d) {
        exit(1, `${name} is not a valid pcapng file (no byte-order magic).`);
      }
      interfaces = []; // each section describes its own interfaces
    }
    const size = view.getUint32(at + 4, little), body = at + 8;
    const least = { 1: 20, 3: 16, 6: 32 }[type] ?? 12; // the fixed fields
    if (size < least || size % 4) exit(1, `${name} has a broken block.`);
    if (at + size > bytes.length) truncated(name, packets.length);
    const u32 = (offset: number) => view.getUint32(body + offset, little);
    if (type === 1) { // IDB: link type, 2 bytes reserved, snap length, options
      let perSecond = 1_000_000n; // microseconds, unless if_tsresol says
      for (let o = body + 8; o + 4 <= at + size - 4;) { // code, length, value
        const code = view.getUint16(o, little);
        if (code === 0) break; // opt_endofopt
        if (code === 9) { // if_tsresol: 10^-n seconds, or 2^-n if top bit set
          const r = view.getUint8(o + 4);
          perSecond = r & 0x80 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
          digits = Math.max(digits, Math.min(9, String(perSecond).length - 1));
        }
        o += 4 + Math.ceil(view.getUint16(o + 2, little) / 4) * 4;
      }
      const link = view.getUint16(body, little);
      interfaces.push({ link, snap: u32(4), perSecond });
    } else if (type === 6 || type === 3) { // EPB, SPB
      const iface = interfaces[type === 6 ? u32(0) : 0];
      if (!iface) exit(1, `${name} has a packet of an unknown interface.`);
      const { link, snap, perSecond } = iface;
      if (type === 6) { // interface, time (high, low 32 bits), captured, length
        const units = BigInt(u32(4)) << 32n | BigInt(u32(8));
        const time = units * 1_000_000_000n / perSecond;
        const captured = Math.min(u32(12), size - 32); // (not past the end)
        const data = bytes.subarray(body + 20, body + 20 + captured);
        packets.push({ time, link, data, length: u32(16) });
      } else { // SPB: length on the wire, then the bytes; no time
        const captured = Math.min(u32(0), snap || u32(0), size - 16);
        const data = bytes.subarray(body + 4, body + 4 + captured);
        packets.push({ time: null, link, data, length: u32(0) });
      }
    }
    at += size;
  }
  return { format: "pcapng", digits, packets };
}

// --------------------------------------------------------------- decoding
// Each header becomes rows: name, value, and what the field is for (from
// this glossary unless the row says otherwise).
const MEANINGS: Record<string, string> = {
  "Destination MAC": "the next computer on this cable (link-layer address)",
  "Source MAC": "the computer that put the frame on this cable",
  "VLAN tag": "which virtual network (802.1Q) the frame belongs to",
  "Type": "what follows this header (an EtherType)",
  "Packet type": "which way it went, seen from the capturing computer",
  "Interface index": "which network interface of that computer",
  "Link-layer address": "the sender's (MAC) address",
  "Family": "what follows (an address family: 2 = IPv4)",
  "Version": "4 or 6: IPv4 or IPv6",
  "Header length": "in words of 4 bytes, options included",
  "DSCP, ECN": "priority class; congestion marks",
  "Total length": "bytes of this header and all it carries",
  "Identification": "the same in every fragment of one datagram",
  "Flags": "DF: don't fragment; MF: more fragments follow",
  "Fragment offset": "where this piece goes in the datagram, in bytes",
  "Time to live": "each router takes 1 off; at 0 the packet is dropped",
  "Protocol": "what the data is: 6 = TCP, 17 = UDP",
  "Source": "the sending computer's address",
  "Destination": "the receiving computer's address",
  "Traffic class": "priority class; congestion marks",
  "Flow label": "marks the packets of one flow",
  "Payload length": "bytes after this 40-byte header",
  "Next header": "what follows: an extension header, TCP (6), UDP (17)",
  "Hop limit": "each router takes 1 off; at 0 the packet is dropped",
  "Source port": "the sending program",
  "Destination port": "the receiving program",
  "Sequence number": "number of the first byte here: it counts BYTES",
  "Acknowledgment number": "the next byte expected from the other side",
  "Data offset": "the header's length: where the data starts",
  "Reserved": "for future use: 0",
  "Window": "how many more bytes the sender of this can receive now",
  "Urgent pointer": "where urgent data ends, if URG is on (rarely used)",
  "Options": "extras, most of them agreed in the SYNs",
  "MSS": "maximum segment size: the most data I take in one segment",
  "Window scale": "multiply my Window by 2^this (from now on)",
  "SACK permitted": "tell me which later bytes arrived if some are lost",
  "SACK": "bytes received beyond a gap (relative numbers)",
  "Timestamps": "my clock, and the latest value I saw from you",
  "NOP": "no-operation: lines the next option up",
  "End of options": "what follows is padding",
  "Length": "8 of header + the data, in BYTES (the book says bits)",
};
type Row = [name: string, value: string, meaning: string];
function row(name: string, value: unknown, meaning?: string): Row {
  return [name, String(value), meaning ?? MEANINGS[name.trim()] ?? ""];
}

interface Decoded {
  number: number;
  packet: Packet;
  when: string; // seconds since the first packet
  from: string;
  to: string;
  what: string; // the rest of its line in the conversation view
  tags: string[]; // "cut", "sent again", "checksum unfinished"...
  layers: { title: string; rows: Row[] }[];
  inside: string; // the header being read, to say where a capture was cut
}
// Each direction of a connection ("A:port>B:port"): its first sequence
// number, to show numbers from 0 as Wireshark does; the next new byte's
// number; and its window scale (-1: none).
type Direction = { base: number; next: number; scale: number };
type Flows = Map<string, Direction>;

/** Decodes one packet, its headers in the order they come. */
function decode(packet: Packet, number: number, flows: Flows): Decoded {
  const { buffer, byteOffset, length } = packet.data;
  const view = new DataView(buffer, byteOffset, length);
  // deno-fmt-ignore
  const out: Decoded = { number, packet, when: "", from: "?", to: "?",
    what: "", tags: [], layers: [], inside: "link-layer header" };
  if (length < packet.length) out.tags.push("cut");
  // A capture cut short by its snap length may end inside a header: then
  // DataView refuses to read past the end (a RangeError), and we keep what
  // was decoded and say where the bytes ran out.
  try {
    const [type, at] = linkLayer(packet.link, view, out);
    let ip = null;
    if (type === 0x0800) ip = ipv4(view, at, out);
    else if (type === 0x86dd) ip = ipv6(view, at, out);
    else out.what = `${ETHERTYPES[type] ?? "not IP"} (not decoded here)`;
    if (ip?.protocol === 6) tcp(view, ip, out, flows);
    else if (ip?.protocol === 17) udp(view, ip, out);
    else if (ip) out.what = `${PROTOCOLS[ip.protocol] ?? "?"} (not decoded)`;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    if (!out.tags.includes("cut")) out.tags.push("cut");
    const where = `the capture ends inside the ${out.inside}`;
    out.what ||= `(${where})`;
    out.layers.push({ title: `And ${where}.`, rows: [] });
  }
  return out;
}

// ------------------------------------------------------------- link layer
// What comes before IP depends on the link type. Each returns the type of
// what follows (an EtherType: 0x0800 IPv4, 0x86dd IPv6) and where it starts.
// deno-fmt-ignore
const ETHERTYPES: Record<number, string> = {
  0x0800: "IPv4", 0x86dd: "IPv6", 0x0806: "ARP", 0x8100: "VLAN",
};
const ethertype = (type: number) =>
  `0x${hex(type)} (${ETHERTYPES[type] ?? "?"})`;
const mac = (view: DataView, at: number, length = 6) =>
  Array.from({ length }, (_, i) => hex(view.getUint8(at + i), 2)).join(":");
const KINDS = ["to us", "broadcast", "multicast", "to another host", "by us"];

function linkLayer(link: number, view: DataView, out: Decoded) {
  if (link === 1) { // Ethernet: destination, source, type
    [out.to, out.from] = [mac(view, 0), mac(view, 6)];
    const rows = [row("Destination MAC", out.to), row("Source MAC", out.from)];
    let at = 12; // 802.1Q VLAN tags (4 bytes each) come before the type
    while ([0x8100, 0x88a8].includes(view.getUint16(at)) && at < 44) {
      const tci = view.getUint16(at + 2); // priority (3 bits), 1 bit, VLAN id
      rows.push(row("VLAN tag", `${tci & 0xfff}, priority ${tci >> 13}`));
      at += 4;
    }
    const type = view.getUint16(at);
    rows.push(row("Type", ethertype(type)));
    out.layers.push({ title: `Ethernet (${at + 2} bytes)`, rows });
    return [type, at + 2];
  }
  if (link === 113 || link === 276) { // Linux cooked: `tcpdump -i any`
    const v2 = link === 276, size = v2 ? 20 : 16; // v2: the interface too
    const kind = v2 ? view.getUint8(10) : view.getUint16(0);
    const length = Math.min(8, v2 ? view.getUint8(11) : view.getUint16(4));
    const type = view.getUint16(v2 ? 0 : 14);
    out.from = mac(view, v2 ? 12 : 6, length);
    const rows = [row("Packet type", `${kind} (${KINDS[kind] ?? "?"})`)];
    if (v2) rows.push(row("Interface index", view.getUint32(4)));
    rows.push(row("Link-layer address", out.from));
    rows.push(row("Type", ethertype(type)));
    const title = `Linux cooked v${v2 ? 2 : 1} (${size} bytes)`;
    out.layers.push({ title, rows });
    return [type, size];
  }
  if (link === 0 || link === 108) { // BSD loopback: 4 bytes, the family, in
    // the byte order of the computer that captured (if huge, swap it).
    const family = view.getUint32(0, view.getUint32(0, true) <= 0xffff);
    let type = [24, 28, 30].includes(family) ? 0x86dd : 0; // IPv6
    if (family === 2) type = 0x0800; // IPv4
    const rows = [row("Family", `${family} (${ETHERTYPES[type] ?? "?"})`)];
    out.layers.push({ title: "BSD loopback (4 bytes)", rows });
    return [type, 4];
  }
  // Raw IP: no link header at all; IP's first 4 bits say which version.
  const version = view.getUint8(0) >> 4;
  return [version === 4 ? 0x0800 : version === 6 ? 0x86dd : 0, 0];
}

// --------------------------------------------------------------------- IP
// What TCP and UDP need from IP: the protocol, where the segment starts and
// ends, the sum of the pseudo-header (the addresses and protocol; their
// checksums cover these too), and, if it cannot be checked, why.
// deno-fmt-ignore
type Ip = { v6: boolean; protocol: number; start: number; end: number;
  pseudo: number; unchecked: string };
// deno-fmt-ignore
const PROTOCOLS: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP",
  58: "ICMPv6" };

/** The 16-bit words from `start` to `end` added up (the Internet checksum). */
function sum(view: DataView, start: number, end: number): number {
  let total = 0;
  for (let i = start; i < end; i += 2) {
    total += i + 1 < end ? view.getUint16(i) : view.getUint8(i) << 8;
  }
  return total;
}
/** Adds the carries back in, as one's complement addition does. */
function fold(total: number): number {
  while (total > 0xffff) total = (total & 0xffff) + Math.floor(total / 65536);
  return total;
}

function ipv4(view: DataView, at: number, out: Decoded): Ip | null {
  out.inside = "IPv4 header";
  const size = (view.getUint8(at) & 15) * 4, total = view.getUint16(at + 2);
  const flags = view.getUint16(at + 6), protocol = view.getUint8(at + 9);
  const stored = view.getUint16(at + 10), tos = view.getUint8(at + 1);
  const dotted = (i: number) => slice(view, at + i, at + i + 4).join(".");
  [out.from, out.to] = [dotted(12), dotted(16)];
  view.getUint8(at + Math.max(size, 20) - 1); // the options must be there too
  // The header's own checksum: all its words, checksum included, add up to
  // 0xffff. A damaged header adds up to something else; the receiver drops
  // it. The checksum cannot tell which bits changed, so it cannot fix them.
  const all = sum(view, at, at + size);
  let verdict = `WRONG: it should be 0x${hex(~fold(all - stored) & 0xffff)}`;
  if (fold(all) === 0xffff) verdict = "correct";
  else out.tags.push("checksum WRONG");
  const offset = (flags & 0x1fff) * 8, more = flags & 0x2000;
  const names = [flags & 0x4000 ? "DF" : "", more ? "MF" : ""].join(" ");
  out.layers.push({
    title: `IPv4 (${size} bytes)`,
    rows: [
      row("Version", 4),
      row("Header length", `${size} bytes`, `${size / 4} × 4 bytes`),
      row("DSCP, ECN", `${tos >> 2}, ${tos & 3}`),
      row("Total length", `${total} bytes`),
      row("Identification", `0x${hex(view.getUint16(at + 4))}`),
      row("Flags", names.trim() || "none"),
      row("Fragment offset", offset),
      row("Time to live", view.getUint8(at + 8)),
      row("Protocol", `${protocol} (${PROTOCOLS[protocol] ?? "?"})`),
      row("Header checksum", `0x${hex(stored)}`, verdict),
      row("Source", out.from),
      row("Destination", out.to),
    ],
  });
  if (size < 20 || total < size) out.what = "IPv4 with a broken length field";
  if (offset) out.what = `IPv4 fragment: bytes from ${offset} of a datagram`;
  if (out.what) return null; // (a fragment's TCP/UDP header is in the first)
  const unchecked = more ? "this is one fragment of a larger datagram" : "";
  const pseudo = sum(view, at + 12, at + 20) + protocol;
  const [start, end] = [at + size, at + total];
  return { v6: false, protocol, start, end, pseudo, unchecked };
}

/** An IPv6 address as RFC 5952 writes it: the longest run of 0s as "::". */
function ipv6Text(view: DataView, at: number): string {
  const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => view.getUint16(at + i));
  const text = groups.map((group) => group.toString(16)).join(":");
  const runs = text.match(/(^|:)0(:0)+(:|$)/g) ?? [];
  const longest = runs.sort((a, b) => b.length - a.length)[0];
  return longest ? text.replace(longest, "::") : text;
}
// deno-fmt-ignore
const EXTENSIONS: Record<number, string> = { 0: "Hop-by-hop options",
  43: "Routing", 44: "Fragment", 60: "Destination options" };

function ipv6(view: DataView, at: number, out: Decoded): Ip | null {
  out.inside = "IPv6 header";
  const first = view.getUint32(at), payload = view.getUint16(at + 4);
  let next = view.getUint8(at + 6);
  const [src, dst] = [ipv6Text(view, at + 8), ipv6Text(view, at + 24)];
  [out.from, out.to] = [`[${src}]`, `[${dst}]`]; // brackets: before a port
  const rows = [
    row("Version", first >>> 28),
    row("Traffic class", `0x${hex(first >> 20 & 0xff, 2)}`),
    row("Flow label", `0x${hex(first & 0xfffff, 5)}`),
    row("Payload length", `${payload} bytes`),
    row("Next header", `${next} (${PROTOCOLS[next] ?? "?"})`),
    row("Hop limit", view.getUint8(at + 7)),
    row("Source", src),
    row("Destination", dst),
  ];
  out.layers.push({ title: "IPv6 (40 bytes)", rows });
  // Extension headers may sit between IPv6 and TCP/UDP: step over each.
  let start = at + 40, unchecked = "";
  for (let count = 0; next in EXTENSIONS && count < 16; count++) {
    out.inside = `IPv6 ${EXTENSIONS[next]} header`;
    const size = next === 44 ? 8 : (view.getUint8(start + 1) + 1) * 8;
    let value = `${size} bytes`;
    if (next === 44) { // Fragment: offset (8-byte units) and "more" bit
      const offset = view.getUint16(start + 2) & 0xfff8;
      const more = view.getUint16(start + 2) & 1;
      value += `, offset ${offset}${more ? ", more follow" : ""}`;
      if (offset) out.what = `IPv6 fragment: bytes from ${offset} on`;
      if (offset || more) unchecked = "this is one fragment of a datagram";
    }
    // A routing header changes the destination that the checksum covers.
    if (next === 43) unchecked = "a routing header changes the destination";
    rows.push(
      row(EXTENSIONS[next], value, "an extension header, stepped over"),
    );
    next = view.getUint8(start);
    start += size;
  }
  if (out.what) return null;
  const pseudo = sum(view, at + 8, at + 40) + next, end = at + 40 + payload;
  return { v6: true, protocol: next, start, end, pseudo, unchecked };
}

// ------------------------------------------------------------ TCP and UDP
// Both checksums cover a pseudo-header (the two addresses, protocol and
// length), the header and the data. The sender writes the value that makes
// it all add up to 0xffff. A receiver that gets another sum knows the
// segment was damaged, and drops it. The book says the checksum is used "to
// detect and fix errors": it DETECTS them. TCP fixes them by sending again.
function checksum(view: DataView, ip: Ip, at: number, out: Decoded) {
  if (ip.unchecked) return `not checked: ${ip.unchecked}`;
  if (ip.end > view.byteLength) return "not checked: the capture cut it";
  const pseudo = ip.pseudo + ip.end - ip.start, stored = view.getUint16(at);
  const total = pseudo + sum(view, ip.start, ip.end);
  if (fold(total) === 0xffff) return "correct";
  let should = ~fold(total - stored) & 0xffff;
  if (should === 0 && ip.protocol === 17) should = 0xffff; // 0: "none"
  // Checksum offload: the system leaves the sum to the network card and
  // puts only the pseudo-header's sum in the field; a capture on the sending
  // computer sees the packet before the card finishes it. Not damage.
  const unfinished = stored === fold(pseudo);
  out.tags.push(unfinished ? "checksum unfinished" : "checksum WRONG");
  const fix = `it should be 0x${hex(should)}`;
  if (unfinished) return `unfinished: checksum offload; ${fix}`;
  return `WRONG: ${fix}; the packet was damaged`;
}

/** The bytes from `start` to `end`, or those of them that were captured. */
const slice = (view: DataView, start: number, end: number) =>
  new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    .subarray(start, Math.max(start, end));
/** The first bytes of some data as text, control characters shown safely. */
function preview(data: Uint8Array, most: number): string {
  if (data.length === 0) return "";
  const text = new TextDecoder().decode(data.subarray(0, most));
  return `"${safe(text)}"${data.length > most ? "…" : ""}`;
}

// TCP (Figure 12.1; the book's text sends you to Figure 12.2, which is
// UDP's). The book calls TCP's pieces "packages" and "datagrams": TCP sends
// segments, each with this header; datagrams are what UDP and IP send.
// The flags, highest bit first, as Figure 12.1 draws them.
const FLAGS = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"];

function tcp(view: DataView, ip: Ip, out: Decoded, flows: Flows) {
  out.inside = "TCP header";
  const at = ip.start, src = view.getUint16(at), dst = view.getUint16(at + 2);
  const [seq, ack] = [view.getUint32(at + 4), view.getUint32(at + 8)];
  const size = (view.getUint8(at + 12) >> 4) * 4, flag = view.getUint8(at + 13);
  const [window, stored, urgent] = [14, 16, 18].map((i) =>
    view.getUint16(at + i)
  );
  view.getUint8(at + Math.max(size, 20) - 1); // the options must be there too
  [out.from, out.to] = [`${out.from}:${src}`, `${out.to}:${dst}`];
  if (size < 20) return void (out.what = "TCP with a broken data offset");
  // Sequence numbers count bytes: each byte sent has a number (and a SYN
  // or a FIN counts as one). The first is random, so like Wireshark we show
  // them relative to it: from 0 at the SYN (from 1 if the capture began
  // later). The book says they number packets: they number bytes.
  const syn = flag >> 1 & 1, fin = flag & 1, acks = flag & 16;
  const key = `${out.from}>${out.to}`, back = `${out.to}>${out.from}`;
  if (!flows.has(key) || (syn && flows.get(key)!.base !== seq)) {
    flows.set(key, { base: syn ? seq : (seq - 1) >>> 0, next: 0, scale: -1 });
  }
  if (!flows.has(back) && acks) {
    flows.set(back, { base: (ack - 1) >>> 0, next: 0, scale: -1 });
  }
  const mine = flows.get(key)!, theirs = flows.get(back);
  const relSeq = (seq - mine.base) >>> 0;
  const relAck = acks && theirs ? (ack - theirs.base) >>> 0 : -1;
  const length = Math.max(0, ip.end - at - size);
  const data = slice(view, at + size, ip.end);
  // Bytes numbered below the next new one were sent before: sent again.
  if ((length || syn || fin) && relSeq < mine.next) out.tags.push("sent again");
  mine.next = Math.max(mine.next, relSeq + length + syn + fin);
  const options = tcpOptions(view, at + 20, at + size, theirs?.base ?? 0);
  const shift = options.find(([name]) => name === "  Window scale")?.[1];
  if (syn) mine.scale = shift ? parseInt(shift) : -1;
  // The window scale applies once both SYNs had one, never to a SYN.
  const scale = !syn && (theirs?.scale ?? -1) >= 0
    ? Math.max(mine.scale, 0)
    : 0;
  const verdict = checksum(view, ip, at + 16, out);
  const names = FLAGS.filter((_, i) => flag & (0x80 >> i));
  const bits = FLAGS.map((name, i) => `${name} ${flag >> (7 - i) & 1}`);
  const scaled = `${window} (× ${2 ** scale} = ${window * 2 ** scale})`;
  out.layers.push({
    title: `TCP (${size} bytes): Figure 12.1`,
    rows: [
      row("Source port", src),
      row("Destination port", dst),
      row("Sequence number", `${relSeq} (relative), ${seq} (absolute)`),
      // deno-fmt-ignore
      row("Acknowledgment number", relAck < 0 ? `${ack} (unused: ACK off)`
        : `${relAck} (relative), ${ack} (absolute)`),
      row("Data offset", `${size / 4} (× 4 = ${size} bytes)`),
      row("Reserved", view.getUint8(at + 12) & 15),
      row("Flags", `0x${hex(flag, 2)} ${names.join(" ")}`, bits.join(" ")),
      row("Window", scale ? scaled : window),
      row("Checksum", `0x${hex(stored)}`, verdict),
      row("Urgent pointer", urgent),
      row("Options", `${size - 20} bytes`),
      ...options,
      row("Data", `${length} bytes`, preview(data, 40)),
    ],
  });
  // The line of the conversation, flags in Wireshark's order: [SYN, ACK].
  const sack = options.find(([name]) => name === "  SACK")?.[1];
  out.what = `[${names.reverse().join(", ")}] seq=${relSeq}`;
  if (relAck >= 0) out.what += ` ack=${relAck}`;
  out.what += ` len=${length}`;
  if (sack) out.what += ` sack=${sack.replaceAll(" ", ",")}`;
  if (length) out.what += ` ${preview(data, 20)}`;
}

// TCP options: a kind byte; then, except for End (0) and NOP (1), a length
// byte (counting kind and length) and the value. SACK's edges number the
// other side's bytes: shown relative to its first (`base`).
function tcpOptions(view: DataView, at: number, end: number, base: number) {
  const rows: Row[] = [];
  while (at < end) {
    const kind = view.getUint8(at), size = kind < 2 ? 1 : view.getUint8(at + 1);
    const u32 = (i: number) => view.getUint32(at + i);
    const broken = kind > 1 && (size < 2 || at + size > end);
    let name = `Option ${kind}`, value = `${size} bytes`;
    if (kind === 0) [name, value] = ["End of options", ""];
    else if (kind === 1) [name, value] = ["NOP", ""];
    else if (broken) value = "broken: the rest is skipped";
    else if (kind === 2 && size === 4) {
      [name, value] = ["MSS", `${view.getUint16(at + 2)} bytes`];
    } else if (kind === 3 && size === 3) {
      const shift = view.getUint8(at + 2);
      [name, value] = ["Window scale", `${shift} (× ${2 ** shift})`];
    } else if (kind === 4 && size === 2) [name, value] = ["SACK permitted", ""];
    else if (kind === 5 && size % 8 === 2) { // blocks: left and right edges
      const edges = [];
      for (let i = 2; i < size; i += 8) {
        edges.push(`${(u32(i) - base) >>> 0}-${(u32(i + 4) - base) >>> 0}`);
      }
      [name, value] = ["SACK", edges.join(" ")];
    } else if (kind === 8 && size === 10) {
      [name, value] = ["Timestamps", `${u32(2)} ${u32(6)}`];
    }
    rows.push(row(`  ${name}`, value));
    if (kind === 0 || broken) break;
    at += size;
  }
  return rows;
}

function udp(view: DataView, ip: Ip, out: Decoded) {
  out.inside = "UDP header";
  const at = ip.start, src = view.getUint16(at), dst = view.getUint16(at + 2);
  const length = view.getUint16(at + 4), stored = view.getUint16(at + 6);
  [out.from, out.to] = [`${out.from}:${src}`, `${out.to}:${dst}`];
  // A checksum of 0 means "none computed": allowed over IPv4, not IPv6.
  let verdict = ip.v6 ? "missing: IPv6 requires one" : "none (allowed on IPv4)";
  if (stored) verdict = checksum(view, ip, at + 6, out);
  const data = slice(view, at + 8, Math.min(at + length, ip.end));
  const carried = ip.end - at; // Length should be what IP carries
  const note = length === carried ? undefined : `but IP carries ${carried}`;
  const bytes = Math.max(0, length - 8);
  out.layers.push({
    title: "UDP (8 bytes): Figure 12.2",
    rows: [
      row("Source port", src),
      row("Destination port", dst),
      row("Length", `${length} bytes`, note),
      row("Checksum", `0x${hex(stored)}`, verdict),
      row("Data", `${bytes} bytes`, preview(data, 40)),
    ],
  });
  out.what = `UDP len=${bytes} ${preview(data, 20)}`;
}

// ------------------------------------------------------------------ views
/** Seconds since the first packet, with as many decimals as the clock. */
function seconds(time: bigint | null, first: bigint | null, digits: number) {
  if (time === null || first === null) return "?".padStart(digits + 2);
  const t = time - first, abs = t < 0n ? -t : t;
  const part = String(abs % 1_000_000_000n).padStart(9, "0").slice(0, digits);
  return `${t < 0n ? "-" : ""}${abs / 1_000_000_000n}.${part}`;
}

// What each tag in the conversation means, said once below it.
const TAGS: Record<string, string> = {
  "cut": "the capture kept the first bytes (its snap length), not all data",
  "sent again": "a retransmission: this copy replaces one that was lost",
  "checksum unfinished": "checksum offload: the card fills it in later",
  "checksum WRONG": "damaged on the way: its receiver drops it",
};

/** View 1: one line per packet, a conversation. */
function conversation(packets: Decoded[]) {
  const width = packets.reduce((most, p) => Math.max(most, p.from.length), 0);
  const used = new Set<string>();
  for (const p of packets) {
    const who = `${p.from.padStart(width)} → ${p.to.padEnd(width)}`;
    const tags = [...new Set(p.tags)].map((tag) => ` [${tag}]`).join("");
    const number = String(p.number).padStart(4);
    console.log(`${number}  ${p.when}  ${who}  ${p.what}${tags}`);
    p.tags.forEach((tag) => used.add(tag));
  }
  for (const tag of used) console.log(`  [${tag}]: ${TAGS[tag]}`);
}

/** View 2: every field of one packet, and what it is for. */
function details(p: Decoded, count: number) {
  const { length, data } = p.packet;
  const kept = data.length < length ? `only ${data.length}` : "all";
  const bytes = `${length} bytes, ${kept} captured`;
  console.log(`Packet ${p.number} of ${count}: ${bytes}, at ${p.when} s`);
  for (const { title, rows } of p.layers) {
    console.log(`  ${title}`);
    for (const [name, value, meaning] of rows) {
      const shown = value.length < 24 ? value.padEnd(24) : `${value}  `;
      console.log(`    ${name.padEnd(23)}${shown}${meaning}`.trimEnd());
    }
  }
}

// View 3: the figures, drawn as RFC 9293 (section 3.1) and RFC 768 draw
// them: 32 bits a row, 2 characters a bit, a box for each field.
type Box = [bits: number, lines: string[]];
const RULER = ` 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1`;
const LINE = "+" + "-+".repeat(32);

function center(text: string, width: number): string {
  if (text.length > width) text = text.slice(0, width - 1) + "…";
  const left = Math.floor((width - text.length) / 2);
  return " ".repeat(left) + text + " ".repeat(width - text.length - left);
}
function draw(title: string, rows: Box[][]) {
  console.log(`${title}\n${RULER}\n${LINE}`);
  for (const boxes of rows) {
    const height = Math.max(...boxes.map(([, lines]) => lines.length));
    for (let i = 0; i < height; i++) {
      const cell = ([bits, lines]: Box) => center(lines[i] ?? "", bits * 2 - 1);
      console.log(`|${boxes.map(cell).join("|")}|`);
    }
    console.log(LINE);
  }
}

function figures(p: Decoded) {
  const layer = p.layers.find(({ title }) => /^(TCP|UDP)/.test(title));
  if (!layer) console.log(`Packet ${p.number} is neither TCP nor UDP.`);
  else {
    const { title, rows } = layer;
    const get = (name: string) => rows.find(([n]) => n === name)?.[1] ?? "";
    const verdict = rows.find(([n]) => n === "Checksum")?.[2] ?? "";
    const ports: Box[] = [[16, ["Source Port", get("Source port")]]];
    ports.push([16, ["Destination Port", get("Destination port")]]);
    const sum: Box = [16, ["Checksum", get("Checksum"), verdict.split(":")[0]]];
    const data = rows.find(([n]) => n === "Data")!;
    const last: Box[] = [[32, ["Data", `${data[1]} ${data[2]}`]]];
    if (title.startsWith("UDP")) {
      draw(`Figure 12.2, the UDP header of packet ${p.number} (RFC 768)`, [
        ports,
        [[16, ["Length", get("Length")]], sum],
        last,
      ]);
    } else {
      const flags = parseInt(get("Flags"), 16);
      const bit = (
        f: string,
        i: number,
      ): Box => [1, [...f, String(flags >> (7 - i) & 1)]];
      const options = rows.filter(([name]) => name.startsWith("  "))
        .map(([name, value]) => `${name.trim()} ${value}`.trim());
      const text = options.join(", ").match(/.{1,60}(, |$)/g) ?? ["none"];
      const offset = get("Data offset").split(" ")[0];
      const caption = "(RFC 9293, section 3.1; the book's RFC 3168 is ECN)";
      draw(`Figure 12.1, the TCP header of packet ${p.number} ${caption}`, [
        ports,
        [[32, ["Sequence Number", get("Sequence number")]]],
        [[32, ["Acknowledgment Number", get("Acknowledgment number")]]],
        // deno-fmt-ignore
        [[4, ["Data", "Offset", offset]], [4, ["Rsrvd", "", get("Reserved")]],
          ...FLAGS.map(bit), [16, ["", "Window", get("Window")]]],
        [sum, [16, ["Urgent Pointer", get("Urgent pointer")]]],
        [[32, ["[Options]", ...text]]],
        last,
      ]);
    }
    if (verdict !== "correct") console.log(`Checksum: ${verdict}.`);
  }
}

// ------------------------------------------------------------------- main
/** The whole file, or one sentence saying why not. */
async function load(path: string | URL, name: string): Promise<Uint8Array> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) exit(1, `${name} is not a file.`);
    if (info.size > 64 << 20) exit(1, `${name} is over 64 MiB: too big here.`);
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      exit(1, `${name}: no such file.`);
    }
    const allow = "run deno run --allow-read chapters/12_2_headers.ts FILE";
    if (error instanceof Deno.errors.NotCapable) {
      exit(1, `Deno was not allowed to read ${name}: ${allow}`);
    }
    exit(1, `${name}: ${error}`);
  }
}

// With no FILE: the greeting capture beside this lesson, wherever it runs.
const greeting = new URL("captures/greeting.pcap", import.meta.url);
for (const file of flags._.length ? flags._.map(String) : [greeting]) {
  let name = "chapters/captures/greeting.pcap";
  if (typeof file === "string") name = safe(file);
  const capture = readCapture(await load(file, name), name);
  const links = [...new Set(capture.packets.map((p) => p.link))];
  const unknown = links.find((link) => !(link in LINKS));
  if (unknown !== undefined) {
    exit(1, `${name} has packets of link type ${unknown}, unknown here.`);
  }
  const flows: Flows = new Map();
  const packets = capture.packets.map((p, i) => decode(p, i + 1, flows));
  const first = capture.packets.find((p) => p.time !== null)?.time ?? null;
  for (const p of packets) {
    p.when = seconds(p.packet.time, first, capture.digits);
  }
  const count = packets.length, kinds = links.map((l) => LINKS[l]).join(", ");
  const many = `${count} packet${count === 1 ? "" : "s"}`;
  console.log(`${name}: ${capture.format}, ${kinds || "no link"}, ${many}`);
  if (only > count) {
    exit(1, `${name} has no packet ${only}: it holds ${count}.`);
  }
  let chosen = only ? [packets[only - 1]] : packets;
  if (flags.figure && flags.packet === undefined) { // the first TCP and UDP
    const firstOf = (kind: string) =>
      packets.find((p) => p.layers.some((l) => l.title.startsWith(kind)));
    chosen = [firstOf("TCP"), firstOf("UDP")].filter((p) => p !== undefined);
  }
  if (flags.figure) chosen.forEach(figures);
  else if (flags.packet) chosen.forEach((p) => details(p, count));
  else conversation(packets);
}
