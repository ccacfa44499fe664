/**
 * json-lines (12.5): JSON values, one per line, read from a stream. The
 * check's server sends six scores as JSON Lines: one alone, three glued in
 * one write, one split over three writes (through the middle of "ë"),
 * and the last glued to that one's end; then it hangs up. The client
 * prints `NAME: SCORE` for each and `Total: N`.
 *
 * @module
 */
import { concat } from "@std/bytes/concat";
import {
  close,
  type Context,
  type Exercise,
  Fail,
  pace,
  PAUSE_MS,
  quote,
  quoteBytes,
  readUntilHangUp,
  startClient,
  writeAll,
} from "../kit.ts";

const CITES = {
  newline: {
    file: "chat/protocol.ts",
    snippet: "object on one line, ended by a newline, which tells the reader",
  },
  halfValue: {
    file: "chapters/12_5_json_client.ts",
    snippet: "// json.loads fails on half a value.",
  },
  streamDecode: {
    file: "chapters/12_5_json_server.ts",
    snippet:
      "const text = utf8.decode(buffer.subarray(0, n), { stream: true });",
  },
};

const encode = (text: string) => new TextEncoder().encode(text);
const LINES = [
  `{"name": "Ann", "score": 3}\n`,
  `{"name":"Bo","score":5}\n`,
  `{"name": "Dr. \\"Who\\"", "score": 7}\n`,
  `{"score": 1, "name": "Cy"}\n`,
  `{"name": "Zoë", "score": 4}\n`,
  `{"name":"Ed","score":-2}\n`,
];
const EXPECTED = [
  "Ann: 3",
  "Bo: 5",
  'Dr. "Who": 7',
  "Cy: 1",
  "Zoë: 4",
  "Ed: -2",
  "Total: 18",
];
const ZOE = encode(LINES[4]);
const CUT = encode('{"name": "Zo').length + 1; // into ë by one byte
const SECOND = encode('{"name": "Zoë", "sc').length;
const WRITES: [Uint8Array, string][] = [
  [encode(LINES[0]), "line 1 alone"],
  [encode(LINES[1] + LINES[2] + LINES[3]), "lines 2, 3 and 4 in one piece"],
  [
    ZOE.subarray(0, CUT),
    `the start of line 5, up to the middle of "ë" (2 bytes in UTF-8)`,
  ],
  [ZOE.subarray(CUT, SECOND), `the rest of "ë", and more of line 5`],
  [
    concat([ZOE.subarray(SECOND), encode(LINES[5])]),
    "the end of line 5, and line 6",
  ],
];
/** For each line printed, why it is hard to get right. */
const HARD = [
  "It came alone, in one piece.",
  "Lines 2, 3 and 4 came in one piece: one read brought three values. Split what you read at each newline: each line is one value.",
  'Lines 2, 3 and 4 came in one piece: one read brought three values. Split what you read at each newline; and a name may hold a quote, written \\" inside the JSON string.',
  "Lines 2, 3 and 4 came in one piece: one read brought three values. Split what you read at each newline: each line is one value.",
  "Line 5 came in three pieces: no single read held all of it. Keep the unfinished end of what you read until its newline comes; only then is it a whole value.",
  "Line 6 came in one piece with the end of line 5.",
  "The total is the sum of the six scores: 3 + 5 + 7 + 1 + 4 - 2 = 18.",
];

async function check(context: Context): Promise<void> {
  const { say } = context;
  const { program, conn } = await startClient(context);
  say(
    `The server sent 6 lines, one JSON value each, in 5 writes ${PAUSE_MS} ms apart, then hung up:`,
  );
  try {
    for (const [i, [bytes, what]] of WRITES.entries()) {
      if (i > 0) await pace(PAUSE_MS);
      await writeAll(conn, bytes);
      say(`  write ${i + 1}, ${what}: ${quoteBytes(bytes, 90)}`);
    }
    await conn.closeWrite();
  } catch {
    say("  ...then your client hung up: the rest could not be sent.");
  }
  await readUntilHangUp(conn, 3000);
  close(conn);
  await program.ended(3000);
  for (const line of program.report("Your client")) say(line);

  const printed = program.stdout.map((line) => line.trim())
    .filter((line) => line !== "");
  if (program.status === null) {
    throw new Fail(
      `Your client was still running 3 s after the server hung up. When the server hangs up, a read returns null (the end of the stream): print the total then.`,
      CITES.halfValue,
    );
  }
  const wrong = EXPECTED.findIndex((line, i) => printed[i] !== line);
  if (wrong < 0 && printed.length === EXPECTED.length) {
    if (program.status.code === 0) return;
    throw new Fail(
      `Your client printed it all, then ended with status ${program.status.code}: end with 0.`,
    );
  }
  if (wrong < 0) {
    throw new Fail(
      `Your client printed more than the 7 lines asked for: ${
        quote(printed[EXPECTED.length])
      } after "Total: 18".`,
    );
  }
  const got = printed[wrong];
  const cite = wrong === 4 ? CITES.halfValue : CITES.newline;
  if (got?.includes("\ufffd")) {
    throw new Fail(
      `Your client printed ${
        quote(got)
      }: "ë" is 2 bytes in UTF-8, and the server's writes cut it in two. Decoded on its own, each half is not a character: decode with { stream: true } (the decoder keeps half a character for the next piece), or decode whole lines only.`,
      CITES.streamDecode,
    );
  }
  const what = got === undefined
    ? `Your client printed no line for value ${wrong + 1}${
      program.status.code !== 0
        ? ` (it ended with status ${program.status.code} first)`
        : ""
    }`
    : `For value ${wrong + 1} your client printed ${quote(got)}`;
  throw new Fail(
    `${what}; the line should be ${quote(EXPECTED[wrong])}. ${HARD[wrong]}`,
    wrong === 6 ? undefined : cite,
  );
}

export const jsonLines: Exercise = {
  name: "json-lines",
  section: "12.5",
  title: "JSON values, one per line, from a stream",
  file: "12_5_json_lines.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
