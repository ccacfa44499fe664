/**
 * Solution: a TCP checksum, by hand (section 12.2, Figure 12.1). For
 * teachers.
 *
 * The four steps of the starter's comment, one loop each. The sum never
 * overflows a JavaScript number: a 64 KiB segment adds at most 32,768
 * words of at most 0xffff, about 2^31.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["packet"],
  default: { packet: "1" },
});
const file = String(flags._[0] ?? "chapters/captures/greeting.pcap");
const capture = await Deno.readFile(file);
const pcap = new DataView(capture.buffer);
let at = 24;
for (let n = 1; n < Number(flags.packet); n++) {
  at += 16 + pcap.getUint32(at + 8, true);
}
const frame = capture.subarray(at + 16, at + 16 + pcap.getUint32(at + 8, true));
const ip = frame.subarray(14);
const ipView = new DataView(ip.buffer, ip.byteOffset, ip.length);
const headerLength = (ip[0] & 15) * 4;
const segment = ip.subarray(headerLength, ipView.getUint16(2));
const protocol = ip[9];
console.log(
  `0x${checksum(ip, protocol, segment).toString(16).padStart(4, "0")}`,
);

/** 16-bit big-endian words added up; an odd last byte is a high byte. */
function words(bytes: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    total += bytes[i] * 256 + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  }
  return total;
}

function checksum(ip: Uint8Array, protocol: number, segment: Uint8Array) {
  const field = protocol === 6 ? 16 : 6; // where the checksum itself is
  const zeroed = segment.slice(); // a copy, its checksum field set to 0
  zeroed[field] = zeroed[field + 1] = 0;
  // The pseudo-header: addresses, protocol, length; then the segment.
  let total = words(ip.subarray(12, 20)) + protocol + segment.length;
  total += words(zeroed);
  while (total > 0xffff) total = (total & 0xffff) + Math.floor(total / 65536);
  const sum = ~total & 0xffff;
  // UDP sends 0 as 0xffff: a 0 in its field means "no checksum".
  return protocol === 17 && sum === 0 ? 0xffff : sum;
}
