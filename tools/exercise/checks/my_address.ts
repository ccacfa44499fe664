/**
 * my-address (12.1): a client that turns the bytes of an address into
 * text. The check's server tells each client the address it sees it come
 * from, as bytes (4 or 16, then 2 for the port, big-endian), as STUN does;
 * the client must print it as the lessons print addresses.
 *
 * @module
 */
import {
  address,
  close,
  type Context,
  type Exercise,
  Fail,
  hexBytes,
  quote,
  readUntilHangUp,
  startClient,
  writeAll,
} from "../kit.ts";

const ADDRESS = "chapters/12_1_address.ts";
const CITES = {
  base256: {
    file: ADDRESS,
    snippet: "const number = bytes.reduce((sum, byte) => sum * 256 + byte, 0);",
  },
  groups: {
    file: ADDRESS,
    snippet:
      'const full = groups.map((group) => group.toString(16).padStart(4, "0"));',
  },
  readToEnd: {
    file: "chapters/12_4_tcp_listener.ts",
    snippet: "for await (const piece of text) {",
  },
};

/** The 16 bytes of an IPv6 address in text (no IPv4 tail, no zone). */
function ipv6Bytes(text: string): Uint8Array {
  const [head, tail = ""] = text.split("::");
  const words = (part: string) =>
    part ? part.split(":").map((g) => parseInt(g, 16)) : [];
  const missing = 8 - words(head).length - words(tail).length;
  const groups = [
    ...words(head),
    ...new Array(missing).fill(0),
    ...words(tail),
  ];
  return new Uint8Array(groups.flatMap((g) => [g >> 8, g & 255]));
}

/** What the server sends a client seen at `peer`. */
function record(peer: Deno.NetAddr): Uint8Array {
  const ip = peer.hostname.includes(":")
    ? ipv6Bytes(peer.hostname)
    : new Uint8Array(peer.hostname.split(".").map(Number));
  return new Uint8Array([...ip, peer.port >> 8, peer.port & 255]);
}

/** The same address, written any valid way, in one canonical spelling. */
function canonical(text: string): string | null {
  const v4 = text.match(/^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/);
  if (v4) return `${v4[1]}:${Number(v4[2])}`;
  const v6 = text.match(/^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/);
  if (!v6) return null;
  try {
    return `${new URL(`http://[${v6[1]}]`).hostname}:${Number(v6[2])}`;
  } catch {
    return null;
  }
}

/** One run: the server on `hostname`, the program told to connect there. */
async function once(context: Context, hostname: string) {
  const { say } = context;
  const { program, conn, where } = await startClient(context, hostname);
  const peer = conn.remoteAddr as Deno.NetAddr;
  const bytes = record(peer);
  try {
    await writeAll(conn, bytes);
    await conn.closeWrite();
  } catch {
    // It hung up first: its output says what it made of nothing.
  }
  await readUntilHangUp(conn, 3000);
  close(conn);
  await program.ended(3000);
  const expected = address(peer);
  say(
    `The server on ${where} saw your client come from ${expected} and sent it ${bytes.length} bytes: ${
      hexBytes(bytes, 18)
    }, then hung up.`,
  );
  for (const line of program.report("Your client")) say(line);
  return { program, peer, bytes, expected };
}

async function check(context: Context): Promise<void> {
  let ipv6 = true;
  try {
    close(Deno.listen({ hostname: "::1", port: 0 }));
  } catch {
    ipv6 = false;
    context.say("(This computer has no IPv6 loopback, ::1: IPv4 only.)");
  }
  for (const hostname of ipv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]) {
    const { program, peer, bytes, expected } = await once(context, hostname);
    const printed = program.stdout.filter((line) => line.trim() !== "")
      .at(-1)?.trim() ?? "";
    const port = peer.port;
    const [high, low] = [port >> 8, port & 255];
    const v6 = hostname.includes(":");
    if (program.status === null) {
      throw new Fail(
        `Your client was still running 3 s after the server hung up: read until the server hangs up (a read then returns null), then print.`,
        CITES.readToEnd,
      );
    }
    const got = canonical(printed), want = canonical(expected)!;
    if (got === want && program.status.code === 0) continue;
    if (got === want) {
      throw new Fail(
        `Your client printed the right address, then ended with an error: end with status 0 when all went well.`,
      );
    }
    // Split "ADDRESS:PORT" at its last colon.
    const split = (text: string) => {
      const at = text.lastIndexOf(":");
      return [text.slice(0, at), text.slice(at + 1)];
    };
    const [theirIp, theirPort] = got ? split(got) : ["", ""];
    const rightIp = theirIp === split(want)[0];
    const two = hexBytes(bytes.subarray(-2));
    if (rightIp && theirPort === `${low * 256 + high}`) {
      throw new Fail(
        `Your client printed port ${theirPort}: the last 2 bytes (${two}) read the wrong way round. The network sends the most significant byte first ("network byte order", big-endian): ${high} × 256 + ${low} = ${port}, just as the four bytes of an IPv4 address are the digits of one number in base 256, the first the most significant.`,
        CITES.base256,
      );
    }
    if (rightIp) {
      throw new Fail(
        `The address is right, the port is not. The last 2 bytes, ${two}, are the port, most significant byte first: ${high} × 256 + ${low} = ${port}. Your client printed ${
          quote(printed)
        }.`,
        CITES.base256,
      );
    }
    const layout = v6
      ? "16 are the address: 8 groups of 16 bits (2 bytes each, the first the most significant), written in hexadecimal, joined by colons, and put in brackets before the port"
      : "4 are the address: one byte each, written in decimal and joined by dots";
    throw new Fail(
      `Your client printed ${
        quote(printed)
      }; its server saw it as ${expected}. Of the ${bytes.length} bytes, the first ${layout}; the last 2 are the port. Print ADDRESS:PORT, as the lessons do.`,
      v6 ? CITES.groups : CITES.base256,
    );
  }
}

export const myAddress: Exercise = {
  name: "my-address",
  section: "12.1",
  title: "Who am I? An address as bytes, and as text",
  file: "12_1_my_address.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
