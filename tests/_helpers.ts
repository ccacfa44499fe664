/**
 * Test plumbing. Tests start the lessons with `TaskProcess` and `runTask`
 * (shared with the tour, in tools/task_process.ts) and talk to
 * them with the small socket helpers below.
 *
 * @module
 */

export {
  type Finished,
  type Listening,
  ROOT,
  runTask,
  sleep,
  TaskProcess,
} from "../tools/task_process.ts";
import {
  isDenoDownload,
  type Listening,
  realPython,
  ROOT,
} from "../tools/task_process.ts";

/** The real python3 (not pyenv's shim, which adds ~58 ms), or null. */
export const PYTHON = await realPython();

/** Connects to `address` and returns everything it sends until it closes. */
export async function readAll(address: Listening): Promise<Uint8Array> {
  const conn = await Deno.connect(address);
  return new Uint8Array(await new Response(conn.readable).arrayBuffer());
}

/** A TCP port on 127.0.0.1 where nothing listens (bound, then released). */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * Runs `deno ARGS` in the project's folder, as a reader would type it (for
 * the commands the lessons' sentences tell the reader to run, which are not
 * tasks), and returns its exit status and what it printed.
 */
export async function runDeno(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trimEnd();
  return {
    code: output.code,
    stdout: text(output.stdout),
    stderr: text(output.stderr).split("\n").filter((line) =>
      !isDenoDownload(line)
    ).join("\n"),
  };
}

/**
 * A fake server in python3 (for what Deno cannot do: SO_LINGER 0 resets,
 * sends on a schedule): `script` listens on 127.0.0.1, port 0, and prints
 * its port first. Disposing it kills the process and waits for its end.
 */
export async function pythonServer(
  script: string,
  args: string[] = [],
): Promise<{ port: number } & AsyncDisposable> {
  const child = new Deno.Command(PYTHON!, {
    args: ["-c", script, ...args],
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await lines.read()).value);
  return {
    port,
    async [Symbol.asyncDispose]() {
      try {
        child.kill();
      } catch {
        // It has ended already.
      }
      await lines.cancel();
      await child.status;
    },
  };
}
