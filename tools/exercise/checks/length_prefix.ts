/**
 * length-prefix (12.4): messages framed by a 4-byte length, both ways.
 * The check's server sends five messages cut up and glued together in the
 * worst ways (two in one write, a header in two halves, a character of
 * three bytes cut in two, 100,000 bytes in two writes with a pause); the
 * client prints `Got N bytes` for each and sends each one back, framed
 * the same way; the server checks every echo, then hangs up.
 *
 * @module
 */
import { concat } from "@std/bytes/concat";
import {
  ByteReader,
  close,
  type Context,
  count,
  type Exercise,
  Fail,
  hexBytes,
  pace,
  PAUSE_MS,
  quote,
  quoteBytes,
  startClient,
  within,
  writeAll,
} from "../kit.ts";

const CITES = {
  lengthFirst: {
    file: "chapters/12_4_fragmented.ts",
    snippet: "const header = head.match(/^Length: (\\d{1,10})\\n/);",
  },
  readAll: {
    file: "chapters/12_5_json_client.ts",
    snippet: "while (got < sent.length) {",
  },
  writeAll: {
    file: "chapters/12_5_json_client.ts",
    snippet:
      "for (let i = 0; i < sent.length;) i += await conn.write(sent.subarray(i));",
  },
  bigEndian: {
    file: "chapters/12_2_headers.ts",
    snippet: "const seq = t.getUint32(4), ack = t.getUint32(8)",
  },
};

const encode = (text: string) => new TextEncoder().encode(text);

/** A message with its length in front: 4 bytes, big-endian. */
function frame(message: Uint8Array): Uint8Array {
  const framed = new Uint8Array(4 + message.length);
  new DataView(framed.buffer).setUint32(0, message.length);
  framed.set(message, 4);
  return framed;
}

/** 100,000 bytes of numbered lines. */
function bigMessage(): Uint8Array {
  const line = (n: number) =>
    `Line ${
      String(n).padStart(5, "0")
    }: a length in front keeps messages apart.\n`;
  let text = "";
  for (let n = 1; text.length < 100_000; n++) text += line(n);
  return encode(text.slice(0, 100_000));
}

const MESSAGES = [
  encode("Hello"),
  encode(""),
  encode("Grüße, 世界"),
  bigMessage(),
  encode("Bye"),
];
const F = MESSAGES.map(frame);
const HALF = 4 + encode("Grüße, ").length + 1; // into 世 by one byte
const WRITES: [Uint8Array, string][] = [
  [
    concat([F[0], F[1]]),
    `message 1, "Hello" (5 bytes), and message 2, empty (0 bytes): two messages in one piece`,
  ],
  [F[2].subarray(0, 2), "the first 2 bytes of message 3's 4-byte length"],
  [
    F[2].subarray(2, HALF),
    `the other 2, and message 3 up to the middle of 世 (3 bytes in UTF-8)`,
  ],
  [
    concat([F[2].subarray(HALF), F[3].subarray(0, 4 + 30_000)]),
    `the rest of message 3, "Grüße, 世界" (${
      MESSAGES[2].length
    } bytes), then message 4's length (100,000) and its first 30,000 bytes`,
  ],
  [
    concat([F[3].subarray(4 + 30_000), F[4].subarray(0, 1)]),
    "the other 70,000 bytes of message 4, and the first byte of message 5's length",
  ],
  [F[4].subarray(1), `the other 3, and message 5, "Bye" (3 bytes)`],
];
/** For each message, the write that makes it hard to read. */
const HARD = [
  "It came in one piece with message 2: a read may bring more than one message. Take exactly the length the header says, and keep the rest for the next message.",
  "It is empty: a length of 0 and nothing after it, in the same piece as message 1.",
  "Its 4-byte length came in two pieces, 2 bytes and then 2: a read returns what has arrived so far. Read until you have all 4 bytes, then until you have all the message.",
  `Its 100,000 bytes came in two writes, ${PAUSE_MS} ms apart: a read returns what has arrived so far. Read until you have as many bytes as its length says.`,
  "Its 4-byte length came in two pieces, 1 byte and then 3: a read returns what has arrived so far. Read until you have all 4 bytes, then until you have all the message.",
];

async function check(context: Context): Promise<void> {
  const { say } = context;
  const { program, conn } = await startClient(context);
  const deadline = Date.now() + 4000;
  // Send (with pauses) and read the echoes at the same time: a client may
  // send message 1 back before message 5 has gone out.
  const sent: string[] = [];
  const sending = (async () => {
    try {
      for (const [i, [bytes, what]] of WRITES.entries()) {
        if (i > 0) await pace(PAUSE_MS);
        await writeAll(conn, bytes);
        sent.push(`  write ${i + 1} (${count(bytes.length)} bytes): ${what}`);
      }
    } catch {
      sent.push("  ...then your client hung up: the rest could not be sent.");
    }
  })();
  const reader = new ByteReader(conn);
  const echoes: string[] = [];
  let problem: { index: number; text: string } | null = null;
  for (const [i, message] of MESSAGES.entries()) {
    const header = await reader.exactly(4, deadline);
    if (header.length < 4) {
      const how = reader.hungUp ? "hung up" : "sent nothing more within 4 s";
      problem = {
        index: i,
        text: header.length === 0
          ? `Your client ${how} instead of sending message ${i + 1} back.`
          : `Your client sent ${header.length} bytes (${
            hexBytes(header)
          }), then ${how}: not even a 4-byte length.`,
      };
      break;
    }
    const length = new DataView(header.buffer).getUint32(0);
    const littleEndian = new DataView(header.buffer).getUint32(0, true);
    if (length !== message.length) {
      const asText = quoteBytes(header);
      const body = message.subarray(0, 4);
      problem = {
        index: i,
        text: littleEndian === message.length && message.length > 0
          ? `Your client sent message ${
            i + 1
          } back with its length written least significant byte first (${
            hexBytes(header)
          }): the server read ${
            count(length)
          }. Write it most significant byte first (big-endian), as the network's headers do.`
          : header.every((b, k) => b === body[k]) && body.length === 4
          ? `Your client sent message ${
            i + 1
          } back without its length in front: the server took its first 4 bytes, ${asText}, for a length of ${
            count(length)
          } bytes. Put the length first, 4 bytes, big-endian.`
          : `Your client sent message ${i + 1} back with the length ${
            count(length)
          } in front (${hexBytes(header)}); the message was ${
            count(message.length)
          } bytes.`,
      };
      break;
    }
    const body = await reader.exactly(length, deadline);
    if (body.length < length) {
      problem = {
        index: i,
        text: `Your client's echo of message ${i + 1} announced ${
          count(length)
        } bytes and sent ${count(body.length)}, then ${
          reader.hungUp ? "hung up" : "nothing more within 4 s"
        }. Write every byte: write() may take only part.`,
      };
      break;
    }
    if (!body.every((b, k) => b === message[k])) {
      problem = {
        index: i,
        text: `Your client sent message ${i + 1} back changed: ${
          quoteBytes(body, 40)
        } instead of ${
          quoteBytes(message, 40)
        }. Send back exactly the bytes that came.`,
      };
      break;
    }
    echoes.push(
      `  message ${i + 1}, ${
        count(length)
      } bytes, with its length in front: right`,
    );
  }
  await within(sending, 1000); // it ends within 0.4 s, unless stuck
  // All back (or not): hang up, and let the client see the end.
  try {
    await conn.closeWrite();
  } catch {
    // It hung up first.
  }
  await program.ended(2000);
  close(conn);

  say(
    `The server sent 5 messages, each with its length in front, in 6 writes ${PAUSE_MS} ms apart:`,
  );
  for (const line of sent) say(line);
  say("It read back from your client:");
  for (const line of echoes) say(line);
  if (problem) say(`  message ${problem.index + 1}: wrong (below)`);
  say(`Then it hung up.`);
  for (const line of program.report("Your client")) say(line);

  const expected = MESSAGES.map((m) => `Got ${m.length} bytes`);
  const printed = program.stdout.map((line) => line.trim());
  const wrongLine = expected.findIndex((line, i) => printed[i] !== line);
  if (wrongLine >= 0 && (problem === null || wrongLine <= problem.index)) {
    const got = printed[wrongLine];
    throw new Fail(
      `${
        got === undefined
          ? `Your client printed no line for message ${wrongLine + 1}`
          : `For message ${wrongLine + 1} your client printed ${quote(got)}`
      }; it should print "${expected[wrongLine]}". ${HARD[wrongLine]}`,
      wrongLine >= 2 ? CITES.readAll : CITES.lengthFirst,
    );
  }
  if (problem) {
    throw new Fail(
      problem.text,
      /least significant/.test(problem.text)
        ? CITES.bigEndian
        : /without its length/.test(problem.text)
        ? CITES.lengthFirst
        : CITES.writeAll,
    );
  }
  if (printed.length > expected.length) {
    throw new Fail(
      `Your client printed more lines than there were messages: ${
        quote(printed[expected.length])
      } after the last.`,
    );
  }
  if (program.status === null) {
    throw new Fail(
      `Your client was still running 2 s after the server hung up. When the server hangs up between two messages, a read returns null (the end of the stream): that is the end, not an error. Stop there.`,
      CITES.readAll,
    );
  }
  if (program.status.code !== 0) {
    throw new Fail(
      `Your client did it all, then ended with status ${program.status.code}: a hang-up between two messages is the normal end; end with 0.`,
    );
  }
}

export const lengthPrefix: Exercise = {
  name: "length-prefix",
  section: "12.4",
  title: "Messages with their length in front, both ways",
  file: "12_4_length_prefix.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
