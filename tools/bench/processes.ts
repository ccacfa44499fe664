/**
 * The benchmark's processes: servers started with their own command line
 * (so that the process we measure is the server itself, not a `deno task`
 * or a shim in front of it), what the kernel says each one costs (CPU time
 * from /proc/PID/stat, resident memory from /proc/PID/status), and programs
 * run to the end with their wall and CPU time. Linux only: /proc is where
 * these figures come from.
 *
 * @module
 */

import { ROOT } from "../task_process.ts";

const decoder = new TextDecoder();

/** How to start a server: a program and its arguments, and its name. */
export interface ServerCommand {
  /** Who wrote it, as the report shows it: "ours", "book", "Node.js"... */
  peer: string;
  program: string;
  args: string[];
  env?: Record<string, string>;
}

/** The host and port from a server's `Listening on HOST:PORT` line. */
export interface Address {
  hostname: string;
  port: number;
}

/** Every server still running, to end them if the bench is interrupted. */
const running = new Set<Deno.ChildProcess>();

/** Ends every server still running at once (SIGKILL): for Ctrl-C. */
export function killAll(): void {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has ended already.
    }
  }
}

/** Clock ticks per second, the unit of CPU times in /proc/PID/stat. */
let ticksPerSecond = 100;

/** Asks the system for its clock tick (it is 100 almost everywhere). */
export async function readClockTick(): Promise<void> {
  const output = await run("getconf", ["CLK_TCK"]).catch(() => undefined);
  const ticks = Number(output?.stdout.trim());
  if (ticks > 0) ticksPerSecond = ticks;
}

/**
 * A server running in the background. Its output is read and thrown away
 * as it comes (in large reads, not line by line, so that reading it costs
 * next to nothing); the last lines of stderr are kept for error messages.
 */
export class Server {
  readonly peer: string;
  readonly address: Address;
  readonly #child: Deno.ChildProcess;
  readonly #stderrTail: string[];
  #exited = false;
  readonly #status: Promise<Deno.CommandStatus>;

  private constructor(
    command: ServerCommand,
    child: Deno.ChildProcess,
    address: Address,
    stderrTail: string[],
  ) {
    this.peer = command.peer;
    this.#child = child;
    this.address = address;
    this.#stderrTail = stderrTail;
    running.add(child);
    this.#status = child.status.then((status) => {
      this.#exited = true;
      running.delete(child);
      return status;
    });
  }

  /** Starts the server and waits (10 s at most) for `Listening on`. */
  static async start(command: ServerCommand): Promise<Server> {
    const child = new Deno.Command(command.program, {
      args: command.args,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...command.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderrTail: string[] = [];
    const stdout = child.stdout.getReader();
    keepTail(child.stderr, stderrTail);
    let firstLine = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("no `Listening on` line in 10 s")),
        10_000,
      );
    });
    try {
      while (!firstLine.includes("\n")) {
        const { value, done } = await Promise.race([stdout.read(), timeout]);
        if (done) throw new Error("it ended before `Listening on`");
        firstLine += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has ended already.
      }
      await child.status;
      const said = stderrTail.join("\n").trim();
      throw new Error(
        `${command.peer} (${command.program}): ${(error as Error).message}${
          said ? `; it said: ${said}` : ""
        }`,
      );
    } finally {
      clearTimeout(timer);
    }
    drain(stdout);
    const match = /^Listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+)\r?\n/.exec(
      firstLine,
    );
    if (!match) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(
        `${command.peer}: its first line is not \`Listening on HOST:PORT\`: ` +
          JSON.stringify(firstLine.split("\n")[0]),
      );
    }
    const address = { hostname: match[1] ?? match[2], port: Number(match[3]) };
    return new Server(command, child, address, stderrTail);
  }

  get pid(): number {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** What it printed last on stderr, for error messages. */
  get stderr(): string {
    return this.#stderrTail.join("\n");
  }

  /** CPU time (user + system, all threads) it has used so far, in ms. */
  async cpuMs(): Promise<number> {
    return await processCpuMs(this.pid);
  }

  /** Its resident memory now, in MB (1,000,000 bytes). */
  async residentMB(): Promise<number> {
    const status = await Deno.readTextFile(`/proc/${this.pid}/status`);
    const kB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
    return kB * 1024 / 1e6;
  }

  /** How many files and sockets it has open. */
  async openFiles(): Promise<number> {
    let count = 0;
    for await (const _ of Deno.readDir(`/proc/${this.pid}/fd`)) count++;
    return count;
  }

  /**
   * Pins every thread of the server to the CPUs in `cpus` (e.g. "0"), or
   * back to all of them with `pin(allCpus())`.
   */
  async pin(cpus: string): Promise<void> {
    await run("taskset", ["-a", "-p", "-c", cpus, `${this.pid}`]);
  }

  /** Ends it (SIGTERM, then SIGKILL after 2 s) and waits until it has. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // It ended meanwhile.
      }
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // It ended meanwhile.
      }
    }, 2000);
    await this.#status;
    clearTimeout(timer);
  }
}

/** Reads a stream to its end and throws the bytes away. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>) {
  try {
    while (!(await reader.read()).done) {
      // Nothing to keep.
    }
  } catch {
    // The process ended.
  }
}

/** Reads a stream to its end, keeping only its last 20 lines. */
async function keepTail(stream: ReadableStream<Uint8Array>, lines: string[]) {
  try {
    for await (const chunk of stream) {
      const text = (lines.pop() ?? "") + decoder.decode(chunk);
      lines.push(...text.split("\n"));
      lines.splice(0, Math.max(0, lines.length - 20));
    }
  } catch {
    // The process ended.
  }
}

/** CPU time (user + system) of process PID so far, in ms. */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The second field, the program's name in parentheses, may contain
  // spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return ticks * 1000 / ticksPerSecond;
}

/** "0-1" on a 2-CPU machine: every CPU, to undo a pin. */
export function allCpus(): string {
  return `0-${navigator.hardwareConcurrency - 1}`;
}

/** What a program run to its end printed, and how long it took. */
export interface Finished {
  stdout: string;
  stderr: string;
  /** Wall time from start to exit, in ms. */
  ms: number;
}

/**
 * Runs a program to its end; fails with what it printed on stderr if it
 * exits with another code than 0. `discardStdout` sends stdout to
 * /dev/null (for programs that print a lot).
 */
export async function run(
  program: string,
  args: string[],
  options: { discardStdout?: boolean; env?: Record<string, string> } = {},
): Promise<Finished> {
  const started = performance.now();
  const output = await new Deno.Command(program, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: options.discardStdout ? "null" : "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  const stderr = decoder.decode(output.stderr);
  if (!output.success) {
    const said = stderr.trim().split("\n").slice(-3).join(" / ");
    throw new Error(`${program} exited with code ${output.code}: ${said}`);
  }
  return {
    stdout: options.discardStdout ? "" : decoder.decode(output.stdout),
    stderr,
    ms,
  };
}

/**
 * Runs a shell command line to its end and returns its wall time and the
 * CPU time (user + system) of every process it started, in ms, from the
 * shell's own `times` (10 ms steps). Its stdout is thrown away.
 */
export async function runTimed(
  commandLine: string,
): Promise<{ ms: number; cpuMs: number }> {
  const script = `${commandLine} >/dev/null || exit 1; times >&2`;
  const result = await run("sh", ["-c", script]);
  // `times` prints the shell's own times, then its children's:
  // "0m0.000000s 0m0.000000s\n0m1.230000s 0m0.450000s".
  const children = result.stderr.trim().split("\n").at(-1) ?? "";
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
    .map((match) => Number(match[1]) * 60 + Number(match[2]));
  if (seconds.length !== 2) {
    throw new Error(`sh's times printed ${JSON.stringify(children)}`);
  }
  return { ms: result.ms, cpuMs: (seconds[0] + seconds[1]) * 1000 };
}

/** Is `program` installed (can it be started)? */
export async function have(program: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(program, { args, stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}
