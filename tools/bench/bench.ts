/**
 * The benchmark: `deno task bench` (`--json` for a machine-readable report,
 * `--runs N` for more runs per figure, `--quick` for a short smoke run).
 * What each figure means is in tools/bench/RESULTS.md, with one full run.
 *
 * For every figure it runs, side by side and in turns (run 1 of each
 * server, then run 2 of each...), our lesson's server and its peers:
 *
 * - ours: the lesson, started with its task's own command line from
 *   deno.json (`deno run --allow-net=... chapters/...`), so that the process
 *   measured is the server itself;
 * - book: the book's Python program (tools/bench/reference/), run by the
 *   real interpreter binary, not a version manager's shim in front of it;
 * - Node.js: the same server as a Node.js user would write it
 *   (tools/bench/peers/);
 * - the limits: a trivial C server that speaks the same protocol and does
 *   nothing else (tools/bench/native/reference.c), `iperf3` for loopback
 *   TCP, `nc | openssl dgst -sha256` for receiving and hashing.
 *
 * The load comes from a C program (tools/bench/native/load.c) compiled at
 * the start of the run, in its own process. The headline figure is the cost
 * per request: the CPU time (user + system, /proc/PID/stat) the server
 * process used, divided by the requests it served. It does not depend on
 * how fast the load generator is; the rate beside it may, and the report
 * says when (the generator must drive the C reference at least 1.5x faster
 * than the fastest server measured, or the figure is generator-bound).
 * Connections that waited more than a second are counted as stalls, apart
 * from the speed.
 *
 * Nothing here fails because a figure is low: targets are printed beside
 * the figures (met or missed) for people to judge. Linux only (/proc).
 *
 * Its task runs with --allow-all: Deno grants reading /proc/PID/stat only
 * to a program with every permission, and the bench starts gcc, python3,
 * node and the servers anyway (--allow-run), which is as much.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { TextLineStream } from "@std/streams/text-line-stream";
import { sleep, taskArgs, TaskProcess } from "../task_process.ts";
import {
  buildNative,
  type EchoResult,
  type GreetResult,
  type Native,
  removeNative,
  runHeldLoad,
  runLoad,
  type UdpResult,
} from "./native.ts";
import {
  allCpus,
  have,
  killAll,
  readClockTick,
  run,
  runTimed,
  Server,
  type ServerCommand,
} from "./processes.ts";
import {
  type Entry,
  type Figure,
  figureMarkdown,
  format,
  headlineMarkdown,
  spread,
  targetsMarkdown,
} from "./report.ts";

const SECTIONS = [
  "greetings",
  "udp",
  "echo",
  "fragmented",
  "memory",
  "launch",
  "chat",
];

const HELP = `Usage: deno task bench [--json] [--runs N] [--quick] [--only LIST]

Measures the lessons' servers on loopback beside the book's Python programs,
the same servers on Node.js, and the machine's limits (Linux only).

  --json     print a machine-readable report instead of the Markdown tables
  --runs N   runs per figure; each figure is their median with min-max
             (default 5; 1 with --quick)
  --quick    a short run with small loads, to check that everything works
             (its figures are too short to compare)
  --only L   only these parts, comma-separated, of:
             ${SECTIONS.join(", ")}`;

function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["runs", "only"],
  boolean: ["json", "quick"],
  unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
});
if (flags.runs !== undefined && !/^\d{1,2}$/.test(flags.runs)) {
  usage("--runs must be a whole number from 1 to 20");
}
const RUNS = flags.runs === undefined ? (flags.quick ? 1 : 5) : +flags.runs;
if (RUNS < 1 || RUNS > 20) usage("--runs must be a whole number from 1 to 20");
const ONLY = flags.only?.split(",") ?? SECTIONS;
for (const part of ONLY) {
  if (!SECTIONS.includes(part)) {
    usage(`--only: no part named ${JSON.stringify(part)}`);
  }
}
if (Deno.build.os !== "linux") {
  exit(1, "the benchmark reads /proc, so it runs on Linux only.");
}

/** How long and how big each load is: a full run, or --quick. */
const SIZES = flags.quick
  ? {
    loadSeconds: 0.1,
    udpSeconds: 0.1,
    warmUpSeconds: 0.05,
    stallGraceSeconds: 1.2,
    echoBytes: 20e6,
    fragmentBytes: 10e6,
    heldClients: 200,
    chatTrips: 100,
  }
  : {
    loadSeconds: 0.4,
    udpSeconds: 0.3,
    warmUpSeconds: 0.2,
    stallGraceSeconds: 3.2,
    echoBytes: 100e6,
    fragmentBytes: 50e6,
    heldClients: 1000,
    chatTrips: 1000,
  };
const GREETING_CLIENTS = [1, 8, 64];
const UDP_CLIENTS = 8;
const LOOPBACK = "127.0.0.1";
const MB = 1e6;

/** Progress goes to stderr, so that stdout holds only the report. */
function progress(text: string): void {
  console.error(text);
}

// --- Who is here ----------------------------------------------------------

await readClockTick();
const started = performance.now();

/** The real Python binary: `python3` may be a shim (pyenv) that costs a
 * process of its own at every start. */
async function findPython() {
  try {
    const { stdout } = await run("python3", [
      "-c",
      "import sys, platform; print(sys.executable); " +
      "print(platform.python_version())",
    ]);
    const [path, version] = stdout.trim().split("\n");
    return { path, version };
  } catch {
    return undefined;
  }
}

/** The real Node.js binary too (a version manager may put a shim first). */
async function findNode() {
  try {
    const { stdout } = await run("node", [
      "-p",
      "process.execPath + '\\n' + process.versions.node",
    ]);
    const [path, version] = stdout.trim().split("\n");
    return { path, version };
  } catch {
    return undefined;
  }
}

const python = await findPython();
const node = await findNode();
const skipped: string[] = [];
let native: Native | undefined;
try {
  native = await buildNative();
} catch (error) {
  skipped.push(
    `gcc could not build the load generator (${error}): the greeting, UDP ` +
      "and echo figures are skipped",
  );
}
const tasksetHere = await have("taskset", ["-V"]);
const iperfHere = await have("iperf3", ["--version"]);
const ncHere = await have("nc", ["-h"]);
const opensslHere = await have("openssl", ["version"]);
if (!python) skipped.push("python3 not found: the book's programs skipped");
if (!node) skipped.push("node not found: the Node.js peers skipped");
if (!tasksetHere) {
  skipped.push("taskset not found: the pinned UDP figure skipped");
}
if (!iperfHere) skipped.push("iperf3 not found: the loopback limit skipped");
if (!ncHere || !opensslHere) {
  skipped.push("nc or openssl not found: `nc | openssl dgst` skipped");
}

const OURS = `ours (Deno ${Deno.version.deno})`;
const BOOK = `book (Python ${python?.version})`;
const NODE = `Node.js ${node?.version}`;
const C_REFERENCE = "C reference (trivial)";
const C_ECHO = "C blocking echo (64 KiB reads)";

progress(
  `Benchmark: ${navigator.hardwareConcurrency} CPUs, ${RUNS} run(s) per ` +
    `figure${flags.quick ? " (--quick: short loads)" : ""}.`,
);
for (const line of skipped) progress(`Skipped: ${line}.`);

// --- Starting servers -----------------------------------------------------

type Protocol = "greet" | "udp" | "echo";
const LESSON: Record<Protocol, string> = {
  greet: "tcp-server",
  udp: "udp-server",
  echo: "json-server",
};
const BOOK_FILE: Record<Protocol, string> = {
  greet: "tcp_server.py",
  udp: "udp_server.py",
  echo: "json_server.py",
};
const NODE_FILE: Record<Protocol, string> = {
  greet: "tcp_server.mjs",
  udp: "udp_server.mjs",
  echo: "json_server.mjs",
};

const listenArgs = ["--host", LOOPBACK, "--port", "0"];

function oursCommand(task: string, args: string[] = []): ServerCommand {
  return {
    peer: OURS,
    program: Deno.execPath(),
    args: [...taskArgs(task), ...listenArgs, ...args],
  };
}

/** PYTHONUNBUFFERED is cleared: Python buffers what it prints to a pipe. */
function bookCommand(file: string): ServerCommand {
  return {
    peer: BOOK,
    program: python!.path,
    args: [`tools/bench/reference/${file}`, LOOPBACK, "0"],
    env: { PYTHONUNBUFFERED: "" },
  };
}

function nodeCommand(file: string): ServerCommand {
  return {
    peer: NODE,
    program: node!.path,
    args: [`tools/bench/peers/${file}`, ...listenArgs],
  };
}

function referenceCommand(protocol: Protocol): ServerCommand {
  return {
    peer: C_REFERENCE,
    program: native!.reference,
    args: [protocol, LOOPBACK, "0"],
  };
}

/** A server in the comparison; `oneClient` ones are started for each run. */
interface Contender {
  command: ServerCommand;
  oneClient?: boolean;
  server?: Server;
}

function contenders(protocol: Protocol): Contender[] {
  const list: Contender[] = [{ command: oursCommand(LESSON[protocol]) }];
  if (python) {
    list.push({
      command: bookCommand(BOOK_FILE[protocol]),
      // The book's json_server.py accepts once: one client, then it exits.
      oneClient: protocol === "echo",
    });
  }
  if (node) list.push({ command: nodeCommand(NODE_FILE[protocol]) });
  if (native) list.push({ command: referenceCommand(protocol) });
  return list;
}

/**
 * Runs `measure` RUNS times against each contender, in turns (run 1 of
 * each, then run 2 of each...), so that a noisy moment of a shared machine
 * spreads over all of them. Returns each contender's results in order.
 * `warmUp`, if given, runs once on each server before the measured runs.
 */
async function inTurns<T>(
  list: Contender[],
  measure: (server: Server) => Promise<T>,
  warmUp?: (server: Server) => Promise<unknown>,
): Promise<T[][]> {
  const results: T[][] = list.map(() => []);
  try {
    for (const contender of list) {
      if (!contender.oneClient) {
        contender.server = await Server.start(contender.command);
        // A first load, not measured: a JIT compiler (V8's, in Deno and
        // Node.js) needs a moment to compile the server's hot code.
        await warmUp?.(contender.server);
      }
    }
    for (let run = 0; run < RUNS; run++) {
      for (const [index, contender] of list.entries()) {
        if (contender.oneClient) {
          contender.server = await Server.start(contender.command);
        }
        results[index].push(await measure(contender.server!));
        if (contender.oneClient) await contender.server!.stop();
      }
    }
  } finally {
    for (const contender of list) await contender.server?.stop();
  }
  return results;
}

/** CPU time the server used while `work` ran, in ms, and work's result. */
async function withCpu<T>(
  server: Server,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: number }> {
  const before = await server.cpuMs();
  const result = await work();
  // A moment for the server to finish with the last requests (closing).
  await sleep(20);
  return { result, cpuMs: (await server.cpuMs()) - before };
}

// --- The figures ----------------------------------------------------------

const figures: Figure[] = [];

/**
 * Is a rate the server's or the load generator's? The C reference is the
 * fastest server there can be: the generator's ceiling is the rate it
 * drives that one at. A server within 1.5x of the ceiling is marked
 * generator-bound: its rate measures the generator and the machine as much
 * as the server. (Its CPU per request does not depend on the generator.)
 */
function generatorNote(figure: Figure): void {
  const reference = figure.entries.find((e) => e.server === C_REFERENCE);
  const others = figure.entries.filter((e) =>
    e.server !== C_REFERENCE && e.value
  );
  if (!reference?.value || others.length === 0) return;
  const ceiling = reference.value.median;
  const bound = others.filter((e) => e.value!.median * 1.5 > ceiling);
  for (const entry of bound) {
    entry.note = [entry.note, "**generator-bound**"].filter(Boolean)
      .join("; ");
  }
  const fastest = Math.max(...others.map((e) => e.value!.median));
  const drove = `The load generator drove the C reference at ` +
    `${format(ceiling)} ${figure.unit}, ${(ceiling / fastest).toFixed(2)}x ` +
    "the fastest server measured here";
  figure.notes.push(
    bound.length === 0
      ? `${drove}: the rates are the servers', not the generator's.`
      : `${drove}. **Generator-bound**: ${
        bound.map((e) => e.server).join(", ")
      }, within 1.5x of that ceiling: their rates measure the generator ` +
        "and the machine as much as the server (their CPU per request " +
        "does not depend on it); the other rates are the servers'.",
  );
}

/** A target on the CPU per request: ours below Node.js's. */
function cpuBelowNode(figure: Figure): void {
  const ours = figure.entries.find((e) => e.server === OURS)?.cost;
  const node = figure.entries.find((e) => e.server === NODE)?.cost;
  if (!ours || !node) return;
  figure.targets.push({
    text: "CPU per request below Node.js's",
    measured: `${format(ours.median)} vs ${format(node.median)} ` +
      `${figure.costUnit}`,
    met: ours.median < node.median,
  });
}

/** Runs one section; a section that fails is reported and skipped. */
async function section(
  key: string,
  name: string,
  body: () => Promise<void>,
) {
  if (!ONLY.includes(key)) return;
  const sectionStarted = performance.now();
  progress(`\n${name}...`);
  try {
    await body();
  } catch (error) {
    const message = `${name}: skipped, it failed: ${
      (error as Error).message ?? error
    }`;
    progress(message);
    skipped.push(message);
  }
  progress(
    `(${((performance.now() - sectionStarted) / 1000).toFixed(1)} s)`,
  );
}

function show(figure: Figure): void {
  // --quick's loads are too small to judge a target by.
  if (flags.quick) figure.targets = [];
  figures.push(figure);
  for (const entry of figure.entries) {
    const cost = entry.cost
      ? `, ${format(entry.cost.median)} ${figure.costUnit}`
      : "";
    const stalls = entry.stalls?.max
      ? `, ${format(entry.stalls.median)} stalls/run`
      : "";
    progress(
      `  ${entry.server}: ${format(entry.value!.median)} ${figure.unit}` +
        `${cost}${stalls}${entry.note ? ` (${entry.note})` : ""}`,
    );
  }
}

// 1. tcp-server: greetings. CLIENTS connections at a time, each replaced as
// soon as it is served, for loadSeconds per run.
async function greetings(): Promise<void> {
  for (const clients of GREETING_CLIENTS) {
    const list = contenders("greet");
    const load = (server: Server, seconds: number, graceSeconds: number) =>
      runLoad<GreetResult>(native!, [
        "greet",
        server.address.hostname,
        server.address.port,
        clients,
        seconds,
        graceSeconds,
      ]);
    const results = await inTurns(
      list,
      (server) =>
        withCpu(
          server,
          () => load(server, SIZES.loadSeconds, SIZES.stallGraceSeconds),
        ),
      (server) => load(server, SIZES.warmUpSeconds, 0.2),
    );
    const entries = list.map((contender, index): Entry => {
      const runs = results[index];
      const problems = [
        ["bad greetings", runs.reduce((n, r) => n + r.result.bad, 0)],
        ["repeated numbers", runs.reduce((n, r) => n + r.result.repeated, 0)],
        ["failed connections", runs.reduce((n, r) => n + r.result.errors, 0)],
        [
          `never served (given up ${SIZES.stallGraceSeconds} s after the run)`,
          runs.reduce((n, r) => n + r.result.given_up, 0),
        ],
      ].filter(([, count]) => count as number > 0);
      return {
        server: contender.command.peer,
        value: spread(runs.map((r) => r.result.rate)),
        cost: spread(runs.map((r) =>
          r.cpuMs * 1000 /
          Math.max(1, r.result.greetings + r.result.late_greetings)
        )),
        stalls: spread(runs.map((r) => r.result.stalls)),
        longestWaitMs: Math.max(...runs.map((r) => r.result.longest_wait_ms)),
        note: problems.map(([what, count]) => `${count} ${what}`).join(", ") ||
          undefined,
      };
    });
    const figure: Figure = {
      key: `greetings-${clients}`,
      title: `tcp-server greetings, ${clients} client${
        clients > 1 ? "s" : ""
      } at a time`,
      unit: "greetings/s",
      better: "higher",
      costUnit: "µs per greeting",
      entries,
      notes: [],
      targets: [],
    };
    generatorNote(figure);
    cpuBelowNode(figure);
    show(figure);
  }
}

// 2. udp-server: round trips, one datagram in flight per client.
async function udpTrips(): Promise<void> {
  const variants = [
    ...(tasksetHere
      ? [{
        key: "udp-1-pinned",
        title: "udp-server round trips, one client, both ends on one CPU",
        clients: 1,
        pin: true,
        about: "Pinned with taskset: the client and the server take turns " +
          "on CPU 0, so no wake-up has to cross to another CPU.",
      }]
      : []),
    {
      key: "udp-1",
      title: "udp-server round trips, one client, not pinned",
      clients: 1,
      pin: false,
      about: "**Scheduler-bound**: with one datagram in flight, each trip " +
        "waits for a wake-up, and where the system runs the two ends " +
        "(one CPU or two) changes the rate severalfold from run to run.",
    },
    {
      key: `udp-${UDP_CLIENTS}`,
      title: `udp-server round trips, ${UDP_CLIENTS} clients`,
      clients: UDP_CLIENTS,
      pin: false,
      about: undefined,
    },
  ];
  for (const variant of variants) {
    const list = contenders("udp");
    const load = (server: Server, seconds: number) =>
      runLoad<UdpResult>(native!, [
        "udp",
        server.address.hostname,
        server.address.port,
        variant.clients,
        seconds,
      ], variant.pin ? "0" : undefined);
    const results = await inTurns(list, async (server) => {
      if (variant.pin) await server.pin("0");
      try {
        return await withCpu(server, () => load(server, SIZES.udpSeconds));
      } finally {
        if (variant.pin) await server.pin(allCpus());
      }
    }, (server) => load(server, SIZES.warmUpSeconds));
    const entries = list.map((contender, index): Entry => {
      const runs = results[index];
      const lost = runs.reduce((n, r) => n + r.result.lost, 0);
      const bad = runs.reduce((n, r) => n + r.result.bad, 0);
      const problems = [
        lost ? `${lost} datagram${lost > 1 ? "s" : ""} lost` : "",
        bad ? `${bad} wrong answer${bad > 1 ? "s" : ""}` : "",
      ].filter(Boolean);
      return {
        server: contender.command.peer,
        value: spread(runs.map((r) => r.result.rate)),
        cost: spread(
          runs.map((r) => r.cpuMs * 1000 / Math.max(1, r.result.trips)),
        ),
        note: problems.join(", ") || undefined,
      };
    });
    const figure: Figure = {
      key: variant.key,
      title: variant.title,
      about: variant.about,
      unit: "trips/s",
      better: "higher",
      costUnit: "µs per trip",
      entries,
      notes: [],
      targets: [],
    };
    generatorNote(figure);
    cpuBelowNode(figure);
    show(figure);
  }
}

/** Loopback TCP throughput, one way, as iperf3 measures it, in MB/s. */
async function iperf(bytes: number): Promise<number> {
  const probe = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = `${probe.addr.port}`;
  probe.close();
  const server = new Deno.Command("iperf3", {
    args: ["-s", "-1", "-B", LOOPBACK, "-p", port],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let attempt = 0;; attempt++) {
      try {
        const { stdout } = await run("iperf3", [
          "-c",
          LOOPBACK,
          "-p",
          port,
          "-n",
          `${bytes}`,
          "-J",
        ]);
        const report = JSON.parse(stdout);
        return report.end.sum_received.bits_per_second / 8 / MB;
      } catch (error) {
        // Its server may not be listening yet.
        if (attempt >= 40) throw error;
        await sleep(50);
      }
    }
  } finally {
    try {
      server.kill("SIGTERM");
    } catch {
      // It ended after its one test.
    }
    await server.status;
  }
}

// 3. json-server: echo throughput, one client streaming echoBytes.
async function echo(): Promise<void> {
  const list = contenders("echo");
  const warmUp = (server: Server) =>
    runLoad<EchoResult>(native!, [
      "echo",
      server.address.hostname,
      server.address.port,
      SIZES.echoBytes / 10,
    ]);
  const results = await inTurns(list, async (server) => {
    let cpuAfter = 0;
    const before = await server.cpuMs();
    const result = await runHeldLoad<EchoResult>(native!, [
      "echo",
      server.address.hostname,
      server.address.port,
      SIZES.echoBytes,
    ], async () => {
      cpuAfter = await server.cpuMs();
    });
    if (result.received !== result.bytes || result.mismatches > 0) {
      throw new Error(
        `${server.peer} echoed ${result.received} of ${result.bytes} bytes, ` +
          `${result.mismatches} pieces differing`,
      );
    }
    return { rate: result.mb_per_s, cpuMs: cpuAfter - before };
  }, warmUp);
  const entries = list.map((contender, index): Entry => ({
    server: contender.command.peer === C_REFERENCE
      ? C_ECHO
      : contender.command.peer,
    value: spread(results[index].map((r) => r.rate)),
    cost: spread(
      results[index].map((r) => r.cpuMs / (SIZES.echoBytes / MB)),
    ),
    note: contender.oneClient ? "serves one client: started for each run" : "",
  }));
  if (iperfHere) {
    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      rates.push(await iperf(SIZES.echoBytes));
    }
    entries.push({
      server: "iperf3 (one way: no echo)",
      value: spread(rates),
      note: "loopback TCP limit; an echo carries each byte twice",
    });
  }
  const figure: Figure = {
    key: "echo",
    title: `json-server echo, ${SIZES.echoBytes / MB} MB streamed and read ` +
      "back at once",
    unit: "MB/s",
    better: "higher",
    costUnit: "ms per MB",
    entries,
    notes: [],
    targets: [],
  };
  const ours = entries.find((e) => e.server === OURS)!.value!.median;
  const plain = entries.find((e) => e.server === C_ECHO);
  if (plain?.value) {
    const ratio = ours / plain.value.median;
    figure.targets.push({
      text: "at least 0.8x the plain blocking echo",
      measured: `${ratio.toFixed(2)}x`,
      met: ratio >= 0.8,
    });
  }
  const book = entries.find((e) => e.server === BOOK);
  if (book?.value) {
    const ratio = ours / book.value.median;
    figure.targets.push({
      text: "at least 4x the book's",
      measured: `${ratio.toFixed(2)}x`,
      met: ratio >= 4,
    });
  }
  show(figure);
}

/** Quotes a word for sh. */
const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

// 4. fragmented: receive fragmentBytes from fragment-server, keep it all,
// hash it. Each receiver is a whole process, timed (wall and CPU) less the
// same receiver against an empty message: what is left is receiving.
async function fragmented(): Promise<void> {
  const full = await Server.start(
    oursCommand("fragment-server", ["--size", `${SIZES.fragmentBytes}`]),
  );
  const empty = await Server.start(
    oursCommand("fragment-server", ["--size", "0"]),
  );
  try {
    const deno = [Deno.execPath(), ...taskArgs("fragmented")];
    type Receiver = { name: string; line: (port: number) => string };
    const receivers: Receiver[] = [1024, 65536].map((chunk) => ({
      name: `ours, --chunk-size ${chunk}${
        chunk === 1024 ? " (the book's)" : ""
      }`,
      line: (port) =>
        [...deno, "--port", `${port}`, "--chunk-size", `${chunk}`]
          .map(quote).join(" "),
    }));
    if (python) {
      receivers.push({
        name: `${BOOK}, fragmented.py (1 KiB reads)`,
        line: (port) =>
          [python.path, "tools/bench/reference/fragmented.py", LOOPBACK]
            .map(quote).join(" ") + ` ${port}`,
      });
    }
    if (ncHere && opensslHere) {
      receivers.push({
        name: "nc | openssl dgst -sha256",
        line: (port) => `nc -d ${LOOPBACK} ${port} | openssl dgst -sha256`,
      });
    }
    if (ncHere) {
      receivers.push({
        name: "nc > /dev/null (no keeping, no hash)",
        line: (port) => `nc -d ${LOOPBACK} ${port}`,
      });
    }
    type Timed = { ms: number; cpuMs: number };
    const empties: Timed[][] = receivers.map(() => []);
    const wholes: Timed[][] = receivers.map(() => []);
    for (let run = 0; run < RUNS; run++) {
      for (const [index, receiver] of receivers.entries()) {
        empties[index].push(await runTimed(receiver.line(empty.address.port)));
        wholes[index].push(await runTimed(receiver.line(full.address.port)));
      }
    }
    // Each run less the median of the runs against the empty message (one
    // such run is short and as noisy as a whole one: its median is steadier).
    const megabytes = SIZES.fragmentBytes / MB;
    const results = receivers.map((_, index) => {
      const baseMs = spread(empties[index].map((r) => r.ms)).median;
      const baseCpu = spread(empties[index].map((r) => r.cpuMs)).median;
      return wholes[index].map((whole) => ({
        rate: megabytes / (Math.max(1, whole.ms - baseMs) / 1000),
        cpu: Math.max(0, whole.cpuMs - baseCpu) / megabytes,
      }));
    });
    const figure: Figure = {
      key: "fragmented",
      title: `fragmented: receive ${
        SIZES.fragmentBytes / MB
      } MB, keep it, SHA-256 it`,
      about: "Each receiver's time and CPU less its own against an empty " +
        "message (start-up, connecting): what is left is receiving and " +
        "hashing. The CPU is the receiver's (all its processes).",
      unit: "MB/s",
      better: "higher",
      costUnit: "ms per MB",
      entries: receivers.map((receiver, index) => ({
        server: receiver.name,
        value: spread(results[index].map((r) => r.rate)),
        cost: spread(results[index].map((r) => r.cpu)),
      })),
      notes: [],
      targets: [],
    };
    show(figure);
  } finally {
    await full.stop();
    await empty.stop();
  }
}

/** Opens `count` connections to `address`, 50 at a time, 5 s each at most. */
async function connectMany(
  address: { hostname: string; port: number },
  count: number,
): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  const connect = () =>
    Deno.connect({ ...address, signal: AbortSignal.timeout(5000) });
  try {
    while (conns.length < count) {
      const batch = Math.min(50, count - conns.length);
      conns.push(...await Promise.all(Array.from({ length: batch }, connect)));
    }
  } catch (error) {
    for (const conn of conns) conn.close();
    throw new Error(`after ${conns.length} of ${count} connections: ${error}`);
  }
  return conns;
}

/**
 * Reads a greeting until its end of file (5 s at most); the connection
 * stays open. Returns false if it failed.
 */
async function readGreeting(conn: Deno.TcpConn): Promise<boolean> {
  const buffer = new Uint8Array(256);
  const timer = setTimeout(() => conn.closeWrite().catch(() => {}), 5000);
  try {
    while ((await conn.read(buffer)) !== null) {
      // The greeting; we only wait for its end.
    }
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `server` has `count` more files open than `base` (5 s). */
async function untilOpen(server: Server, base: number, count: number) {
  const deadline = Date.now() + 5000;
  while ((await server.openFiles()) < base + count) {
    if (Date.now() > deadline) {
      throw new Error(`${server.peer} did not accept ${count} connections`);
    }
    await sleep(20);
  }
}

// 5. Resident memory: json-server holding 1,000 idle connections, and
// tcp-server with 1,000 clients greeted and still connected. A fresh server
// for each run.
async function memory(): Promise<void> {
  const count = SIZES.heldClients;
  const thousand = count.toLocaleString("en-US");
  const cases = [
    {
      key: "memory-json-idle",
      title: `json-server resident memory, ${thousand} idle connections`,
      protocol: "echo" as Protocol,
      // Connected is not yet accepted: wait until the server holds them.
      hold: (server: Server, _conns: Deno.TcpConn[], base: number) =>
        untilOpen(server, base, count),
      notes: python
        ? ["The book's json_server.py serves one client, then exits."]
        : [],
    },
    {
      key: "memory-tcp",
      title: `tcp-server resident memory, ${thousand} clients greeted, ` +
        "still connected",
      protocol: "greet" as Protocol,
      hold: async (_server: Server, conns: Deno.TcpConn[]) => {
        const read = await Promise.all(conns.map(readGreeting));
        const failed = read.filter((ok) => !ok).length;
        if (failed > 0) throw new Error(`${failed} greetings failed`);
      },
      notes: python
        ? [
          "The book's tcp_server.py closes each connection at once and holds " +
          "none, so no client is held there: its figure is its memory idle. " +
          "(Its listen(5) queue also makes clients that stay connected wait " +
          "for SYN retries, seconds each.)",
        ]
        : [],
    },
  ];
  for (const memoryCase of cases) {
    const list = contenders(memoryCase.protocol).filter((c) =>
      !c.oneClient && c.command.peer !== C_REFERENCE
    );
    const results: { idle: number; held: number }[][] = list.map(() => []);
    for (let run = 0; run < RUNS; run++) {
      for (const [index, contender] of list.entries()) {
        const server = await Server.start(contender.command);
        let conns: Deno.TcpConn[] = [];
        try {
          await sleep(100);
          const idle = await server.residentMB();
          if (contender.command.peer !== BOOK) {
            const base = await server.openFiles();
            conns = await connectMany(server.address, count);
            await memoryCase.hold(server, conns, base);
            await sleep(100);
          }
          results[index].push({ idle, held: await server.residentMB() });
        } finally {
          for (const conn of conns) conn.close();
          await server.stop();
        }
      }
    }
    const entries = list.map((contender, index): Entry => {
      const held = spread(results[index].map((r) => r.held));
      const idle = spread(results[index].map((r) => r.idle));
      const perClient = (held.median - idle.median) * 1e6 / count / 1024;
      return {
        server: contender.command.peer,
        value: held,
        note: contender.command.peer === BOOK
          ? "idle: holds no client"
          : `${format(idle.median)} MB before the clients; ` +
            `${format(perClient)} KiB per client`,
      };
    });
    const figure: Figure = {
      key: memoryCase.key,
      title: memoryCase.title,
      unit: "MB resident",
      better: "lower",
      entries,
      notes: memoryCase.notes,
      targets: [],
    };
    const ours = entries.find((e) => e.server === OURS)!.value!.median;
    const node = entries.find((e) => e.server === NODE)?.value?.median;
    if (memoryCase.protocol === "echo") {
      if (node !== undefined) {
        figure.targets.push({
          text: "at or below Node.js's",
          measured: `${format(ours)} MB vs ${format(node)} MB`,
          met: ours <= node,
        });
      }
      figure.targets.push({
        text: "at most 60 MB (issue 9)",
        measured: `${format(ours)} MB`,
        met: ours <= 60,
      });
    }
    show(figure);
  }
}

// 6. Launch: from starting the process to its `Listening on` line.
async function launch(): Promise<void> {
  const list = contenders("greet");
  const times: number[][] = list.map(() => []);
  for (let run = 0; run < RUNS; run++) {
    for (const [index, contender] of list.entries()) {
      const launched = performance.now();
      const server = await Server.start(contender.command);
      times[index].push(performance.now() - launched);
      await server.stop();
    }
  }
  show({
    key: "launch",
    title: "Launch: start to `Listening on`, the greeting server",
    about: "What a reader waits for at each `deno task tcp-server` " +
      "(less deno task's own start); Python is its real binary, not a shim.",
    unit: "ms",
    better: "lower",
    entries: list.map((contender, index) => ({
      server: contender.command.peer,
      value: spread(times[index]),
    })),
    notes: [],
    targets: [],
  });
}

// 7. Chat: the round trip of one message. A raw client speaks the chat's
// protocol (chat/README.md) to the real chat server, whose user's replies
// wait in its input: sending a message frame to receiving the reply covers
// both directions of the socket, the server checking and showing the
// message, and reading its user's next line.
async function chat(): Promise<void> {
  const trips = SIZES.chatTrips;
  const micros: number[][] = [];
  for (let run = 0; run < RUNS; run++) {
    await using server = TaskProcess.start(
      "chat",
      ["server", "--username", "alice", ...listenArgs],
      { stdin: true },
    );
    const address = await server.listening();
    await server.write("ok\n".repeat(trips + 10));
    const conn = await Deno.connect(address);
    const frames = conn.readable
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream())
      .getReader();
    const encoder = new TextEncoder();
    const send = async (frame: unknown) => {
      const bytes = encoder.encode(JSON.stringify(frame) + "\n");
      for (let sent = 0; sent < bytes.length;) {
        sent += await conn.write(bytes.subarray(sent));
      }
    };
    const next = async () => {
      const { value } = await frames.read();
      if (value === undefined) throw new Error("the chat server hung up");
      return JSON.parse(value);
    };
    try {
      if ((await next()).type !== "hello") throw new Error("no hello frame");
      await send({
        type: "hello",
        protocol: "deno-chat",
        version: 1,
        username: "bob",
      });
      const times: number[] = [];
      for (let i = 0; i < trips; i++) {
        const sent = performance.now();
        await send({ type: "message", text: "ping" });
        const reply = await next();
        times.push((performance.now() - sent) * 1000);
        if (reply.type !== "message" || reply.text !== "ok") {
          throw new Error(`unexpected frame ${JSON.stringify(reply)}`);
        }
      }
      micros.push(times);
      await send({ type: "bye" });
    } finally {
      await frames.cancel().catch(() => {});
      try {
        conn.close();
      } catch {
        // Closed already by the cancel.
      }
    }
  }
  const percentile = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length))];
  };
  show({
    key: "chat",
    title: `chat: one message's round trip (${trips} per run)`,
    unit: "µs",
    better: "lower",
    entries: [
      {
        server: `${OURS}, median`,
        value: spread(micros.map((run) => percentile(run, 0.5))),
      },
      {
        server: `${OURS}, 99th percentile`,
        value: spread(micros.map((run) => percentile(run, 0.99))),
      },
    ],
    notes: [],
    targets: [],
  });
}

// Ctrl-C (or kill): end the servers, remove the compiled programs, stop.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, async () => {
    killAll();
    if (native) await removeNative(native);
    console.error(`Benchmark stopped (${signal}).`);
    Deno.exit(130);
  });
}

try {
  if (native) {
    await section("greetings", "Greetings (tcp-server)", greetings);
    await section("udp", "UDP round trips (udp-server)", udpTrips);
    await section("echo", "Echo (json-server)", echo);
  }
  await section("fragmented", "Receiving (fragmented)", fragmented);
  await section("memory", "Resident memory", memory);
  await section("launch", "Launch", launch);
  await section("chat", "Chat", chat);
} finally {
  if (native) await removeNative(native);
}

// --- The report -----------------------------------------------------------

const seconds = (performance.now() - started) / 1000;
const cpuModel = await Deno.readTextFile("/proc/cpuinfo")
  .then((text) => /^model name\s*:\s*(.+)$/m.exec(text)?.[1] ?? "unknown")
  .catch(() => "unknown");
const machine = {
  cpus: navigator.hardwareConcurrency,
  cpuModel,
  kernel: (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim(),
  deno: Deno.version.deno,
  v8: Deno.version.v8,
  node: node?.version ?? null,
  python: python?.version ?? null,
  date: new Date().toISOString().slice(0, 10),
};

if (flags.json) {
  console.log(JSON.stringify(
    {
      machine,
      runs: RUNS,
      quick: flags.quick,
      seconds: Math.round(seconds),
      skipped,
      figures,
    },
    null,
    2,
  ));
} else {
  const lines = [
    `## Benchmark run of ${machine.date}`,
    "",
    `${machine.cpus} CPUs (${machine.cpuModel}), Linux ${machine.kernel}; ` +
    `Deno ${machine.deno}, Node.js ${machine.node ?? "absent"}, ` +
    `Python ${machine.python ?? "absent"}. Each figure: the median of ` +
    `${RUNS} run(s) (min–max in brackets); MB = 1,000,000 bytes; CPU = ` +
    "user + system time of the server process. The whole run took " +
    `${Math.round(seconds)} s${flags.quick ? " (--quick)" : ""}.`,
  ];
  if (skipped.length > 0) {
    lines.push("", ...skipped.map((line) => `- Skipped: ${line}.`));
  }
  const headline = headlineMarkdown(figures, [
    { heading: "ours", servers: [OURS] },
    { heading: "book", servers: [BOOK] },
    { heading: "Node.js", servers: [NODE] },
    { heading: "C reference", servers: [C_REFERENCE, C_ECHO] },
  ]);
  if (headline) lines.push("", headline);
  for (const figure of figures) lines.push("", figureMarkdown(figure));
  const targets = figures.some((figure) => figure.targets.length > 0);
  if (targets) lines.push("", targetsMarkdown(figures));
  console.log(lines.join("\n"));
}
