/**
 * The benchmark: `deno task bench` (add `--json` for a machine-readable
 * report, `--runs N` for more runs per figure; each figure is the median).
 *
 * It starts our servers on loopback exactly as a reader would (`deno task
 * NAME --port 0`), drives them with the load generator below, and, where a
 * reference is on the machine, runs the same load against it in the same
 * run: the book's own Python programs (tools/bench/reference/), and `nc` for
 * receiving a message. Our figure is then printed as a ratio to theirs, which
 * survives a noisy machine better than a raw number.
 *
 * This is not a test: nothing here fails because a figure is low. The
 * targets are printed beside the figures, for people to judge.
 *
 * @module
 */

import { TextLineStream } from "@std/streams/text-line-stream";
import {
  parseFlags,
  parseWholeNumber,
} from "../../chapters/_shared/plumbing.ts";
import {
  type Listening,
  runTask,
  TaskProcess,
} from "../task_process.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task bench [--json] [--runs N]

Measures the lessons' servers on loopback against the book's Python programs.

  --json     print a machine-readable report instead of the table
  --runs N   runs per figure, of which the median is kept (default 3)`,
  string: ["runs"],
  boolean: ["json"],
  defaults: { runs: "3" },
});
const RUNS = parseWholeNumber(flags.runs, "--runs", 1, 20);
const LOOPBACK = "127.0.0.1";
const MB = 1_000_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Progress goes to stderr, so that `--json` output stays clean. */
function progress(text: string): void {
  console.error(`  ${text}`);
}

// --- Starting servers -------------------------------------------------------

interface Server {
  process: TaskProcess;
  address: Listening;
}

/** Starts one of our servers through its task, on a free port. */
async function startOurs(task: string, args: string[] = []): Promise<Server> {
  const process = TaskProcess.start(task, [...args, "--port", "0"]);
  return { process, address: await process.listening() };
}

/** Is `program` on this machine? */
async function have(program: string, args = ["-h"]): Promise<boolean> {
  try {
    await new Deno.Command(program, { args, stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts one of the book's Python servers. PYTHONUNBUFFERED is cleared so
 * that Python's `print` buffers its output as it does for any user whose
 * output goes to a pipe or a file.
 */
async function startPython(file: string): Promise<Server> {
  const process = TaskProcess.spawn("python3", [
    `tools/bench/reference/${file}`,
    LOOPBACK,
    "0",
  ], { env: { PYTHONUNBUFFERED: "" } });
  return { process, address: await process.listening() };
}

async function stop(server: Server): Promise<void> {
  server.process.kill("SIGTERM");
  await server.process.finished().catch(() => {});
  await server.process[Symbol.asyncDispose]();
}

// --- Statistics -------------------------------------------------------------

function median(values: number[]): number {
  return percentile(values, 50);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** Runs `measure` RUNS times and keeps the median. */
async function medianOf(measure: () => Promise<number>): Promise<number> {
  const results: number[] = [];
  for (let run = 0; run < RUNS; run++) results.push(await measure());
  return median(results);
}

// --- The loads ----------------------------------------------------------------

/** Writes all of `bytes` (conn.write may write fewer). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Streams `total` bytes in 64 KiB writes to an echo server while reading the
 * echo back; returns MB/s (the bytes counted once).
 */
async function echoThroughput(
  address: Listening,
  total: number,
): Promise<number> {
  const conn = await Deno.connect(address);
  const block = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const started = performance.now();
  const sending = (async () => {
    for (let sent = 0; sent < total; sent += block.length) {
      await writeAll(
        conn,
        block.subarray(0, Math.min(block.length, total - sent)),
      );
    }
  })();
  const buffer = new Uint8Array(256 * 1024);
  let received = 0;
  while (received < total) {
    const count = await conn.read(buffer);
    if (count === null) throw new Error("the echo server closed early");
    // A spot check of the echo as it comes (the tests check every byte).
    const offset = received % block.length;
    if (buffer[0] !== block[offset]) throw new Error("the echo differs");
    received += count;
  }
  await sending;
  const seconds = (performance.now() - started) / 1000;
  conn.close();
  return total / MB / seconds;
}

/**
 * `concurrency` clients connect to a greeting server again and again for
 * `seconds`; every greeting is checked and every number must be new.
 * Returns greetings per second.
 */
async function greetingRate(
  address: Listening,
  concurrency: number,
  seconds: number,
): Promise<number> {
  const numbers = new Set<number>();
  let greetings = 0;
  let stalls = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  async function client() {
    // One buffer per client: reads that are waiting at the same time must
    // not share a buffer, or one overwrites what another has not read yet.
    const buffer = new Uint8Array(256);
    while (performance.now() < deadline) {
      const conn = await Deno.connect(address);
      // A server whose queue of waiting connections overflows may leave a
      // client connected but never served: give up on it after 3 seconds.
      let stalled = false;
      const timer = setTimeout(() => {
        stalled = true;
        conn.close();
      }, 3000);
      let text = "";
      try {
        for (let n; (n = await conn.read(buffer)) !== null;) {
          text += decoder.decode(buffer.subarray(0, n));
        }
      } catch (error) {
        if (!stalled) throw error;
      } finally {
        clearTimeout(timer);
        if (!stalled) conn.close();
      }
      if (stalled) {
        stalls += 1;
        continue;
      }
      const match = /^(\d+)\. Hi new friend!\n$/.exec(text);
      if (!match) throw new Error(`bad greeting ${JSON.stringify(text)}`);
      numbers.add(Number(match[1]));
      greetings += 1;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (performance.now() - started) / 1000;
  if (numbers.size !== greetings) throw new Error("a greeting number repeated");
  if (stalls > 0) progress(`(${stalls} connection(s) never served, 3 s each)`);
  return greetings / elapsed;
}

/** One client, one datagram at a time, for `seconds`: round trips/s. */
async function udpRate(address: Listening, seconds: number): Promise<number> {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: LOOPBACK,
    port: 0,
  });
  const server: Deno.NetAddr = { transport: "udp", ...address };
  const message = encoder.encode("Hi, I'm sending this message.");
  const expected = `Response for ${LOOPBACK}`;
  let trips = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  // A lost datagram would leave `receive` waiting forever: a watchdog closes
  // the socket if no reply came for a second.
  let lastTrip = trips;
  const watchdog = setInterval(() => {
    if (trips === lastTrip) socket.close();
    lastTrip = trips;
  }, 1000);
  try {
    while (performance.now() < deadline) {
      await socket.send(message, server);
      const [reply] = await socket.receive();
      if (decoder.decode(reply) !== expected) {
        throw new Error(`bad reply ${decoder.decode(reply)}`);
      }
      trips += 1;
    }
  } finally {
    clearInterval(watchdog);
    try {
      socket.close();
    } catch {
      // The watchdog closed it already.
    }
  }
  return trips / ((performance.now() - started) / 1000);
}

/** Runs a program to the end; returns its wall time in ms and its output. */
async function timed(
  program: string,
  args: string[],
  options: { discardOutput?: boolean } = {},
): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const output = await new Deno.Command(program, {
    args,
    stdout: options.discardOutput ? "null" : "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", PYTHONUNBUFFERED: "" },
  }).output();
  const ms = performance.now() - started;
  if (!output.success) {
    throw new Error(
      `${program} ${args.join(" ")}: ${decoder.decode(output.stderr)}`,
    );
  }
  return {
    ms,
    stdout: options.discardOutput ? "" : decoder.decode(output.stdout),
  };
}

/** A process's resident memory, in MB, as `ps` reports it. */
async function residentMB(pid: number): Promise<number> {
  const { stdout } = await timed("ps", ["-o", "rss=", "-p", `${pid}`]);
  return Number(stdout.trim()) * 1024 / MB;
}

// --- The report ---------------------------------------------------------------

interface Row {
  figure: string;
  ours: number;
  unit: string;
  reference?: { name: string; value: number };
  /** ours / reference, oriented so that above 1 is better for us. */
  ratio?: number;
  target?: string;
  met?: boolean;
}

const rows: Row[] = [];

function record(row: Row): void {
  rows.push(row);
  const ref = row.reference
    ? `, ${row.reference.name} ${format(row.reference.value)}`
    : "";
  progress(`${row.figure}: ${format(row.ours)} ${row.unit}${ref}`);
}

function format(value: number): string {
  return value >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(value >= 10 ? 1 : 2);
}

// --- The figures ----------------------------------------------------------------

const pythonHere = await have("python3", ["-c", "pass"]);
const ncHere = await have("nc");
console.error(
  `Benchmark: ${navigator.hardwareConcurrency} cores, ${RUNS} run(s) each, ` +
    `Deno ${Deno.version.deno}; references: ` +
    `${pythonHere ? "python3" : "no python3"}, ${ncHere ? "nc" : "no nc"}`,
);

// 1. json-server echo: 100 MB in 64 KiB writes, read back at the same time.
{
  const total = 100 * MB;
  const ours = await startOurs("json-server");
  const oursRate = await medianOf(() => echoThroughput(ours.address, total));
  await stop(ours);
  let reference: Row["reference"];
  if (pythonHere) {
    // The book's server serves one client and exits: a new one per run.
    const value = await medianOf(async () => {
      const python = await startPython("json_server.py");
      try {
        return await echoThroughput(python.address, total);
      } finally {
        await stop(python);
      }
    });
    reference = { name: "book's json_server.py", value };
  }
  const ratio = reference && oursRate / reference.value;
  record({
    figure: "json-server echo, 100 MB in 64 KiB writes",
    ours: oursRate,
    unit: "MB/s",
    reference,
    ratio,
    target: ">= 3x the book's",
    met: ratio === undefined ? undefined : ratio >= 3,
  });
}

// 2. tcp-server greetings per second, 8 and 64 clients at a time.
for (const concurrency of [8, 64]) {
  const seconds = 2;
  const ours = await startOurs("tcp-server");
  const oursRate = await medianOf(() =>
    greetingRate(ours.address, concurrency, seconds)
  );
  await stop(ours);
  let reference: Row["reference"];
  if (pythonHere) {
    const python = await startPython("tcp_server.py");
    const value = await medianOf(() =>
      greetingRate(python.address, concurrency, seconds)
    );
    await stop(python);
    reference = { name: "book's tcp_server.py", value };
  }
  const ratio = reference && oursRate / reference.value;
  record({
    figure: `tcp-server greetings, ${concurrency} clients at a time`,
    ours: oursRate,
    unit: "greetings/s",
    reference,
    ratio,
    target: ">= 3x the book's",
    met: ratio === undefined ? undefined : ratio >= 3,
  });
}

// 3. udp-server request/reply round trips from one client.
{
  const seconds = 2;
  const ours = await startOurs("udp-server");
  const oursRate = await medianOf(() => udpRate(ours.address, seconds));
  await stop(ours);
  let reference: Row["reference"];
  if (pythonHere) {
    const python = await startPython("udp_server.py");
    const value = await medianOf(() => udpRate(python.address, seconds));
    await stop(python);
    reference = { name: "book's udp_server.py", value };
  }
  const ratio = reference && oursRate / reference.value;
  record({
    figure: "udp-server round trips, one client",
    ours: oursRate,
    unit: "trips/s",
    reference,
    ratio,
    target: ">= 1x the book's",
    met: ratio === undefined ? undefined : ratio >= 1,
  });
}

// 4. fragmented: receive 10 MB and 100 MB. Each receiver is timed as a whole
// process, less its time against an empty message (start-up, connecting,
// hashing nothing), which leaves the time spent receiving.
{
  const empty = await startOurs("fragment-server", ["--size", "0"]);
  const port = (server: Server) => `${server.address.port}`;
  type Receiver = { name: string; run: (s: Server) => Promise<number> };
  const ours = (chunk: number): Receiver => ({
    name: `fragmented --chunk-size ${chunk}`,
    run: async (server) => {
      const started = performance.now();
      const result = await runTask("fragmented", [
        "--port",
        port(server),
        "--chunk-size",
        `${chunk}`,
      ]);
      if (result.code !== 0) throw new Error(result.stderr);
      return performance.now() - started;
    },
  });
  const receivers: Receiver[] = [ours(1024), ours(65536)];
  if (ncHere) {
    receivers.push({
      name: "nc > /dev/null",
      run: async (server) =>
        (await timed("nc", ["-d", LOOPBACK, port(server)], {
          discardOutput: true,
        })).ms,
    });
    // nc throws the bytes away; fragmented keeps the whole message and
    // hashes it. `nc | sha256sum` does that same work, in C.
    receivers.push({
      name: "nc | sha256sum",
      run: async (server) =>
        (await timed("sh", [
          "-c",
          `nc -d ${LOOPBACK} ${port(server)} | sha256sum`,
        ])).ms,
    });
  }
  if (pythonHere) {
    receivers.push({
      name: "book's fragmented.py (1 KiB reads)",
      run: async (server) =>
        (await timed("python3", [
          "tools/bench/reference/fragmented.py",
          LOOPBACK,
          port(server),
        ])).ms,
    });
  }
  const receiveMs = new Map<string, Map<number, number>>();
  for (const size of [10 * MB, 100 * MB]) {
    const full = await startOurs("fragment-server", ["--size", `${size}`]);
    for (const receiver of receivers) {
      const base = await medianOf(() => receiver.run(empty));
      const whole = await medianOf(() => receiver.run(full));
      const ms = Math.max(0.001, whole - base);
      if (!receiveMs.has(receiver.name)) {
        receiveMs.set(receiver.name, new Map());
      }
      receiveMs.get(receiver.name)!.set(size, ms);
      progress(`${receiver.name}, ${size / MB} MB: ${ms.toFixed(1)} ms`);
    }
    await stop(full);
  }
  await stop(empty);
  const rate = (name: string, size: number) =>
    size / MB / (receiveMs.get(name)!.get(size)! / 1000);
  for (const chunk of [1024, 65536]) {
    const name = `fragmented --chunk-size ${chunk}`;
    for (const size of [10 * MB, 100 * MB]) {
      const reference = ncHere
        ? { name: "nc > /dev/null", value: rate("nc > /dev/null", size) }
        : undefined;
      const ratio = reference && rate(name, size) / reference.value;
      record({
        figure: `fragmented receive, ${size / MB} MB, ${chunk}-byte reads`,
        ours: rate(name, size),
        unit: "MB/s",
        reference,
        ratio,
        target: "within 2x of nc",
        met: ratio === undefined ? undefined : ratio >= 0.5,
      });
    }
    const scaling = receiveMs.get(name)!.get(100 * MB)! /
      receiveMs.get(name)!.get(10 * MB)!;
    record({
      figure: `fragmented time 100 MB / 10 MB, ${chunk}-byte reads`,
      ours: scaling,
      unit: "x",
      target: "about 10 (linear)",
      met: scaling < 15,
    });
  }
  if (ncHere) {
    const ours64k = rate("fragmented --chunk-size 65536", 100 * MB);
    const value = rate("nc | sha256sum", 100 * MB);
    record({
      figure: "fragmented receive + SHA-256, 100 MB, 64 KiB reads",
      ours: ours64k,
      unit: "MB/s",
      reference: { name: "nc | sha256sum", value },
      ratio: ours64k / value,
    });
  }
  if (pythonHere) {
    const book = "book's fragmented.py (1 KiB reads)";
    const value = rate(book, 100 * MB);
    const ours1k = rate("fragmented --chunk-size 1024", 100 * MB);
    record({
      figure: "fragmented receive, 100 MB, 1 KiB reads, vs the book's",
      ours: ours1k,
      unit: "MB/s",
      reference: { name: book, value },
      ratio: ours1k / value,
    });
  }
}

// 5. Chat: the round trip of one message. A raw client speaks the protocol
// (chat/README.md) to the real chat server, whose user's replies are queued
// up in its input: the time from sending a message frame to receiving the
// reply frame covers both directions of the socket, the server checking and
// showing the message, and taking its user's next line.
{
  const trips = 1000 * RUNS;
  const chat = TaskProcess.start("chat", [
    "server",
    "--username",
    "alice",
    "--port",
    "0",
  ], { stdin: true });
  const address = await chat.listening();
  await chat.write("ok\n".repeat(trips + 10));
  const conn = await Deno.connect(address);
  const frames = conn.readable
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new TextLineStream())
    .getReader();
  const nextFrame = async () => {
    const { value } = await frames.read();
    if (value === undefined) throw new Error("the chat server hung up");
    return JSON.parse(value);
  };
  if ((await nextFrame()).type !== "hello") throw new Error("no hello");
  const hello = { type: "hello", protocol: "deno-chat", version: 1 };
  await writeAll(
    conn,
    encoder.encode(JSON.stringify({ ...hello, username: "bob" }) + "\n"),
  );
  const message = encoder.encode('{"type":"message","text":"ping"}\n');
  const micros: number[] = [];
  for (let i = 0; i < trips; i++) {
    const started = performance.now();
    await writeAll(conn, message);
    const reply = await nextFrame();
    micros.push((performance.now() - started) * 1000);
    if (reply.type !== "message" || reply.text !== "ok") {
      throw new Error(`unexpected frame ${JSON.stringify(reply)}`);
    }
  }
  await writeAll(conn, encoder.encode('{"type":"bye"}\n'));
  await frames.cancel();
  conn.close();
  await stop({ process: chat, address });
  record({
    figure: `chat message round trip, median of ${trips}`,
    ours: median(micros),
    unit: "µs",
  });
  record({
    figure: `chat message round trip, 99th percentile of ${trips}`,
    ours: percentile(micros, 99),
    unit: "µs",
  });
}

// 6. Resident memory with 1,000 clients connected. tcp-server greets each
// and hangs up at once, so it holds the 1,000 only as they pass through;
// json-server keeps every idle connection open, which is the harder case.
async function memoryWithClients(
  task: string,
  connectedLine: RegExp,
): Promise<number> {
  const server = await startOurs(task);
  const clients: Deno.Conn[] = [];
  for (let i = 0; i < 1000; i++) {
    clients.push(await Deno.connect(server.address));
  }
  // Wait until the server has logged all 1,000 (then it has accepted them).
  while (
    server.process.stdoutLines.filter((line) => connectedLine.test(line))
      .length < 1000
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const megabytes = await residentMB(server.process.pid);
  for (const client of clients) client.close();
  await stop(server);
  return megabytes;
}
for (
  const [task, line, figure] of [
    ["tcp-server", /^Connection from: /, "greeted and let go"],
    ["json-server", /^Connected: /, "idle, held open"],
  ] as const
) {
  const megabytes = await memoryWithClients(task, line);
  record({
    figure: `${task} resident memory, 1,000 clients (${figure})`,
    ours: megabytes,
    unit: "MB",
    target: "< 100 MB",
    met: megabytes < 100,
  });
}

// 7. Time from launch to `Listening on`, through the task.
{
  const launch = async (start: () => TaskProcess) => {
    const started = performance.now();
    const process = start();
    await process.listening();
    const ms = performance.now() - started;
    await stop({ process, address: { hostname: LOOPBACK, port: 0 } });
    return ms;
  };
  const ours = await medianOf(() =>
    launch(() => TaskProcess.start("tcp-server", ["--port", "0"]))
  );
  let reference: Row["reference"];
  if (pythonHere) {
    const value = await medianOf(() =>
      launch(() =>
        TaskProcess.spawn("python3", [
          "tools/bench/reference/tcp_server.py",
          LOOPBACK,
          "0",
        ])
      )
    );
    reference = { name: "python3 tcp_server.py", value };
  }
  record({
    figure: "launch to `Listening on`, deno task tcp-server",
    ours,
    unit: "ms",
    reference,
    ratio: reference && reference.value / ours,
  });
}

// --- Print ----------------------------------------------------------------------

if (flags.json) {
  console.log(JSON.stringify(
    {
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      runs: RUNS,
      rows,
    },
    null,
    2,
  ));
} else {
  console.log(
    `\n| figure | ours | reference | ours / reference | target |` +
      `\n|---|---|---|---|---|`,
  );
  for (const row of rows) {
    const reference = row.reference
      ? `${format(row.reference.value)} (${row.reference.name})`
      : "";
    const ratio = row.ratio === undefined ? "" : `${row.ratio.toFixed(2)}x`;
    const target = row.target === undefined
      ? ""
      : `${row.target}${
        row.met === undefined ? "" : row.met ? ": met" : ": MISSED"
      }`;
    console.log(
      `| ${row.figure} | ${format(row.ours)} ${row.unit} | ${reference} | ` +
        `${ratio} | ${target} |`,
    );
  }
  console.log(
    `\n${navigator.hardwareConcurrency} cores; each figure the median of ` +
      `${RUNS} run(s); MB = 1,000,000 bytes.`,
  );
}
