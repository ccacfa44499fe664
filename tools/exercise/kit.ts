/**
 * What every exercise check shares: the exercise's shape, how a check fails
 * (with a hint and the lesson's line that shows the idea), running the
 * student's program as a real process, and talking to it over real
 * sockets with every wait bounded. Not a lesson: a tool, so it may share
 * code with the tests and the other tools (tools/task_process.ts).
 *
 * @module
 */
import { concat } from "@std/bytes/concat";
import { TextLineStream } from "@std/streams/text-line-stream";
import { ROOT, within } from "../task_process.ts";

export { ROOT, within };

/** A place in a lesson: its file and a snippet of code found there once. */
export interface Cite {
  file: string;
  snippet: string;
}

/** What the check is handed: a way to start the program, and to narrate. */
export interface Context {
  /** Starts the student's program with ARGS (the check's own arguments). */
  start(args: string[]): Program;
  /** One sentence of what the peer did or saw, printed as it happens. */
  say(text: string): void;
}

export interface Exercise {
  /** The name a student types: `deno task exercise NAME`. */
  name: string;
  /** The book's section, e.g. "12.4". */
  section: string;
  title: string;
  /** The starter, in exercises/. */
  file: string;
  /** deno run's permission flags for the student's Deno file. */
  permissions: string[];
  /** It talks over sockets or reads a file: any language will do. */
  anyLanguage: boolean;
  /** Every lesson line its hints point to (the tests check each one). */
  cites: Record<string, Cite>;
  /** Runs the check; throws Fail (with its hint) or CannotRun. */
  check(context: Context): Promise<void>;
}

/** The exercise is not done yet: a hint in the lesson's words. */
export class Fail extends Error {
  constructor(message: string, readonly cite?: Cite) {
    super(message);
  }
}

/** This computer cannot run the check (no IPv6, no lab): exit 77. */
export class CannotRun extends Error {}

// ---------------------------------------------------------------- text

// As in the lessons: control characters and the invisible ones that can
// disguise text are shown as \u{HEX}, never obeyed by the terminal.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const escape = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

/** Text from a program or the network, quoted and safe to print. */
export function quote(text: string, most = 120): string {
  const chars = [...text];
  const cut = chars.length > most ? chars.slice(0, most).join("") : text;
  return `"${cut.replace(UNSAFE, escape)}"${chars.length > most ? "…" : ""}`;
}

/**
 * Bytes as text, quoted and safe; a byte that is not part of a whole UTF-8
 * character (half of one cut by the network, say) shows as \xHH.
 */
export function quoteBytes(bytes: Uint8Array, most = 120): string {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let text = "";
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i];
    // How long a character starting with this byte is (0: none can).
    const size = lead < 0x80
      ? 1
      : lead < 0xc2
      ? 0
      : lead < 0xe0
      ? 2
      : lead < 0xf0
      ? 3
      : lead < 0xf5
      ? 4
      : 0;
    let char = "";
    try {
      if (size && i + size <= bytes.length) {
        char = utf8.decode(bytes.subarray(i, i + size));
      }
    } catch {
      // Not a character after all.
    }
    text += char || `\\x${lead.toString(16).padStart(2, "0")}`;
    i += char ? size : 1;
  }
  return quote(text, most);
}

/** `7f 00 00 01`: bytes in hexadecimal, as Wireshark shows them. */
export function hexBytes(bytes: Uint8Array, most = 24): string {
  const shown = [...bytes.subarray(0, most)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > most ? `${shown} …` : shown;
}

/** 1000 -> "1,000". */
export const count = (n: number) => n.toLocaleString("en-US");

/** "1 datagram", "3 datagrams". */
export const plural = (n: number, word: string) =>
  `${count(n)} ${word}${n === 1 ? "" : "s"}`;

/** `127.0.0.1:10001`, or `[::1]:10001` for IPv6, as the lessons print. */
export const address = ({ hostname, port }: Deno.NetAddr) =>
  hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;

/** Wraps a paragraph at `width` columns, each line after `indent`. */
export function wrap(text: string, indent = "  ", width = 79): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join("\n");
}

/**
 * The line of `cite.file` that holds `cite.snippet`, found now (lessons
 * change: no line number is written down anywhere). Null unless exactly
 * one line holds it.
 */
export function findCite(cite: Cite): { line: number; text: string } | null {
  let source: string;
  try {
    source = Deno.readTextFileSync(new URL(cite.file, ROOT));
  } catch {
    return null;
  }
  const lines = source.split("\n");
  const found = lines.flatMap((text, i) =>
    text.includes(cite.snippet) ? [{ line: i + 1, text: text.trim() }] : []
  );
  return found.length === 1 ? found[0] : null;
}

// ------------------------------------------------------------- program

/** The student's program, running as a real process. */
export class Program {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  /** How it ended; null while it runs. */
  status: Deno.CommandStatus | null = null;
  #child: Deno.ChildProcess;
  #done: Promise<void>;
  #waiters = new Set<() => void>();

  constructor(command: string[], cwd: string | URL) {
    this.#child = new Deno.Command(command[0], {
      args: command.slice(1),
      cwd,
      // Python keeps its output in a buffer behind a pipe: not here.
      env: { NO_COLOR: "1", PYTHONUNBUFFERED: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reading = Promise.all([
      this.#collect(this.#child.stdout, this.stdout),
      this.#collect(this.#child.stderr, this.stderr),
    ]);
    this.#done = Promise.all([this.#child.status, reading]).then(
      ([status]) => {
        this.status = status;
        this.#wake();
      },
    );
  }

  async #collect(stream: ReadableStream<Uint8Array>, lines: string[]) {
    const text = stream.pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream());
    try {
      for await (const line of text) {
        lines.push(line);
        this.#wake();
      }
    } catch {
      // The stream broke off when the process was killed: keep what came.
    }
  }

  #wake() {
    for (const wake of this.#waiters) wake();
  }

  /** Resolves at the next line or at the end, or after `ms` at the most. */
  #change(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.add(done);
    });
  }

  /** The first stdout line matching `pattern`, within `ms`; else null. */
  async line(pattern: RegExp, ms: number): Promise<RegExpMatchArray | null> {
    const deadline = Date.now() + ms;
    for (let checked = 0;;) {
      for (; checked < this.stdout.length; checked++) {
        const match = this.stdout[checked].match(pattern);
        if (match) return match;
      }
      if (this.status !== null || Date.now() >= deadline) return null;
      await this.#change(deadline - Date.now());
    }
  }

  /** Waits at most `ms` for the program to end by itself. */
  async ended(ms: number): Promise<boolean> {
    await within(this.#done, ms);
    return this.status !== null;
  }

  /** Ends it if it still runs (SIGTERM, then SIGKILL), and waits. */
  async stop(): Promise<void> {
    if (this.status === null) this.#kill("SIGTERM");
    if (await within(this.#done, 2000) === "timeout") this.#kill("SIGKILL");
    await this.#done;
  }

  #kill(signal: Deno.Signal) {
    try {
      this.#child.kill(signal);
    } catch {
      // It ended meanwhile.
    }
  }

  /** Its output, for the story: "printed ..." and how it ended. */
  report(what = "Your program"): string[] {
    const shown = this.stdout.slice(0, 12).map((line) => `    ${quote(line)}`);
    const more = this.stdout.length > 12 ? ["    …"] : [];
    const printed = this.stdout.length
      ? [`${what} printed:`, ...shown, ...more]
      : [`${what} printed nothing.`];
    if (this.status === null) return [...printed, `It was still running.`];
    const { code, signal } = this.status;
    if (code === 0) return printed;
    // Its own first words on stderr: what went wrong, in its words.
    const said = this.stderr.map((line) => line.trim())
      .filter((line) => line !== "");
    const how = signal
      ? `was stopped (${signal})`
      : `ended with status ${code}`;
    // Python's traceback starts with a line that tells nothing: its last
    // line names the error ("UnicodeDecodeError: ...").
    const words = said[0]?.startsWith("Traceback (most recent call last)")
      ? said.at(-1)!
      : said[0];
    const saying = said.length ? ` and said: ${quote(words, 160)}` : "";
    return [...printed, `It ${how}${saying}.`];
  }
}

// ------------------------------------------------------------- sockets

/** Where the lessons print the line the checks wait for. */
export const LISTENING_CITE: Cite = {
  file: "chapters/12_4_tcp_server.ts",
  snippet: "console.log(`Listening on ${address(listener.addr)}`);",
};

/**
 * Starts the student's server with ARGS and waits (5 s at most) for
 * `Listening on HOST:PORT`, as the tests wait for the lessons' servers.
 */
export async function startServer(
  { start, say }: Context,
  args: string[],
): Promise<{ program: Program; hostname: string; port: number }> {
  const program = start(args);
  const match = await program.line(
    /^Listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+)\s*$/,
    5000,
  );
  if (match === null) {
    for (const line of program.report("Your server")) say(line);
    if (program.status !== null && program.status.code !== 0) {
      throw new Fail(
        `Your server ended before it listened: its own error is above.`,
        LISTENING_CITE,
      );
    }
    throw new Fail(
      `Your server never printed "Listening on HOST:PORT" (within 5 s of starting, with ${
        args.join(" ")
      }). Print it once the socket listens, with the port it really got, as the lessons' servers do: the check reads the port from there.`,
      LISTENING_CITE,
    );
  }
  const hostname = match[1] ?? match[2];
  // A server on every address (0.0.0.0) is reached here through loopback.
  const local = { "0.0.0.0": "127.0.0.1", "::": "::1" }[hostname] ?? hostname;
  return { program, hostname: local, port: Number(match[3]) };
}

/**
 * The peers' pause between two pieces of what they send: long enough that
 * the student's program reads the first piece before the next arrives,
 * even on a busy machine. (A deliberate part of what the peer does, not a
 * wait for something to happen: those are all event-driven.)
 */
export const PAUSE_MS = 150;

/** Resolves after `ms`: the peer's deliberate pause between two writes. */
export const pace = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes all of `bytes`, however many calls it takes. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let i = 0; i < bytes.length;) i += await conn.write(bytes.subarray(i));
}

/**
 * Reads a connection with deadlines, keeping what a read brought beyond
 * what was asked for, and the one read still waiting when time ran out
 * (its bytes are not lost: the next call takes them).
 */
export class ByteReader {
  #conn: Deno.Conn;
  #pending: Uint8Array = new Uint8Array(0);
  #reading: Promise<Uint8Array | null> | null = null;
  /** The other side hung up (or reset the connection). */
  hungUp = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** One more piece into #pending; false if the deadline came first. */
  async #more(deadline: number): Promise<boolean> {
    this.#reading ??= (async () => {
      const buffer = new Uint8Array(65536);
      const n = await this.#conn.read(buffer);
      return n === null ? null : buffer.subarray(0, n);
    })().catch(() => null); // a reset: gone all the same
    const piece = await within(
      this.#reading,
      Math.max(0, deadline - Date.now()),
    );
    if (piece === "timeout") return false;
    this.#reading = null;
    if (piece === null) this.hungUp = true;
    else this.#pending = concat([this.#pending, piece]);
    return piece !== null;
  }

  /** Exactly `n` bytes; or, if the peer hangs up or time runs out, fewer. */
  async exactly(n: number, deadline: number): Promise<Uint8Array> {
    while (this.#pending.length < n && !this.hungUp) {
      if (!(await this.#more(deadline))) break;
    }
    const bytes = this.#pending.slice(0, n);
    this.#pending = this.#pending.slice(bytes.length);
    return bytes;
  }

  /** Everything until the peer hangs up, `most` bytes, or the deadline. */
  async rest(deadline: number, most = 1 << 20): Promise<Uint8Array> {
    while (this.#pending.length < most && !this.hungUp) {
      if (!(await this.#more(deadline))) break;
    }
    const bytes = this.#pending;
    this.#pending = new Uint8Array(0);
    return bytes;
  }
}

/**
 * Reads until the other side hangs up, `most` bytes have come, or `ms`
 * have passed; says which.
 */
export async function readUntilHangUp(
  conn: Deno.Conn,
  ms: number,
  most = 1 << 20,
): Promise<{ bytes: Uint8Array; hungUp: boolean }> {
  const reader = new ByteReader(conn);
  const bytes = await reader.rest(Date.now() + ms, most);
  return { bytes, hungUp: reader.hungUp };
}

/** Closes a connection, ignoring one that is closed already. */
export function close(closer: { close(): void }) {
  try {
    closer.close();
  } catch {
    // Closed already.
  }
}

/** Where the lessons' clients connect: the hint when a client never does. */
export const CONNECT_CITE: Cite = {
  file: "chapters/12_4_tcp_listener.ts",
  snippet: "const conn = await Deno.connect({ hostname, port, signal });",
};

/**
 * Listens on `hostname` (any free port), starts the student's client told
 * to connect there (--host, --port), and takes its connection. Fails,
 * saying what happened, if the program ends first or 5 s pass.
 */
export async function startClient(
  { start, say }: Context,
  hostname = "127.0.0.1",
): Promise<{ program: Program; conn: Deno.Conn; where: string }> {
  const listener = Deno.listen({ hostname, port: 0 });
  const where = address(listener.addr);
  const args = ["--host", hostname, "--port", `${listener.addr.port}`];
  const program = start(args);
  const accepting = listener.accept();
  const conn = await Promise.race([
    accepting,
    program.ended(5000).then(() => null),
  ]);
  close(listener); // one client is all we take
  if (conn !== null) return { program, conn, where };
  accepting.then(close, () => {}); // it fails now that the listener is closed
  say(`The server listened on ${where}; no client came.`);
  for (const line of program.report("Your client")) say(line);
  throw new Fail(
    `Your client never connected. The check runs it with ${
      args.join(" ")
    }: connect to ${where}, as the lessons' clients do.`,
    CONNECT_CITE,
  );
}

/** Connects, or says why not in one sentence (refused, or too slow). */
export async function connect(
  hostname: string,
  port: number,
  ms = 2000,
): Promise<Deno.TcpConn | string> {
  const where = address({ hostname, port, transport: "tcp" });
  try {
    const signal = AbortSignal.timeout(ms);
    return await Deno.connect({ hostname, port, signal });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      return `nothing is listening on ${where} (connection refused)`;
    }
    return `could not connect to ${where} (${(error as Error).name})`;
  }
}

// --------------------------------------------------------------- sheet

/**
 * The numbered list under `**Reflect**` in section `### \`NAME\`` of a
 * markdown page: the questions, from the sheet (exercises/README.md), or
 * the answers, from exercises/solutions/README.md (where the section has
 * no **Reflect** line: its list is the answers).
 */
export function numberedList(page: string, name: string): string[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(new URL(page, ROOT));
  } catch {
    return [];
  }
  const start = text.indexOf(`\n### \`${name}\``);
  if (start < 0) return [];
  const section = text.slice(start + 1).split(/\n#{2,3} /)[0];
  const parts = section.split(/\n\*\*Reflect\*\*[^\n]*\n/);
  const items: string[] = [];
  for (const line of (parts[1] ?? parts[0]).split("\n").slice(1)) {
    if (/^\d+\. /.test(line)) items.push(line.replace(/^\d+\. /, ""));
    else if (/^\s+\S/.test(line) && items.length) {
      items[items.length - 1] += ` ${line.trim()}`;
    } else if (line.trim() !== "" && items.length) break;
  }
  return items;
}

/** The Reflect questions of an exercise, from exercises/README.md. */
export const reflectQuestions = (name: string) =>
  numberedList("exercises/README.md", name);
