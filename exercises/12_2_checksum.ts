/**
 * Exercise: a TCP checksum, by hand (section 12.2, Figure 12.1)
 *
 * Every TCP segment carries a checksum. Its receiver adds everything up
 * again and drops a segment whose sum is wrong: a checksum detects damage
 * (TCP then sends the segment again). The sum covers more than the
 * segment: a "pseudo-header" of the two IP addresses, the protocol and the
 * segment's length, so that a segment delivered to the wrong computer is
 * caught too. UDP's checksum (Figure 12.2) is the same sum.
 *
 * Your task: checksum() at the bottom, for TCP and UDP over IPv4. Reading
 * the capture and finding the headers is done. It prints one line, like
 * 0x1b2c: compare it with what `deno task headers FILE --packet N` says.
 *
 *   Check it:  deno task exercise checksum
 *   By hand:   deno run --allow-read exercises/12_2_checksum.ts
 *                chapters/captures/greeting.pcap --packet 4
 *
 * The check runs it on 4 packets of chapters/captures (a SYN, data, an
 * unfinished checksum captured on loopback, a UDP datagram of odd length).
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["packet"],
  default: { packet: "1" },
});
const file = String(flags._[0] ?? "chapters/captures/greeting.pcap");
const capture = await Deno.readFile(file);
// pcap: a 24-byte header, then for each packet 16 bytes (when it was seen;
// at 8, how many bytes were captured, little-endian), then its bytes.
const pcap = new DataView(capture.buffer);
let at = 24;
for (let n = 1; n < Number(flags.packet); n++) {
  at += 16 + pcap.getUint32(at + 8, true);
}
const frame = capture.subarray(at + 16, at + 16 + pcap.getUint32(at + 8, true));
const ip = frame.subarray(14); // after the Ethernet header: IPv4
const ipView = new DataView(ip.buffer, ip.byteOffset, ip.length);
const headerLength = (ip[0] & 15) * 4; // in 4-byte words, in the low 4 bits
const segment = ip.subarray(headerLength, ipView.getUint16(2)); // total length
const protocol = ip[9]; // 6: TCP, 17: UDP
console.log(
  `0x${checksum(ip, protocol, segment).toString(16).padStart(4, "0")}`,
);

/**
 * The checksum of a TCP segment (or UDP datagram), header and data, as its
 * sender should have computed it:
 * 1. add up, as 16-bit numbers (most significant byte first): the source
 *    and destination addresses (bytes 12 to 19 of `ip`: 4 numbers), the
 *    protocol (one number, 6 or 17) and the segment's length in bytes;
 * 2. add the segment's 16-bit numbers, its own checksum field taken as 0
 *    (bytes 16-17 for TCP, 6-7 for UDP); an odd last byte is the high
 *    byte of a number whose low byte is 0;
 * 3. fold the carries: while the sum is above 0xffff, add the part above
 *    16 bits to the low 16 bits;
 * 4. the checksum is the complement of that: ~sum & 0xffff.
 */
// (The line below quiets the linter while the parameters are unused.)
// deno-lint-ignore no-unused-vars
function checksum(ip: Uint8Array, protocol: number, segment: Uint8Array) {
  // TODO
  return 0;
}
