/**
 * The recorder: runs every lesson as a reader would, in two terminals, and
 * keeps what each terminal showed, for the book's pages.
 *
 *   $ deno task book-record            record, and write what changed
 *   $ deno task book-record --check    record, and say what no longer
 *                                      matches (exit 1), writing nothing
 *
 * It runs each lesson with its task's own command line, as tools/tour.ts
 * does (tools/task_process.ts), the server on a free port so that it never
 * meets another copy of itself; the transcript then shows the commands a
 * reader types and the port a reader's server gets, the lesson's default
 * (read from its --help). Between the chat's (or the echo server's) two
 * sides sits a small relay of ours that passes every byte on and notes
 * what went which way: the book draws those conversations from it. The
 * lab's experiments run as root only; elsewhere their transcripts are kept
 * as they are.
 *
 * A transcript is written only when it differs from the committed one by
 * more than what varies from run to run (ports the system picked, times:
 * see transcript.ts), so re-recording an unchanged book changes no file.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };
import {
  realPython,
  runTask,
  sleep,
  TaskProcess,
  within,
} from "../task_process.ts";
import {
  difference,
  type Entry,
  format,
  readTranscripts,
  type Terminal,
  type Transcript,
  TRANSCRIPTS,
  type Wire,
} from "./transcript.ts";

const ROOT = new URL("../../", import.meta.url);

/** A run being recorded: its terminals, and the ports to show as others. */
class Recording {
  readonly terminals: Terminal[] = [];
  /** Real port -> the port the page shows (the lesson's default). */
  readonly ports = new Map<number, number>();
  wire?: Wire;

  terminal(name: string): Terminal {
    let terminal = this.terminals.find((t) => t.name === name);
    if (!terminal) {
      terminal = { name, entries: [] };
      this.terminals.push(terminal);
    }
    return terminal;
  }

  /** What each line of a program goes into. */
  sink(terminal: Terminal) {
    return (line: string, stream: "stdout" | "stderr") => {
      terminal.entries.push(
        stream === "stdout" ? { out: line } : {
          err: line,
        },
      );
    };
  }

  /** Starts a server task on a free port; waits for Listening on. */
  async server(
    name: string,
    task: string,
    args: string[] = [],
    stdin?: string,
  ): Promise<{ process: TaskProcess; port: number }> {
    const terminal = this.terminal(name);
    terminal.entries.push({ command: shown(task, args, stdin) });
    const process = TaskProcess.start(task, [...args, "--port", "0"], {
      stdin: stdin !== undefined,
      onLine: this.sink(terminal),
    });
    if (stdin !== undefined) await process.write(stdin, true);
    const { port } = await process.listening();
    this.ports.set(port, await defaultPort(task));
    return { process, port };
  }

  /** Runs a client task to its end against `port`. */
  async client(
    name: string,
    task: string,
    args: string[],
    options: {
      port?: number;
      showPort?: boolean;
      stdin?: string;
      expect?: number;
    } = {},
  ): Promise<void> {
    const terminal = this.terminal(name);
    const typed = options.showPort && options.port !== undefined
      ? [...args, "--port", `${this.ports.get(options.port)}`]
      : args;
    terminal.entries.push({ command: shown(task, typed, options.stdin) });
    const port = options.port === undefined
      ? []
      : ["--port", `${options.port}`];
    const result = await runTask(task, [...args, ...port], {
      stdin: options.stdin,
      onLine: this.sink(terminal),
    });
    if (result.code !== (options.expect ?? 0)) {
      throw new Error(
        `${task} ${args.join(" ")} exited ${result.code}:\n${result.stderr}`,
      );
    }
  }

  /** Presses Ctrl-C on a server, after its last lines are in. */
  async stop(name: string, process: TaskProcess): Promise<void> {
    await settle(process);
    this.terminal(name).entries.push({ key: "^C" });
    const result = await process.stop();
    if (result.code !== 0) throw new Error(`a server stopped with ${result}`);
  }

  /** The transcript, with the ports a reader would see. */
  finish(
    fields: Omit<Transcript, "terminals" | "wire" | "check"> & {
      check?: Transcript["check"];
    },
  ): Transcript {
    // A lesson names its port in the commands it suggests only when it is
    // not the default (`--port 41234`): at the default it names none.
    const swap = (text: string) =>
      text.replace(
        / --port (\d+)\b/g,
        (whole, port: string) => this.ports.has(Number(port)) ? "" : whole,
      ).replace(
        /((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-f:]*\]|localhost|port):? ?(\d+)\b/g,
        (whole, _host: string, port: string) => {
          const shown = this.ports.get(Number(port));
          if (shown === undefined) return whole;
          return whole.slice(0, whole.length - port.length) + shown;
        },
      ).replace(/\(http:\/\/127\.0\.0\.1:(\d+)\/\)/g, (whole, port) => {
        const shown = this.ports.get(Number(port));
        return shown === undefined ? whole : `(http://127.0.0.1:${shown}/)`;
      });
    const terminals = this.terminals.map((terminal) => ({
      name: terminal.name,
      entries: terminal.entries.map((entry): Entry => {
        if (entry.out !== undefined) return { out: swap(entry.out) };
        if (entry.err !== undefined) return { err: swap(entry.err) };
        return entry;
      }),
    }));
    const wire = this.wire && {
      ...this.wire,
      frames: this.wire.frames.map((frame) => ({
        ...frame,
        text: swap(frame.text),
      })),
    };
    return {
      ...fields,
      check: fields.check ?? "exact",
      ...(this.ports.size > 0 ? { defaultPorts: true } : {}),
      terminals,
      ...(wire ? { wire } : {}),
    };
  }
}

/** `deno task NAME ARGS`, or `printf '...' | deno task ...` with input. */
function shown(task: string, args: string[], stdin?: string): string {
  const quote = (word: string) =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
  const command = ["deno", "task", task, ...args].map(quote).join(" ");
  if (stdin === undefined) return command;
  const printf = stdin.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return `printf '${printf}' | ${command}`;
}

const defaults = new Map<string, number>();

/** The port a task's server uses when not told: from its --help. */
async function defaultPort(task: string): Promise<number> {
  if (!defaults.has(task)) {
    const help = await runTask(task, ["--help"]);
    const port = help.stdout.match(/--port\b[^\n]*?default (\d+)/)?.[1];
    if (port === undefined) throw new Error(`${task} --help names no port`);
    defaults.set(task, Number(port));
  }
  return defaults.get(task)!;
}

/**
 * Waits until a server has printed all it will about the last client: no
 * new line for 250 ms (on a busy machine a line may lag behind the
 * client's end), at most 5 s.
 */
async function settle(process: TaskProcess): Promise<void> {
  let seen = process.lineCount;
  let quiet = 0;
  for (let i = 0; i < 100 && quiet < 5; i++) {
    await sleep(50);
    quiet = process.lineCount === seen ? quiet + 1 : 0;
    seen = process.lineCount;
  }
}

/**
 * A relay on a free port of 127.0.0.1 that passes each connection on to
 * `port` and notes every byte, each way, as frames: one per line for a
 * protocol of lines (the chat), else one per burst.
 */
function relay(recording: Recording, port: number, names: [string, string]) {
  const wire: Wire = { left: names[0], right: names[1], frames: [] };
  recording.wire = wire;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const note = (from: "left" | "right", bytes: Uint8Array) => {
    const text = new TextDecoder().decode(bytes);
    const last = wire.frames.at(-1);
    if (last && last.from === from && !last.text.endsWith("\n")) {
      last.text += text;
    } else wire.frames.push({ from, text });
  };
  const pipe = async (
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    side: "left" | "right",
  ) => {
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        note(side, buffer.slice(0, n));
        for (let sent = 0; sent < n;) {
          sent += await to.write(buffer.subarray(sent, n));
        }
      }
      await to.closeWrite();
    } catch {
      // One side vanished: the other's read ends too.
    }
  };
  const done = (async () => {
    for await (const left of listener) {
      const right = await Deno.connect({ hostname: "127.0.0.1", port });
      await Promise.all([
        pipe(left, right, "left"),
        pipe(right, left, "right"),
      ]);
      left.close();
      right.close();
    }
  })();
  const relayPort = listener.addr.port;
  recording.ports.set(relayPort, recording.ports.get(port) ?? port);
  return {
    port: relayPort,
    close: async () => {
      listener.close();
      await within(done, 2000);
      // Frames split into lines: one arrow per line of the protocol.
      wire.frames = wire.frames.flatMap((frame) =>
        frame.text.split(/(?<=\n)/).map((text) => ({ from: frame.from, text }))
      ).filter((frame) => frame.text !== "");
    },
  };
}

/** `count` different ports of 127.0.0.1 where nothing listens. */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  return ports;
}

// --------------------------------------------------------------------
// The runs: each makes one transcript.

type Scenario = () => Promise<Transcript | "skip">;

const T1 = "Terminal 1";
const T2 = "Terminal 2";

export const SCENARIOS: Record<string, Scenario> = {
  async address() {
    const r = new Recording();
    await r.client(T1, "address", []);
    return r.finish({
      name: "address",
      title: "IP addresses",
      tasks: ["address"],
    });
  },

  async ports() {
    const r = new Recording();
    await r.client(T1, "ports", []);
    return r.finish({ name: "ports", title: "Ports", tasks: ["ports"] });
  },

  async headers() {
    const r = new Recording();
    await r.client(T1, "headers", ["chapters/captures/greeting.pcap"]);
    await r.client(T1, "headers", ["--packet", "4"]);
    await r.client(T1, "headers", ["--figure"]);
    await r.client(T1, "headers", ["chapters/captures/udp.pcap", "--figure"]);
    return r.finish({
      name: "headers",
      title: "The headers of real packets",
      tasks: ["headers"],
    });
  },

  async "create-socket"() {
    const r = new Recording();
    await r.client(T1, "create-socket", []);
    return r.finish({
      name: "create-socket",
      title: "The four kinds of socket",
      tasks: ["create-socket"],
    });
  },

  async "tcp-client"() {
    const executable = await realPython();
    if (executable === null) return "skip";
    const r = new Recording();
    // Python's own web server, as the lesson's header shows, serving an
    // empty folder (so its page, a listing, is the same on every run).
    const folder = await Deno.makeTempDir();
    const terminal = r.terminal(T1);
    terminal.entries.push({
      command: "python3 -m http.server 8000 --bind 127.0.0.1",
    });
    await using web = TaskProcess.spawn(
      executable,
      ["-m", "http.server", "0", "--bind", "127.0.0.1", "-d", folder],
      { onLine: r.sink(terminal), env: { PYTHONUNBUFFERED: "1" } },
    );
    const serving = await web.waitForLine(/Serving HTTP on \S+ port (\d+)/);
    r.ports.set(Number(serving[1]), 8000);
    await r.client(T2, "tcp-client", ["--host", "127.0.0.1"], {
      port: Number(serving[1]),
      showPort: true,
    });
    await settle(web);
    terminal.entries.push({ key: "^C" });
    web.kill("SIGINT");
    await web.finished().catch(() => undefined);
    await Deno.remove(folder, { recursive: true });
    // Python's goodbye after Ctrl-C is its own (a KeyboardInterrupt note).
    return r.finish({
      name: "tcp-client",
      title: "A web page over plain TCP",
      tasks: ["tcp-client"],
      note: "Python's web server stands in for www.python.org, serving " +
        "an empty folder, so the page needs no Internet.",
    });
  },

  async greeting() {
    const r = new Recording();
    const { process, port } = await r.server(T1, "tcp-server");
    await r.client(T2, "tcp-listener", [], { port });
    await settle(process);
    await r.client(T2, "tcp-listener", [], { port });
    await r.stop(T1, process);
    return r.finish({
      name: "greeting",
      title: "The greeting server and its client",
      tasks: ["tcp-server", "tcp-listener"],
    });
  },

  async "no-server"() {
    const r = new Recording();
    // Ports where nothing listens, shown as the lessons' default ports.
    const [tcp, udp] = freePorts(2);
    r.ports.set(tcp, await defaultPort("tcp-server"));
    r.ports.set(udp, await defaultPort("udp-server"));
    await r.client(T1, "tcp-listener", [], { port: tcp, expect: 1 });
    await r.client(T1, "udp-client", [], { port: udp, expect: 1 });
    return r.finish({
      name: "no-server",
      title: "A client with no server",
      tasks: ["tcp-listener", "udp-client"],
    });
  },

  async udp() {
    const r = new Recording();
    const { process, port } = await r.server(T1, "udp-server");
    await r.client(T2, "udp-client", [], { port });
    await settle(process);
    await r.client(T2, "udp-client", [], { port });
    await r.stop(T1, process);
    return r.finish({
      name: "udp",
      title: "One datagram there, one back",
      tasks: ["udp-server", "udp-client"],
    });
  },

  async fragments() {
    const r = new Recording();
    const { process, port } = await r.server(T1, "fragment-server");
    await r.client(T2, "fragmented", [], { port });
    await r.stop(T1, process);
    return r.finish({
      name: "fragments",
      title: "A long message, received in pieces",
      tasks: ["fragment-server", "fragmented"],
    });
  },

  async json() {
    const r = new Recording();
    const { process, port } = await r.server(T1, "json-server");
    const through = relay(r, port, ["json-client", "json-server"]);
    await r.client(T2, "json-client", [], { port: through.port });
    await settle(process);
    await through.close();
    await r.client(T2, "json-client", [
      "--data",
      "[12345678901234567890, 1e400]",
    ], { port });
    await r.stop(T1, process);
    return r.finish({
      name: "json",
      title: "JSON through the echo server",
      tasks: ["json-server", "json-client"],
      note: "Between the first client and the server, the recorder's relay " +
        "noted what went each way (for the picture).",
    });
  },

  async pickle() {
    const r = new Recording();
    const { process, port } = await r.server(T1, "json-server");
    await r.client(T2, "pickle", [], { port });
    await r.stop(T1, process);
    return r.finish({
      name: "pickle",
      title: "An object through the echo server",
      tasks: ["pickle"],
    });
  },

  async chat() {
    const r = new Recording();
    const { process, port } = await r.server(
      T1,
      "chat",
      ["server", "--username", "alice"],
      "hi bob\n",
    );
    const through = relay(r, port, ["bob (client)", "alice (server)"]);
    await r.client(T2, "chat", ["client", "--username", "bob"], {
      port: through.port,
      stdin: "hello alice\n",
    });
    await settle(process);
    await through.close();
    await r.stop(T1, process);
    return r.finish({
      name: "chat",
      title: "A chat for two",
      tasks: ["chat"],
      note: "Typed lines come from printf, as in the lesson's header; the " +
        "recorder's relay between the two noted every frame.",
    });
  },

  async "lab-router"() {
    return await lab("router", [], "Figure 12.3: a router in between");
  },

  async "lab-two-computers"() {
    // The same every time but for the namespaces' names (the run's process
    // id), the ports the clients got, and which of two computers printed
    // first: the comparison sets those aside.
    return await lab("two-computers", [], "Two computers", "each computer");
  },

  async "lab-slow"() {
    // About 3 s at the lab's own figures. How many packets the queue
    // drops, and which datagrams arrive, change from run to run: only the
    // commands and headings are compared, as for the lossy cable.
    return await lab("slow", [], "A slow cable", "commands");
  },

  async "lab-loss"() {
    // 100 datagrams (not the lab's 1,000): few enough that the lab lists
    // every lost one, which the book's picture draws.
    return await lab(
      "loss",
      ["--count", "100", "--size", "65536"],
      "A lossy cable",
      "commands",
    );
  },
};

/** A lab experiment (root, Linux): "skip" where the lab cannot run. */
async function lab(
  experiment: string,
  args: string[],
  title: string,
  check: Transcript["check"] = "exact",
): Promise<Transcript | "skip"> {
  const can = await runTask("lab", ["check"]);
  if (can.code !== 0 || !/as root/.test(can.stdout)) return "skip";
  const r = new Recording();
  await r.client(T1, "lab", [experiment, ...args]);
  return r.finish({
    name: `lab-${experiment}`,
    title,
    tasks: [`lab ${experiment}`],
    check,
  });
}

/**
 * Fetches what the lessons import before the first run, so that no
 * "Download ..." line of a cold cache lands in a transcript.
 */
export async function warmUp(): Promise<void> {
  const files = new Set<string>();
  for (const task of Object.values(config.tasks)) {
    const file = task.command.match(
      /\s((?:chapters|chat|tools\/lab)\/\S+\.ts)/,
    );
    if (file) files.add(file[1]);
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["cache", ...files],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(new TextDecoder().decode(output.stderr));
  }
}

/** Runs the scenarios named (all by default); "skip" for those skipped. */
export async function record(
  names: string[] = Object.keys(SCENARIOS),
): Promise<Map<string, Transcript | "skip">> {
  await warmUp();
  const results = new Map<string, Transcript | "skip">();
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`no scenario "${name}"`);
    results.set(name, await scenario());
  }
  return results;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const names = Deno.args.filter((arg) => !arg.startsWith("--"));
  const committed = readTranscripts();
  const results = await record(names.length ? names : undefined);
  let stale = 0;
  await Deno.mkdir(TRANSCRIPTS, { recursive: true });
  for (const [name, fresh] of results) {
    if (fresh === "skip") {
      console.log(`${name}: skipped (cannot run here); kept as committed`);
      continue;
    }
    const old = committed.get(name);
    const differs = old ? difference(old, fresh) : `${name}: new`;
    if (!differs) {
      console.log(`${name}: unchanged`);
      continue;
    }
    stale++;
    if (check) {
      console.log(differs);
    } else {
      await Deno.writeTextFile(
        new URL(`${name}.json`, TRANSCRIPTS),
        format(fresh),
      );
      console.log(`${name}: written (${differs.split("\n")[0]})`);
    }
  }
  if (!check && stale > 0) {
    // As `deno fmt` writes JSON, so that `deno task check` stays clean.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", TRANSCRIPTS.pathname],
    }).output();
  }
  if (check && stale > 0) {
    console.log(
      `${stale} transcript(s) no longer match a fresh run: ` +
        `deno task book-record`,
    );
    Deno.exit(1);
  }
}
