/**
 * The chat's side that faces the person: the lines they type, and what the
 * screen shows. Two cases, decided once at the start. A person at a terminal
 * (stdin and stdout both terminals) gets a prompt `alice: ` at their turn,
 * so that the line they type becomes the message line, and a status line
 * `(bob's turn)` during the other's. Through pipes (a script, a test) there
 * are only the lines worth keeping: every message as `NAME: TEXT`, and who
 * joined and who left. Problems go to stderr in both cases.
 *
 * @module
 */

export const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();

// ---------------------------------------------------------------------------
// The lines the person types

// Lines typed (or piped in) and not used yet, in order, one per turn: what
// you type during the other's turn waits here for yours. `null` at the end
// stands for the end of input (Ctrl-D), which stays until its turn comes.
const typed: (string | null)[] = [];
let wakeChat = () => {}; // a line came: wakes the chat if it waits for one
let wakeReader = () => {}; // a line was used: wakes the reader if it waits

/** Reads stdin for as long as the program runs, line by line. */
export async function readKeyboard(): Promise<void> {
  let partial = ""; // the start of a line whose "\n" has not come yet
  try {
    const text = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
    for await (const piece of text) {
      const lines = (partial + piece).split("\n");
      partial = lines.pop()!;
      if (lines.length > 0) unfinished = ""; // Enter moved the cursor down
      for (const line of lines) typed.push(line.replace(/\r$/, ""));
      wakeChat();
      // A script may pipe in more lines than the chat can use for a while:
      // stop reading until there is room, rather than keep them all.
      while (typed.length >= 1000) {
        await new Promise<void>((resolve) => wakeReader = resolve);
      }
    }
  } catch {
    // stdin failed (rare): the same as the end of input.
  }
  if (partial !== "") typed.push(partial);
  typed.push(null);
  wakeChat();
}

/** Is a line (or the end of input) waiting to be used? */
export const lineWaiting = () => typed.length > 0;

/** Resolves when a line (or the end of input) is waiting. */
export function lineTyped(): Promise<{ kind: "typed" }> {
  return new Promise((resolve) => {
    wakeChat = () => resolve({ kind: "typed" });
    if (typed.length > 0) wakeChat();
  });
}

/** The next line, or null for the end of input (which stays). */
export function takeLine(): string | null {
  if (typed[0] === null) return null;
  wakeReader();
  return typed.shift()!;
}

// ---------------------------------------------------------------------------
// The screen

// Text from the network may hold characters a terminal obeys rather than
// shows: ESC starts the sequences that move the cursor, clear the screen
// ("\x1b[2J") or set the window's title; U+009B is ESC and "[" in one; U+202E
// shows the rest of the line right to left ("txt.exe" reads "exe.txt"); a
// zero-width space hides in a name. Each is shown as its number instead:
// ESC as \u{1b}. This covers C0 and C1 controls, DEL, bidi and zero-width
// characters (format, Cf), the line and paragraph separators and halves of
// emoji (lone surrogates). Every line we print goes through it.
const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const escape = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;
export const safe = (text: string) => text.replace(unsafe, escape);

/**
 * Cuts a line into rows of at most `width` columns, between words where it
 * can; rows after the first start with `indent` spaces. If the terminal
 * wrapped a long line itself, a peer could pad a message with spaces so that
 * its next row starts with `alice: ` and reads like a line of alice's. Ours
 * start with spaces, and every real line starts with a name. A character
 * outside ASCII counts as 2 columns: most take 1, some take 2 (中, 😀);
 * counting too many only wraps a little early, too few would not be safe.
 */
export function wrap(line: string, indent: number, width: number): string {
  indent = Math.min(indent, width >> 1);
  const columnsOf = (text: string) =>
    [...text].reduce((sum, c) => sum + (c > "\x7e" ? 2 : 1), 0);
  let rows = "", row = "";
  const newRow = () => {
    rows += row + "\n";
    row = " ".repeat(indent);
  };
  // Words, each with the space after it: "hi bob" is "hi " and "bob".
  for (const word of line.split(/(?<= )/)) {
    // A word that does not fit starts a new row, unless this one is empty.
    if (columnsOf(row + word) > width && row.trim() !== "") newRow();
    for (const character of word) {
      if (columnsOf(row + character) > width) newRow(); // a very long word
      row += character;
    }
  }
  return rows + row;
}

// Our prompt or status, on the last line of a terminal with no "\n" after
// it yet; the next line printed first clears it. "" when there is none.
let unfinished = "";
const encoder = new TextEncoder();

/** Writes all of `text`; quietly nothing if the terminal is gone (SIGHUP). */
function write(text: string, stream = Deno.stdout): void {
  const bytes = encoder.encode(text);
  try {
    for (let n = 0; n < bytes.length;) n += stream.writeSync(bytes.subarray(n));
  } catch {
    // Closed terminal or pipe: nobody reads any more.
  }
}

/** Clears our unfinished prompt or status ("\r", then erase the line). */
function clearUnfinished(): void {
  if (unfinished !== "") write("\r\x1b[2K");
  unfinished = "";
}

/**
 * Prints a line, made safe, on stdout (or `stream`). A line that may hold a
 * peer's text is given an `indent`: on a terminal, it is wrapped to its
 * width, continuation rows indented. (Our own lines, like the command to
 * join, are left whole, for copying.)
 */
export function say(line: string, indent = 0, stream = Deno.stdout): void {
  clearUnfinished();
  let text = safe(line);
  if (indent > 0 && stream.isTerminal()) {
    text = wrap(text, indent, Math.max(Deno.consoleSize().columns - 1, 8));
  }
  write(text + "\n", stream);
}

/** A message, `NAME: TEXT`, its rows indented under the text. */
export const message = (name: string, text: string) =>
  say(`${name}: ${text}`, name.length + 2);

/** A line about a problem, on stderr. */
export const warn = (line: string) => say(line, 2, Deno.stderr);

/** A line in the middle of a turn: the prompt or status is shown again. */
export function aside(line: string): void {
  const last = unfinished;
  warn(line);
  if (last !== "") show(last);
}

/** Faint text, for hints and status (unless NO_COLOR is set). */
const dim = (text: string) => Deno.noColor ? text : `\x1b[2m${text}\x1b[22m`;

/** On a terminal: text on the last line, until the next line replaces it. */
function show(text: string): void {
  clearUnfinished();
  write(text);
  unfinished = text;
}

/** On a terminal: a hint printed once, dimmed (our own words, all safe). */
export function hint(line: string): void {
  if (interactive) show(dim(line) + "\n");
  unfinished = "";
}

/** On a terminal: `alice: `, and the cursor waits after it. */
export function prompt(name: string): void {
  if (interactive) show(`${name}: `);
}

/** On a terminal: `(bob's turn) `, and what you type ahead shows after it. */
export function status(text: string): void {
  if (interactive) show(dim(text));
}

/** On a terminal: removes the line just typed (an empty one, or /quit). */
export function eraseTypedLine(): void {
  // Up one line ("\x1b[A"), to its start ("\r"), and erase it ("\x1b[2K").
  if (interactive) write("\x1b[A\r\x1b[2K");
}
