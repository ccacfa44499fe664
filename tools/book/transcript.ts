/**
 * Transcripts: what each terminal showed in a real run of a lesson (the
 * commands typed, every line printed), as the recorder (record.ts) writes
 * them to tools/book/transcripts/ and the book shows them. Also the rules
 * that say when two runs showed "the same": only what truly varies from run
 * to run is set aside (the ports the system picks, times, dates), so a
 * transcript that no longer matches the code fails the test. The same rules
 * check the examples in the lessons' headers against a real run.
 *
 * @module
 */

/** One thing in a terminal: a command typed, a line printed, a key. */
export interface Entry {
  /** A command typed at the prompt (shown after `$ `). */
  command?: string;
  /** A line the program printed on its standard output. */
  out?: string;
  /** A line it printed on its standard error. */
  err?: string;
  /** A key pressed: "^C" (Ctrl-C). */
  key?: string;
}

/** One terminal window of the run. */
export interface Terminal {
  name: string;
  entries: Entry[];
}

/** What crossed the connection, as a small relay saw it. */
export interface Wire {
  left: string;
  right: string;
  frames: { from: "left" | "right"; text: string }[];
}

export interface Transcript {
  /** File name (without .json) and id on the page. */
  name: string;
  title: string;
  /** The tasks it shows: its pages are theirs (`tcp-server`, `lab router`). */
  tasks: string[];
  /** A sentence about how it was run, for the page. */
  note?: string;
  /**
   * "exact": every line must match a fresh run (after normalising);
   * "each computer": the same, but the lab's lines are compared computer
   * by computer (`  A | ...`, `  B $ ...`), each in its order: two
   * computers' programs run at once, and which prints first is timing;
   * "commands": the run is random by design (a lossy cable): only its
   * commands and headings must match.
   */
  check: "exact" | "each computer" | "commands";
  /**
   * The run used ports the system picked (free ports), and the transcript
   * shows the lessons' default ports instead, as a reader will see them.
   */
  defaultPorts?: boolean;
  terminals: Terminal[];
  wire?: Wire;
}

/** Where the transcripts are kept. */
export const TRANSCRIPTS = new URL("./transcripts/", import.meta.url);

/** A transcript as JSON with one entry per line, for readable diffs. */
export function format(transcript: Transcript): string {
  const { terminals, wire, ...rest } = transcript;
  const head = JSON.stringify(rest, null, 2).replace(/\n}$/, "");
  const lines = [head + ",", '  "terminals": ['];
  terminals.forEach((terminal, t) => {
    lines.push(`    {`, `      "name": ${JSON.stringify(terminal.name)},`);
    lines.push(`      "entries": [`);
    terminal.entries.forEach((entry, i) => {
      const comma = i < terminal.entries.length - 1 ? "," : "";
      lines.push(`        ${JSON.stringify(entry)}${comma}`);
    });
    lines.push(`      ]`, `    }${t < terminals.length - 1 ? "," : ""}`);
  });
  lines.push(`  ]${wire ? "," : ""}`);
  if (wire) {
    lines.push(`  "wire": {`);
    lines.push(`    "left": ${JSON.stringify(wire.left)},`);
    lines.push(`    "right": ${JSON.stringify(wire.right)},`);
    lines.push(`    "frames": [`);
    wire.frames.forEach((frame, i) => {
      const comma = i < wire.frames.length - 1 ? "," : "";
      lines.push(`      ${JSON.stringify(frame)}${comma}`);
    });
    lines.push(`    ]`, `  }`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Every committed transcript, by name. */
export function readTranscripts(): Map<string, Transcript> {
  const all = new Map<string, Transcript>();
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(TRANSCRIPTS)]
      .filter((entry) => entry.name.endsWith(".json"))
      .map((entry) => entry.name).sort();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const name of names) {
    const text = Deno.readTextFileSync(new URL(name, TRANSCRIPTS));
    const transcript = JSON.parse(text) as Transcript;
    all.set(transcript.name, transcript);
  }
  return all;
}

/**
 * A line with what varies from run to run replaced by a placeholder:
 *
 * - ports the system picked (32768-65535, Linux's and the other systems'
 *   ranges for ports nobody asked for) next to an address, and the range
 *   `deno task ports` names for the one it got;
 * - durations (`0.42 s`, `15 ms`) and dates (HTTP's, Python's log);
 * - how many reads a 1 MiB transfer took (`in 1025 chunks`): a read takes
 *   what has arrived, which depends on timing;
 * - Python's version in `Server: SimpleHTTP/0.6 Python/3.11.7`;
 * - the process id in the names of the lab's namespaces
 *   (`denolab-16616-a`).
 *
 * The ports our servers listen on by default (10001, 25000, ...) are below
 * 32768 and are compared as they are.
 */
export function normalise(line: string): string {
  return line
    .replace(
      /((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-f:]*\]|localhost):(3[2-9]\d{3}|[4-5]\d{4}|6[0-5]\d{3})\b/g,
      "$1:PORT",
    )
    .replace(/:PORT, in the [\w/-]+ range/g, ":PORT, in the RANGE range")
    .replace(/\b\d+(\.\d+)? ?(ms|µs|s)\b/g, "TIME")
    .replace(
      /\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/g,
      "DATE",
    )
    .replace(/\[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\]/g, "[DATE]")
    .replace(/\bin \d+ chunks\b/g, "in N chunks")
    .replace(/Python\/\d+\.\d+\.\d+/g, "Python/X")
    .replace(/\bdenolab-\d+-/g, "denolab-PID-");
}

/** The lab's commands and headings: what a random run still repeats. */
const STEADY = /^( {2}\S+ [$#] |\d+\. |What this showed|Lab: )/;

/** A line of the lab run on one computer: `  A | ...`, `  B $ ...`. */
const ON_COMPUTER = /^ {2}(\S+) +[$#|] /;

/** The lines of a transcript that a fresh run must repeat, normalised. */
export function comparable(transcript: Transcript): string[] {
  const lines: string[] = [];
  if (transcript.defaultPorts) lines.push("(shown with the default ports)");
  for (const terminal of transcript.terminals) {
    lines.push(`[${terminal.name}]`);
    const computers = new Map<string, string[]>();
    for (const entry of terminal.entries) {
      if (entry.command !== undefined) lines.push(`$ ${entry.command}`);
      if (entry.key !== undefined) lines.push(entry.key);
      const text = entry.out ?? entry.err;
      if (text === undefined) continue;
      if (transcript.check === "commands" && !STEADY.test(text)) continue;
      const line = `${entry.out !== undefined ? "|" : "!"} ${normalise(text)}`;
      const computer = transcript.check === "each computer"
        ? text.match(ON_COMPUTER)?.[1]
        : undefined;
      if (computer === undefined) lines.push(line);
      else computers.set(computer, [...computers.get(computer) ?? [], line]);
    }
    for (const [computer, own] of [...computers].sort()) {
      lines.push(`[${terminal.name}, computer ${computer}]`, ...own);
    }
  }
  for (const frame of transcript.wire?.frames ?? []) {
    lines.push(`${frame.from} > ${normalise(frame.text)}`);
  }
  return lines;
}

/** The first lines where two transcripts differ, or "" when they agree. */
export function difference(committed: Transcript, fresh: Transcript): string {
  const a = comparable(committed);
  const b = comparable(fresh);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `${committed.name}: line ${i + 1} differs\n` +
        `  committed: ${a[i] ?? "(nothing)"}\n` +
        `  fresh run: ${b[i] ?? "(nothing)"}`;
    }
  }
  return "";
}

// --------------------------------------------------------------------
// The examples in the lessons' headers

/** One command of a header's example, with the lines shown under it. */
export interface Example {
  command: string;
  lines: string[];
}

/**
 * The examples of a header: the indented blocks of its text, split into
 * their two columns where two terminals stand side by side (`Terminal 1`
 * ... `Terminal 2`), each column cut at its `$ ` lines into commands and
 * the lines shown under them. A note after a command in brackets
 * (`(terminal 2)`) is not part of it; `...` stands for lines left out.
 */
export function headerExamples(header: string[]): Example[] {
  const blocks: string[][] = [];
  let block: string[] = [];
  for (const line of [...header, ""]) {
    if (/^ {2,}\S/.test(line) || (line.trim() === "" && block.length)) {
      block.push(line);
    } else if (block.length > 0) {
      blocks.push(block);
      block = [];
    }
  }
  const examples: Example[] = [];
  for (const lines of blocks) {
    // Two columns: a line with a second `$ ` (or "Terminal 2") far right.
    let split = 0;
    for (const line of lines) {
      const second = line.search(/ {2}(\$ |Terminal 2)/);
      if (second > 0 && /^\s*(\$ |Terminal 1)/.test(line)) {
        split = second + line.slice(second).search(/\S/);
        break;
      }
    }
    const columns: string[][] = [[], []];
    for (const line of lines) {
      const right = split > 0 && line.length > split &&
        line.slice(split - 2, split) === "  ";
      columns[0].push(right ? line.slice(0, split) : line);
      columns[1].push(right ? line.slice(split) : "");
    }
    for (const column of split > 0 ? columns : [columns[0]]) {
      let current: Example | undefined;
      for (const raw of column) {
        const line = raw.trim();
        if (line.startsWith("$ ")) {
          current = {
            command: line.slice(2).replace(/\s{2,}\(.*\)$/, "").trim(),
            lines: [],
          };
          examples.push(current);
        } else if (current && line !== "" && !line.startsWith("...")) {
          current.lines.push(line.replace(/^\^C/, ""));
        }
      }
    }
  }
  return examples;
}

/**
 * Whether the lines a header shows under a command appear, in that order,
 * in what the command printed (normalised, spaces squeezed; a header may
 * wrap one long line over several). Returns the first line not found, or
 * null when all were.
 */
export function missingLine(
  shown: string[],
  printed: string[],
): string | null {
  const squeeze = (text: string) => normalise(text).replace(/\s+/g, " ").trim();
  const text = printed.map(squeeze).join("\n");
  let at = 0;
  for (const line of shown) {
    // A line the header cut short ends in "…" or "...": its start must be
    // there ("..." alone stands for lines left out).
    const wanted = squeeze(line).replace(/\s*(…|\.\.\.)$/, "");
    if (wanted === "") continue;
    const found = text.indexOf(wanted, at);
    if (found < 0) return line;
    at = found + wanted.length;
  }
  return null;
}

/** What `command` printed, each time a transcript shows it run. */
export function printedBy(
  transcripts: Iterable<Transcript>,
  command: string,
): string[][] {
  const runs: string[][] = [];
  for (const transcript of transcripts) {
    for (const terminal of transcript.terminals) {
      terminal.entries.forEach((entry, at) => {
        if (entry.command !== command) return;
        const printed: string[] = [];
        for (const next of terminal.entries.slice(at + 1)) {
          if (next.command !== undefined) break;
          const text = next.out ?? next.err;
          if (text !== undefined) printed.push(text);
        }
        runs.push(printed);
      });
    }
  }
  return runs;
}

/** The header's lines of a source file, without the comment marks. */
export function headerLines(source: string): string[] {
  const match = source.match(/^\s*\/\*\*([\s\S]*?)\*\//);
  if (!match) return [];
  return match[1].split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
    .map((line) => line.replace(/^\s*\*$/, ""));
}

/** What checking one header's examples against real runs found. */
export interface HeaderCheck {
  /** `deno task` commands whose lines all appear in a real run. */
  checked: string[];
  /** Commands no recorded run ran (other programs, other setups). */
  unchecked: string[];
  /** Commands whose shown lines a real run did not print. */
  wrong: { command: string; line: string }[];
}

/**
 * Checks the examples of a file's header against the recorded runs: every
 * line shown under a `deno task` command that was recorded must appear in
 * what that command printed in some run (normalised, in order).
 */
export function checkHeader(
  source: string,
  transcripts: Transcript[],
): HeaderCheck {
  const result: HeaderCheck = { checked: [], unchecked: [], wrong: [] };
  for (const example of headerExamples(headerLines(source))) {
    const runs = printedBy(transcripts, example.command);
    if (runs.length === 0) {
      result.unchecked.push(example.command);
      continue;
    }
    const misses = runs.map((printed) => missingLine(example.lines, printed));
    if (misses.includes(null)) result.checked.push(example.command);
    else result.wrong.push({ command: example.command, line: misses[0]! });
  }
  return result;
}
