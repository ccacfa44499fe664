/**
 * The chat's side facing the person: the lines they type, and what the
 * screen shows. Two cases, decided once at the start:
 *
 * - A person at a terminal (stdin and stdout both terminals): a prompt
 *   `alice: ` at your turn, so that what you type becomes the message line
 *   `alice: hi bob` as you type it, and a short status line while it is the
 *   other side's turn.
 * - Pipes (a script, a test): no prompts and no status lines, only the
 *   lines worth keeping: every message as `USERNAME: TEXT`, and who joined
 *   and left. Problems go to stderr in both cases.
 *
 * @module
 */

import { TextLineStream } from "@std/streams/text-line-stream";

// ---------------------------------------------------------------------------
// Showing a peer's text safely

// What a terminal could take as a command rather than as text. ESC starts
// the escape sequences that move the cursor ("\x1b[H"), clear the screen
// ("\x1b[2J") or set the window's title ("\x1b]0;...\x07"); U+009B is ESC
// and "[" in one character; U+202E makes the rest of a line display right
// to left, so that "txt.exe" reads "exe.txt".
const UNSAFE = new RegExp(
  [
    "[\\u0000-\\u001f\\u007f]", // C0 controls (ESC among them) and DEL
    "[\\u0080-\\u009f]", // C1 controls
    "[\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]", // bidi marks
    "[\\u2028\\u2029]", // line and paragraph separators
    "[\\ud800-\\udfff]", // half a surrogate pair, alone: not a character
  ].join("|"),
  "gu",
);

/**
 * Returns `text` with every character a terminal might obey replaced by
 * its visible escape: ESC becomes the four characters `\x1b`, U+202E
 * becomes `\u202e`. What is left is plain text that cannot move the
 * cursor, clear the screen or change the window's title.
 */
export function sanitize(text: string): string {
  return text.replace(UNSAFE, (character) => {
    const code = character.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

// ---------------------------------------------------------------------------
// The lines the person types

/**
 * The lines typed (or piped) on stdin, kept in order until the chat takes
 * them, one per turn. What you type while it is the other side's turn
 * waits here for yours. End of input (Ctrl-D) becomes `null`, the last
 * "line", which stays: it is acted on when its turn comes.
 */
export class InputLines {
  /** Lines read but not taken yet; `null` at the end means end of input. */
  #lines: (string | null)[] = [];
  /** Wakes up whoever waits for a line (or for room in the queue). */
  #waiters = new Set<() => void>();
  /** Called as each line arrives (the person pressed Enter). */
  #onLine: () => void;

  /** The most lines kept before we stop reading stdin for a while. */
  static readonly LIMIT = 1000;

  constructor(input: ReadableStream<Uint8Array>, onLine: () => void) {
    this.#onLine = onLine;
    this.#read(input);
  }

  async #read(input: ReadableStream<Uint8Array>): Promise<void> {
    // TextLineStream also removes the "\r" of Windows-style "\r\n" lines.
    const lines = input
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream());
    try {
      for await (const line of lines) {
        // A script may pipe in more lines than the chat can use for a while:
        // stop reading until there is room, instead of keeping them all.
        while (this.#lines.length >= InputLines.LIMIT) await this.#changed();
        this.#push(line);
        this.#onLine();
      }
    } catch {
      // stdin failed (rare): treat it as the end of input.
    }
    this.#push(null);
  }

  #push(line: string | null): void {
    this.#lines.push(line);
    this.#wakeAll();
  }

  /** Resolves at the next change to the queue. */
  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  #wakeAll(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Is a line (or the end of input) waiting to be taken? */
  get ready(): boolean {
    return this.#lines.length > 0;
  }

  /** Resolves when a line (or the end of input) is waiting. */
  async whenReady(): Promise<void> {
    while (!this.ready) await this.#changed();
  }

  /** Takes the next line, or `null` for end of input (which stays). */
  take(): string | null {
    const line = this.#lines[0];
    if (line === null) return null;
    this.#lines.shift();
    this.#wakeAll();
    return line;
  }
}

// ---------------------------------------------------------------------------
// The screen

const encoder = new TextEncoder();

/**
 * Where everything the chat shows goes. Lines are written whole, on their
 * own, so that scripts can pick out `USERNAME: TEXT`. On a terminal, a
 * prompt or status line may sit unfinished on the last line; any line
 * printed after it replaces it.
 */
export class Screen {
  readonly interactive: boolean;
  /** Is our prompt or status on the last line, with no "\n" after it? */
  #unfinished = false;
  /** The last prompt or status written. */
  #last = "";

  constructor(interactive: boolean) {
    this.interactive = interactive;
  }

  /** A line for stdout: a message, or someone joined or left. */
  say(line: string): void {
    this.#clearUnfinished();
    console.log(line);
  }

  /** A line for stderr: something went wrong. */
  warn(line: string): void {
    this.#clearUnfinished();
    console.error(line);
  }

  /**
   * A line on stderr about something outside the conversation (someone
   * else tried to join), printed in the middle of it: the prompt or status
   * it had to clear is shown again after it.
   */
  aside(line: string): void {
    const unfinished = this.#unfinished ? this.#last : "";
    this.warn(line);
    if (unfinished !== "") this.#write(unfinished);
  }

  /** On a terminal: a hint printed once, dimmed. */
  hint(line: string): void {
    if (!this.interactive) return;
    this.#clearUnfinished();
    console.log(dim(line));
  }

  /** On a terminal: `alice: `, and the cursor waits after it. */
  prompt(username: string): void {
    if (!this.interactive) return;
    this.#clearUnfinished();
    this.#write(`${username}: `);
  }

  /** On a terminal: a status on the last line, until the next line. */
  status(text: string): void {
    if (!this.interactive) return;
    this.#clearUnfinished();
    this.#write(dim(text));
  }

  /**
   * The person pressed Enter (or Ctrl-C): the terminal moved the cursor to
   * a new line by itself, so our prompt or status line is finished.
   */
  lineEnded(): void {
    this.#unfinished = false;
  }

  /**
   * Ctrl-C: the terminal has printed "^C" after our prompt or status. Clear
   * that line now, before anything else is printed on it.
   */
  interrupted(): void {
    this.#clearUnfinished();
    this.#unfinished = false;
  }

  /** On a terminal: removes the line just typed (an empty one, `/quit`). */
  eraseTypedLine(): void {
    // Up one line ("\x1b[A"), to its start ("\r"), and clear it ("\x1b[2K").
    if (this.interactive) this.#write("\x1b[A\r\x1b[2K", false);
  }

  /** A line printed now must first remove an unfinished prompt or status. */
  #clearUnfinished(): void {
    if (this.#unfinished) this.#write("\r\x1b[2K", false);
  }

  #write(text: string, unfinished = true): void {
    if (unfinished) this.#last = text;
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
    this.#unfinished = unfinished;
  }
}

/** Faint text for hints and status, unless NO_COLOR is set. */
function dim(text: string): string {
  return Deno.noColor ? text : `\x1b[2m${text}\x1b[22m`;
}
