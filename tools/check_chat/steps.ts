/**
 * The checker's steps, in the order a student builds a chat. Each step
 * checks one rule of chat/README.md, as a server and as a client, in one or
 * more cases; each case is a conversation of its own with the program
 * started afresh. activity/README.md lists the same steps for students.
 *
 * In every step but "hellos", the checker is lenient about the program's
 * own hello (any object with "type": "hello" will do, in any order; and a
 * server that has not said hello 3 s after the connection is given the
 * client's hello first, its own taken whenever it comes), so that a wrong
 * or late hello costs that one step and nothing else.
 *
 * @module
 */

import {
  type Case,
  CLIENT_NAME,
  Fail,
  type Received,
  REPLY_MS,
  type Role,
  seconds,
  SERVER_NAME,
} from "./case.ts";
import {
  bye,
  error,
  hello,
  HELLO_TIMEOUT_MS,
  line,
  MAX_LINE_BYTES,
  message,
} from "./frames.ts";
import { delay, within } from "./program.ts";

export interface CaseDef {
  title: string;
  run: (c: Case) => Promise<void>;
  /** What a failure of this case usually means, when the step's hint is
   * too general for it. */
  hint?: string;
}

export interface StepDef {
  number: number;
  id: string;
  title: string;
  /** The rule, one sentence, as the activity sheet states it. */
  rule: string;
  /** What a failure of this step usually means, for the student. */
  hint: string;
  cases: Record<Role, CaseDef[]>;
}

/**
 * The silence after the hellos in step 13: longer than the hello's 10 s,
 * with 1.5 s for a program's timer that fires late on a busy machine (the
 * program would then read our next message first, and pass). It runs
 * beside step 13's other case (which waits 10 s): a run takes about 1.5 s
 * longer, not 11.
 */
const IDLE_MS = HELLO_TIMEOUT_MS + 1_500;

/** The server's and the client's names, from the program's point of view. */
const alice = SERVER_NAME, bob = CLIENT_NAME;

// ---------------------------------------------------------------------------
// Helpers shared by the steps

/** Starts the program and exchanges the hellos (leniently). */
async function chat(c: Case, typed?: string[]) {
  await c.open({ typed });
  await needing("hellos", greet(c));
}

/**
 * A case needs what an earlier step checks (a hello, a turn): when that
 * fails, the failure says so instead of blaming this step's rule.
 */
async function needing<T>(step: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof Fail) error.needs ??= step;
    throw error;
  }
}

/**
 * The server's hello, first, if it comes within 3 s (step 2's business:
 * here only needed); when it does not, the case goes on, and its hello is
 * skipped whenever it comes. True when it came.
 */
const helloFirst = (c: Case) =>
  needing("hellos", c.awaitHello(`${c.yours} says hello first`));

/** A round of the conversation that another step (turns) checks. */
const turn = (c: Case, mine: string, yours: string) =>
  needing("turns", round(c, mine, yours));

/**
 * The hellos, with the checker lenient about the program's own hello: a
 * server that has not said hello within 3 s is given ours first (it may
 * wait for it, which step 2 alone counts), then must say its own.
 */
async function greet(c: Case) {
  if (c.role === "client") {
    await c.send(hello(c.me));
    await c.expectHello(`${c.yours} says hello, to start the chat`);
  } else {
    const came = await helloFirst(c);
    await c.send(hello(c.me));
    if (!came) {
      c.helloLate = false;
      await needing(
        "hellos",
        c.expectHello(
          `${c.yours} says hello (it said nothing for 3 s, so I said mine ` +
            "first)",
        ),
      );
    }
  }
}

/**
 * Starts the chat and goes on to the checker's turn: at once for the
 * server role (the client writes first), after one message of the program
 * for the client role. A bad frame sent then is only bad, never also out
 * of turn.
 */
async function chatToMyTurn(c: Case) {
  await chat(c);
  if (c.role === "client") {
    await c.type("hi");
    await needing(
      "turns",
      c.expectMessage("hi", `at its turn ${c.yours} sends "hi"`),
    );
  }
}

/**
 * One round: the checker's message, then the line typed into the
 * program, which must come back as its message. For the server role the
 * checker writes first; for the client role the program does.
 */
async function round(c: Case, mine: string, yours: string) {
  if (c.role === "server") {
    await c.send(message(mine));
    await c.type(yours);
    await c.expectMessage(
      yours,
      `after ${c.me}'s message it is ${c.you}'s turn: ${c.yours} sends the ` +
        `line typed into it, "${yours}", as a message`,
    );
  } else {
    await c.type(yours);
    await c.expectMessage(
      yours,
      `at ${c.you}'s turn ${c.yours} sends the line typed into it, ` +
        `"${yours}", as a message`,
    );
    await c.send(message(mine));
  }
}

/** What the program's first turn comes after, in words. */
const turnText = (c: Case) =>
  c.role === "server" ? `${c.me}'s message` : "the hellos";

/** A step run the same way in both roles. */
const both = (cases: CaseDef[]): Record<Role, CaseDef[]> => ({
  server: cases,
  client: cases,
});

/** Sends a raw line after the hellos and expects `code` back. */
function refused(
  title: string,
  data: string | Uint8Array,
  code: string,
  why: string,
  options: { beforeHello?: boolean; label?: string; hint?: string } = {},
): CaseDef {
  return {
    title,
    hint: options.hint,
    run: async (c) => {
      if (options.beforeHello) {
        await c.open();
        if (c.role === "server") {
          await helloFirst(c);
        }
      } else {
        await chatToMyTurn(c);
      }
      await c.sendRaw(data, options.label);
      await c.expectError(
        code,
        `I sent ${why}; ${c.yours} answers with an error frame, code ` +
          `"${code}", and closes`,
      );
    },
  };
}

/** A hello of our own with some keys changed, as one line. */
const helloWith = (c: Case, changes: Record<string, unknown>) =>
  JSON.stringify({ ...hello(c.me), ...changes }) + "\n";

// ---------------------------------------------------------------------------
// The steps

export const STEPS: StepDef[] = [
  {
    number: 1,
    id: "start",
    title: "Listens / connects",
    rule: "Started as a server it listens on --host and --port; started as " +
      "a client it connects there.",
    hint: "The program may not read its command line as the sheet says " +
      "(server|client, --host, --port, --username), may crash at the " +
      "start (see its stderr), or may listen on another address or port.",
    cases: both([{
      title: "starts and takes the connection",
      run: async (c) => await c.open(),
    }]),
  },
  {
    number: 2,
    id: "hellos",
    title: "Hellos, the server's first",
    rule: "The server says hello as soon as it accepts; the client waits for " +
      "it, then says its own; each hello is exactly the frame on the " +
      "protocol page.",
    hint: 'Check every key of the hello: "type", "protocol" ("deno-chat"), ' +
      '"version" (the number 1, not the string "1"), "username" (the name ' +
      "given with --username), and the newline at the end. A client must " +
      "wait for the server's hello before sending its own.",
    cases: {
      server: [{
        title: "your server says hello first, then accepts bob's",
        run: async (c) => {
          await c.open();
          const expected = `${c.yours} sends its hello first, at once: ` +
            JSON.stringify(hello(alice));
          const first = await c.next();
          if (first.kind === "timeout") await waitsForMine(c, expected, first);
          await c.frameOf(
            first,
            "hello",
            expected,
            (f) => f.username === alice,
          );
          await c.send(hello(bob));
          await c.expectQuiet(
            `after the hellos it is bob's turn; ${c.yours} accepts bob's ` +
              "hello and waits quietly",
          );
        },
      }],
      client: [{
        title: "your client waits for alice's hello, then says its own",
        run: async (c) => {
          await c.open();
          await c.expectQuiet(
            `${c.yours} waits for the server's hello before it sends ` +
              "anything (the server speaks first)",
          );
          await c.send(hello(alice));
          await c.expectFrame(
            "hello",
            `after alice's hello, ${c.yours} sends its own: ` +
              JSON.stringify(hello(bob)),
            (f) => f.username === bob,
          );
        },
      }],
    },
  },
  {
    number: 3,
    id: "turns",
    title: "The client writes first; turns alternate",
    rule: "After the hellos the client writes the first message; then the " +
      "two sides take turns, one message each.",
    hint: "Keep a variable that says whose turn it is: the client's after " +
      "the hellos, and it changes with every message sent or received. " +
      "Send a typed line only at your turn.",
    cases: {
      server: [{
        title: "bob writes first; then one message each",
        run: async (c) => {
          await chat(c);
          await c.type("hi bob");
          await c.expectQuiet(
            "after the hellos it is bob's turn (the client writes first): " +
              `I typed "hi bob" into ${c.yours}, and it waits for bob's ` +
              "first message before sending it",
          );
          await c.send(message("hello alice"));
          await c.expectMessage(
            "hi bob",
            `after bob's message it is alice's turn: ${c.yours} sends "hi bob"`,
          );
          await round(c, "how are you?", "fine");
        },
      }],
      client: [{
        title: "your client writes first; then one message each",
        run: async (c) => {
          await chat(c);
          await c.type("hello alice");
          await c.expectMessage(
            "hello alice",
            `after the hellos it is bob's turn: ${c.yours} sends the line ` +
              'typed into it, "hello alice", without waiting for alice',
          );
          await c.send(message("hi bob"));
          await round(c, "fine", "how are you?");
        },
      }],
    },
  },
  {
    number: 4,
    id: "typed-ahead",
    title: "Lines typed out of turn wait",
    rule: "Lines typed before their turn are kept, in order, and each is " +
      "sent at its own turn, one per turn.",
    hint: "Put typed lines in a queue; at your turn send the first one in " +
      "the queue (or wait for one). Sending each line the moment it is " +
      "typed breaks the turns.",
    cases: {
      server: [{
        title: "two lines typed before bob even connects",
        run: async (c) => {
          await chat(c, ["one", "two"]);
          await c.expectQuiet(
            `two lines were typed into ${c.yours} before bob connected; it ` +
              "is bob's turn after the hellos, so both wait",
          );
          await c.send(message("hi alice"));
          await c.expectMessage(
            "one",
            `after bob's message ${c.yours} sends the first line typed, "one"`,
          );
          await c.expectQuiet(
            `"two" waits for alice's next turn, after bob's next message`,
          );
          await c.send(message("and?"));
          await c.expectMessage(
            "two",
            `after bob's second message ${c.yours} sends "two"`,
          );
        },
      }],
      client: [{
        title: "three lines typed before the connection",
        run: async (c) => {
          await chat(c, ["one", "two", "three"]);
          await c.expectMessage(
            "one",
            `three lines were typed into ${c.yours} at once; at its first ` +
              'turn it sends the first, "one"',
          );
          await c.expectQuiet(
            `"two" waits for bob's next turn, after alice's reply`,
          );
          await c.send(message("ok"));
          await c.expectMessage("two", `after alice's reply it sends "two"`);
          await c.expectQuiet(`"three" waits for the next reply`);
          await c.send(message("go on"));
          await c.expectMessage(
            "three",
            `after the next reply it sends "three"`,
          );
        },
      }],
    },
  },
  {
    number: 5,
    id: "shown",
    title: "Messages shown as NAME: TEXT",
    rule: "Every message of the conversation, its own and the other's, " +
      "appears in the program's output as one line NAME: TEXT, in order.",
    hint: "Print each message you send and each you receive, as " +
      "`name: text` with exactly one space after the colon, and flush.",
    cases: both([{
      title: "two rounds, every message printed in order",
      run: async (c) => {
        await chat(c);
        await turn(c, "hello there", "hi");
        await turn(c, "how are you?", "fine");
        const lines = c.role === "server"
          ? [`${bob}: hello there`, `${alice}: hi`, `${bob}: how are you?`]
          : [`${bob}: hi`, `${alice}: hello there`, `${bob}: fine`];
        lines.push(
          c.role === "server" ? `${alice}: fine` : `${alice}: how are you?`,
        );
        let from = 0;
        for (const wanted of lines) {
          await c.expectShown(
            wanted,
            `${c.yours} prints every message of the chat as NAME: TEXT, in ` +
              `order: next "${wanted}"`,
            from,
          );
          from = c.program!.stdout.findIndex((l, i) =>
            i >= from && l.text === wanted
          ) + 1;
        }
      },
    }]),
  },
  {
    number: 6,
    id: "framing",
    title: "Frames split and glued; long lines",
    rule: "Frames are read up to each newline however the bytes arrive: one " +
      "byte at a time, two frames in one piece, a line of up to 32768 " +
      "bytes (not counting its newline); a longer line is refused with " +
      "too-long at its 32769th byte, without waiting for its end.",
    hint: "One recv() is not one frame. Keep a buffer: add what each recv() " +
      "returns, take out every complete line (up to \\n), keep the rest. " +
      "Decode a line only when it is complete (a character can be split " +
      "too).",
    cases: {
      server: [
        {
          title: "bob's hello and message sent one byte at a time",
          run: async (c) => {
            await c.open();
            await helloFirst(c);
            await c.sendSplit(line(hello(bob)), JSON.stringify(hello(bob)));
            const text = "un café, s'il vous plaît ☕";
            await c.sendSplit(
              line(message(text)),
              JSON.stringify(message(text)),
            );
            await c.type("bien sûr");
            await c.expectMessage(
              "bien sûr",
              `${c.yours} puts the pieces together into bob's hello and ` +
                "message (a character may be split too), so it is its turn " +
                'and it sends the typed line "bien sûr"',
            );
          },
        },
        {
          title: "bob's hello and first message glued in one piece",
          run: async (c) => {
            await c.open();
            await helloFirst(c);
            await c.sendRaw(
              line(hello(bob)) + line(message("two frames, one packet")),
              'hello + message "two frames, one packet" (one write)',
            );
            await c.type("got both");
            await c.expectMessage(
              "got both",
              `${c.yours} reads both frames from the one piece: after bob's ` +
                'message it sends the typed line "got both"',
            );
          },
        },
        longLineAccepted(),
        tooLong(),
      ],
      client: [
        {
          title: "alice's hello and reply sent one byte at a time",
          run: async (c) => {
            await c.open();
            await c.sendSplit(line(hello(alice)), JSON.stringify(hello(alice)));
            // Step 2 passed with a hello in one piece: a failure here is
            // this step's (the pieces were not put together).
            await c.expectHello(
              `${c.yours} puts the pieces together into alice's hello, and ` +
                "answers with its own",
            );
            await c.type("un café ?");
            await c.expectMessage("un café ?", `${c.yours} sends "un café ?"`);
            const text = "bien sûr ☕";
            await c.sendSplit(
              line(message(text)),
              JSON.stringify(message(text)),
            );
            await c.type("merci");
            await c.expectMessage(
              "merci",
              `${c.yours} puts the pieces together into alice's reply (a ` +
                "character may be split too), so it is its turn again and " +
                'it sends "merci"',
            );
          },
        },
        {
          title: "alice's reply and bye glued in one piece",
          run: async (c) => {
            await chat(c);
            await c.type("hello");
            await c.expectMessage("hello", `${c.yours} sends "hello"`);
            const from = c.printed;
            await c.sendRaw(
              line(message("two frames, one packet")) + line(bye()),
              'message "two frames, one packet" + bye (one write)',
            );
            await c.expectShown(
              (text) => text.includes("two frames, one packet"),
              `${c.yours} reads both frames from the one piece and shows ` +
                "alice's message",
              from,
            );
            const next = await c.next();
            if (next.kind === "line" && next.parsed.frame?.type === "error") {
              throw new Fail(
                `${c.yours} reads both frames, a message and a bye, and ` +
                  "answers neither with an error",
                await c.describe(next),
              );
            }
          },
        },
        longLineAccepted(),
        tooLong(),
      ],
    },
  },
  {
    number: 7,
    id: "utf8",
    title: "UTF-8 beyond ASCII",
    rule: "Text is UTF-8 both ways (é, 日本, emoji); a line that is not " +
      "UTF-8 is refused with bad-utf8, one starting with a byte-order mark " +
      "with not-json; the 4096-byte limit counts bytes, not characters.",
    hint: "Encode and decode with UTF-8 explicitly, strictly (Python: " +
      '.decode("utf-8") raises on bad bytes; .encode("utf-8")). Count a ' +
      "text's length in bytes (len(text.encode())). Do not strip a " +
      "byte-order mark (Python's utf-8-sig does; JavaScript's TextDecoder " +
      "does unless given ignoreBOM: true).",
    cases: both([
      {
        title: "é, 日本 and emoji, both ways; 4096 bytes of é",
        run: async (c) => {
          await chat(c);
          const mine = "naïve café, 日本, 🎉";
          const yours = "señor, 中文, 😀";
          const from = c.printed;
          await round(c, mine, yours);
          await c.expectShown(
            (text) => text.includes(mine),
            `${c.yours} shows ${c.me}'s "${mine}" as it was sent`,
            from,
          );
          const full = "é".repeat(2048); // 4096 bytes, 2048 characters
          await round(c, full, "ok");
          await c.expectShown(
            (text) => text.includes(full),
            `${c.yours} accepts and shows a text of 2048 "é": 4096 bytes, ` +
              "exactly the limit",
            from,
          );
        },
      },
      refused(
        "a line that is not UTF-8",
        new Uint8Array([
          ...new TextEncoder().encode('{"type":"message","text":"caf'),
          0xe9, // é in Latin-1: not UTF-8
          ...new TextEncoder().encode('"}\n'),
        ]),
        "bad-utf8",
        "a message whose text holds the byte 0xE9 (é in Latin-1, not UTF-8)",
        {
          label: '{"type":"message","text":"caf\\xe9"}',
          hint: "Decode each line strictly as UTF-8 and turn the decoding " +
            'error into error "bad-utf8" (Python: catch UnicodeDecodeError; ' +
            'never errors="replace" or "ignore"; JavaScript: new ' +
            'TextDecoder("utf-8", { fatal: true }) throws, a Buffer\'s ' +
            "toString() never does).",
        },
      ),
      refused(
        "a line that starts with a byte-order mark",
        "\ufeff" + line(message("BOM")),
        "not-json",
        "a line starting with a byte-order mark (EF BB BF), which JSON does " +
          "not allow",
        {
          label: '\\ufeff{"type":"message","text":"BOM"}',
          hint: "Decode so that the mark stays, and JSON refuses it, which " +
            'is "not-json". Python: "utf-8", not "utf-8-sig"; JavaScript: ' +
            'new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }) ' +
            "(without ignoreBOM it drops the mark).",
        },
      ),
      refused(
        "4098 bytes of é (2049 characters)",
        line(message("é".repeat(2049))),
        "bad-frame",
        "a text of 2049 é: 2049 characters but 4098 bytes, over the limit " +
          "of 4096 bytes",
        {
          label: '{"type":"message","text":"éééé... (4098 bytes)"}',
          hint: "The limit is 4096 bytes of UTF-8, not characters: measure " +
            'len(text.encode("utf-8")), where é counts 2.',
        },
      ),
    ]),
  },
  {
    number: 8,
    id: "safe",
    title: "Text shown safely",
    rule: "No control or format character from the network reaches the " +
      "screen as it is (ESC, CR, BEL, bidi marks, zero-width...): each is " +
      "shown as a visible escape such as \\u{1b}, and the rest of the text " +
      "is shown.",
    hint: "Before printing text from the network, replace each character of " +
      "Unicode category Cc, Cf, Zl, Zp or Cs with a visible escape (Python: " +
      'unicodedata.category(ch) and f"\\\\u{{{ord(ch):x}}}").',
    cases: both([{
      title: "escape sequences, bidi and zero-width characters",
      run: async (c) => {
        await chat(c);
        const texts = [
          "\x1b[2J\x1b]0;pwned\x07screen cleared?",
          "hi\rERASED the start\x7f",
          `one\n${alice}: a forged line\u2028two`,
          "see file \u202etxt.exe\u202c and \u200bzero\u2066width\u2069",
          "\u009b31mC1 red\u0000 NUL",
        ];
        const from = c.printed;
        for (const [index, text] of texts.entries()) {
          await turn(c, text, `ok ${index + 1}`);
        }
        await c.send(error("bad-frame", "\x1b[31mred error\x1b[0m \u202eevil"));
        await c.next(); // it closes (or not): not this step's business
        await c.stop(); // all it printed, to the end, is judged
        const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
        const output = [
          ...c.program!.stdout.slice(from),
          ...c.program!.stderr,
        ];
        for (const { text } of output) {
          const raw = text.match(unsafe)?.[0];
          if (raw === undefined) continue;
          const code = raw.codePointAt(0)!.toString(16).padStart(4, "0");
          throw new Fail(
            `${c.yours} shows control and format characters from the ` +
              "network as visible escapes, never as they are",
            `it printed the character U+${code.toUpperCase()} as it is, in ` +
              `"${clipVisible(text)}" (escaped here by the checker, not ` +
              "by your program); a terminal obeys such characters " +
              "(clears the screen, moves the cursor, reverses text)",
          );
        }
        for (const text of texts) {
          const parts = text.split(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+/u)
            .filter((part) => part !== "");
          const shown = c.program!.stdout.slice(from).some(({ text: line }) => {
            let at = 0;
            for (const part of parts) {
              at = line.indexOf(part, at);
              if (at === -1) return false;
              at += part.length;
            }
            return true;
          });
          if (!shown) {
            throw new Fail(
              `${c.yours} shows the rest of each text, in one line, with ` +
                `escapes in place of the dangerous characters: here ${
                  parts.map((p) => JSON.stringify(p)).join(", then ")
                }`,
              `no line of its output holds them all, in order`,
            );
          }
        }
      },
    }]),
  },
  {
    number: 9,
    id: "bye",
    title: "Leaving: bye, /quit and end of input",
    rule: "/quit or the end of input, at the program's turn, sends bye and " +
      'closes; a bye received, at any moment, shows "NAME left the chat" ' +
      "and closes.",
    hint: 'Print "NAME left the chat" on both sides, for whoever left, ' +
      "and close.",
    cases: {
      server: [
        byeReceived(true),
        byeReceived(false),
        leaves("/quit"),
        leaves("end of input"),
        {
          title: "bob leaves before his hello (stopped while waiting)",
          hint: "A bye may come before the hello: not knowing the name yet, " +
            "show the address the client connected from.",
          run: async (c) => {
            await c.open();
            await helloFirst(c);
            await c.send(bye());
            const address = `127.0.0.1:${c.peer!.localPort}`;
            await c.expectShown(
              `${address} left the chat`,
              `bob left before his hello, so ${c.yours} does not know his ` +
                `name: it shows his address instead, "${address} left the ` +
                'chat" (a bye before the hellos is legitimate)',
            );
            await c.expectClosed(`${c.yours} then closes the connection`);
          },
        },
      ],
      client: [
        byeReceived(true),
        byeReceived(false),
        leaves("/quit"),
        leaves("end of input"),
      ],
    },
  },
  {
    number: 10,
    id: "out-of-turn",
    title: "A message out of turn is refused",
    rule: "A message that comes during the program's own turn is answered " +
      "with error out-of-turn, even when a line typed ahead is waiting to " +
      "be sent.",
    hint: "When a message arrives, check whose turn it is. Before you send " +
      "a typed line at your turn, first deal with every frame already " +
      "received (two may come in one piece): a second message is out of " +
      "turn.",
    cases: {
      server: [
        {
          title: "bob sends two messages in a row",
          run: async (c) => {
            await chat(c);
            await c.send(message("one"));
            await c.send(message("two"));
            await c.expectError(
              "out-of-turn",
              `after bob's message it was alice's turn, and bob sent a ` +
                `second message; ${c.yours} answers with error out-of-turn ` +
                "and closes",
            );
          },
        },
        {
          title: "two messages in one piece, while a line typed ahead waits",
          run: async (c) => {
            await chat(c, ["typed ahead"]);
            await c.sendRaw(
              line(message("one")) + line(message("two")),
              'message "one" + message "two" (one write)',
            );
            await expectOutOfTurnGlued(
              c,
              `bob's two messages came together; the second came during ` +
                `alice's turn, before she sent her line typed ahead; ` +
                `${c.yours} answers with error out-of-turn (it does not ` +
                "send its line and take the second message as the reply)",
            );
          },
        },
      ],
      client: [
        {
          title: "alice writes first, during bob's turn",
          run: async (c) => {
            await chat(c);
            await c.send(message("me first!"));
            await c.expectError(
              "out-of-turn",
              `after the hellos it is bob's turn, and alice sent a message; ` +
                `${c.yours} answers with error out-of-turn and closes`,
            );
          },
        },
        {
          title: "two replies in one piece, while a line typed ahead waits",
          run: async (c) => {
            await chat(c, ["one", "typed ahead"]);
            await c.expectMessage("one", `${c.yours} sends "one"`);
            await c.sendRaw(
              line(message("reply")) + line(message("again")),
              'message "reply" + message "again" (one write)',
            );
            await expectOutOfTurnGlued(
              c,
              `alice's two messages came together; the second came during ` +
                `bob's turn, before he sent his line typed ahead; ` +
                `${c.yours} answers with error out-of-turn (it does not ` +
                "send its line and take the second message as the reply)",
            );
          },
        },
      ],
    },
  },
  {
    number: 11,
    id: "bad-frames",
    title: "Bad frames refused with the right code",
    rule: "Whatever is not a valid frame at its moment is refused with an " +
      "error frame whose code says why (not-json, bad-frame, " +
      "wrong-protocol, unexpected, name-taken), and an error received is " +
      "never answered with one.",
    hint: "Check every frame before using it: JSON object, known type, " +
      "exactly its keys, each of the right type and size. In Python, catch " +
      "json.JSONDecodeError and RecursionError; a version must be a number " +
      "(not a string, not true) equal to 1 (1.0 is 1).",
    cases: {
      server: [
        refused("a line that is not JSON", "hello?\n", "not-json", '"hello?"', {
          beforeHello: true,
        }),
        ...badHellos(),
        {
          title: "a hello with version 1.0 (the number one)",
          hint: "Compare the version as a number: 1.0 and 1e0 are 1. Only " +
            "what is not a number at all (a string, true) is bad-frame.",
          run: async (c) => {
            await c.open();
            await helloFirst(c);
            await c.sendRaw(
              line(hello(bob)).replace('"version":1', '"version":1.0'),
            );
            await c.expectQuiet(
              `"version": 1.0 is the number one, as good as 1: ${c.yours} ` +
                "accepts the hello and waits for bob's first message",
            );
          },
        },
        {
          title: "a hello with alice's own name",
          hint: "The server compares the client's username with its own.",
          run: async (c) => {
            await c.open();
            await helloFirst(c);
            await c.send(hello(alice));
            await c.expectError(
              "name-taken",
              `I said hello as "alice", the server's own name; ${c.yours} ` +
                'answers with error "name-taken" and closes',
            );
          },
        },
        refused(
          "a message before the hello",
          line(message("hi, no hello")),
          "unexpected",
          "a message before my hello",
          {
            beforeHello: true,
            hint: "Before the hellos only a hello may come (or a bye, or an " +
              'error); anything else is "unexpected".',
          },
        ),
        {
          title: "a second hello",
          run: async (c) => {
            await chat(c);
            await c.send(hello(bob));
            await c.expectError(
              "unexpected",
              `I said hello twice; ${c.yours} answers the second with error ` +
                '"unexpected" and closes',
            );
          },
        },
        ...badMessages("server"),
        errorNotAnswered(),
      ],
      client: [
        {
          title: "a server that is not a chat server",
          run: async (c) => {
            await c.open();
            await c.sendRaw("HTTP/1.1 400 Bad Request\r\n");
            await c.expectError(
              "not-json",
              `the server's first line is not JSON ("HTTP/1.1 400 Bad ` +
                `Request"); ${c.yours} answers with error "not-json" and ` +
                "closes",
            );
          },
        },
        {
          title: "a hello for another protocol",
          run: async (c) => {
            await c.open();
            await c.sendRaw(helloWith(c, { protocol: "irc" }));
            await c.expectError(
              "wrong-protocol",
              `the server's hello is for the protocol "irc"; ${c.yours} ` +
                'answers with error "wrong-protocol" and closes',
            );
          },
        },
        {
          title: "a message before the server's hello",
          run: async (c) => {
            await c.open();
            await c.send(message("hi"));
            await c.expectError(
              "unexpected",
              `the server's first frame is a message, not its hello; ` +
                `${c.yours} answers with error "unexpected" and closes`,
            );
          },
        },
        {
          title: "a hello without a username",
          run: async (c) => {
            await c.open();
            await c.sendRaw(
              '{"type":"hello","protocol":"deno-chat","version":1}\n',
            );
            await c.expectError(
              "bad-frame",
              `the server's hello has no "username"; ${c.yours} answers ` +
                'with error "bad-frame" and closes',
            );
          },
        },
        ...badMessages("client"),
        errorNotAnswered(),
      ],
    },
  },
  {
    number: 12,
    id: "busy",
    title: "A second client is told busy",
    rule: "A server in a chat answers any other client with error busy " +
      "(instead of its hello) and goes on with its chat; a client told " +
      "busy says so, and closes without answering.",
    hint: "The server must keep accepting during a chat (a thread, or select " +
      "on the listening socket too) and answer newcomers at once. A " +
      'client that gets an error first (like "busy") shows it and closes; ' +
      "it is not a hello, and not a reason to answer with an error.",
    cases: {
      server: [{
        title: "carol connects during bob's chat",
        run: async (c) => {
          await chat(c);
          await turn(c, "hello", "hi");
          const carol = await c.connectAgain();
          await c.expectError(
            "busy",
            `carol connected during bob's chat: ${c.yours} answers her at ` +
              'once with error "busy" (not a hello) and closes',
            carol,
          );
          await c.expectClosed(`${c.yours} closes carol's connection`, carol);
          await turn(c, "still there?", "yes");
        },
      }],
      client: [{
        title: "the server is busy",
        run: async (c) => {
          await c.open();
          const text = "The server is busy with another chat; try again later.";
          await c.send(error("busy", text));
          await c.expectClosed(
            `the server said "busy" instead of hello; ${c.yours} closes the ` +
              "connection, without a hello and without an error of its own",
          );
          await within(c.program!.ended, REPLY_MS); // it may stay: no matter
          const told = [...c.program!.stdout, ...c.program!.stderr]
            .some(({ text: line }) => /busy|another chat/i.test(line));
          if (!told) {
            throw new Fail(
              `${c.yours} tells its user the server is busy (its message ` +
                'or the word "busy", on stdout or stderr)',
              "it printed nothing about it",
            );
          }
        },
      }],
    },
  },
  {
    number: 13,
    id: "timeout",
    title: "No hello in 10 s: timeout",
    rule: "A side that has no hello from the other 10 s after the " +
      "connection is made sends error timeout and closes; after the " +
      "hellos, there is no time limit.",
    hint: "Start the 10 s when the connection is made (server: when it " +
      "accepts; client: when connect() returns), and wait for the hello " +
      "with a time limit (Python: sock.settimeout(10), or " +
      "queue.get(timeout=...)); once the hello has come, switch the limit " +
      "off (sock.settimeout(None)).",
    cases: both([{
      title: "connected, and silent",
      run: async (c) => {
        // The program's 10 s start when its connect() returns or its
        // accept() does: after `started` (the program is not even running
        // yet) and, on a busy machine, perhaps seconds before the checker
        // sees the connection (`connected`). So "too early" is measured
        // from `started`, and the wait for the error from `connected`: a
        // correct program is never early, however late the checker is.
        const started = c.now();
        await c.open();
        const connected = c.now();
        if (c.role === "server") {
          await helloFirst(c);
        }
        // 10 s, give or take what a busy machine adds: the checker may see
        // the error a second or two late.
        const waited = HELLO_TIMEOUT_MS + 3_000;
        const frame = await c.expectFrame(
          "error",
          `${c.me} says nothing after the connection; after 10 s ${c.yours} ` +
            'sends error "timeout" and closes',
          (f) => f.code === "timeout",
          waited - (c.now() - connected),
        );
        const at = c.now() - started;
        if (at < HELLO_TIMEOUT_MS - 2_000) {
          throw new Fail(
            `${c.yours} waits 10 s for the hello before it gives up (8 to 13 s, ` +
              "as the checker sees it on a busy machine)",
            `it sent ${JSON.stringify(frame)} after ${seconds(at)}`,
          );
        }
        await c.expectClosed(`after its error ${c.yours} closes`);
      },
    }, {
      title: `after the hellos, ${IDLE_MS / 1000} s of silence, then a message`,
      hint: "The 10 s are for the hello only: once it has come, switch the " +
        "time limit off (Python: sock.settimeout(None); no timeout on the " +
        "later waits). A person may take as long as they like to type.",
      run: async (c) => {
        await chat(c);
        await c.expectQuiet(
          `after the hellos, ${c.me} was silent for ${IDLE_MS / 1000} s, ` +
            `longer than the hello's 10 s: there is no time limit on a turn, ` +
            `so ${c.yours} waits quietly`,
          IDLE_MS,
        );
        await turn(c, "still there?", "yes");
      },
    }]),
  },
  {
    number: 14,
    id: "polite-close",
    title: "Closing politely (no reset)",
    rule: "After its last frame (bye or error) a side shuts down its sending " +
      "half and reads what still comes until the other closes (or 2 s), " +
      "then closes: the other side reads end-of-file, never a reset.",
    hint: "Closing a socket with unread bytes in it makes the system send a " +
      "reset, which can destroy your last frame. After the last frame: " +
      "sock.shutdown(socket.SHUT_WR), then recv() until it returns b'' (or " +
      "2 s pass), then close(). Node: socket.end(), read until its 'end' " +
      "event (or 2 s), then socket.destroy().",
    cases: both([
      {
        title: "after an error, with more bytes behind the bad line",
        run: async (c) => {
          await chat(c);
          const filler = "\n".repeat(256 * 1024);
          await c.sendRaw("this is not json\n" + filler, "this is not json");
          c.record({
            from: c.mySide,
            label: "(256 KiB of blank lines after it)",
            local: true,
          });
          const item = await c.next();
          if (item.kind !== "line" || item.parsed.frame?.type !== "error") {
            const fail = new Fail(
              `${c.yours} answers a line that is not JSON with an error frame`,
              await c.describe(item),
            );
            fail.needs = "bad-frames";
            throw fail;
          }
          await politeEnd(c, "its error frame");
        },
      },
      {
        title: "after its bye (/quit)",
        run: async (c) => {
          await chat(c);
          if (c.role === "server") await c.send(message("bye then?"));
          await c.type("/quit");
          const item = await c.next();
          if (item.kind !== "line") {
            // No frame at all: its close is judged below all the same.
            await checkClosedPolitely(c, item, "/quit");
            return;
          }
          await politeEnd(c, "its last frame");
        },
      },
    ]),
  },
];

/**
 * Error out-of-turn, after two valid messages sent in one piece. An error
 * that calls them malformed (not-json, bad-frame...) says that the program
 * could not read two frames from one piece: step 6's rule (framing), which
 * this case needs; the step is not passed (the second message was not
 * refused as out of turn), but the report sends the student to step 6.
 */
async function expectOutOfTurnGlued(c: Case, expected: string) {
  const item = await c.next();
  const code = item.kind === "line" && item.parsed.frame?.type === "error"
    ? item.parsed.frame.code
    : undefined;
  if (typeof code === "string" && code !== "out-of-turn") {
    const fail = new Fail(expected, await c.describe(item));
    if (["not-json", "bad-frame", "bad-utf8", "too-long"].includes(code)) {
      fail.needs = "framing";
    }
    throw fail;
  }
  await c.frameOf(item, "error", expected, (f) => f.code === "out-of-turn");
}

/**
 * The server said nothing for 3 s: does it wait for the client's hello?
 * Ours is sent to see; the failure says which it was.
 */
async function waitsForMine(
  c: Case,
  expected: string,
  silence: Received,
): Promise<never> {
  const silent = await c.describe(silence);
  await c.send(hello(c.me));
  const next = await c.next();
  if (next.kind === "line" && next.parsed.frame?.type === "hello") {
    const fail = new Fail(
      expected,
      `${silent}; after ${c.me}'s hello it sent its own: it waited for ` +
        "the client's",
    );
    fail.hint = "A server sends its hello as soon as it accepts; it must " +
      "not wait for the client's (the client waits for the server's: " +
      "each would wait for the other).";
    throw fail;
  }
  throw new Fail(
    expected,
    `${silent}, and after ${c.me}'s hello: ${await c.describe(next)}`,
  );
}

// The cases of step 11 that carry a hello breaking one rule each.
function badHellos(): CaseDef[] {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ["an extra key", { colour: "blue" }, "bad-frame", 'an extra key, "colour"'],
    [
      "a username with a space",
      { username: "bob smith" },
      "bad-frame",
      'the username "bob smith"',
    ],
    [
      'version "1", a string',
      { version: "1" },
      "bad-frame",
      'the version "1", a string, not a number',
    ],
    [
      "version true",
      { version: true },
      "bad-frame",
      "the version true, not a number",
    ],
    [
      'protocol "irc"',
      { protocol: "irc" },
      "wrong-protocol",
      'the protocol "irc"',
    ],
  ];
  return cases.map(([title, changes, code, why]) => ({
    title: `a hello with ${title}`,
    run: async (c: Case) => {
      await c.open();
      await helloFirst(c);
      await c.sendRaw(helloWith(c, changes));
      await c.expectError(
        code,
        `my hello had ${why}; ${c.yours} answers with error "${code}" and ` +
          "closes",
      );
    },
  }));
}

// Messages after the hellos that break a rule. The client is given the
// first and the last only: its parser is most often the server's.
function badMessages(role: Role): CaseDef[] {
  const depth = Math.floor((MAX_LINE_BYTES - 40) / 2);
  const nested = '{"type":"message","text":' + "[".repeat(depth) +
    "]".repeat(depth) + "}";
  const cases: [string, string, string, string, string, string?][] = [
    [
      "a key written twice",
      '{"type":"message","text":"a","text":"b"}',
      "bad-frame",
      'a message with "text" written twice',
      "Most JSON parsers keep the last of two equal keys without a word; " +
      "count them (Python: json.loads(line, object_pairs_hook=...); " +
      "JavaScript's JSON.parse has no such hook, and Object.keys shows one " +
      "key: read the keys from the line).",
    ],
    [
      "half of an emoji",
      '{"type":"message","text":"\\ud83d"}',
      "bad-frame",
      'a text of half an emoji, "\\ud83d" alone',
      "JSON can spell half a character (a lone surrogate, U+D800 to " +
      "U+DFFF); such a text is no text.",
    ],
    [
      "4097 bytes of text",
      line(message("x".repeat(4097))).trim(),
      "bad-frame",
      "a text of 4097 bytes, one over the limit",
      "Check each text's size: 1 to 4096 bytes of UTF-8.",
      '{"type":"message","text":"xxxx... (4097 bytes)"}',
    ],
    [
      `nesting ${depth} deep`,
      nested,
      "bad-frame",
      `a frame nested ${depth} deep ([[[[...]]]], as much as a line holds)`,
      "Valid frames are flat, but a parser must survive deep nesting: " +
      "Python raises RecursionError (not a ValueError), JavaScript's " +
      "JSON.parse a RangeError when given a reviver; catch it: bad-frame.",
      `{"type":"message","text":[[[[... (${depth} deep)`,
    ],
  ];
  const chosen = role === "server" ? cases : [cases[0], cases.at(-1)!];
  return chosen.map(([title, text, code, why, hint, label]) => ({
    title: `${title}, after the hellos`,
    hint,
    run: async (c: Case) => {
      await chatToMyTurn(c);
      await c.sendRaw(text + "\n", label);
      await c.expectError(
        code,
        `I sent ${why}; ${c.yours} answers with error "${code}" and closes`,
      );
    },
  }));
}

/** An error frame is shown and closes the chat; it is never answered. */
function errorNotAnswered(): CaseDef {
  return {
    title: 'an error first ("bad-utf8"), never answered with an error',
    hint: "An error frame ends the chat: show it and close, never answer " +
      'it. Its code is 1 to 32 of a-z, 0-9 and "-": digits are allowed.',
    run: async (c) => {
      await c.open();
      if (c.role === "server") {
        await helloFirst(c);
      }
      await c.send(error("bad-utf8", "You sent a line that is not UTF-8."));
      await c.expectClosed(
        `an error frame may come first (as "busy" does); "bad-utf8" is a ` +
          `valid code (a-z, 0-9, -); ${c.yours} shows it and closes, ` +
          "without an error of its own",
      );
    },
  };
}

/**
 * The longest line and one byte more, each sent in pieces of 8 KiB, so
 * that a program that judges each read alone, not the line, is caught;
 * the longest line's newline comes apart, so that a program that refuses
 * 32768 bytes without a newline (before seeing the next byte) is caught.
 */
const PIECE_BYTES = 8192;

/** A line of 32768 bytes (a message padded with spaces) is accepted. */
function longLineAccepted(): CaseDef {
  return {
    title: "a frame padded with spaces to 32768 bytes, its newline apart",
    hint: "A line may hold 32768 bytes, not counting its newline: a buffer " +
      "or a readline() limit smaller than 32769 cuts a valid frame, and " +
      "32768 bytes without a newline are not too long yet (the next byte " +
      "may be the newline).",
    run: async (c) => {
      await chatToMyTurn(c);
      const frame = line(message("long line")).trim();
      const padded = frame.slice(0, -1) +
        " ".repeat(MAX_LINE_BYTES - frame.length) + "}";
      await c.sendInPieces(
        padded + "\n",
        PIECE_BYTES,
        '{"type":"message","text":"long line"  ...(32768 bytes)} and the ' +
          "newline apart",
      );
      await c.type("fits");
      await c.expectMessage(
        "fits",
        `my message was one line of exactly 32768 bytes (spaces inside the ` +
          `JSON), sent in pieces of 8 KiB, its newline last and apart: the ` +
          `longest allowed; ${c.yours} reads it whole, and at its turn ` +
          'sends "fits"',
      );
    },
  };
}

/** A line longer than 32768 bytes, with no end in sight: too-long. */
function tooLong(): CaseDef {
  const bytes = MAX_LINE_BYTES + 1;
  return {
    title: `${bytes} bytes without a newline, in pieces`,
    hint: "Keep a limit on the line in your buffer (not on each read): once " +
      `more than 32768 bytes have come without a newline (the ${bytes}th ` +
      'byte is not one), stop and answer "too-long" (Python: ' +
      `readline(${bytes}) returns at most that many bytes; no newline at ` +
      "its end means too long).",
    run: async (c) => {
      await chatToMyTurn(c);
      await c.sendInPieces(
        "x".repeat(bytes),
        PIECE_BYTES,
        `xxxxxxxx... (${bytes} bytes, no newline)`,
      );
      await c.expectError(
        "too-long",
        `I sent ${bytes} bytes without a newline, in pieces of 8 KiB; at ` +
          `the ${bytes}th byte the line is too long: ${c.yours} answers ` +
          'with error "too-long" (without waiting for the rest)',
      );
    },
  };
}

/** The other side leaves: at its own turn, or during the program's. */
function byeReceived(atOwnTurn: boolean): CaseDef {
  return {
    title: atOwnTurn
      ? "the other leaves at its own turn"
      : "the other leaves during your turn, while you wait for input",
    hint: atOwnTurn
      ? 'A bye received is not a message: print "NAME left the chat" ' +
        "(NAME from the other's hello), then close the connection."
      : "Read the network and the keyboard at the same time (a thread for " +
        "each, or select): a bye can come during your own turn, while you " +
        'wait for input; print "NAME left the chat" at once, and close.',
    run: async (c) => {
      await chat(c);
      if (atOwnTurn) {
        if (c.role === "server") await turn(c, "hello", "hi");
        else {
          await c.type("hello");
          await needing(
            "turns",
            c.expectMessage("hello", `${c.yours} sends "hello"`),
          );
        }
      } else if (c.role === "server") {
        await c.send(message("hello"));
      }
      const from = c.printed;
      await c.send(bye());
      const when = atOwnTurn
        ? `at ${c.me}'s turn`
        : `during ${c.you}'s turn, with nothing typed into ${c.yours}`;
      await c.expectShown(
        (text) => text.startsWith(`${c.me} left the chat`),
        `${c.me} sent bye ${when}; ${c.yours} prints "${c.me} left the chat" ` +
          "at once",
        from,
      );
      await c.expectClosed(`after ${c.me}'s bye ${c.yours} closes too`);
    },
  };
}

/** The program's user leaves: /quit, or the end of input, at its turn. */
function leaves(how: "/quit" | "end of input"): CaseDef {
  return {
    title: `${how} at your turn`,
    hint:
      (how === "/quit"
        ? "/quit is not a message: at your turn, send "
        : 'The end of input (Ctrl-D; Python\'s readline() returns "", ' +
          "input() raises EOFError) leaves as /quit does: at your turn, send ") +
      '{"type":"bye"}, print "NAME left the chat" with your own name, then ' +
      "close the connection.",
    run: async (c) => {
      await chat(c);
      if (c.role === "server") await c.send(message("hello"));
      const from = c.printed;
      if (how === "/quit") await c.type("/quit");
      else await c.endInput();
      await c.expectFrame(
        "bye",
        `at ${c.you}'s turn (after ${turnText(c)}) ${how} leaves: ` +
          `${c.yours} sends {"type":"bye"} (not a message)`,
      );
      await c.expectClosed(`after its bye ${c.yours} closes the connection`);
      await c.expectShown(
        (text) => text.startsWith(`${c.you} left the chat`),
        `${c.yours} prints "${c.you} left the chat"`,
        from,
      );
    },
  };
}

/**
 * After the program's last frame: end of file (never a reset), and its
 * side still reads what comes (two more writes of ours do not fail).
 */
async function politeEnd(c: Case, what: string) {
  const item = await c.next();
  await checkClosedPolitely(c, item, what);
}

async function checkClosedPolitely(
  c: Case,
  item: Received,
  what: string,
) {
  const rule =
    `after ${what}, ${c.yours} shuts down its sending half (I read ` +
    "end-of-file) and keeps reading until I close, so nothing is reset";
  if (item.kind !== "eof") throw new Fail(rule, await c.describe(item));
  // Its system answers bytes sent to a closed socket with a reset, which
  // our second write sees (at once on loopback; a second look after 50 ms).
  const stray = new TextEncoder().encode(line(message("are you there?")));
  c.record({ from: c.mySide, label: "(a late message, crossing the close)" });
  for (const wait of [0, 50]) {
    if (wait) await delay(wait);
    if (!(await c.peer!.write(stray)) || !(await c.peer!.write(stray))) {
      throw new Fail(
        rule,
        `${c.yours} closed its socket completely right after ${what}: my ` +
          "next bytes were answered with a reset (a frame crossing the " +
          "close would be lost, or destroy the last one)",
      );
    }
  }
}

function clipVisible(text: string): string {
  const visible = text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu,
    (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`,
  );
  return [...visible].length > 60
    ? [...visible].slice(0, 57).join("") + "..."
    : visible;
}
