/**
 * The student's program, run once for one conversation: started in a
 * process group of its own (so that everything it starts can be stopped
 * with it), its input typed by us, its output read line by line with the
 * time each line came, and limits on what it may take.
 *
 * Limits (decided here, written in activity/TEACHERS.md): the program is
 * stopped, and the run marked, when it prints more than 1 MiB on stdout or
 * on stderr, when its processes together hold more than 512 MiB of memory,
 * when it has more than 32 processes at once, or when it has used 10 s of
 * processor time in one conversation (a busy loop). Memory, processes and
 * time are read from /proc every 500 ms (Linux; elsewhere only the output
 * limit and the time limits of each wait apply). It runs with `nice`, so
 * that a busy loop cannot slow down the checker's own clock. A memory limit
 * through `prlimit --as` would be instant, but it limits address space, and
 * Deno, Node.js and Java reserve gigabytes of it that they never use: they
 * would not even start.
 *
 * @module
 */

/** One line a program printed, and when (ms since its conversation began). */
export interface Line {
  text: string;
  ms: number;
}

export interface Limits {
  outputBytes: number;
  memoryBytes: number;
  processes: number;
  cpuSeconds: number;
}

export const LIMITS: Limits = {
  outputBytes: 1024 * 1024,
  memoryBytes: 512 * 1024 * 1024,
  processes: 32,
  cpuSeconds: 10,
};

/** What happened when the program could not be started at all. */
export class NotStarted extends Error {}

const decoder = new TextDecoder(); // not fatal: a bad byte shows as U+FFFD
let runs = 0;

export class Program {
  readonly stdout: Line[] = [];
  readonly stderr: Line[] = [];
  /** Why the checker stopped it by force, e.g. "printed more than 1 MiB". */
  problem?: string;
  /** Set once it has ended. */
  status?: Deno.CommandStatus;
  /** When it ended, in ms since its conversation began. */
  exitMs?: number;
  readonly ended: Promise<Deno.CommandStatus>;

  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #reading: Promise<void>;
  #waiters = new Set<() => void>();
  #t0: number;
  #limits: Limits;
  #stopped = false;

  /**
   * Starts `argv` (the student's command and our arguments) in `cwd`.
   * `t0` is when the conversation began (performance.now()).
   */
  constructor(argv: string[], cwd: string, t0: number, limits = LIMITS) {
    this.#t0 = t0;
    this.#limits = limits;
    // Inherited by everything it starts: found again when it is over.
    const marker = `CHECK_CHAT_RUN=${Deno.pid}-${++runs}`;
    const [program, ...args] = Deno.build.os === "windows"
      ? argv
      : ["nice", "-n", "10", ...argv];
    try {
      this.#child = new Deno.Command(program, {
        args,
        cwd,
        // Python buffers its output behind a pipe: lines would arrive only
        // when it ends. PYTHONIOENCODING: UTF-8 whatever the locale.
        env: {
          PYTHONUNBUFFERED: "1",
          PYTHONIOENCODING: "utf-8",
          NO_COLOR: "1",
          CHECK_CHAT_RUN: marker.slice("CHECK_CHAT_RUN=".length),
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        // A session and process group of its own: we stop the whole group.
        detached: Deno.build.os !== "windows",
      }).spawn();
    } catch (error) {
      const what = error instanceof Deno.errors.NotFound
        ? "no such program"
        : (error as Error).message;
      throw new NotStarted(`could not start ${argv[0]}: ${what}`);
    }
    this.#stdin = this.#child.stdin.getWriter();
    this.#reading = Promise.all([
      this.#collect(this.#child.stdout, this.stdout, "stdout"),
      this.#collect(this.#child.stderr, this.stderr, "stderr"),
    ]).then(() => {});
    this.ended = this.#child.status.then((status) => {
      this.status = status;
      this.exitMs = this.#now();
      this.#wake();
      return status;
    });
    watch.add(this.#child.pid, marker, limits, (why) => this.#kill(why));
  }

  get pid(): number {
    return this.#child.pid;
  }

  #now = () => performance.now() - this.#t0;

  #wake() {
    for (const wake of [...this.#waiters]) wake();
  }

  async #collect(
    stream: ReadableStream<Uint8Array>,
    lines: Line[],
    name: string,
  ) {
    let partial = new Uint8Array(0);
    let total = 0;
    try {
      for await (const chunk of stream) {
        total += chunk.length;
        if (total > this.#limits.outputBytes) {
          const mib = this.#limits.outputBytes / 1024 / 1024;
          this.#kill(`printed more than ${mib} MiB on ${name} (a flood)`);
          break;
        }
        const joined = new Uint8Array(partial.length + chunk.length);
        joined.set(partial);
        joined.set(chunk, partial.length);
        let start = 0;
        for (let end; (end = joined.indexOf(0x0a, start)) !== -1;) {
          const text = decoder.decode(joined.subarray(start, end));
          lines.push({ text: text.replace(/\r$/, ""), ms: this.#now() });
          start = end + 1;
        }
        partial = joined.slice(start);
        this.#wake();
      }
    } catch {
      // The pipe broke: the program is gone.
    }
    if (partial.length > 0) {
      lines.push({ text: decoder.decode(partial), ms: this.#now() });
    }
    this.#wake();
  }

  /**
   * Waits for a line of stdout (from index `from` on) that passes `test`:
   * the line, or "timeout", or "ended" when the program ended without it.
   */
  async waitForLine(
    test: (text: string) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<Line | "timeout" | "ended"> {
    const deadline = performance.now() + timeoutMs;
    let checked = from;
    while (true) {
      for (; checked < this.stdout.length; checked++) {
        if (test(this.stdout[checked].text)) return this.stdout[checked];
      }
      if (this.status !== undefined) {
        // Its last lines may still be in the pipe.
        await Promise.race([this.#reading, delay(500)]);
        const late = this.stdout.slice(checked).find((l) => test(l.text));
        return late ?? "ended";
      }
      const left = deadline - performance.now();
      if (left <= 0) return "timeout";
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Types `text` into the program's input. Quietly nothing if it is gone. */
  async type(text: string): Promise<void> {
    try {
      await this.#stdin?.write(new TextEncoder().encode(text));
    } catch {
      // It has ended or closed its input: what it did instead shows.
    }
  }

  /** Ends its input, as Ctrl-D at a terminal. */
  async endInput(): Promise<void> {
    const stdin = this.#stdin;
    this.#stdin = undefined;
    await stdin?.close().catch(() => {});
  }

  /**
   * Ends the program, giving it the chance to end by itself first: its
   * input is closed (the caller closes the connection), then Ctrl-C
   * (SIGINT), SIGTERM and SIGKILL follow, each after a short wait, to its
   * whole process group. Processes it left behind are killed too.
   */
  async stop(): Promise<void> {
    await this.endInput();
    for (const [signal, ms] of [["SIGINT", 500], ["SIGTERM", 1000]] as const) {
      if (await within(this.ended, ms)) break;
      this.#signal(signal);
    }
    if (!(await within(this.ended, 1000))) this.#signal("SIGKILL");
    await this.ended;
    const pipesOpen = !(await within(this.#reading, 200));
    const left = watch.sweep(this.#child.pid, pipesOpen);
    if (left > 0 && this.problem === undefined) {
      this.problem = `left ${left} process${
        left === 1 ? "" : "es"
      } running after it ended (stopped by the checker)`;
    }
    await within(this.#reading, 2000);
  }

  /** Stops it at once, for a reason recorded as its problem. */
  #kill(reason: string) {
    if (this.#stopped) return;
    this.#stopped = true;
    this.problem ??= reason;
    this.#signal("SIGKILL");
  }

  #signal(signal: Deno.Signal) {
    try {
      if (Deno.build.os === "windows") this.#child.kill(signal);
      else Deno.kill(-this.#child.pid, signal); // the whole group
    } catch {
      // Nothing of the group is left.
    }
  }
}

/** Resolves true when `promise` settles within `ms`, else false. */
export async function within(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

export const delay = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// The watch: memory, processes and processor time, read from /proc

interface Watched {
  limits: Limits;
  exceeded: (reason: string) => void;
  /** Every process seen in its group or descended from it. */
  members: Set<number>;
  /** CHECK_CHAT_RUN=... in the environment of all it starts. */
  marker: string;
  /** When it started, in clock ticks since boot: nothing of it is older. */
  since: number;
}

interface ProcessInfo {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  ticks: number;
  rssBytes: number;
  started: number;
}

const PAGE_BYTES = 4096;
const TICKS_PER_SECOND = 100; // Linux's USER_HZ

class Watch {
  #watched = new Map<number, Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #available = Deno.build.os === "linux";

  add(
    pid: number,
    marker: string,
    limits: Limits,
    exceeded: (reason: string) => void,
  ) {
    const since = this.#available ? (this.#read(pid)?.started ?? 0) : 0;
    const members = new Set([pid]);
    this.#watched.set(pid, { limits, exceeded, members, marker, since });
    if (this.#available && this.#timer === undefined) {
      const timer = setInterval(() => this.#poll(), 500);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /**
   * Stops watching `pid`, once it has ended: kills whatever it left
   * running (in its group, descended from it, or carrying its marker, which
   * finds even those that left the group and lost their parent) and says
   * how many there were. Looking through every process costs a little, so
   * it is done only when something may be left: children were seen, its
   * group still has members, or its output pipes are still open (someone
   * inherited them).
   */
  sweep(pid: number, pipesOpen: boolean): number {
    const watched = this.#watched.get(pid);
    this.#watched.delete(pid);
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    if (!watched || !this.#available) return 0;
    // With no sign of anything left, one signal to its group tells (it
    // fails when the group is empty) and ends what was there.
    if (!pipesOpen && watched.members.size === 1) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        return 0; // nothing left in its group
      }
    }
    // Count first, then kill: a process killed before it was counted could
    // look as if it had ended by itself.
    const left = [...this.#scan()].filter((process) =>
      process.state !== "Z" && process.started >= watched.since &&
      process.pid !== Deno.pid &&
      (process.pgrp === pid || watched.members.has(process.pid) ||
        this.#marked(process.pid, watched.marker))
    );
    for (const target of [-pid, ...left.map((process) => process.pid)]) {
      try {
        Deno.kill(target, "SIGKILL"); // -pid: its whole group, new ones too
      } catch {
        // Gone already.
      }
    }
    return left.length;
  }

  #marked(pid: number, marker: string): boolean {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0")
        .includes(marker);
    } catch {
      return false;
    }
  }

  #read(pid: number): ProcessInfo | undefined {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // After the command's name in parentheses: state, ppid, pgrp...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return {
        pid,
        state: fields[0],
        ppid: Number(fields[1]),
        pgrp: Number(fields[2]),
        ticks: Number(fields[11]) + Number(fields[12]),
        started: Number(fields[19]),
        rssBytes: Number(fields[21]) * PAGE_BYTES,
      };
    } catch {
      return undefined; // it ended while we looked
    }
  }

  #scan(): ProcessInfo[] {
    const processes = [];
    try {
      for (const entry of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        const process = this.#read(Number(entry.name));
        if (process) processes.push(process);
      }
    } catch {
      this.#available = false; // no /proc to read
    }
    return processes;
  }

  #poll() {
    const processes = this.#scan();
    for (const [pid, watched] of this.#watched) {
      // Members: its group, and the children of members (found in order).
      let grew = true;
      while (grew) {
        grew = false;
        for (const process of processes) {
          if (watched.members.has(process.pid)) continue;
          if (process.pgrp === pid || watched.members.has(process.ppid)) {
            watched.members.add(process.pid);
            grew = true;
          }
        }
      }
      const alive = processes.filter((process) =>
        watched.members.has(process.pid) && process.state !== "Z"
      );
      const memory = alive.reduce((sum, p) => sum + p.rssBytes, 0);
      const seconds = alive.reduce((sum, p) => sum + p.ticks, 0) /
        TICKS_PER_SECOND;
      const { limits } = watched;
      if (memory > limits.memoryBytes) {
        const mib = Math.round(limits.memoryBytes / 1024 / 1024);
        watched.exceeded(`used more than ${mib} MiB of memory`);
      } else if (alive.length > limits.processes) {
        watched.exceeded(
          `started more than ${limits.processes} processes at once`,
        );
      } else if (seconds > limits.cpuSeconds) {
        watched.exceeded(
          `used the processor for over ${limits.cpuSeconds} s (a busy loop?)`,
        );
      }
    }
  }
}

const watch = new Watch();
