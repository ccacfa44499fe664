/**
 * checksum (12.2): the TCP checksum of packets from chapters/captures,
 * computed by hand with the pseudo-header, and compared with what the
 * headers lesson (`deno task headers`, run as a real process) says each
 * one is, or should be. Four packets: a SYN (options, no data), a segment
 * with data, one captured on loopback whose checksum was never finished
 * (offload), and a UDP datagram of odd length (UDP's checksum is the same
 * sum). A wrong answer is matched against the usual slips to say which.
 *
 * @module
 */
import { taskArgs } from "../../task_process.ts";
import {
  type Context,
  type Exercise,
  Fail,
  Program,
  quote,
  ROOT,
} from "../kit.ts";

const HEADERS = "chapters/12_2_headers.ts";
const CITES = {
  pseudo: { file: HEADERS, snippet: "const pseudo = sum(h, 12, 20) + next" },
  length: {
    file: HEADERS,
    snippet:
      "const pseudo = ip.pseudo + ip.length, stored = ip.data.getUint16(at);",
  },
  fold: { file: HEADERS, snippet: "function fold(total: number): number {" },
  odd: {
    file: HEADERS,
    snippet:
      "total += i + 1 < end ? view.getUint16(i) : view.getUint8(i) << 8;",
  },
  zero: {
    file: HEADERS,
    snippet: "let should = ~fold(total - stored) & 0xffff;",
  },
  offload: {
    file: HEADERS,
    snippet: "const unfinished = stored === fold(pseudo);",
  },
};

/** What `deno task headers FILE --packet all` says of one packet. */
interface Decoded {
  file: string;
  number: number;
  protocol: "TCP" | "UDP";
  flags: string;
  data: number;
  stored: number;
  should: number;
  verdict: string;
}

/** Runs the headers lesson on `file`, as a reader would, and reads it. */
async function headers(file: string): Promise<Decoded[]> {
  const lesson = new Program(
    [Deno.execPath(), ...taskArgs("headers"), file, "--packet", "all"],
    ROOT,
  );
  if (!(await lesson.ended(15_000)) || lesson.status?.code !== 0) {
    await lesson.stop();
    throw new Error(
      `deno task headers ${file} did not work: ${lesson.stderr.join(" ")}`,
    );
  }
  const text = lesson.stdout.join("\n");
  // Each packet's block starts "Packet N: 74 bytes, ..." (an older
  // lesson wrote "Packet N of M"): both are read.
  return text.split(/^(?=Packet \d+\b)/m).slice(1).flatMap((block) => {
    const number = Number(block.match(/^Packet (\d+)/)![1]);
    const protocol = block.match(/^ {2}(TCP|UDP) \(/m)?.[1] as "TCP" | "UDP";
    const checksum = block.match(/^\s+Checksum\s+0x([0-9a-f]{4})\s+(.*)$/m);
    if (!protocol || !checksum) return [];
    const stored = parseInt(checksum[1], 16), verdict = checksum[2].trim();
    const should = verdict === "correct"
      ? stored
      : parseInt(verdict.match(/should be 0x([0-9a-f]{4})/)?.[1] ?? "", 16);
    const flags =
      block.match(/^\s+Flags\s+0x[0-9a-f]{2} ([A-Z ]*?)\s{2}/m)?.[1] ?? "";
    const data = Number(block.match(/^\s+Data\s+(\d+) bytes/m)?.[1] ?? 0);
    return [{ file, number, protocol, flags, data, stored, should, verdict }];
  });
}

// ---- The usual slips, to tell the student which one they made.

/** 16-bit big-endian words added up; an odd last byte padded (or not). */
function sum(bytes: Uint8Array, oddLow = false): number {
  let total = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    if (i + 1 < bytes.length) total += bytes[i] * 256 + bytes[i + 1];
    else total += oddLow ? bytes[i] : bytes[i] * 256;
  }
  return total;
}
const fold = (n: number) => {
  while (n > 0xffff) n = (n & 0xffff) + Math.floor(n / 65536);
  return n;
};

/** The packet's IPv4 header and segment, read from the capture itself. */
function segmentOf(capture: Uint8Array, number: number) {
  const view = new DataView(capture.buffer, capture.byteOffset);
  const little = view.getUint32(0, true) === 0xa1b2c3d4 ||
    view.getUint32(0, true) === 0xa1b23c4d;
  let at = 24;
  for (let n = 1; n < number; n++) at += 16 + view.getUint32(at + 8, little);
  const frame = capture.subarray(
    at + 16,
    at + 16 + view.getUint32(at + 8, little),
  );
  const ip = frame.subarray(14);
  const total = ip[2] * 256 + ip[3];
  return { ip, segment: ip.slice((ip[0] & 15) * 4, total) };
}

/** Each slip, and the value it gives. */
function slips(ip: Uint8Array, segment: Uint8Array, protocol: number) {
  const at = protocol === 6 ? 16 : 6;
  const zeroed = segment.slice();
  zeroed[at] = zeroed[at + 1] = 0;
  const addresses = sum(ip.subarray(12, 20));
  const pseudo = addresses + protocol + segment.length;
  const done = (total: number) => ~fold(total) & 0xffff;
  return {
    right: done(pseudo + sum(zeroed)),
    noPseudo: done(sum(zeroed)),
    noLength: done(addresses + protocol + sum(zeroed)),
    notZeroed: done(pseudo + sum(segment)),
    noFold: ~(pseudo + sum(zeroed)) & 0xffff,
    noComplement: fold(pseudo + sum(zeroed)),
    oddLow: done(pseudo + sum(zeroed, true)),
  };
}

const hex = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;

async function check({ start, say }: Context): Promise<void> {
  const folder = new URL("chapters/captures/", ROOT).pathname;
  const files = ["greeting.pcap", "loopback-offload.pcap", "udp.pcap"];
  const [greeting, offload, udp] = await Promise.all(
    files.map((name) => headers(`chapters/captures/${name}`)),
  );
  const picks = [
    greeting.find((p) => p.protocol === "TCP" && /\bSYN\b/.test(p.flags)),
    greeting.find((p) => p.protocol === "TCP" && p.data > 0),
    offload.find((p) => p.protocol === "TCP" && p.data > 0),
    udp.find((p) => p.protocol === "UDP" && p.data % 2 === 1),
  ].filter((p) => p !== undefined);
  // A check that found nothing to ask about must not pass.
  if (picks.length < 4) {
    throw new Error(
      "deno task headers did not print the 4 packets it asks about (has the headers lesson's output changed?)",
    );
  }
  const runs = await Promise.all(picks.map(async (pick) => {
    const program = start([
      `${ROOT.pathname}${pick.file}`,
      "--packet",
      `${pick.number}`,
    ]);
    await program.ended(5000);
    const printed = program.stdout.filter((l) => /0x[0-9a-f]{1,4}\b/i.test(l))
      .at(-1);
    const value = printed?.match(/0x([0-9a-f]{1,4})\b/i)?.[1];
    return {
      pick,
      program,
      value: value === undefined ? null : parseInt(value, 16),
    };
  }));
  for (const { pick, program, value } of runs) {
    const what = pick.protocol === "UDP"
      ? `a UDP datagram with ${pick.data} bytes of data (an odd number)`
      : pick.data > 0
      ? `a TCP segment with ${pick.data} bytes of data`
      : `a TCP segment with no data (${pick.flags.trim()})`;
    const source = pick.verdict === "correct"
      ? `it carries ${hex(pick.stored)}, correct`
      : `it carries ${
        hex(pick.stored)
      }, unfinished (checksum offload); it should be ${hex(pick.should)}`;
    say(
      `${pick.file} packet ${pick.number}, ${what}: deno task headers says ${source}.`,
    );
    const line = `${pick.file.replace(/^.*\//, "")} --packet ${pick.number}`;
    if (value === null) {
      for (const l of program.report("  Your program")) say(`  ${l}`);
      throw new Fail(
        `For ${line}, your program printed no checksum. Print it in hexadecimal, as the headers lesson does: 0x and 4 digits, such as 0x1b2c.`,
      );
    }
    say(`  Your program printed ${hex(value)}.`);
    if (value === pick.should) continue;
    const capture = await Deno.readFile(
      `${folder}${pick.file.replace(/^.*\//, "")}`,
    );
    const { ip, segment } = segmentOf(capture, pick.number);
    const slip = slips(ip, segment, pick.protocol === "TCP" ? 6 : 17);
    const hints: [keyof typeof slip, string, keyof typeof CITES][] = [
      [
        "noPseudo",
        "That is the sum of the segment alone. The checksum also covers a pseudo-header: the source and destination addresses (4 words), the protocol (a word: 0, then 6 or 17) and the segment's length in bytes (a word). Add those first.",
        "pseudo",
      ],
      [
        "noLength",
        "The pseudo-header needs the segment's length too: one more 16-bit word, the TCP (or UDP) header and data in bytes.",
        "length",
      ],
      [
        "notZeroed",
        "That sum counted the checksum field itself. The sender computed it with the field at 0 (it was not known yet): take those 2 bytes as 0.",
        "zero",
      ],
      [
        "noFold",
        "The carries were dropped. One's complement addition adds them back: while the sum is above 0xffff, add the bits above 16 to the low 16.",
        "fold",
      ],
      [
        "noComplement",
        "That is the sum itself. The checksum is its complement (~ in JavaScript, kept to 16 bits): then the receiver's sum, checksum included, comes to 0xffff.",
        "fold",
      ],
      [
        "oddLow",
        "The last byte of an odd-length segment counts as the HIGH byte of a word, with a 0 byte after it (as if padded).",
        "odd",
      ],
    ];
    if (value === 0) {
      throw new Fail(
        `For ${line}, your program printed 0x0000. Either checksum() is not written yet (the starter returns 0), or it added up the checksum field too: a correct packet's words, checksum included, come to 0xffff, whose complement is 0. The sender computed it with the field at 0 (it was not known yet): take those 2 bytes as 0.`,
        CITES.zero,
      );
    }
    const found = hints.find(([name]) => slip[name] === value);
    if (value === pick.stored && pick.verdict !== "correct") {
      throw new Fail(
        `For ${line}, your program printed the value the packet carries, ${
          hex(value)
        }. On loopback the checksum is left unfinished (offload: the system would leave it to a network card, and no card finishes it on lo): compute it from the bytes, as a receiver checks it.`,
        CITES.offload,
      );
    }
    if (found) {
      throw new Fail(
        `For ${line}, your program printed ${
          hex(value)
        }; deno task headers says ${hex(pick.should)}. ${found[1]}`,
        CITES[found[2]],
      );
    }
    throw new Fail(
      `For ${line}, your program printed ${
        hex(value)
      }; deno task headers says ${
        hex(pick.should)
      }. The sum: the pseudo-header (addresses, protocol, length) and the segment as 16-bit big-endian words with the checksum field as 0, carries folded back in, then complemented. ${
        program.stdout.length
          ? `(It printed ${quote(program.stdout.join(" | "), 80)}.)`
          : ""
      }`,
      CITES.pseudo,
    );
  }
}

export const checksum: Exercise = {
  name: "checksum",
  section: "12.2",
  title: "A TCP checksum by hand, with the pseudo-header",
  file: "12_2_checksum.ts",
  permissions: [`--allow-read=${new URL("chapters/captures", ROOT).pathname}`],
  anyLanguage: true,
  cites: CITES,
  check,
};
