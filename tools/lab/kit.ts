/**
 * The lab's machinery: "computers" (Linux network namespaces), "cables"
 * (veth pairs), programs run inside them, the kernel's counters, and the
 * cleanup that removes all of it, also on Ctrl-C and on failure. The
 * experiments (two_computers.ts, loss.ts, slow.ts, router.ts, capture.ts)
 * read like the steps of a lab sheet; this file is the plumbing.
 *
 * Every tool runs through `ip`: `ip netns exec NS iptables ...` runs
 * iptables inside computer NS, and `ip netns exec NS deno run ...` runs a
 * lesson there. So the lab itself needs permission to run only `ip`
 * (wherever it is: see findIp()) and `unshare`, for an ordinary user (see
 * lab.ts).
 *
 * @module
 */
import { ROOT, sleep, taskArgs, within } from "../task_process.ts";

/** Every namespace the lab makes is named `denolab-PID-...`. */
export const PREFIX = "denolab-";

/** One sentence for the reader: the lab prints it as `error: ...`. */
export class LabError extends Error {}

// Tools such as ip, iptables and tc live in /usr/sbin or /sbin, which an
// ordinary user's PATH often leaves out; `ip netns exec` looks them up in
// PATH. So everything the lab runs gets PATH with the system's folders
// added at the end.
const path = (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir);
for (
  const dir of [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
  ]
) {
  if (!path.includes(dir)) path.push(dir);
}
/** The environment of everything the lab runs. */
export const ENV = {
  PATH: path.join(":"),
  NO_COLOR: "1",
  DENO_NO_UPDATE_CHECK: "1",
};

/**
 * Where `ip` is: found in PATH, or else at /usr/sbin/ip or /sbin/ip. Deno
 * lets the lab run exactly these: the task grants
 * `--allow-run=ip,/usr/sbin/ip,/sbin/ip,...` (a name in --allow-run means
 * the file PATH finds for it when Deno starts, a full path means itself).
 */
let ipProgram = "ip";

/** Finds `ip` (see above); false if it is nowhere the lab may run it. */
export async function findIp(): Promise<boolean> {
  for (const candidate of ["ip", "/usr/sbin/ip", "/sbin/ip"]) {
    try {
      await new Deno.Command(candidate, {
        args: ["-V"],
        env: ENV,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      ipProgram = candidate;
      return true;
    } catch (error) {
      const absent = error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotCapable;
      if (!absent) throw error;
    }
  }
  return false;
}

/** A namespace, and the name the experiment calls it by ("A", "router"). */
export interface Computer {
  label: string;
  ns: string;
  /** How many cables are plugged in: the next one is eth0, eth1, ... */
  cables: number;
}

// ---------------------------------------------------------------------
// Printing

/** Prints `text` wrapped at 78 columns, each line starting with `indent`. */
export function paragraph(text: string, indent = ""): void {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > 78) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  console.log(lines.map((l) => indent + l).join("\n"));
}

/** A heading: a blank line, then the text. */
export function heading(text: string): void {
  console.log(`\n${text}`);
}

/** 1000 -> "1,000". */
export const count = (n: number) => n.toLocaleString("en-US");

/** `n thing` or `n things`. */
export const plural = (n: number, thing: string) =>
  `${count(n)} ${thing}${n === 1 ? "" : "s"}`;

/** Sorted whole numbers as ranges: [1, 2, 3, 7] -> "1-3, 7". */
export function ranges(numbers: number[], most = 25): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    parts.push(i === j ? `${numbers[i]}` : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  if (parts.length <= most) return parts.join(", ");
  return `${parts.slice(0, most).join(", ")} and ${
    count(parts.length - most)
  } more ranges`;
}

// ---------------------------------------------------------------------
// Programs running inside the computers

export { sleep };

/** A program started in a computer; its output is kept line by line. */
export class Program {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  ended: Deno.CommandStatus | undefined;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #reading: Promise<unknown>;
  #raw: Uint8Array[] = [];
  #wake = new Set<() => void>();

  constructor(
    readonly name: string,
    child: Deno.ChildProcess,
    options: { stdin: boolean; raw: boolean; echo: string | undefined },
  ) {
    this.#child = child;
    this.#stdin = options.stdin ? child.stdin.getWriter() : undefined;
    const echo = options.echo;
    this.#reading = Promise.all([
      options.raw
        ? this.#keep(child.stdout)
        : this.#lines(child.stdout, this.stdout, echo),
      this.#lines(child.stderr, this.stderr, echo),
    ]);
    this.status = child.status.then((status) => {
      this.ended = status;
      for (const wake of this.#wake) wake();
      return status;
    });
  }

  async #keep(stream: ReadableStream<Uint8Array>) {
    for await (const chunk of stream) this.#raw.push(chunk);
  }

  async #lines(
    stream: ReadableStream<Uint8Array>,
    lines: string[],
    echo: string | undefined,
  ) {
    let rest = "";
    const add = (line: string) => {
      lines.push(line);
      if (echo !== undefined) console.log(`${echo}${line}`);
      for (const wake of this.#wake) wake();
    };
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      parts.forEach(add);
    }
    if (rest !== "") add(rest);
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Everything printed on stdout and stderr, for messages. */
  get output(): string {
    return [...this.stdout, ...this.stderr].join("\n");
  }

  /** What it wrote on stdout, as bytes (started with `raw: true`). */
  get bytes(): Uint8Array {
    const all = new Uint8Array(this.#raw.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of this.#raw) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all;
  }

  /** Waits for a line (stdout or stderr) that matches, and returns it. */
  async line(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      for (const line of [...this.stdout, ...this.stderr]) {
        const match = line.match(pattern);
        if (match) return match;
      }
      const left = deadline - Date.now();
      if (this.ended || left <= 0) {
        if (this.ended) await within(this.#reading, 1000);
        const match = [...this.stdout, ...this.stderr]
          .map((line) => line.match(pattern)).find((m) => m);
        if (match) return match;
        const why = this.ended
          ? "ended"
          : `printed nothing like it in ${Math.round(timeoutMs / 1000)} s`;
        throw new LabError(
          `${this.name} ${why}; it printed: ${JSON.stringify(this.output)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#wake.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 500));
        this.#wake.add(wake);
      });
    }
  }

  /** Waits for `Listening on HOST:PORT`, the first line of our servers. */
  listening(): Promise<RegExpMatchArray> {
    return this.line(/^Listening on (\S+)$/);
  }

  /** Waits for the program to end by itself, at most `timeoutMs`. */
  async finish(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    const status = await within(this.status, timeoutMs);
    if (status === "timeout") {
      throw new LabError(
        `${this.name} did not end within ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    await within(this.#reading, 5000);
    return status;
  }

  /** Sends `signal`; if it has not ended after `graceMs`, SIGKILL. */
  async stop(
    signal: Deno.Signal = "SIGINT",
    graceMs = 5000,
  ): Promise<Deno.CommandStatus> {
    this.kill(signal);
    if (await within(this.status, graceMs) === "timeout") this.kill("SIGKILL");
    const status = await this.status;
    await within(this.#reading, 5000);
    return status;
  }

  /** Sends a signal if it is still running. */
  kill(signal: Deno.Signal): void {
    if (this.ended) return;
    try {
      this.#child.kill(signal);
    } catch {
      // It ended just now.
    }
  }

  /** Writes to its standard input (started with `stdin: true`). */
  async write(text: string): Promise<void> {
    await this.#stdin?.write(new TextEncoder().encode(text));
  }

  /** Ends its standard input (Ctrl-D). */
  async closeStdin(): Promise<void> {
    const writer = this.#stdin;
    this.#stdin = undefined;
    await writer?.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------
// The lab: computers, cables, programs, counters, cleanup

/** What a finished command printed. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `program args` to the end (no shell) and returns what it printed. */
export async function run(program: string, args: string[]): Promise<Output> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program === "ip" ? ipProgram : program, {
      args,
      env: ENV,
      stdin: "null",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new LabError(`the program "${program}" is not installed`);
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

export class Lab {
  /** The start of this run's namespace names: `denolab-PID`. */
  readonly run = `${PREFIX}${Deno.pid}`;
  /** The width of the widest computer name, to line up the output. */
  width = 1;
  #namespaces: string[] = [];
  #programs = new Set<Program>();
  #busy = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(readonly verbose = false) {}

  /** True once cleanup has begun (Ctrl-C, or the end). */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** `A    ` padded to the widest name, for the start of a line. */
  pad(c: Computer): string {
    return c.label.padEnd(this.width);
  }

  /**
   * Runs `ip ARGS` to the end and returns its stdout; `shown` prints the
   * command first (`B # iptables ...`), as does --verbose.
   */
  async ip(args: string[], shown?: string): Promise<string> {
    if (this.closing) throw new LabError("the lab is stopping");
    if (shown !== undefined) console.log(shown);
    else if (this.verbose) console.log(`  # ip ${args.join(" ")}`);
    const running = run("ip", args);
    this.#busy.add(running);
    try {
      const out = await running;
      if (out.code !== 0) {
        const why = out.stderr.trim().split("\n")[0] || `exit ${out.code}`;
        const what = args[0] === "netns" && args[1] === "exec"
          ? args.slice(3).join(" ")
          : `ip ${args.join(" ")}`;
        throw new LabError(`"${what}" failed: ${why}`);
      }
      return out.stdout;
    } finally {
      this.#busy.delete(running);
    }
  }

  /** Runs `argv` inside computer `c`; `show` prints it as `c # argv`. */
  exec(c: Computer, argv: string[], show = false): Promise<string> {
    const shown = show ? `  ${this.pad(c)} # ${argv.join(" ")}` : undefined;
    return this.ip(["netns", "exec", c.ns, ...argv], shown);
  }

  /**
   * A new network namespace, `denolab-PID-LABEL`: the run's process id in
   * its name tells `lab clean` whose it is. Written down before it exists,
   * so that cleanup removes it even if a signal comes while it is made.
   */
  async namespace(label: string): Promise<string> {
    const ns = `${this.run}-${label.toLowerCase()}`;
    this.#namespaces.push(ns);
    await this.ip(["netns", "add", ns]);
    return ns;
  }

  /** Removes a namespace this run made, now, and forgets it. */
  async remove(ns: string): Promise<void> {
    await removeNamespace(ns);
    this.#namespaces = this.#namespaces.filter((name) => name !== ns);
  }

  /**
   * A new computer: a network namespace with its loopback up and IPv6 off
   * (or every capture fills with IPv6's own chatter).
   */
  async computer(label: string): Promise<Computer> {
    const c = { label, ns: await this.namespace(label), cables: 0 };
    this.width = Math.max(this.width, label.length);
    await this.exec(c, [
      "sysctl",
      "-qw",
      "net.ipv6.conf.all.disable_ipv6=1",
      "net.ipv6.conf.default.disable_ipv6=1",
    ]);
    await this.ip(["-n", c.ns, "link", "set", "lo", "up"]);
    return c;
  }

  /**
   * A cable from `a` to `b` (a veth pair: what goes in one end comes out
   * of the other), with an address at each end, e.g. "10.77.0.1/24".
   * Offloads are turned off, so that packets are cut and checksummed as
   * on a real wire (and captures show finished checksums). Each end knows
   * the other's hardware address in advance, so no ARP is needed.
   * Returns the two ends' device names, e.g. ["eth0", "eth0"].
   */
  async cable(
    a: Computer,
    aAddress: string,
    b: Computer,
    bAddress: string,
  ): Promise<[string, string]> {
    const aDev = `eth${a.cables++}`;
    const bDev = `eth${b.cables++}`;
    await this.ip([
      ...["link", "add", aDev, "netns", a.ns, "type", "veth"],
      ...["peer", "name", bDev, "netns", b.ns],
    ]);
    const ends: [Computer, string, string][] = [
      [a, aDev, aAddress],
      [b, bDev, bAddress],
    ];
    const macs: string[] = [];
    for (const [c, dev, address] of ends) {
      await this.ip(["-n", c.ns, "addr", "add", address, "dev", dev]);
      await this.exec(c, [
        ...["ethtool", "-K", dev, "tx", "off", "tso", "off"],
        ...["gso", "off", "gro", "off"],
      ]);
      await this.ip(["-n", c.ns, "link", "set", dev, "up"]);
      const [link] = JSON.parse(
        await this.ip(["-n", c.ns, "-j", "link", "show", dev]),
      );
      macs.push(link.address);
    }
    for (const [i, [c, dev]] of ends.entries()) {
      const other = ends[1 - i][2].split("/")[0];
      await this.ip([
        ...["-n", c.ns, "neigh", "replace", other],
        ...["lladdr", macs[1 - i], "dev", dev, "nud", "permanent"],
      ]);
    }
    return [aDev, bDev];
  }

  /**
   * Starts `argv` inside computer `c`. `show` is printed first as
   * `c $ show` (`c # show` with `root`, for what only root may run);
   * `echo` prints each line of its output as `c | line`.
   */
  start(
    c: Computer,
    argv: string[],
    options: {
      show?: string;
      root?: boolean;
      echo?: boolean;
      stdin?: boolean;
      raw?: boolean;
      /** What error messages call it (default: its program's name). */
      name?: string;
    } = {},
  ): Program {
    if (this.closing) throw new LabError("the lab is stopping");
    if (options.show !== undefined) {
      const prompt = options.root ? "#" : "$";
      console.log(`  ${this.pad(c)} ${prompt} ${options.show}`);
    }
    if (this.verbose) {
      console.log(`  # ip netns exec ${c.ns} ${argv.join(" ")}`);
    }
    const child = new Deno.Command(ipProgram, {
      args: ["netns", "exec", c.ns, ...argv],
      cwd: ROOT,
      env: ENV,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const name = options.name ?? argv[0];
    const program = new Program(`${c.label}'s ${name}`, child, {
      stdin: options.stdin ?? false,
      raw: options.raw ?? false,
      echo: options.echo === false ? undefined : `  ${this.pad(c)} | `,
    });
    this.#programs.add(program);
    program.status.then(() => this.#programs.delete(program));
    return program;
  }

  /**
   * Runs a Deno program (a lesson, or one of the lab's own tools) inside
   * `c` with `deno run --no-prompt FLAGS FILE ARGS`, shown as
   * `c $ deno run FLAGS FILE ARGS` (every program the lab runs has
   * --no-prompt: a missing permission is an error, never a question).
   */
  deno(
    c: Computer,
    flags: string[],
    file: string,
    args: string[] = [],
    options: { echo?: boolean; stdin?: boolean } = {},
  ): Program {
    return this.start(
      c,
      [Deno.execPath(), "run", "--no-prompt", ...flags, file, ...args],
      {
        ...options,
        show: ["deno run", ...flags, file, ...args].join(" "),
        name: [file.split("/").at(-1), ...args.slice(0, 1)].join(" "),
      },
    );
  }

  /**
   * Runs task `name` of deno.json inside `c`, exactly as `deno task NAME
   * ARGS` would (its own --allow-net and all), shown as that command.
   */
  task(
    c: Computer,
    name: string,
    args: string[] = [],
    options: { echo?: boolean; stdin?: boolean } = {},
  ): Program {
    return this.start(c, [Deno.execPath(), ...taskArgs(name), ...args], {
      ...options,
      show: ["deno task", name, ...args].join(" "),
      name: `deno task ${name}`,
    });
  }

  /**
   * The kernel's own counters in computer `c`, from /proc/net/snmp and
   * /proc/net/netstat (both are pairs of lines, names then values):
   * `{"Tcp.RetransSegs": 711, "Udp.RcvbufErrors": 0, ...}`.
   */
  async snmp(c: Computer): Promise<Record<string, number>> {
    const files = ["/proc/net/snmp", "/proc/net/netstat"];
    const lines = (await this.exec(c, ["cat", ...files])).split("\n");
    const counters: Record<string, number> = {};
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const [group, ...names] = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/).slice(1).map(Number);
      const prefix = group.replace(/:$/, "");
      names.forEach((name, n) => counters[`${prefix}.${name}`] = values[n]);
    }
    return counters;
  }

  /** The packet counts of the rules of an iptables chain in `c`, in order. */
  async ruleCounts(c: Computer, chain = "INPUT"): Promise<number[]> {
    const table = await this.exec(c, [
      "iptables",
      "-L",
      chain,
      "-v",
      "-n",
      "-x",
    ]);
    return table.split("\n").slice(2).filter((line) => line.trim() !== "")
      .map((line) => Number(line.trim().split(/\s+/)[0]));
  }

  /**
   * Removes everything this run made: stops the programs (SIGTERM, then
   * SIGKILL), kills anything else left in its namespaces, and deletes the
   * namespaces, which takes their cables, addresses, iptables rules and
   * queues with them. Safe to call twice: the second call waits for the
   * first.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Let a command under way finish, so nothing is made after this.
    await within(Promise.allSettled([...this.#busy]), 5000);
    await Promise.all([...this.#programs].map((p) => p.stop("SIGTERM", 2000)));
    for (const ns of this.#namespaces.reverse()) {
      if (this.verbose) console.log(`  # ip netns del ${ns}`);
      await removeNamespace(ns);
    }
  }
}

/** What became of a namespace the lab set out to remove. */
export interface Removal {
  /** It was there, and now it is not. */
  removed: boolean;
  /** Why it could not be removed (ip's own words); "" if it could. */
  error: string;
}

/**
 * Kills every process inside namespace `ns`, then deletes `ns`. A namespace
 * that is already gone (its own run, or another `lab clean`, removed it
 * meanwhile) is neither removed nor an error.
 */
export async function removeNamespace(ns: string): Promise<Removal> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const pids = (await run("ip", ["netns", "pids", ns])).stdout.split(/\s+/)
      .filter((pid) => /^\d+$/.test(pid));
    if (pids.length === 0) break;
    await run("ip", ["netns", "exec", ns, "kill", "-KILL", ...pids]);
    await sleep(100);
  }
  const del = await run("ip", ["netns", "del", ns]);
  if (del.code === 0) return { removed: true, error: "" };
  const error = del.stderr.trim().split("\n")[0];
  const gone = /No such file or directory/.test(error);
  return { removed: false, error: gone ? "" : error };
}

/** The lab's namespaces on this computer: of runs gone, of runs going. */
export interface Namespaces {
  /** Left by runs that ended without cleaning up (kill -9): remove them. */
  dead: string[];
  /** Of runs still going (another terminal, another test): leave them. */
  live: string[];
}

/** The lab's namespaces (`denolab-PID-...`), sorted by whether PID lives. */
export async function leftovers(): Promise<Namespaces> {
  const list = await run("ip", ["netns", "list"]);
  const names = list.stdout.split("\n").map((line) => line.split(" ")[0])
    .filter((name) => name.startsWith(PREFIX));
  const found: Namespaces = { dead: [], live: [] };
  for (const name of names) {
    found[await running(name) ? "live" : "dead"].push(name);
  }
  return found;
}

/**
 * Whether the run that made namespace `ns` (`denolab-PID-...`) is still
 * going: process PID is alive and is the lab (its command line names
 * lab.ts). When in doubt, yes: better a namespace left for the next
 * `lab clean` than one pulled from under a live run.
 */
async function running(ns: string): Promise<boolean> {
  const pid = ns.slice(PREFIX.length).split("-")[0];
  // Not a lab's name; or ours: this run has made no namespace yet (it
  // looks before it makes any), so one with our number is an older run's.
  if (!/^[1-9]\d*$/.test(pid) || Number(pid) === Deno.pid) return false;
  // Deno may read /proc only with --allow-all; `cat` may, and `ip netns
  // exec` runs it (inside the namespace, which sees the same processes).
  const cat = await run("ip", [
    "netns",
    "exec",
    ns,
    "cat",
    `/proc/${pid}/cmdline`,
  ]);
  if (cat.code === 0) return cat.stdout.includes("lab.ts");
  // cat ran and found no such process: that run has ended.
  if (/^cat: .*No such file/.test(cat.stderr)) return false;
  // ip could not enter the namespace (a live run is making or removing
  // it right now), or cat was killed there (by that run's own cleanup):
  // the run is going if its process exists (`ip netns identify PID` reads
  // /proc/PID/ns/net, and fails if there is no process PID).
  return (await run("ip", ["netns", "identify", pid])).code === 0;
}
