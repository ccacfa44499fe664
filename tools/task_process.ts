/**
 * Running a lesson as a child process, with exactly the command line of its
 * task in deno.json (`deno run --allow-net=... chapters/x.ts`) and the flags
 * a reader would add. The tour (`tools/tour.ts`), the tests and the
 * benchmark all start the lessons this way, so each of them also checks the
 * permissions each task grants. No lesson uses this file.
 *
 * Why not `deno task NAME` itself: `deno task` starts the script as a
 * second process and reports 130 ("ended by Ctrl-C") when it is sent Ctrl-C,
 * however the script ended. Running the task's own command line directly
 * lets Ctrl-C reach the script, and us see the script's own exit status.
 *
 * @module
 */

import { TextLineStream } from "@std/streams/text-line-stream";
import config from "../deno.json" with { type: "json" };

/** The project's top folder, where deno.json is. */
export const ROOT = new URL("../", import.meta.url);

/** How long a test waits for a line before it gives up and fails. */
const DEFAULT_WAIT_MS = 20_000;

/** What a finished process printed, and how it ended. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Called with each line a process prints, as soon as it prints it. */
export type OnLine = (line: string, stream: "stdout" | "stderr") => void;

/** The host and port from a server's `Listening on HOST:PORT` line. */
export interface Listening {
  hostname: string;
  port: number;
}

/**
 * The task's command line from deno.json, split into words, without the
 * leading `deno`. Lesson tasks are plain `deno run FLAGS FILE` lines; a task
 * with shell syntax in it is run through `deno task` instead.
 */
export function taskArgs(task: string): string[] {
  const tasks: Record<string, { command: string }> = config.tasks;
  const line = tasks[task]?.command;
  if (line === undefined) throw new Error(`deno.json has no task "${task}"`);
  const words = line.trim().split(/\s+/);
  if (words[0] !== "deno" || /["'$&|;<>]/.test(line)) {
    // --quiet leaves out deno task's own "Task NAME ..." line.
    return ["task", "--quiet", task];
  }
  return words.slice(1);
}

/**
 * Whether LINE is Deno's own "Download https://..." line, which Deno prints
 * on stderr before the program starts whenever it refreshes its cache. The
 * test task warms the cache first, yet Deno may still fetch an npm package's
 * registry entry again (seen once in CI with an empty cache, not reproduced
 * in ten cold runs here); the line is Deno's, never the lesson's, so tests
 * set it apart instead of failing the lesson for it.
 */
export function isDenoDownload(line: string): boolean {
  return /^Download https?:\/\/\S+$/.test(line);
}

function taskCommand(task: string, args: string[], stdin: boolean) {
  return new Deno.Command(Deno.execPath(), {
    args: [...taskArgs(task), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Runs task TASK (its command line from deno.json) with ARGS, to the end,
 * and returns what it printed.
 * `stdin`, when given, is written to the script's standard input and closed.
 */
export async function runTask(
  task: string,
  args: string[] = [],
  options: { stdin?: string; timeoutMs?: number; onLine?: OnLine } = {},
): Promise<Finished> {
  await using process = TaskProcess.start(task, args, {
    stdin: options.stdin !== undefined,
    onLine: options.onLine,
  });
  if (options.stdin !== undefined) await process.write(options.stdin, true);
  return await process.finished(options.timeoutMs);
}

/**
 * A `deno task` running in the background: a server, or a client we talk
 * to through its standard input. `await using` stops it at the end of the
 * test whatever happens.
 */
export class TaskProcess implements AsyncDisposable {
  /** Every line printed on stdout so far. */
  readonly stdoutLines: string[] = [];
  /** Every line printed on stderr so far, but Deno's own download lines. */
  readonly stderrLines: string[] = [];
  /** Deno's own "Download URL" lines, kept apart (see isDenoDownload). */
  readonly denoDownloads: string[] = [];

  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #reading: Promise<void>;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;
  #waiters = new Set<() => void>();
  #onLine: OnLine | undefined;

  private constructor(
    child: Deno.ChildProcess,
    stdin: boolean,
    onLine: OnLine | undefined,
  ) {
    this.#child = child;
    this.#onLine = onLine;
    this.#stdin = stdin ? child.stdin.getWriter() : undefined;
    this.#reading = Promise.all([
      this.#collect(child.stdout, this.stdoutLines, "stdout"),
      this.#collect(child.stderr, this.stderrLines, "stderr"),
    ]).then(() => {});
    this.#status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
  }

  /**
   * Starts task TASK with ARGS. With `stdin: true` its standard input
   * is ours to write; `onLine` sees each line as soon as it is printed.
   */
  static start(
    task: string,
    args: string[] = [],
    options: { stdin?: boolean; onLine?: OnLine } = {},
  ): TaskProcess {
    const stdin = options.stdin ?? false;
    const child = taskCommand(task, args, stdin).spawn();
    return new TaskProcess(child, stdin, options.onLine);
  }

  /**
   * Starts any program, not a task (the benchmark runs the book's Python
   * servers this way, side by side with ours).
   */
  static spawn(
    program: string,
    args: string[],
    options: {
      stdin?: boolean;
      onLine?: OnLine;
      env?: Record<string, string>;
    } = {},
  ): TaskProcess {
    const stdin = options.stdin ?? false;
    const child = new Deno.Command(program, {
      args,
      cwd: ROOT,
      env: options.env,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new TaskProcess(child, stdin, options.onLine);
  }

  /** How many lines it has printed so far, on stdout and stderr. */
  get lineCount(): number {
    return this.stdoutLines.length + this.stderrLines.length;
  }

  /** The process id, to send it signals. */
  get pid(): number {
    return this.#child.pid;
  }

  async #collect(
    stream: ReadableStream<Uint8Array>,
    lines: string[],
    name: "stdout" | "stderr",
  ) {
    const text = stream
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream());
    for await (const line of text) {
      if (name === "stderr" && isDenoDownload(line)) {
        this.denoDownloads.push(line);
        continue;
      }
      lines.push(line);
      this.#onLine?.(line, name);
      for (const wake of this.#waiters) wake();
    }
    for (const wake of this.#waiters) wake();
  }

  /**
   * Waits until stdout (or stderr, with `stream: "stderr"`) has a line that
   * matches `pattern`, and returns the match. Fails the test, showing what
   * was printed, if no such line comes in time or the process ends first.
   * With `after: N`, the first N lines are not looked at (for a line that
   * was printed before too, such as a server's second "Waiting ...").
   */
  async waitForLine(
    pattern: RegExp,
    options: {
      stream?: "stdout" | "stderr";
      timeoutMs?: number;
      after?: number;
    } = {},
  ): Promise<RegExpMatchArray> {
    const lines = options.stream === "stderr"
      ? this.stderrLines
      : this.stdoutLines;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const started = Date.now();
    let checked = options.after ?? 0;
    while (true) {
      for (; checked < lines.length; checked++) {
        const match = lines[checked].match(pattern);
        if (match) return match;
      }
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0 || this.#exited) {
        // One last look: the lines may have landed with the exit.
        await within(this.#reading, 200);
        const match = lines.slice(checked).map((line) => line.match(pattern))
          .find((found) => found);
        if (match) return match;
        throw new Error(
          `no line matching ${pattern} ${
            this.#exited ? "before the process ended" : `in ${timeoutMs} ms`
          }\n${this.transcript()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 250));
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits for `Listening on HOST:PORT` and returns the host and port. */
  async listening(): Promise<Listening> {
    const match = await this.waitForLine(
      /^Listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/,
    );
    return { hostname: match[1] ?? match[2], port: Number(match[3]) };
  }

  /** Writes text to the process's standard input; `close` ends the input. */
  async write(text: string, close = false): Promise<void> {
    if (this.#stdin === undefined) throw new Error("stdin is not piped");
    await this.#stdin.write(new TextEncoder().encode(text));
    if (close) await this.closeStdin();
  }

  /** Ends the process's standard input (as Ctrl-D does in a terminal). */
  async closeStdin(): Promise<void> {
    if (this.#stdin === undefined) return;
    const writer = this.#stdin;
    this.#stdin = undefined;
    await writer.close().catch(() => {});
  }

  /** Sends a signal (SIGINT is Ctrl-C) if the process is still running. */
  kill(signal: Deno.Signal = "SIGINT"): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // It ended between the check and the kill.
    }
  }

  /** Waits for the process to end by itself and returns what it printed. */
  async finished(timeoutMs = DEFAULT_WAIT_MS): Promise<Finished> {
    const result = await within(this.#status, timeoutMs);
    if (result === "timeout") {
      await this.#end();
      throw new Error(
        `the process did not end within ${timeoutMs} ms\n${this.transcript()}`,
      );
    }
    await this.closeStdin();
    await this.#reading;
    return {
      code: result.code,
      signal: result.signal,
      stdout: this.stdoutLines.join("\n"),
      stderr: this.stderrLines.join("\n"),
    };
  }

  /** Presses Ctrl-C (SIGINT) and waits for the process to end. */
  async stop(): Promise<Finished> {
    this.kill("SIGINT");
    return await this.finished();
  }

  /** Everything printed so far, for failure messages. */
  transcript(): string {
    return [
      "--- stdout ---",
      ...this.stdoutLines,
      "--- stderr ---",
      ...this.stderrLines,
    ].join("\n");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeStdin();
    await this.#end();
  }

  /**
   * Ends the process whatever it is doing: SIGTERM first, which every
   * lesson stops on, then SIGKILL if it has not ended within 3 seconds.
   */
  async #end(): Promise<void> {
    this.kill("SIGTERM");
    if (await within(this.#status, 3000) === "timeout") this.kill("SIGKILL");
    await this.#status;
    await within(this.#reading, 3000);
  }
}

/** Waits for `promise`, but at most `ms` milliseconds. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The real python3 binary (not a version manager's shim in front of it,
 * such as pyenv's, which adds a slow start to every run), or null where
 * there is no python3.
 */
export async function realPython(): Promise<string | null> {
  try {
    const output = await new Deno.Command("python3", {
      args: ["-c", "import sys; print(sys.executable)"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const path = new TextDecoder().decode(output.stdout).trim();
    return output.success && path ? path : null;
  } catch {
    return null;
  }
}
