/**
 * Just enough of the pcap format for the lab: read what tcpdump writes
 * (`tcpdump -w -`), find each IPv4 packet's addresses, TTL and TCP/UDP
 * header, and turn a pcap into a pcapng file (the format Wireshark saves).
 * The full decoder, field by field, is a lesson of its own:
 * chapters/12_2_headers.ts (`deno task headers`); the lab does not share
 * code with lessons, so this is its own small reader.
 *
 * @module
 */

/** One captured frame. */
export interface Frame {
  /** Seconds since 1970, with the fraction. */
  seconds: number;
  /** Microseconds or nanoseconds past `seconds`' whole second. */
  fraction: number;
  /** The bytes captured (maybe fewer than went on the wire). */
  data: Uint8Array;
  /** How long the frame was on the wire. */
  length: number;
}

/** A capture: its link type (1 = Ethernet) and its frames. */
export interface Capture {
  linkType: number;
  snapLength: number;
  nanoseconds: boolean;
  frames: Frame[];
}

/** What the lab wants to know about one IPv4 packet. */
export interface Packet {
  source: string;
  destination: string;
  ttl: number;
  id: number;
  /** "TCP", "UDP" or the protocol number. */
  protocol: string;
  sourcePort?: number;
  destinationPort?: number;
  /** TCP flags by name, e.g. "SYN ACK". */
  flags?: string;
  sequence?: number;
  acknowledgement?: number;
  /** Bytes of data after the TCP or UDP header. */
  payload: number;
}

/** Reads a pcap file (either byte order, µs or ns timestamps). */
export function readPcap(bytes: Uint8Array): Capture {
  if (bytes.length < 24) throw new Error("not a pcap file (too short)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = view.getUint32(0, true);
  const known: Record<number, [boolean, boolean]> = {
    0xa1b2c3d4: [true, false], // written little-endian, microseconds
    0xa1b23c4d: [true, true], // little-endian, nanoseconds
    0xd4c3b2a1: [false, false], // big-endian, microseconds
    0x4d3cb2a1: [false, true], // big-endian, nanoseconds
  };
  if (!(magic in known)) throw new Error("not a pcap file (bad magic)");
  const [little, nanoseconds] = known[magic];
  const snapLength = view.getUint32(16, little);
  const linkType = view.getUint32(20, little) & 0xffff;
  const frames: Frame[] = [];
  for (let at = 24; at + 16 <= bytes.length;) {
    const captured = view.getUint32(at + 8, little);
    if (at + 16 + captured > bytes.length) break; // cut short: stop there
    frames.push({
      seconds: view.getUint32(at, little),
      fraction: view.getUint32(at + 4, little),
      length: view.getUint32(at + 12, little),
      data: bytes.subarray(at + 16, at + 16 + captured),
    });
    at += 16 + captured;
  }
  return { linkType, snapLength, nanoseconds, frames };
}

const dotted = (b: Uint8Array, at: number) => b.subarray(at, at + 4).join(".");
const FLAGS = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];

/** The IPv4 packet in an Ethernet frame, or undefined (ARP, IPv6, ...). */
export function ipv4(frame: Frame, linkType = 1): Packet | undefined {
  if (linkType !== 1) return undefined;
  const b = frame.data;
  if (b.length < 34 || b[12] !== 0x08 || b[13] !== 0x00) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  const ip = 14;
  if (b[ip] >> 4 !== 4) return undefined;
  const headerLength = (b[ip] & 0x0f) * 4;
  const total = view.getUint16(ip + 2);
  const number = b[ip + 9];
  const packet: Packet = {
    source: dotted(b, ip + 12),
    destination: dotted(b, ip + 16),
    ttl: b[ip + 8],
    id: view.getUint16(ip + 4),
    protocol: number === 6 ? "TCP" : number === 17 ? "UDP" : String(number),
    payload: total - headerLength,
  };
  const l4 = ip + headerLength;
  if (number === 6 && b.length >= l4 + 20) {
    packet.sourcePort = view.getUint16(l4);
    packet.destinationPort = view.getUint16(l4 + 2);
    packet.sequence = view.getUint32(l4 + 4);
    packet.acknowledgement = view.getUint32(l4 + 8);
    packet.flags = FLAGS.filter((_, bit) => b[l4 + 13] & (1 << bit))
      .join(" ");
    packet.payload = total - headerLength - (b[l4 + 12] >> 4) * 4;
  } else if (number === 17 && b.length >= l4 + 8) {
    packet.sourcePort = view.getUint16(l4);
    packet.destinationPort = view.getUint16(l4 + 2);
    packet.payload = view.getUint16(l4 + 4) - 8;
  }
  return packet;
}

/** The IPv4 packets of a capture, in order (other frames left out). */
export function packets(capture: Capture): Packet[] {
  return capture.frames.map((frame) => ipv4(frame, capture.linkType))
    .filter((packet) => packet !== undefined);
}

/**
 * The same capture as pcapng: a Section Header Block, one Interface
 * Description Block and one Enhanced Packet Block per frame, all
 * little-endian (pcapng files say their byte order in the first block).
 */
export function toPcapng(capture: Capture): Uint8Array {
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array) => {
    const padded = (body.length + 3) & ~3;
    const out = new Uint8Array(12 + padded);
    const view = new DataView(out.buffer);
    view.setUint32(0, type, true);
    view.setUint32(4, out.length, true);
    out.set(body, 8);
    view.setUint32(out.length - 4, out.length, true);
    blocks.push(out);
  };
  // Section Header Block: byte-order magic, version 1.0, length unknown.
  const shb = new DataView(new ArrayBuffer(16));
  shb.setUint32(0, 0x1a2b3c4d, true);
  shb.setUint16(4, 1, true);
  shb.setUint16(6, 0, true);
  shb.setBigInt64(8, -1n, true);
  block(0x0a0d0d0a, new Uint8Array(shb.buffer));
  // Interface Description Block: link type and snap length; with ns
  // timestamps, option if_tsresol (9) = 9 (10^-9 s), else µs (the default).
  const idb = new DataView(new ArrayBuffer(capture.nanoseconds ? 20 : 8));
  idb.setUint16(0, capture.linkType, true);
  idb.setUint32(4, capture.snapLength, true);
  if (capture.nanoseconds) {
    idb.setUint16(8, 9, true); // option code if_tsresol
    idb.setUint16(10, 1, true); // its length
    idb.setUint8(12, 9); // 10^-9; then padding and opt_endofopt (0, 0)
  }
  block(0x00000001, new Uint8Array(idb.buffer));
  const unit = capture.nanoseconds ? 1_000_000_000n : 1_000_000n;
  for (const frame of capture.frames) {
    const body = new Uint8Array(20 + frame.data.length);
    const view = new DataView(body.buffer);
    const time = BigInt(frame.seconds) * unit + BigInt(frame.fraction);
    view.setUint32(0, 0, true); // interface 0
    view.setUint32(4, Number(time >> 32n), true);
    view.setUint32(8, Number(time & 0xffffffffn), true);
    view.setUint32(12, frame.data.length, true);
    view.setUint32(16, frame.length, true);
    body.set(frame.data, 20);
    block(0x00000006, body);
  }
  const out = new Uint8Array(blocks.reduce((sum, b) => sum + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/**
 * Whether a TCP or UDP packet's checksum is right: the sum of the
 * pseudo-header (addresses, protocol, length) and the segment must come to
 * 0xffff. A capture made where checksum offload is on holds unfinished
 * checksums (the network card would have finished them), so this says no.
 */
export function checksumOk(frame: Frame, linkType = 1): boolean | undefined {
  const packet = ipv4(frame, linkType);
  if (!packet || (packet.protocol !== "TCP" && packet.protocol !== "UDP")) {
    return undefined;
  }
  const b = frame.data;
  const ip = 14;
  const headerLength = (b[ip] & 0x0f) * 4;
  const total = (b[ip + 2] << 8) | b[ip + 3];
  const segment = b.subarray(ip + headerLength, ip + total);
  if (segment.length !== total - headerLength) return undefined; // cut short
  let sum = (b[ip + 9]) + segment.length;
  for (let i = 12; i < 20; i += 2) sum += (b[ip + i] << 8) | b[ip + i + 1];
  for (let i = 0; i < segment.length; i += 2) {
    sum += (segment[i] << 8) | (segment[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
