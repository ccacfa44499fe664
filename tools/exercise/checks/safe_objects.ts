/**
 * safe-objects (12.6): a client that rebuilds objects from the network
 * only when they are exactly what it expects. The check's server sends
 * fifteen lines of JSON: three good objects (two Persons, a Point) among
 * twelve traps (an unknown type, a wrong field type, an extra key, the
 * type "constructor", a name that clears the screen, 1e400, an array, not
 * JSON at all, "__proto__", an empty name, null, a number as text). The
 * client prints each good one and refuses each trap, and goes on.
 *
 * @module
 */
import {
  close,
  type Context,
  type Exercise,
  Fail,
  pace,
  quote,
  readUntilHangUp,
  startClient,
  writeAll,
} from "../kit.ts";

const PICKLE = "chapters/12_6_pickle.ts";
const CITES = {
  keys: {
    file: PICKLE,
    snippet: 'const keys = Object.keys(Object(value)).sort().join(", ");',
  },
  type: {
    file: PICKLE,
    snippet: 'if (type !== "Person") refuse(`"type" must be "Person"`);',
  },
  boolean: {
    file: PICKLE,
    snippet:
      'if (typeof male !== "boolean") refuse(`"male" must be true or false`);',
  },
  safeName: {
    file: PICKLE,
    snippet:
      "const goodName = /^[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Cs}]{1,100}$/u;",
  },
  notJson: {
    file: PICKLE,
    snippet: 'value = JSON.parse(new TextDecoder("utf-8", { fatal: true })',
  },
  ownKey: {
    file: "chat/protocol.ts",
    snippet: "if (!Object.hasOwn(KEYS, type)) {",
  },
  finite: {
    file: "chat/protocol.ts",
    snippet:
      "if (Object.values(value).some((v) => v === Infinity || v === -Infinity)) {",
  },
};

type Line = [
  text: string,
  expected: string | null,
  why: string,
  cite: keyof typeof CITES,
];
// deno-fmt-ignore
const LINES: Line[] = [
  ['{"type":"Person","name":"Sarah","male":true}', "Person Sarah (male: true)", "It is a good Person: print it so.", "keys"],
  ['{"type":"Point","x":3,"y":-4.5}', "Point (3, -4.5)", "It is a good Point: print it so.", "keys"],
  ['{"type":"Evil","command":"rm -rf ~"}', null, 'Its type is "Evil": neither Person nor Point. Rebuild only the types you know; the sender does not choose what your program makes.', "type"],
  ['{"type":"Person","name":"Sarah","male":"yes"}', null, '"male" is the text "yes", not true or false.', "boolean"],
  ['{"type":"Person","name":"Mallory","male":false,"admin":true}', null, 'It has a key a Person does not have, "admin". Accept exactly the keys of the type, no more and no fewer.', "keys"],
  ['{"type":"constructor","name":"x","male":true}', null, 'Its type is "constructor". A plain object inherits "constructor", "toString" and more from Object.prototype: `"constructor" in table` is true, and `table["constructor"]` is the function Object. Look a type up among the table\'s own keys (Object.hasOwn), or compare it with each name.', "ownKey"],
  ['{"type":"Person","name":"\\u001b[2J\\u001b[HYou have been hacked","male":true}', null, 'Its name starts with ESC [2J ESC [H: printed as it is, it clears the screen and writes on it. A name must have no control character (nor invisible ones).', "safeName"],
  ['{"type":"Point","x":1e400,"y":0}', null, "Its x, 1e400, is too big for a 64-bit number: it reads as Infinity. A coordinate must be a finite number.", "finite"],
  ['[{"type":"Person","name":"Ann","male":true}]', null, "It is an array, not an object.", "keys"],
  ["this is not JSON", null, "It is not JSON at all: JSON.parse throws. Catch that, refuse the line, and go on with the next.", "notJson"],
  ['{"__proto__":{"admin":true},"type":"Person","name":"Eve","male":false}', null, 'It has a key "__proto__": JSON.parse makes it an ordinary key of the object, and a Person has no such key.', "keys"],
  ['{"type":"Person","name":"","male":true}', null, "Its name is empty: a name has 1 to 100 characters.", "safeName"],
  ['{"type":"Person","name":"Ann","male":false}', "Person Ann (male: false)", "It is a good Person: print it so.", "keys"],
  ["null", null, "It is null, not an object.", "keys"],
  ['{"type":"Point","x":"3","y":4}', null, 'Its x is the text "3", not a number.', "boolean"],
];

async function check(context: Context): Promise<void> {
  const { say } = context;
  const { program, conn } = await startClient(context);
  const encode = (lines: Line[]) =>
    new TextEncoder().encode(lines.map(([text]) => text + "\n").join(""));
  say(
    "The server sent 15 lines, each ended by a newline, in two writes (lines 1-7, then 8-15), then hung up:",
  );
  try {
    await writeAll(conn, encode(LINES.slice(0, 7)));
    await pace(100);
    await writeAll(conn, encode(LINES.slice(7)));
    await conn.closeWrite();
  } catch {
    say("  (your client hung up before it was all sent)");
  }
  LINES.forEach(([text], i) => say(`  ${i + 1}. ${quote(text)}`));
  await readUntilHangUp(conn, 3000);
  close(conn);
  await program.ended(3000);
  for (const line of program.report("Your client")) say(line);

  // A control character on our stdout came from the network: the worst.
  const raw = program.stdout.findIndex((line) => /\p{Cc}/u.test(line));
  if (raw >= 0) {
    throw new Fail(
      `Your client printed a control character that came from the network (line ${
        raw + 1
      } of its output holds one, ESC perhaps): on a terminal, that is a command, not text. Refuse a name with a control character in it, and never print what you refuse.`,
      CITES.safeName,
    );
  }
  if (program.status === null) {
    throw new Fail(
      `Your client was still running 3 s after the server hung up: when the lines end (the server hangs up), end too.`,
    );
  }
  const printed = program.stdout.map((line) => line.trim()).filter((l) =>
    l !== ""
  );
  for (const [i, [text, expected, why, cite]] of LINES.entries()) {
    const got = printed[i];
    const refused = new RegExp(`^Refused line ${i + 1}\\b`);
    const right = expected === null
      ? refused.test(got ?? "")
      : got === expected;
    if (right) continue;
    const line = `line ${i + 1}, ${quote(text, 80)}`;
    let what: string;
    if (got === undefined) {
      what = `Your client printed nothing for ${line}${
        program.status.code !== 0
          ? `: it ended with status ${program.status.code} first`
          : ""
      }. A program that reads from the network must turn away what it does not expect, in a sentence, and go on: never crash on it.`;
    } else if (expected === null && /^Refused line \d+/.test(got)) {
      what = `For ${line}, your client printed ${
        quote(got)
      }: the line numbers are off (count from 1, every line).`;
    } else if (expected === null) {
      what = `For ${line}, your client printed ${
        quote(got)
      }; it should refuse it: "Refused line ${i + 1}: WHY".`;
    } else {
      what = `For ${line}, your client printed ${quote(got)}; it should print ${
        quote(expected)
      }.`;
    }
    throw new Fail(`${what} ${why}`, CITES[cite]);
  }
  if (printed.length > LINES.length) {
    throw new Fail(
      `Your client printed ${printed.length} lines for 15 lines sent: one line each, no more.`,
    );
  }
  if (program.status.code !== 0) {
    throw new Fail(
      `Your client got it all right, then ended with status ${program.status.code}: end with 0.`,
    );
  }
}

export const safeObjects: Exercise = {
  name: "safe-objects",
  section: "12.6",
  title: "Rebuild only what you expect: a safe object protocol",
  file: "12_6_safe_objects.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
