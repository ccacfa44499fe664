/**
 * whole-greeting (12.4): a client that must read the whole greeting from a
 * server that sends it in three pieces, with pauses, and cuts a character
 * of four bytes in two between pieces.
 *
 * @module
 */
import {
  close,
  type Context,
  type Exercise,
  Fail,
  pace,
  PAUSE_MS,
  quote,
  readUntilHangUp,
  startClient,
  writeAll,
} from "../kit.ts";

const LISTENER = "chapters/12_4_tcp_listener.ts";
const CITES = {
  readToEnd: { file: LISTENER, snippet: "for await (const piece of text) {" },
  streamDecoder: {
    file: LISTENER,
    snippet: "conn.readable.pipeThrough(new TextDecoderStream(), { signal })",
  },
};

async function check(context: Context): Promise<void> {
  // A number of our choosing, so that no printed "0. Hi ..." passes.
  const number = 1 + Math.floor(Math.random() * 98);
  const wave = new TextEncoder().encode("👋"); // 4 bytes in UTF-8
  const encode = (text: string) => new TextEncoder().encode(text);
  const pieces = [
    encode(`${number}. Hi`),
    new Uint8Array([...encode(" new friend! "), ...wave.subarray(0, 2)]),
    new Uint8Array([...wave.subarray(2), ...encode("\n")]),
  ];
  const greeting = `${number}. Hi new friend! 👋`;

  const { say } = context;
  const { program, conn } = await startClient(context);
  say(
    `The server sent the greeting in 3 pieces, ${PAUSE_MS} ms apart, then hung up:`,
  );
  try {
    await writeAll(conn, pieces[0]);
    say(`  ${quote(`${number}. Hi`)} (${pieces[0].length} bytes)`);
    await pace(PAUSE_MS);
    await writeAll(conn, pieces[1]);
    say(
      `  ${quote(" new friend! ")} and the first 2 of the 4 bytes of 👋 (${
        pieces[1].length
      } bytes)`,
    );
    await pace(PAUSE_MS);
    await writeAll(conn, pieces[2]);
    say(`  the last 2 bytes of 👋, then "\\n" (3 bytes)`);
    await conn.closeWrite();
  } catch {
    say("  ...but your client hung up before the end.");
  }
  // Read what the client sends (nothing, usually) until it hangs up.
  await readUntilHangUp(conn, 3000);
  close(conn);
  await program.ended(3000);
  for (const line of program.report("Your client")) say(line);

  const printed = program.stdout.join("\n").trimEnd();
  if (program.status === null) {
    throw new Fail(
      `Your client was still running 3 s after the server hung up. When the server hangs up, a read returns null (the end of the stream): stop there and print.`,
      CITES.readToEnd,
    );
  }
  if (printed === greeting && program.status.code === 0) return;
  if (printed === greeting) {
    throw new Fail(
      `Your client printed the whole greeting, then ended with an error: end with status 0 when all went well.`,
    );
  }
  if (printed !== "" && greeting.startsWith(printed)) {
    throw new Fail(
      `Your client printed only ${
        quote(printed)
      }. A read returns whatever has arrived so far, here only part of the greeting, not the whole message the server meant. Keep reading until the server hangs up (a read then returns null; Python's recv() returns b""), as the lesson's loop does.`,
      CITES.readToEnd,
    );
  }
  // Each piece decoded on its own: "�" printed, or (Python's strict
  // decode()) an error before anything is printed.
  const decodeError = /decode|utf-?8/i.test(program.stderr.join("\n"));
  if (printed.includes("\ufffd") || (printed === "" && decodeError)) {
    throw new Fail(
      `Your client ${
        decodeError ? "could not decode a piece" : 'printed "�"'
      }: 👋 is 4 bytes in UTF-8, and the pieces cut it in two. Decoded on its own, each half is not a character. Keep the bytes until the end and decode them once, or use a streaming decoder, which holds half a character until the rest comes.`,
      CITES.streamDecoder,
    );
  }
  if (printed === "" && program.status.code !== 0) {
    throw new Fail(
      `Your client ended with an error before it printed anything: its own words are above. Fix that first; then print what the server sent.`,
      CITES.readToEnd,
    );
  }
  throw new Fail(
    `Your client printed ${quote(printed)}; the server sent ${
      quote(greeting + "\n")
    }. Print what the server sent, nothing else.`,
    CITES.readToEnd,
  );
}

export const wholeGreeting: Exercise = {
  name: "whole-greeting",
  section: "12.4",
  title: "Read the whole greeting, however it comes",
  file: "12_4_whole_greeting.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
