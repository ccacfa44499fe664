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
  --figure    Figures 12.1 and 12.2 filled in with the first TCP and the
              first UDP packet (with --packet N: with packet N)`;

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
const hex = (n: number, w = 4) => "0x" + n.toString(16).padStart(w, "0");

// ----------------------------------------------------------- the capture
// A capture file is a header, then one record per packet: when it was seen,
// how long it was on the wire, and its bytes, or only the first ones if
// the capture was told to keep fewer (its "snap length").
interface Packet {
  time: bigint | null; // nanoseconds since 1970 (null: the file does not say)
  link: number; // the link type: which header comes first (1 = Ethernet)
  data: Uint8Array; // the bytes captured
  length: number; // the bytes it had on the wire
}
// deno-fmt-ignore
const LINKS: Record<number, string> = {
  0: "BSD loopback", 1: "Ethernet", 12: "raw IP", 101: "raw IP",
  108: "BSD loopback", 113: "Linux cooked v1", 228: "raw IPv4",
  229: "raw IPv6", 276: "Linux cooked v2",
};
const truncated = (name: string, whole: number): never =>
  exit(1, `${name} ends in the middle of packet ${whole + 1} (truncated).`);

function readCapture(bytes: Uint8Array, name: string) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = bytes.length >= 24 ? view.getUint32(0) : 0;
  if (magic === 0x0a0d0d0a) return readPcapng(bytes, view, name);
  if (![0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) {
    exit(1, `${name} is not a packet capture (neither pcap nor pcapng).`);
  }
  // pcap's first 4 bytes say which way round its numbers are written (a1b2
  // read backwards: little-endian, as DataView's second argument says) and
  // whether timestamps count microseconds or nanoseconds (a1b23c4d).
  const little = (magic & 0xff) === 0xa1;
  const u32 = (at: number) => view.getUint32(at, little);
  const nano = (u32(0) & 0xffff) === 0x3c4d, link = u32(20) & 0xffff;
  const packets: Packet[] = [];
  // Each record: seconds, µs (or ns), bytes captured, bytes on the wire.
  for (let at = 24; at < bytes.length;) {
    const size = at + 16 <= bytes.length ? u32(at + 8) : 0;
    if (at + 16 + size > bytes.length) truncated(name, packets.length);
    const part = BigInt(u32(at + 4)) * (nano ? 1n : 1000n);
    const time = BigInt(u32(at)) * 1_000_000_000n + part;
    const data = bytes.subarray(at + 16, at + 16 + size);
    packets.push({ time, link, data, length: u32(at + 12) });
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
    const u32 = (i: number) => view.getUint32(at + i, little);
    if (u32(0) === 0x0a0d0d0a) { // an SHB: its type reads the same both ways
      little = view.getUint32(at + 8, true) === 0x1a2b3c4d;
      interfaces = []; // each section describes its own interfaces
    }
    const type = u32(0), size = u32(4);
    const least = { 1: 20, 3: 16, 6: 32 }[type] ?? 12; // the fixed fields
    if (size < least || size % 4) exit(1, `${name} has a broken block.`);
    if (at + size > bytes.length) truncated(name, packets.length);
    if (type === 1) { // IDB: link type, 2 bytes reserved, snap length, options
      let perSecond = 1_000_000n; // microseconds, unless if_tsresol says
      for (let o = at + 16; o + 4 <= at + size - 4;) { // code, length, value
        // if_tsresol (code 9): 10^-r seconds, or 2^-r if its top bit is set
        const r = view.getUint8(o + 4), power = BigInt(r & 0x7f);
        if (view.getUint16(o, little) === 9) {
          perSecond = r & 0x80 ? 2n ** power : 10n ** power;
        }
        o += 4 + Math.ceil(view.getUint16(o + 2, little) / 4) * 4;
      }
      if (perSecond > 1_000_000n) digits = 9; // finer than microseconds
      const link = view.getUint16(at + 8, little);
      interfaces.push({ link, snap: u32(12), perSecond });
    } else if (type === 6 || type === 3) {
      const epb = type === 6, iface = interfaces[epb ? u32(8) : 0];
      if (!iface) exit(1, `${name} has a packet of an unknown interface.`);
      // EPB: interface, time (high, low 32 bits), captured, length, bytes.
      // SPB: length, bytes (as many as the snap length keeps); no time.
      const length = u32(epb ? 24 : 8), start = at + (epb ? 28 : 12);
      const captured = epb ? u32(20) : Math.min(length, iface.snap || length);
      const units = BigInt(u32(12)) << 32n | BigInt(u32(16));
      const time = epb ? units * 1_000_000_000n / iface.perSecond : null;
      const end = Math.min(start + captured, at + size - 4); // not past it
      const link = iface.link, data = bytes.subarray(start, end);
      packets.push({ time, link, data, length });
    }
    at += size;
  }
  return { format: "pcapng", digits, packets };
}

// -------------------------------------------------------------- decoding
// Each header becomes a layer: a title and its rows, one per field: the
// field's name, its value, and what it is for.
type Row = [name: string, value: string | number, meaning: string];
interface Decoded {
  number: number;
  packet: Packet;
  when: string; // seconds since the first packet
  from: string; // who sent it (an address, then a port)
  to: string;
  what: string; // the rest of its line in the conversation view
  tags: Set<string>; // "cut", "sent again", "checksum unfinished"...
  layers: [title: string, rows: Row[]][];
  figure?: string; // Figure 12.1 or 12.2, drawn with this packet's values
  inside: string; // the header being read, to say where a capture was cut
}
/** The bytes of `view` after its first `at`: the next header starts at 0. */
const after = (view: DataView, at: number) =>
  new DataView(view.buffer, view.byteOffset + at, view.byteLength - at);
/** The bytes from `start` to `end`, or those of them that were captured. */
const slice = (view: DataView, start: number, end: number) =>
  new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    .subarray(start, Math.max(start, end));

/** Decodes one packet, its headers in the order they come. */
function decode(packet: Packet, number: number, when: string): Decoded {
  const { buffer, byteOffset, length } = packet.data;
  const view = new DataView(buffer, byteOffset, length);
  // deno-fmt-ignore
  const out: Decoded = { number, packet, when, from: "?", to: "?", what: "",
    tags: new Set(), layers: [], inside: "link-layer header" };
  if (length < packet.length) out.tags.add("cut");
  // A capture cut short by its snap length may end inside a header: then
  // DataView refuses to read past the end (a RangeError), and we keep what
  // was decoded and say where the bytes ran out.
  try {
    const [type, at] = linkLayer(packet.link, view, out);
    let ip = null;
    if (type === 0x0800) ip = ipv4(after(view, at), out);
    else if (type === 0x86dd) ip = ipv6(after(view, at), out);
    else out.what = `${ETHERTYPES[type] ?? "not IP"} (not decoded here)`;
    if (ip?.protocol === 6) tcp(ip, out);
    else if (ip?.protocol === 17) udp(ip, out);
    else if (ip) out.what = `${PROTOCOLS[ip.protocol] ?? "?"} (not decoded)`;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const where = `the capture ends inside the ${out.inside}`;
    out.tags.add("cut");
    out.what ||= `(${where})`;
    out.layers.push([`And ${where}.`, []]);
  }
  return out;
}

// ------------------------------------------------------------ link layer
// What comes before IP depends on the link type. Each returns the type of
// what follows (an EtherType: 0x0800 IPv4, 0x86dd IPv6) and where it starts.
// deno-fmt-ignore
const ETHERTYPES: Record<number, string> = {
  0x0800: "IPv4", 0x86dd: "IPv6", 0x0806: "ARP", 0x8100: "VLAN",
};
const ethertype = (type: number) => `${hex(type)} (${ETHERTYPES[type] ?? "?"})`;
// A MAC address: its bytes in hex, joined by colons (f2:bf:cb:9e:70:ec).
const mac = (view: DataView, at: number, length = 6) =>
  Array.from({ length }, (_, i) => hex(view.getUint8(at + i), 2).slice(2))
    .join(":");
const KINDS = ["to us", "broadcast", "multicast", "to another host", "by us"];

function linkLayer(link: number, view: DataView, out: Decoded): number[] {
  if (link === 1) { // Ethernet: destination, source, type
    [out.to, out.from] = [mac(view, 0), mac(view, 6)];
    const rows: Row[] = [
      ["Destination MAC", out.to, "the next computer on this cable"],
      ["Source MAC", out.from, "the computer that put it on this cable"],
    ];
    let at = 12; // 802.1Q VLAN tags (4 bytes each) come before the type
    while ([0x8100, 0x88a8].includes(view.getUint16(at)) && at < 44) {
      const tci = view.getUint16(at + 2); // priority (3 bits), 1 bit, VLAN id
      const vlan = `${tci & 0xfff}, priority ${tci >> 13}`;
      rows.push(["VLAN tag", vlan, "which virtual network it is on"]);
      at += 4;
    }
    rows.push(["Type", ethertype(view.getUint16(at)), "what follows"]);
    out.layers.push([`Ethernet (${at + 2} bytes)`, rows]);
    return [view.getUint16(at), at + 2];
  }
  if (link === 113 || link === 276) { // Linux cooked: `tcpdump -i any`
    const v2 = link === 276, size = v2 ? 20 : 16; // v2 says the interface
    const kind = v2 ? view.getUint8(10) : view.getUint16(0);
    const length = Math.min(8, v2 ? view.getUint8(11) : view.getUint16(4));
    const type = view.getUint16(v2 ? 0 : 14);
    out.from = mac(view, v2 ? 12 : 6, length);
    const rows: Row[] = [
      ["Packet type", `${kind} (${KINDS[kind] ?? "?"})`, "which way it went"],
      ["Interface index", view.getUint32(4), "which interface it went by"],
      ["Link-layer address", out.from, "the sender's (MAC) address"],
      ["Type", ethertype(type), "what follows"],
    ];
    if (!v2) rows.splice(1, 1); // v1 has no interface index
    out.layers.push([`Linux cooked v${v2 ? 2 : 1} (${size} bytes)`, rows]);
    return [type, size];
  }
  if (link === 0 || link === 108) { // BSD loopback: 4 bytes, the family, in
    // the byte order of the computer that captured (if huge, swap it).
    const family = view.getUint32(0, view.getUint32(0, true) <= 0xffff);
    let type = [24, 28, 30].includes(family) ? 0x86dd : 0; // IPv6
    if (family === 2) type = 0x0800; // IPv4
    const value = `${family} (${ETHERTYPES[type] ?? "?"})`;
    const rows: Row[] = [["Family", value, "what follows: 2 = IPv4"]];
    out.layers.push(["BSD loopback (4 bytes)", rows]);
    return [type, 4];
  }
  // Raw IP: no link header at all; IP's first 4 bits say which version.
  const version = view.getUint8(0) >> 4;
  return [version === 4 ? 0x0800 : version === 6 ? 0x86dd : 0, 0];
}

// -------------------------------------------------------------------- IP
// What TCP and UDP need from IP: the protocol; `data`, the bytes captured
// from their header on (fewer than IP carries if the capture cut them, more
// if Ethernet padded a short frame); `length`, how many IP says it carries;
// the sum of the pseudo-header (the addresses and the protocol: TCP's and
// UDP's checksums cover these too); and, if the checksum cannot be checked,
// why.
// deno-fmt-ignore
type Ip = { v6: boolean; protocol: number; data: DataView; length: number;
  pseudo: number; unchecked: string };
// deno-fmt-ignore
const PROTOCOLS: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP",
  58: "ICMPv6" };
const protocol = (n: number) => `${n} (${PROTOCOLS[n] ?? "?"})`;

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

function ipv4(h: DataView, out: Decoded): Ip | null {
  out.inside = "IPv4 header";
  const size = (h.getUint8(0) & 15) * 4, tos = h.getUint8(1);
  const total = h.getUint16(2), id = h.getUint16(4), flags = h.getUint16(6);
  const ttl = h.getUint8(8), next = h.getUint8(9), stored = h.getUint16(10);
  h.getUint8(Math.max(size, 20) - 1); // the options must be there too
  const dotted = (at: number) => slice(h, at, at + 4).join(".");
  [out.from, out.to] = [dotted(12), dotted(16)];
  // The header's own checksum: all its words, checksum included, add up to
  // 0xffff. A damaged header adds up to something else; the receiver drops
  // it. The checksum cannot tell which bits changed, so it cannot fix them.
  const all = sum(h, 0, size);
  let verdict = `WRONG: it should be ${hex(~fold(all - stored) & 0xffff)}`;
  if (fold(all) === 0xffff) verdict = "correct";
  else out.tags.add("checksum WRONG");
  const offset = (flags & 0x1fff) * 8, more = flags & 0x2000;
  const names = [flags & 0x4000 ? "DF" : "", more ? "MF" : ""].join(" ");
  const rows: Row[] = [
    ["Version", 4, "4 or 6: IPv4 or IPv6"],
    ["Header length", `${size} bytes`, `${size / 4} words of 4 bytes`],
    ["DSCP, ECN", `${tos >> 2}, ${tos & 3}`, "priority; congestion marks"],
    ["Total length", `${total} bytes`, "this header and all it carries"],
    ["Identification", hex(id), "the same in every fragment of it"],
    ["Flags", names.trim() || "none", "DF: don't fragment; MF: more follow"],
    ["Fragment offset", offset, "where this piece goes, in bytes"],
    ["Time to live", ttl, "each router takes 1 off; at 0 it is dropped"],
    ["Protocol", protocol(next), "what it carries: 6 = TCP, 17 = UDP"],
    ["Header checksum", hex(stored), verdict],
    ["Source", out.from, "the sending computer"],
    ["Destination", out.to, "the receiving computer"],
  ];
  out.layers.push([`IPv4 (${size} bytes)`, rows]);
  if (size < 20 || total < size) out.what = "IPv4 with a broken length field";
  if (offset) out.what = `IPv4 fragment: bytes from ${offset} of a datagram`;
  if (out.what) return null; // (a fragment's TCP/UDP header is in the first)
  const unchecked = more ? "this is one fragment of a larger datagram" : "";
  const pseudo = sum(h, 12, 20) + next, data = after(h, size);
  const length = total - size; // the bytes that IP carries
  return { v6: false, protocol: next, data, length, pseudo, unchecked };
}

// An IPv6 address is 8 groups of 16 bits, written in hex. The URL parser
// writes it the standard way (RFC 5952): the longest run of zero groups as
// "::" (2001:db8:0:0:0:0:0:1 is 2001:db8::1), and in brackets, as it must
// be written before a port.
function ipv6Text(view: DataView, at: number): string {
  const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => view.getUint16(at + i));
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(":")}]`)
    .hostname;
}
// deno-fmt-ignore
const EXTENSIONS: Record<number, string> = { 0: "Hop-by-hop options",
  43: "Routing", 44: "Fragment", 60: "Destination options" };

function ipv6(h: DataView, out: Decoded): Ip | null {
  out.inside = "IPv6 header";
  const first = h.getUint32(0), payload = h.getUint16(4);
  let next = h.getUint8(6);
  [out.from, out.to] = [ipv6Text(h, 8), ipv6Text(h, 24)]; // [2001:db8::1]
  const rows: Row[] = [
    ["Version", first >>> 28, "4 or 6: IPv4 or IPv6"],
    ["Traffic class", hex(first >> 20 & 0xff, 2), "priority; congestion marks"],
    ["Flow label", hex(first & 0xfffff, 5), "marks the packets of one flow"],
    ["Payload length", `${payload} bytes`, "all after this 40-byte header"],
    ["Next header", protocol(next), "an extension header, or TCP, UDP"],
    ["Hop limit", h.getUint8(7), "each router takes 1 off; at 0 it is dropped"],
    ["Source", out.from.slice(1, -1), "the sending computer"],
    ["Destination", out.to.slice(1, -1), "the receiving computer"],
  ];
  out.layers.push(["IPv6 (40 bytes)", rows]);
  // Extension headers may sit between IPv6 and TCP/UDP: step over each.
  let at = 40, unchecked = "";
  for (let count = 0; next in EXTENSIONS && count < 16; count++) {
    out.inside = `IPv6 ${EXTENSIONS[next]} header`;
    const size = next === 44 ? 8 : (h.getUint8(at + 1) + 1) * 8;
    let value = `${size} bytes`;
    if (next === 44) { // Fragment: offset (8-byte units) and "more" bit
      const field = h.getUint16(at + 2), offset = field & 0xfff8;
      const more = field & 1;
      value += `, offset ${offset}${more ? ", more follow" : ""}`;
      if (offset) out.what = `IPv6 fragment: bytes from ${offset} on`;
      if (offset || more) unchecked = "this is one fragment of a datagram";
    }
    // A routing header changes the destination that the checksum covers.
    if (next === 43) unchecked = "a routing header changes the destination";
    rows.push([EXTENSIONS[next], value, "an extension header, stepped over"]);
    next = h.getUint8(at);
    at += size;
  }
  if (out.what) return null;
  const pseudo = sum(h, 8, 40) + next, data = after(h, at);
  const length = 40 + payload - at; // what follows the extension headers
  return { v6: true, protocol: next, data, length, pseudo, unchecked };
}

// ----------------------------------------------------------- TCP and UDP
// Both checksums cover a pseudo-header (the two addresses, protocol and
// length), the header and the data. The sender writes the value that makes
// it all add up to 0xffff. A receiver that gets another sum knows the
// segment was damaged, and drops it. The book says the checksum is used "to
// detect and fix errors": it DETECTS them. TCP fixes them by sending again.
function checksum(ip: Ip, at: number, out: Decoded) {
  if (ip.unchecked) return `not checked: ${ip.unchecked}`;
  if (ip.length > ip.data.byteLength) return "not checked: the capture cut it";
  const pseudo = ip.pseudo + ip.length, stored = ip.data.getUint16(at);
  const total = pseudo + sum(ip.data, 0, ip.length);
  if (fold(total) === 0xffff) return "correct";
  let should = ~fold(total - stored) & 0xffff;
  if (should === 0 && ip.protocol === 17) should = 0xffff; // 0 means "none"
  // Checksum offload: the system leaves the sum to the network card and
  // puts only the pseudo-header's sum in the field; a capture on the sending
  // computer sees the packet before the card finishes it. On loopback (lo)
  // no card ever does: the packet never crosses a wire, so nothing checks it.
  // Not damage.
  const unfinished = stored === fold(pseudo);
  out.tags.add(unfinished ? "checksum unfinished" : "checksum WRONG");
  const fix = `it should be ${hex(should)}`;
  if (unfinished) return `unfinished: checksum offload; ${fix}`;
  return `WRONG: ${fix}; the packet was damaged`;
}

/** The first bytes of some data as text, control characters shown safely. */
function preview(data: Uint8Array, most: number): string {
  if (data.length === 0) return "";
  const text = new TextDecoder().decode(data.subarray(0, most));
  return `"${safe(text)}"${data.length > most ? "…" : ""}`;
}

// Each direction of a connection ("A:port>B:port"): its first sequence
// number, to show numbers from 0 as Wireshark does; the number of the next
// byte not sent yet; and its window scale (-1: none). Emptied for each file.
type Direction = { base: number; next: number; scale: number };
const flows = new Map<string, Direction>();

// TCP (Figure 12.1; the book's text sends you to Figure 12.2, which is
// UDP's). The book calls TCP's pieces "packages" and "datagrams": TCP sends
// segments, each with this header; datagrams are what UDP and IP send.
// The flags, highest bit first, as Figure 12.1 draws them.
const FLAGS = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"];

function tcp(ip: Ip, out: Decoded) {
  out.inside = "TCP header";
  const t = ip.data, src = t.getUint16(0), dst = t.getUint16(2);
  const seq = t.getUint32(4), ack = t.getUint32(8), flag = t.getUint8(13);
  const size = (t.getUint8(12) >> 4) * 4, reserved = t.getUint8(12) & 15;
  const [window, stored, urgent] = [14, 16, 18].map((i) => t.getUint16(i));
  t.getUint8(Math.max(size, 20) - 1); // the options must be there too
  [out.from, out.to] = [`${out.from}:${src}`, `${out.to}:${dst}`];
  if (size < 20) out.what = "TCP with a broken data offset";
  if (size < 20) return;
  // Sequence numbers count bytes: each byte sent has a number (and a SYN
  // or a FIN counts as one). The first is chosen unpredictably (RFC 9293,
  // 3.4.1), so like Wireshark we show them relative to it: from 0 at the SYN
  // (from 1 if the capture began later). The book says they number packets: they number bytes. They are
  // 32-bit numbers that wrap around after 4,294,967,295; `>>> 0` keeps each
  // difference in that range (0 - 1 becomes 4294967295, not -1).
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
  const length = Math.max(0, ip.length - size);
  const data = slice(t, size, ip.length);
  // Bytes numbered below the next new one were sent before: sent again.
  if ((length || syn || fin) && relSeq < mine.next) out.tags.add("sent again");
  mine.next = Math.max(mine.next, relSeq + length + syn + fin);
  const options = tcpOptions(t, size, theirs?.base ?? 0);
  // Window scale: a SYN may say "multiply my Window by 2^n from now on".
  // That counts once both SYNs said it, and never for a SYN itself.
  const shift = options.find(([name]) => name === "  Window scale");
  if (syn) mine.scale = shift ? parseInt(String(shift[1])) : -1;
  const both = Math.min(mine.scale, theirs?.scale ?? -1) >= 0;
  const factor = !syn && both ? 2 ** mine.scale : 1;
  const scaled = `${window} (× ${factor} = ${window * factor})`;
  const windowText = factor > 1 ? scaled : window;
  const verdict = checksum(ip, 16, out);
  const on = FLAGS.map((_, i) => flag >> (7 - i) & 1); // each flag's bit
  const names = FLAGS.filter((_, i) => on[i]);
  const bits = FLAGS.map((name, i) => `${name} ${on[i]}`).join(" ");
  const seqText = `${relSeq} (relative), ${seq} (absolute)`;
  let ackText = `${relAck} (relative), ${ack} (absolute)`;
  if (relAck < 0) ackText = `${ack} (unused: ACK off)`;
  const text = preview(data, 40);
  const rows: Row[] = [
    ["Source port", src, "the sending program"],
    ["Destination port", dst, "the receiving program"],
    ["Sequence number", seqText, "its first byte's number: it counts BYTES"],
    ["Acknowledgment number", ackText, "next byte it wants from the other"],
    ["Data offset", `${size / 4} (× 4 = ${size} bytes)`, "where data starts"],
    ["Reserved", reserved, "for future use: 0"],
    ["Flags", `${hex(flag, 2)} ${names.join(" ")}`, bits],
    ["Window", windowText, "how many more bytes it can take now"],
    ["Checksum", hex(stored), verdict],
    ["Urgent pointer", urgent, "where urgent data ends, if URG (rare)"],
    ["Options", `${size - 20} bytes`, "extras, most of them agreed in SYNs"],
    ...options,
    ["Data", `${length} bytes`, text],
  ];
  out.layers.push([`TCP (${size} bytes): Figure 12.1`, rows]);
  // Figure 12.1 as RFC 9293 draws it, this segment's values in the boxes.
  // The options, in lines of 60 characters at most, to fit their box.
  const listed = options.map(([name, value]) => `${name} ${value}`.trim());
  const lines = listed.join(", ").match(/.{1,60}(, |$)/g) ?? ["none"];
  // A flag is 1 bit wide: its name is written downwards, then its bit.
  const flagBoxes = FLAGS.map((name, i): Box => [1, ...name, on[i]]);
  const title = `Figure 12.1, the TCP header of packet ${out.number} ` +
    "(RFC 9293, section 3.1; the book's RFC 3168 is ECN)";
  // deno-fmt-ignore
  out.figure = draw(title, [
    [[16, "Source Port", src], [16, "Destination Port", dst]],
    [[32, "Sequence Number", seqText]],
    [[32, "Acknowledgment Number", ackText]],
    [[4, "Data", "Offset", size / 4], [4, "Rsrvd", "", reserved],
      ...flagBoxes, [16, "", "Window", windowText]],
    [[16, "Checksum", hex(stored), verdict.split(":")[0]],
      [16, "Urgent Pointer", urgent]],
    [[32, "[Options]", ...lines]],
    [[32, "Data", `${length} bytes ${text}`]],
  ], verdict);
  // The line of the conversation, flags in Wireshark's order: [SYN, ACK].
  const sack = options.find(([name]) => name === "  SACK")?.[1];
  out.what = `[${names.reverse().join(", ")}] seq=${relSeq}`;
  if (relAck >= 0) out.what += ` ack=${relAck}`;
  out.what += ` len=${length}`;
  if (sack) out.what += ` sack=${String(sack).replaceAll(" ", ",")}`;
  if (length) out.what += ` ${preview(data, 20)}`;
}

// TCP options: a kind byte; then, except for End (0) and NOP (1), a length
// byte (counting kind and length) and the value. Those shown here, with
// their length (SACK's: 2 + 8 for each block) and what they are for:
// deno-fmt-ignore
const OPTIONS: Record<number, [name: string, size: number, meaning: string]> = {
  0: ["End of options", 1, "what follows is padding"],
  1: ["NOP", 1, "no-operation: lines the next option up"],
  2: ["MSS", 4, "maximum segment size: the most data I take in one"],
  3: ["Window scale", 3, "multiply my Window by 2^this (from now on)"],
  4: ["SACK permitted", 2, "tell me which later bytes came if some are lost"],
  5: ["SACK", 0, "bytes received beyond a gap (relative numbers)"],
  8: ["Timestamps", 10, "my clock, and the latest value I saw from you"],
};

function tcpOptions(t: DataView, end: number, base: number): Row[] {
  const rows: Row[] = [];
  for (let at = 20; at < end;) {
    const kind = t.getUint8(at), size = kind < 2 ? 1 : t.getUint8(at + 1);
    const broken = kind > 1 && (size < 2 || at + size > end);
    const fits = kind === 5 ? size % 8 === 2 : size === OPTIONS[kind]?.[1];
    let row: Row = [`  Option ${kind}`, `${size} bytes`, "not decoded here"];
    if (broken) row[1] = "broken: the rest is skipped";
    else if (fits) {
      const o = after(t, at), [name, , meaning] = OPTIONS[kind];
      // SACK's edges number the other side's bytes: relative to its first.
      const edge = (i: number) => (o.getUint32(i) - base) >>> 0;
      let value = "";
      if (kind === 2) value = `${o.getUint16(2)} bytes`;
      if (kind === 3) value = `${o.getUint8(2)} (× ${2 ** o.getUint8(2)})`;
      for (let i = 2; kind === 5 && i < size; i += 8) {
        value += ` ${edge(i)}-${edge(i + 4)}`;
      }
      if (kind === 8) value = `${o.getUint32(2)} ${o.getUint32(6)}`;
      row = [`  ${name}`, value.trim(), meaning];
    }
    rows.push(row);
    if (kind === 0 || broken) break;
    at += size;
  }
  return rows;
}

function udp(ip: Ip, out: Decoded) {
  out.inside = "UDP header";
  const u = ip.data, src = u.getUint16(0), dst = u.getUint16(2);
  const length = u.getUint16(4), stored = u.getUint16(6);
  [out.from, out.to] = [`${out.from}:${src}`, `${out.to}:${dst}`];
  // A checksum of 0 means "none computed": allowed over IPv4, not IPv6.
  let verdict = ip.v6 ? "missing: IPv6 requires one" : "none (allowed on IPv4)";
  if (stored) verdict = checksum(ip, 6, out);
  // Length counts bytes, the header's 8 too; it should be what IP carries.
  let note = "8 of header + the data, in BYTES (the book says bits)";
  if (length !== ip.length) note = `but IP carries ${ip.length}`;
  const data = slice(u, 8, Math.min(length, ip.length));
  const bytes = Math.max(0, length - 8), text = preview(data, 40);
  const rows: Row[] = [
    ["Source port", src, "the sending program"],
    ["Destination port", dst, "the receiving program"],
    ["Length", `${length} bytes`, note],
    ["Checksum", hex(stored), verdict],
    ["Data", `${bytes} bytes`, text],
  ];
  out.layers.push(["UDP (8 bytes): Figure 12.2", rows]);
  // Figure 12.2 as RFC 768 draws it, this datagram's values in the boxes.
  const title = `Figure 12.2, the UDP header of packet ${out.number} (RFC 768)`;
  // deno-fmt-ignore
  out.figure = draw(title, [
    [[16, "Source Port", src], [16, "Destination Port", dst]],
    [[16, "Length", `${length} bytes`],
      [16, "Checksum", hex(stored), verdict.split(":")[0]]],
    [[32, "Data", `${bytes} bytes ${text}`]],
  ], verdict);
  out.what = `UDP len=${bytes}`;
  if (bytes) out.what += ` ${preview(data, 20)}`;
}

// The figures, drawn as RFC 9293 and RFC 768 draw them: 32 bits a row, 2
// characters a bit, a box for each field: its width in bits, its lines.
type Box = [bits: number, ...lines: (string | number)[]];
const RULER = ` 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1`;
const LINE = "+" + "-+".repeat(32);

function draw(title: string, rows: Box[][], verdict: string): string {
  const lines = [title, RULER, LINE];
  for (const boxes of rows) {
    const height = Math.max(...boxes.map((box) => box.length - 1));
    for (let i = 1; i <= height; i++) {
      const cell = (box: Box) => center(String(box[i] ?? ""), box[0] * 2 - 1);
      lines.push(`|${boxes.map(cell).join("|")}|`);
    }
    lines.push(LINE);
  }
  if (verdict !== "correct") lines.push(`Checksum: ${verdict}.`);
  return lines.join("\n");
}
function center(text: string, width: number): string {
  if (text.length > width) text = text.slice(0, width - 1) + "…";
  const left = Math.floor((width - text.length) / 2);
  return text.padStart(left + text.length).padEnd(width);
}

// ----------------------------------------------------------------- views
// What each tag in the conversation means, said once below it.
const TAGS: Record<string, string> = {
  "cut": "the capture kept the first bytes (its snap length), not all data",
  "sent again": "a retransmission: this copy replaces one that was lost",
  "checksum unfinished": "checksum offload: left to the card (on lo, to none)",
  "checksum WRONG": "damaged on the way: its receiver drops it",
};

/** View 1: one line per packet, a conversation. */
function conversation(packets: Decoded[]) {
  const width = packets.reduce((most, p) => Math.max(most, p.from.length), 0);
  for (const p of packets) {
    const who = `${p.from.padStart(width)} → ${p.to.padEnd(width)}`;
    const tags = [...p.tags].map((tag) => ` [${tag}]`).join("");
    const number = String(p.number).padStart(4);
    console.log(`${number}  ${p.when}  ${who}  ${p.what}${tags}`);
  }
  for (const tag of new Set(packets.flatMap((p) => [...p.tags]))) {
    console.log(`  [${tag}]: ${TAGS[tag]}`);
  }
}

/** View 2: every field of one packet, and what it is for. */
function details(p: Decoded, count: number) {
  const { length, data } = p.packet;
  const kept = data.length < length ? `only ${data.length}` : "all";
  const bytes = `${length} bytes, ${kept} captured`;
  console.log(`Packet ${p.number} of ${count}: ${bytes}, at ${p.when} s`);
  for (const [title, rows] of p.layers) {
    console.log(`  ${title}`);
    for (const [name, value, meaning] of rows) {
      const shown = `${String(value).padEnd(22)}  ${meaning}`;
      console.log(`    ${name.padEnd(23)}${shown}`.trimEnd());
    }
  }
}

// ------------------------------------------------------------------ main
/** The whole file, or one sentence saying why not. */
async function load(path: string | URL, name: string): Promise<Uint8Array> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) exit(1, `${name} is not a file.`);
    if (info.size > 64 << 20) exit(1, `${name} is over 64 MiB: too big here.`);
    return await Deno.readFile(path);
  } catch (error) {
    const missing = `${name}: no such file.`;
    if (error instanceof Deno.errors.NotFound) exit(1, missing);
    // Like the other lessons: the command in brackets, no period after it.
    const allow = "to allow it: deno run --allow-read chapters/12_2_headers.ts";
    if (error instanceof Deno.errors.NotCapable) {
      exit(1, `Deno was not allowed to read ${name} (${allow} FILE)`);
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
  const why = `${name} has packets of link type ${unknown}, unknown here.`;
  if (unknown !== undefined) exit(1, why);
  flows.clear();
  // Seconds since the first packet, with as many decimals as the clock has.
  const first = capture.packets.find((p) => p.time !== null)?.time ?? 0n;
  const seconds = (time: bigint | null) =>
    time === null ? "?" : (Number(time - first) / 1e9).toFixed(capture.digits);
  const when = (p: Packet) => seconds(p.time).padStart(capture.digits + 2);
  const packets = capture.packets.map((p, i) => decode(p, i + 1, when(p)));
  const count = packets.length, kinds = links.map((l) => LINKS[l]).join(", ");
  const many = `${count} packet${count === 1 ? "" : "s"}`;
  console.log(`${name}: ${capture.format}, ${kinds || "no link"}, ${many}`);
  const none = `${name} has no packet ${only}: it holds ${count}.`;
  if (only > count) exit(1, none);
  let chosen = only ? [packets[only - 1]] : packets;
  if (flags.figure && flags.packet === undefined) { // the first TCP and UDP
    const firstOf = (figure: string) =>
      packets.find((p) => p.figure?.startsWith(`Figure ${figure},`));
    chosen = [firstOf("12.1"), firstOf("12.2")].filter((p) => p !== undefined);
  }
  const neither = (p: Decoded) => `Packet ${p.number} is neither TCP nor UDP.`;
  if (flags.figure) chosen.forEach((p) => console.log(p.figure ?? neither(p)));
  else if (flags.packet) chosen.forEach((p) => details(p, count));
  else conversation(packets);
}
