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
 *   chapters/captures/greeting.pcap: pcap (microseconds), Ethernet
 *      1  0.000000  10.77.0.2:46676 → 10.77.0.1:10001  [SYN] seq=0 len=0
 *      2  0.000072  10.77.0.1:10001 → 10.77.0.2:46676  [SYN, ACK] seq=0 a…
 *      3  0.000089  10.77.0.2:46676 → 10.77.0.1:10001  [ACK] seq=1 ack=1 len=0
 *      4  0.007420  10.77.0.1:10001 → 10.77.0.2:46676  [PSH, ACK] seq=1 a…
 *
 * (Lines 2 and 4 are cut at "a…" here.) --packet 4 shows each field of
 * packet 4 and its meaning; --figure draws Figures 12.1 and 12.2 with its
 * values in the boxes. Also in chapters/captures/: udp.pcap, lossy.pcap
 * (segments lost, sent again), loopback-offload.pcap (unfinished checksums).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { files, only, details, figure } = commandLine(); // flags: see the end

for (const [path, name] of files) {
  // Deno.open only opens the file: its bytes are read 1 MiB at a time, as
  // its packets are shown, so a capture of any size takes little memory.
  // "-" is the standard input, shown as it comes (`tcpdump -U -w - | ...`).
  const file = path === "-"
    ? Deno.stdin
    : await Deno.open(path).catch((error) => cannotRead(error, name));
  const capture = await openCapture(pieces(file, name), name);
  const flows = new Map<string, Direction>(); // TCP's numbers: see tcp()
  const seen = new Set<string>(); // the tags explained, the figures drawn
  let count = 0, width = 0, first: bigint | null = null;
  while (only === 0 || count < only) { // --packet N: nothing after N
    const packet = await capture.next(); // null at the end of the file
    if (count === 0) console.log(`${name}: ${capture.about.join(", ")}`);
    if (packet === null) break;
    count++;
    const p = decode(packet, count, flows);
    first ??= packet.time;
    if (count < only) continue; // decoded for its sequence numbers only
    // Seconds since the first packet, with as many decimals as the clock.
    let when = "?".padStart(capture.digits + 2); // the file has no time
    const seconds = Number((packet.time ?? 0n) - (first ?? 0n)) / 1e9;
    if (packet.time !== null) when = seconds.toFixed(capture.digits);
    const kind = p.figure?.slice(0, 11); // "Figure 12.1" or "Figure 12.2"
    const neither = `Packet ${count} is neither TCP nor UDP.`;
    if (figure && details) console.log(p.figure ?? neither);
    else if (figure && kind && !seen.has(kind)) console.log(p.figure);
    else if (details) showDetails(p, when);
    else if (!figure) { // the conversation, one line per packet
      width = Math.max(width, p.from.length);
      const who = `${p.from.padStart(width)} → ${p.to.padEnd(width)}`;
      const tags = [...p.tags].map((tag) => ` [${tag}]`).join("");
      const number = String(count).padStart(4);
      console.log(`${number}  ${when}  ${who}  ${p.what}${tags}`);
      for (const tag of p.tags) { // explained below the first that has it
        if (!seen.has(tag)) console.log(`  [${tag}]: ${explain(tag)}`);
        seen.add(tag);
      }
    }
    if (kind) seen.add(kind);
    if (figure && !details && seen.size === 2) break; // one TCP, one UDP
  }
  const none = `${name} has no packet ${only}: it holds ${count}.`;
  if (count < only) exit(1, none);
  if (file !== Deno.stdin) file.close();
}

// ----------------------------------------------------------- the capture
// A capture file is a header, then one record per packet: when it was seen,
// how long it was on the wire, and its bytes, or only the first ones if
// the capture was told to keep fewer (its "snap length"). A packet: its
// time in nanoseconds since 1970 (null: the file does not say), its link
// type (which header comes first: 1 = Ethernet), the bytes captured, and
// how many it had on the wire.
// deno-fmt-ignore
type Packet = { time: bigint | null; link: number; data: Uint8Array;
  length: number };
type Take = (n: number, peek?: boolean) => Promise<Uint8Array | null>;

/**
 * The file in pieces, read 1 MiB at a time: `take(n)` gives its next n
 * bytes, or null where the file ends (`take(n, true)` the same, but does
 * not move past them). Each is a view of one buffer, good until the next.
 */
function pieces(file: Deno.FsFile | typeof Deno.stdin, name: string): Take {
  let buffer = new Uint8Array(1 << 20), start = 0, end = 0;
  return async (n: number, peek = false) => {
    if (end - start < n) { // move the bytes left to the front, read more
      const left = buffer.subarray(start, end);
      if (n > buffer.length) buffer = new Uint8Array(n);
      buffer.set(left);
      [start, end] = [0, left.length];
      while (end < n) {
        const read = await file.read(buffer.subarray(end))
          .catch((error) => cannotRead(error, name));
        if (read === null) break;
        end += read;
      }
    }
    if (end === start) return null; // the end of the file, between packets
    const cut = `${name} ends in the middle of a packet (it was cut short).`;
    if (end - start < n) exit(1, cut);
    start += peek ? 0 : n;
    return buffer.subarray(start - (peek ? 0 : n), start + (peek ? n : 0));
  };
}
function dataView(bytes: Uint8Array) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}
/** The link type's name (an unknown one ends the program). */
function linkName(link: number, name: string): string {
  // deno-fmt-ignore
  return { 0: "BSD loopback", 1: "Ethernet", 12: "raw IP", 101: "raw IP",
    108: "BSD loopback", 113: "Linux cooked v1", 228: "raw IPv4",
    229: "raw IPv6", 276: "Linux cooked v2" }[link] ??
    exit(1, `${name} has packets of link type ${link}, unknown here.`);
}

/** The capture's format and link types, its clock, and its next packet. */
async function openCapture(take: Take, name: string) {
  const head = await take(4, true);
  const magic = head ? dataView(head).getUint32(0) : 0;
  if (magic === 0x0a0d0d0a) return pcapng(take, name);
  if (![0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) {
    exit(1, `${name} is not a packet capture (neither pcap nor pcapng).`);
  }
  // pcap's first 4 bytes say which way round its numbers are written (a1b2
  // read backwards: little-endian, as DataView's second argument says) and
  // whether timestamps count microseconds or nanoseconds (a1b23c4d).
  const view = dataView((await take(24))!), little = (magic & 0xff) === 0xa1;
  const nano = (view.getUint32(0, little) & 0xffff) === 0x3c4d;
  const link = view.getUint32(20, little) & 0xffff;
  const unit = nano ? "nanoseconds" : "microseconds";
  const about = [`pcap (${unit})`, linkName(link, name)];
  // Each record: seconds, µs (or ns), bytes captured, bytes on the wire.
  async function next(): Promise<Packet | null> {
    const head = await take(16, true);
    if (head === null) return null;
    const r = dataView(head), u32 = (at: number) => r.getUint32(at, little);
    const part = BigInt(u32(4)) * (nano ? 1n : 1000n), length = u32(12);
    const time = BigInt(u32(0)) * 1_000_000_000n + part, size = u32(8);
    // No link carries a packet of 16 MiB: a record that says so is broken.
    if (size > 1 << 24) exit(1, `${name} has a broken record.`);
    const data = (await take(16 + size))!.subarray(16);
    return { time, link, data, length };
  }
  return { about, digits: nano ? 9 : 6, next };
}

// pcapng is a chain of blocks: type, length, body, length again. A Section
// Header Block (SHB) says the byte order; an Interface Description Block
// (IDB) gives one interface's link type and clock; each Enhanced Packet
// Block (EPB) or Simple Packet Block (SPB) holds a packet. Others: skipped.
function pcapng(take: Take, name: string) {
  let little = true;
  let interfaces: { link: number; perSecond: bigint }[] = [];
  const capture = { about: ["pcapng"], digits: 6, next };
  async function next(): Promise<Packet | null> {
    while (true) {
      const head = await take(12, true);
      if (head === null) return null;
      const h = dataView(head);
      if (h.getUint32(0) === 0x0a0d0d0a) { // SHB: reads the same both ways
        little = h.getUint32(8, true) === 0x1a2b3c4d;
        interfaces = []; // each section describes its own interfaces
      }
      const type = h.getUint32(0, little), size = h.getUint32(4, little);
      const least = { 1: 20, 3: 16, 6: 32 }[type] ?? 12; // the fixed fields
      const broken = size < least || size % 4 || size > 1 << 24;
      if (broken) exit(1, `${name} has a broken block.`);
      const block = (await take(size))!, view = dataView(block);
      const u32 = (i: number) => view.getUint32(i, little);
      if (type === 1) { // IDB: link type, reserved, snap length, options
        let perSecond = 1_000_000n; // microseconds, unless if_tsresol says
        for (let o = 16; o + 4 <= size - 4;) { // code, length, value
          // if_tsresol (code 9): 10^-r seconds, or 2^-r if its top bit is set
          const r = view.getUint8(o + 4), power = BigInt(r & 0x7f);
          if (view.getUint16(o, little) === 9) {
            perSecond = r & 0x80 ? 2n ** power : 10n ** power;
          }
          o += 4 + Math.ceil(view.getUint16(o + 2, little) / 4) * 4;
        }
        if (perSecond > 1_000_000n) capture.digits = 9; // finer than µs
        const link = view.getUint16(8, little), kind = linkName(link, name);
        interfaces.push({ link, perSecond });
        if (!capture.about.includes(kind)) capture.about.push(kind);
      } else if (type === 6 || type === 3) {
        const epb = type === 6, iface = interfaces[epb ? u32(8) : 0];
        if (!iface) exit(1, `${name} has a packet of an unknown interface.`);
        // EPB: interface, time (high, low 32 bits), captured, length, bytes.
        // SPB: length, bytes (as many as the snap length kept); no time.
        const length = u32(epb ? 24 : 8), start = epb ? 28 : 12;
        const units = BigInt(u32(12)) << 32n | BigInt(u32(16));
        const time = epb ? units * 1_000_000_000n / iface.perSecond : null;
        const end = Math.min(start + (epb ? u32(20) : length), size - 4);
        const data = block.subarray(start, end); // not past the block
        return { time, link: iface.link, data, length };
      }
    }
  }
  return capture;
}

// -------------------------------------------------------------- decoding
// Each header becomes a layer: a title and its rows, one per field: the
// field's name, its value, and what it is for (made only if they are shown).
// A packet decoded: its number, who sent it to whom (addresses, then
// ports), the rest of its line in the conversation, its tags ("cut",
// "sent again"...), its layers, Figure 12.1 or 12.2 with its values (with
// --figure), and the header being read (to say where the bytes ran out).
type Row = [name: string, value: string | number, meaning: string];
// deno-fmt-ignore
interface Decoded { number: number; packet: Packet; from: string; to: string;
  what: string; tags: Set<string>; layers: [string, () => Row[]][];
  figure?: string; inside: string }
/** The bytes of `view` after its first `at`: the next header starts at 0. */
function after(view: DataView, at: number) {
  return new DataView(view.buffer, view.byteOffset + at, view.byteLength - at);
}
/** The bytes from `start` to `end`, or those of them that were captured. */
function slice(view: DataView, start: number, end: number) {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    .subarray(start, Math.max(start, end));
}

/** Decodes one packet, its headers in the order they come. */
function decode(packet: Packet, number: number, flows: Map<string, Direction>) {
  const view = dataView(packet.data), cut = view.byteLength < packet.length;
  // deno-fmt-ignore
  const out: Decoded = { number, packet, from: "?", to: "?", what: "",
    layers: [], tags: new Set(), inside: "link-layer header" };
  if (cut) out.tags.add("cut");
  // A capture cut short by its snap length may end inside a header: then
  // DataView refuses to read past the end (a RangeError), and we keep what
  // was decoded and say where the bytes ran out. A packet that was whole and
  // still ends inside a header is malformed: it is shorter than its headers.
  try {
    const [type, at] = linkLayer(packet.link, view, out);
    const wire = packet.length - at; // the bytes IP had on the wire
    let ip = null;
    if (type === 0x0800) ip = ipv4(after(view, at), wire, out);
    else if (type === 0x86dd) ip = ipv6(after(view, at), wire, out);
    else out.what = `${etherName(type)} (not decoded here)`;
    if (ip?.protocol === 6) tcp(ip, flows, out);
    else if (ip?.protocol === 17) udp(ip, out);
    else if (ip) out.what = `protocol ${protocol(ip.protocol)}, not decoded`;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const whole = cut ? "capture" : "packet"; // cut short, or malformed
    const where = `the ${whole} ends inside the ${out.inside}`;
    out.tags.add(cut ? "cut" : "malformed");
    out.what ||= `(${where})`;
    out.layers.push([`And ${where}.`, () => []]);
  }
  return out;
}

// ------------------------------------------------------------ link layer
// What comes before IP depends on the link type. Each returns the type of
// what follows (an EtherType: 0x0800 IPv4, 0x86dd IPv6) and where it starts.
function etherName(type: number): string {
  // deno-fmt-ignore
  const names: Record<number, string> = { 0x0800: "IPv4", 0x86dd: "IPv6",
    0x0806: "ARP", 0x8100: "VLAN" };
  return names[type] ?? "?";
}
/** A MAC address: its bytes in hex, joined by colons (f2:bf:cb:9e:70:ec). */
function mac(view: DataView, at: number, length = 6) {
  const bytes = Array.from({ length }, (_, i) => view.getUint8(at + i));
  return bytes.map((byte) => byte.toString(16).padStart(2, "0")).join(":");
}

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
    const type = view.getUint16(at), name = etherName(type);
    rows.push(["Type", `${hex(type)} (${name})`, "what follows"]);
    out.layers.push([`Ethernet (${at + 2} bytes)`, () => rows]);
    return [type, at + 2];
  }
  if (link === 113 || link === 276) { // Linux cooked: `tcpdump -i any`
    const v2 = link === 276, size = v2 ? 20 : 16; // v2 says the interface
    const kind = v2 ? view.getUint8(10) : view.getUint16(0);
    const length = Math.min(8, v2 ? view.getUint8(11) : view.getUint16(4));
    const type = view.getUint16(v2 ? 0 : 14), name = etherName(type);
    const kinds = ["to us", "broadcast", "multicast", "to others", "by us"];
    out.from = mac(view, v2 ? 12 : 6, length);
    const rows: Row[] = [
      ["Packet type", `${kind} (${kinds[kind] ?? "?"})`, "which way it went"],
      ["Interface index", view.getUint32(4), "which interface it went by"],
      ["Link-layer address", out.from, "the sender's (MAC) address"],
      ["Type", `${hex(type)} (${name})`, "what follows"],
    ];
    if (!v2) rows.splice(1, 1); // v1 has no interface index
    const title = `Linux cooked v${v2 ? 2 : 1} (${size} bytes)`;
    out.layers.push([title, () => rows]);
    return [type, size];
  }
  if (link === 0 || link === 108) { // BSD loopback: 4 bytes, the family, in
    // the byte order of the computer that captured (if huge, swap it).
    const family = view.getUint32(0, view.getUint32(0, true) <= 0xffff);
    let type = [24, 28, 30].includes(family) ? 0x86dd : 0; // IPv6
    if (family === 2) type = 0x0800; // IPv4
    const value = `${family} (${etherName(type)})`;
    const rows: Row[] = [["Family", value, "what follows: 2 = IPv4"]];
    out.layers.push(["BSD loopback (4 bytes)", () => rows]);
    return [type, 4];
  }
  // Raw IP: no link header at all; IP's first 4 bits say which version.
  const version = view.getUint8(0) >> 4;
  return [version === 4 ? 0x0800 : version === 6 ? 0x86dd : 0, 0];
}

// -------------------------------------------------------------------- IP
// What TCP and UDP need from IP: the protocol; `data`, the bytes captured
// from their header on (fewer than IP carries if the capture cut them, more
// if Ethernet padded a short frame); `length`, how many IP carries; the sum
// of the pseudo-header (the addresses and the protocol: TCP's and UDP's
// checksums cover these too); whether it is the first fragment of a bigger
// datagram; and, if the checksum cannot be checked, why.
// deno-fmt-ignore
type Ip = { v6: boolean; protocol: number; data: DataView; length: number;
  pseudo: number; fragment: boolean; unchecked: string };
function protocol(n: number) {
  // deno-fmt-ignore
  const names: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP",
    58: "ICMPv6" };
  return `${n} (${names[n] ?? "?"})`;
}

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
/** A length that does not fit the bytes around it: said, not believed. */
function wrong(out: Decoded, text: string) {
  out.tags.add("malformed");
  return `WRONG: ${text}`;
}

function ipv4(h: DataView, wire: number, out: Decoded): Ip | null {
  out.inside = "IPv4 header";
  const size = (h.getUint8(0) & 15) * 4, tos = h.getUint8(1);
  const total = h.getUint16(2), id = h.getUint16(4), flags = h.getUint16(6);
  const ttl = h.getUint8(8), next = h.getUint8(9), stored = h.getUint16(10);
  h.getUint8(Math.max(size, 20) - 1); // the options must be there too
  const from = slice(h, 12, 16).join("."), to = slice(h, 16, 20).join(".");
  [out.from, out.to] = [from, to];
  // The header's own checksum: all its words, checksum included, add up to
  // 0xffff. A damaged header adds up to something else; the receiver drops
  // it. The checksum cannot tell which bits changed, so it cannot fix them.
  const all = sum(h, 0, size);
  let verdict = `WRONG: it should be ${hex(~fold(all - stored) & 0xffff)}`;
  if (fold(all) === 0xffff) verdict = "correct";
  else out.tags.add("checksum WRONG");
  const offset = (flags & 0x1fff) * 8, more = flags & 0x2000;
  const names = [flags & 0x4000 ? "DF" : "", more ? "MF" : ""].join(" ");
  // More bytes than the packet had on the wire: the Total length is wrong.
  let meaning = "this header and all it carries";
  if (total > wire) meaning = wrong(out, `the packet holds only ${wire} bytes`);
  const rows = (): Row[] => [
    ["Version", 4, "4 or 6: IPv4 or IPv6"],
    ["Header length", `${size} bytes`, `${size / 4} words of 4 bytes`],
    ["DSCP, ECN", `${tos >> 2}, ${tos & 3}`, "priority; congestion marks"],
    ["Total length", `${total} bytes`, meaning],
    ["Identification", hex(id), "the same in every fragment of it"],
    ["Flags", names.trim() || "none", "DF: don't fragment; MF: more follow"],
    ["Fragment offset", offset, "where this piece goes, in bytes"],
    ["Time to live", ttl, "each router takes 1 off; at 0 it is dropped"],
    ["Protocol", protocol(next), "what it carries: 6 = TCP, 17 = UDP"],
    ["Header checksum", hex(stored), verdict],
    ["Source", from, "the sending computer"],
    ["Destination", to, "the receiving computer"],
  ];
  out.layers.push([`IPv4 (${size} bytes)`, rows]);
  if (size < 20 || total < size) out.what = "IPv4 with a broken length field";
  if (offset) out.what = `IPv4 fragment: bytes from ${offset} of a datagram`;
  if (out.what) return null; // (a fragment's TCP/UDP header is in the first)
  const unchecked = more ? "this is one fragment of a larger datagram" : "";
  const pseudo = sum(h, 12, 20) + next, data = after(h, size);
  const length = Math.min(total, wire) - size; // the bytes that IP carries
  // deno-fmt-ignore
  return { v6: false, protocol: next, data, length, pseudo, fragment: !!more,
    unchecked };
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

function ipv6(h: DataView, wire: number, out: Decoded): Ip | null {
  out.inside = "IPv6 header";
  const first = h.getUint32(0), payload = h.getUint16(4);
  let next = h.getUint8(6);
  [out.from, out.to] = [ipv6Text(h, 8), ipv6Text(h, 24)]; // [2001:db8::1]
  // More bytes than the packet had on the wire: the Payload length is wrong.
  const end = 40 + Math.min(payload, wire - 40); // where IPv6's bytes end
  let meaning = "all after this 40-byte header";
  if (end < 40 + payload) meaning = wrong(out, `only ${end - 40} bytes follow`);
  const rows: Row[] = [
    ["Version", first >>> 28, "4 or 6: IPv4 or IPv6"],
    ["Traffic class", hex(first >> 20 & 0xff, 2), "priority; congestion marks"],
    ["Flow label", hex(first & 0xfffff, 5), "marks the packets of one flow"],
    ["Payload length", `${payload} bytes`, meaning],
    ["Next header", protocol(next), "an extension header, or TCP, UDP"],
    ["Hop limit", h.getUint8(7), "each router takes 1 off; at 0 it is dropped"],
    ["Source", out.from.slice(1, -1), "the sending computer"],
    ["Destination", out.to.slice(1, -1), "the receiving computer"],
  ];
  out.layers.push(["IPv6 (40 bytes)", () => rows]);
  // Extension headers may sit between IPv6 and TCP/UDP: step over each.
  // deno-fmt-ignore
  const EXTENSIONS: Record<number, string> = { 0: "Hop-by-hop options",
    43: "Routing", 44: "Fragment", 60: "Destination options" };
  let at = 40, unchecked = "", fragment = false;
  for (let count = 0; next in EXTENSIONS && count < 16; count++) {
    out.inside = `IPv6 ${EXTENSIONS[next]} header`;
    const size = next === 44 ? 8 : (h.getUint8(at + 1) + 1) * 8;
    let value = `${size} bytes`, meaning = "an extension header, stepped over";
    if (next === 44) { // Fragment: offset (8-byte units) and "more" bit
      const field = h.getUint16(at + 2), offset = field & 0xfff8;
      fragment = (field & 1) === 1;
      value += `, offset ${offset}${fragment ? ", more follow" : ""}`;
      if (offset) out.what = `IPv6 fragment: bytes from ${offset} on`;
      if (offset || fragment) unchecked = "this is one fragment of a datagram";
    }
    // A routing header changes the destination that the checksum covers.
    if (next === 43) unchecked = "a routing header changes the destination";
    if (at + size > end) { // longer than what is left: its length is wrong
      meaning = wrong(out, `only ${end - at} bytes are left`);
      out.what = "IPv6 with a broken extension header";
    }
    rows.push([EXTENSIONS[next], value, meaning]);
    if (out.what) return null;
    next = h.getUint8(at);
    at += size;
  }
  const pseudo = sum(h, 8, 40) + next, data = after(h, at);
  const length = end - at; // what follows the extension headers
  // deno-fmt-ignore
  return { v6: true, protocol: next, data, length, pseudo, fragment,
    unchecked };
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
// byte not sent yet; its window scale (-1: none); and the last packet that
// used it. A few numbers for each direction, none for each packet.
type Direction = { base: number; next: number; scale: number; used: number };

// TCP (Figure 12.1; the book's text sends you to Figure 12.2, which is
// UDP's). The book calls TCP's pieces "packages" and "datagrams": TCP sends
// segments, each with this header; datagrams are what UDP and IP send.
function tcp(ip: Ip, flows: Map<string, Direction>, out: Decoded) {
  out.inside = "TCP header";
  const t = ip.data, src = t.getUint16(0), dst = t.getUint16(2);
  const seq = t.getUint32(4), ack = t.getUint32(8), flag = t.getUint8(13);
  const size = (t.getUint8(12) >> 4) * 4, reserved = t.getUint8(12) & 15;
  const [window, stored, urgent] = [14, 16, 18].map((i) => t.getUint16(i));
  // The data offset (the header's size) must fit in the bytes IP carries;
  // if it does not, neither the options nor the data can be found.
  const fits = size >= 20 && size <= ip.length;
  let where = "where data starts";
  if (!fits) where = wrong(out, `the segment has ${ip.length} bytes`);
  else t.getUint8(size - 1); // the options must be there too
  [out.from, out.to] = [`${out.from}:${src}`, `${out.to}:${dst}`];
  // Sequence numbers count bytes: each byte sent has a number (and a SYN
  // or a FIN counts as one). The first is chosen unpredictably (RFC 9293,
  // 3.4.1), so like Wireshark we show them relative to it: from 0 at the
  // SYN (from 1 if the capture began later). The book says they number
  // packets: they number bytes. They are 32-bit numbers that wrap around
  // after 4,294,967,295; `>>> 0` keeps each difference in that range
  // (0 - 1 becomes 4294967295, not -1).
  const syn = flag >> 1 & 1, fin = flag & 1, acks = flag & 16;
  const key = `${out.from}>${out.to}`, back = `${out.to}>${out.from}`;
  let mine = flows.get(key), theirs = flows.get(back);
  if (!mine || (syn && mine.base !== seq)) {
    mine = { base: syn ? seq : (seq - 1) >>> 0, next: 0, scale: -1, used: 0 };
    flows.set(key, mine);
  }
  if (!theirs && acks) {
    theirs = { base: (ack - 1) >>> 0, next: 0, scale: -1, used: 0 };
    flows.set(back, theirs);
  }
  // Past 65,536 directions, those unused for the last 16,384 packets are
  // forgotten (half of them at least): memory stays the same, however many
  // connections the capture holds.
  mine.used = out.number;
  if (theirs) theirs.used = out.number;
  if (flows.size > 65536) {
    for (const [k, d] of flows) {
      if (d.used < out.number - 16384) flows.delete(k);
    }
  }
  const relSeq = (seq - mine.base) >>> 0;
  const relAck = acks && theirs ? (ack - theirs.base) >>> 0 : -1;
  const length = fits ? ip.length - size : 0;
  const data = slice(t, size, size + length);
  // Bytes numbered below the next new one were sent before: sent again.
  if ((length || syn || fin) && relSeq < mine.next) out.tags.add("sent again");
  mine.next = Math.max(mine.next, relSeq + length + syn + fin);
  const base = theirs?.base ?? 0; // SACK numbers the other side's bytes
  const options = fits && size > 20 ? tcpOptions(t, size, base) : [];
  // Window scale: a SYN may say "multiply my Window by 2^n from now on".
  // That counts once both SYNs said it, and never for a SYN itself. A shift
  // over 14 counts as 14 (RFC 7323, section 2.3).
  const shift = options.find(([name]) => name === "  Window scale");
  if (syn) mine.scale = shift ? Math.min(14, parseInt(String(shift[1]))) : -1;
  const both = Math.min(mine.scale, theirs?.scale ?? -1) >= 0;
  const factor = !syn && both ? 2 ** mine.scale : 1;
  const scaled = `${window} (× ${factor} = ${window * factor})`;
  const windowText = factor > 1 ? scaled : window;
  const verdict = checksum(ip, 16, out);
  const FLAGS = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"];
  const on = FLAGS.map((_, i) => flag >> (7 - i) & 1); // each flag's bit
  const names = FLAGS.filter((_, i) => on[i]); // highest bit first
  const seqText = () => `${relSeq} (relative), ${seq} (absolute)`;
  let ackText = () => `${relAck} (relative), ${ack} (absolute)`;
  if (relAck < 0) ackText = () => `${ack} (unused: ACK off)`;
  // A first fragment holds the first bytes of the segment, not all of them.
  const part = ip.fragment ? " in this fragment" : "";
  const count = fits ? length : "?";
  const text = () => (fits ? preview(data, 40) : "not found") + part;
  const bits = () => FLAGS.map((name, i) => `${name} ${on[i]}`).join(" ");
  const rows = (): Row[] => [
    ["Source port", src, "the sending program"],
    ["Destination port", dst, "the receiving program"],
    ["Sequence number", seqText(), "its first byte's number: it counts BYTES"],
    ["Acknowledgment number", ackText(), "next byte it wants from the other"],
    ["Data offset", `${size / 4} (× 4 = ${size} bytes)`, where],
    ["Reserved", reserved, "for future use: 0"],
    ["Flags", `${hex(flag, 2)} ${names.join(" ")}`, bits()],
    ["Window", windowText, "how many more bytes it can take now"],
    ["Checksum", hex(stored), verdict],
    ["Urgent pointer", urgent, "where urgent data ends, if URG (rare)"],
    ["Options", `${size - 20} bytes`, "extras, most of them agreed in SYNs"],
    ...options,
    ["Data", `${count} bytes`, text()],
  ];
  out.layers.push([`TCP (${size} bytes): Figure 12.1`, rows]);
  if (figure) {
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
      [[32, "Sequence Number", seqText()]],
      [[32, "Acknowledgment Number", ackText()]],
      [[4, "Data", "Offset", size / 4], [4, "Rsrvd", "", reserved],
        ...flagBoxes, [16, "", "Window", windowText]],
      [[16, "Checksum", hex(stored), verdict.split(":")[0]],
        [16, "Urgent Pointer", urgent]],
      [[32, "[Options]", ...lines]],
      [[32, "Data", `${count} bytes ${text()}`]],
    ], verdict);
  }
  // The line of the conversation, flags in Wireshark's order: [SYN, ACK].
  const sack = options.find(([name]) => name === "  SACK")?.[1];
  out.what = `[${names.toReversed().join(", ")}] seq=${relSeq}`;
  if (relAck >= 0) out.what += ` ack=${relAck}`;
  out.what += ` len=${count}${part}`;
  if (sack) out.what += ` sack=${String(sack).replaceAll(" ", ",")}`;
  if (length) out.what += ` ${preview(data, 20)}`;
}

// TCP options: a kind byte; then, except for End (0) and NOP (1), a length
// byte (counting kind and length) and the value.
function tcpOptions(t: DataView, end: number, base: number): Row[] {
  // Those shown here, with their length (SACK's: 2 + 8 for each block) and
  // what they are for:
  const OPTIONS: Record<number, [string, number, string]> = {
    0: ["End of options", 1, "what follows is padding"],
    1: ["NOP", 1, "no-operation: lines the next option up"],
    2: ["MSS", 4, "maximum segment size: the most data I take in one"],
    3: ["Window scale", 3, "multiply my Window by 2^this (from now on)"],
    4: ["SACK permitted", 2, "tell me which later bytes came if some are lost"],
    5: ["SACK", 0, "bytes received beyond a gap (relative numbers)"],
    8: ["Timestamps", 10, "my clock, and the latest value I saw from you"],
  };
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
      const shift = kind === 3 ? o.getUint8(2) : 0; // 14 at most counts
      if (kind === 3) value = `${shift} (× ${2 ** Math.min(shift, 14)})`;
      if (shift > 14) value += ": over 14, counts as 14 (RFC 7323, 2.3)";
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
  // Length counts bytes, the header's 8 too: what IP carries, or more in a
  // first fragment (it carries only the first bytes of the datagram).
  let note = "8 of header + the data, in BYTES (the book says bits)";
  if (length !== ip.length) note = `but IP carries ${ip.length}`;
  let bytes = Math.max(0, length - 8), here = bytes; // the data: all, here
  if (ip.fragment) here = Math.min(bytes, ip.length - 8);
  if (length < 8 || (length > ip.length && !ip.fragment)) {
    note = wrong(out, `IP carries ${ip.length} bytes of UDP`);
    bytes = here = Math.max(0, ip.length - 8); // the data IP carries
  }
  const data = slice(u, 8, 8 + here), text = preview(data, 40);
  const part = here < bytes ? " in this fragment" : "";
  const shown = part ? `${here} of ${bytes} bytes` : `${here} bytes`;
  const rows = (): Row[] => [
    ["Source port", src, "the sending program"],
    ["Destination port", dst, "the receiving program"],
    ["Length", `${length} bytes`, note],
    ["Checksum", hex(stored), verdict],
    ["Data", shown, text + part],
  ];
  out.layers.push(["UDP (8 bytes): Figure 12.2", rows]);
  // Figure 12.2 as RFC 768 draws it, this datagram's values in the boxes.
  const title = `Figure 12.2, the UDP header of packet ${out.number} (RFC 768)`;
  // deno-fmt-ignore
  if (figure) out.figure = draw(title, [
    [[16, "Source Port", src], [16, "Destination Port", dst]],
    [[16, "Length", `${length} bytes`],
      [16, "Checksum", hex(stored), verdict.split(":")[0]]],
    [[32, "Data", `${shown} ${text}${part}`]],
  ], verdict);
  out.what = `UDP len=${bytes}${part && `, ${here}${part}`}`;
  if (here) out.what += ` ${preview(data, 20)}`;
}

// The figures, drawn as RFC 9293 and RFC 768 draw them: 32 bits a row, 2
// characters a bit, a box for each field: its width in bits, its lines.
type Box = [bits: number, ...lines: (string | number)[]];

function draw(title: string, rows: Box[][], verdict: string): string {
  const ruler = ` 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1`;
  const line = "+" + "-+".repeat(32), lines = [title, ruler, line];
  for (const boxes of rows) {
    const height = Math.max(...boxes.map((box) => box.length - 1));
    for (let i = 1; i <= height; i++) {
      const cell = (box: Box) => center(String(box[i] ?? ""), box[0] * 2 - 1);
      lines.push(`|${boxes.map(cell).join("|")}|`);
    }
    lines.push(line);
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
/** What a tag of the conversation means. */
function explain(tag: string): string {
  const meanings: Record<string, string> = {
    "cut": "the capture kept the first bytes (its snap length), not all data",
    "sent again": "a retransmission: the sender thinks the first copy was lost",
    "checksum unfinished": "checksum offload: left to a card (lo has none)",
    "checksum WRONG": "damaged on the way: its receiver drops it",
    "malformed": "a length in it contradicts its bytes (--packet N: which)",
  };
  return meanings[tag];
}

/** Every field of one packet, and what it is for, in one write. */
function showDetails(p: Decoded, when: string) {
  const { length, data } = p.packet;
  const kept = data.length < length ? `only ${data.length}` : "all";
  const head = `Packet ${p.number}: ${length} bytes, ${kept} captured`;
  const lines = [`${head}, at ${when} s`];
  for (const [title, rows] of p.layers) {
    lines.push(`  ${title}`);
    for (const [name, value, meaning] of rows()) {
      const shown = `${String(value).padEnd(22)}  ${meaning}`;
      lines.push(`    ${name.padEnd(23)}${shown}`.trimEnd());
    }
  }
  console.log(lines.join("\n"));
}

// ---- The command line, errors and printing safely: as in every lesson ----
function commandLine() {
  const help = `Usage: deno task headers [FILE...] [--packet N|all] [--figure]
  FILE        a capture, pcap or pcapng, or - (the standard input); default:
              chapters/captures/greeting.pcap, beside this lesson
  --packet N  every field of packet N and what it means (all: every packet)
  --figure    Figures 12.1 and 12.2 filled in with the first TCP and the
              first UDP packet (with --packet N: with packet N)`;
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["packet", "_"], // "_": file names stay text, even "1"
    boolean: ["figure"],
    unknown: (arg: string) =>
      /^-./.test(arg) ? usage(`unknown argument ${JSON.stringify(arg)}`) : true,
  });
  const packet = flags.packet;
  if (packet !== undefined && !/^([1-9]\d{0,8}|all)$/.test(packet)) {
    usage("--packet must be a packet number (1, 2, ...) or all");
  }
  // With no FILE: the greeting capture beside this lesson, wherever it runs.
  const greeting = new URL("captures/greeting.pcap", import.meta.url);
  const files: [path: string | URL, name: string][] = []; // names shown
  for (const path of flags._) files.push([`${path}`, safe(`${path}`)]);
  if (!files.length) files.push([greeting, "chapters/captures/greeting.pcap"]);
  const only = packet === "all" ? 0 : Number(packet ?? 0); // 0: all of them
  return { files, only, details: packet !== undefined, figure: flags.figure };
}

/** Why a file could not be read, in one sentence. */
function cannotRead(error: unknown, name: string): never {
  if (error instanceof Deno.errors.NotFound) exit(1, `${name}: no such file.`);
  if (!(error instanceof Deno.errors.NotCapable)) exit(1, `${name}: ${error}`);
  // Deno reads devices such as /dev/stdin only with --allow-all ("-" reads
  // the standard input with no permission). As in the other lessons: the
  // command in brackets, no period after it.
  const flag = String(error).includes("all access") ? "all" : "read";
  const allow = `deno run --allow-${flag} chapters/12_2_headers.ts ${name}`;
  exit(1, `Deno was not allowed to read ${name} (to allow it: ${allow})`);
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${safe(message)}`); // a path may hold anything
  Deno.exit(code);
}
function usage(text: string): never {
  return exit(2, `${text} (run with --help for usage)`);
}
/** Text from a capture may hold control characters: shown as \u{HEX}. */
function safe(text: string): string {
  const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
  return text.replace(unsafe, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
function hex(n: number, width = 4): string {
  return "0x" + n.toString(16).padStart(width, "0");
}
