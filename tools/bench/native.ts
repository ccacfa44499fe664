/**
 * The C half of the benchmark: the load generator (native/load.c) and the
 * trivial reference servers (native/reference.c), compiled with gcc into a
 * temporary folder at the start of each run and removed at the end. Nothing
 * compiled is kept in the project.
 *
 * @module
 */

import { run } from "./processes.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** The compiled programs, in their temporary folder. */
export interface Native {
  folder: string;
  load: string;
  reference: string;
}

/** Compiles both programs; throws with gcc's message if it cannot. */
export async function buildNative(): Promise<Native> {
  // mktemp rather than Deno.makeTempDir: the bench needs no permission to
  // write files itself; gcc writes, and `rm` cleans up.
  const folder = (await run("mktemp", ["-d", "-t", "deno-bench.XXXXXX"]))
    .stdout.trim();
  const native = {
    folder,
    load: `${folder}/load`,
    reference: `${folder}/reference`,
  };
  try {
    const flags = ["-O2", "-Wall", "-pthread"];
    await run("gcc", [...flags, "-o", native.load, `${HERE}native/load.c`]);
    await run("gcc", [
      ...flags,
      "-o",
      native.reference,
      `${HERE}native/reference.c`,
    ]);
  } catch (error) {
    await removeNative(native);
    throw error;
  }
  return native;
}

export async function removeNative(native: Native): Promise<void> {
  await run("rm", ["-rf", native.folder]).catch(() => {});
}

/** What `load greet` reports for one run. */
export interface GreetResult {
  greetings: number;
  seconds: number;
  rate: number;
  late_greetings: number;
  stalls: number;
  longest_wait_ms: number;
  given_up: number;
  errors: number;
  bad: number;
  repeated: number;
}

/** What `load udp` reports for one run. */
export interface UdpResult {
  trips: number;
  seconds: number;
  rate: number;
  lost: number;
  bad: number;
}

/** What `load echo` reports for one run. */
export interface EchoResult {
  bytes: number;
  received: number;
  seconds: number;
  mb_per_s: number;
  mismatches: number;
  write_error: number;
}

/**
 * Runs the load generator with `args` and returns its one line of JSON.
 * `pinTo` runs it on those CPUs only (taskset).
 */
export async function runLoad<T>(
  native: Native,
  args: (string | number)[],
  pinTo?: string,
): Promise<T> {
  const words = args.map(String);
  const { stdout } = pinTo === undefined
    ? await run(native.load, words)
    : await run("taskset", ["-c", pinTo, native.load, ...words]);
  return JSON.parse(stdout) as T;
}

/**
 * Runs `load echo ...`: once it has printed its line (every byte is back),
 * calls `whileHeld` (the bench reads the server's CPU time there), then
 * ends the generator's standard input, which lets it close the connection.
 */
export async function runHeldLoad<T>(
  native: Native,
  args: (string | number)[],
  whileHeld: () => Promise<void>,
): Promise<T> {
  const child = new Deno.Command(native.load, {
    args: args.map(String),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await stdout.read();
    if (done) break;
    line += value;
  }
  await whileHeld();
  await writer.close().catch(() => {});
  await stdout.cancel();
  const { code } = await child.status;
  const stderr = await new Response(child.stderr).text();
  if (code !== 0 || !line.includes("\n")) {
    throw new Error(`load exited with code ${code}: ${stderr.trim()}`);
  }
  return JSON.parse(line) as T;
}
