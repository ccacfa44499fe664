/**
 * Servers short of file descriptors (issue 16, "a failed accept must not
 * end a server"). A server under `prlimit --nofile=64:64` has 64 open files
 * at most, about 25 of them Deno's own: a crowd of clients makes its
 * accept() fail with "Too many open files" (EMFILE), as a flood of clients
 * does to any server. Used by tcp_server_test.ts and fragmented_test.ts.
 *
 * @module
 */

import { TaskProcess } from "./_helpers.ts";
import { taskArgs } from "../tools/task_process.ts";

/** Where util-linux installs prlimit on Linux. */
const PRLIMIT = "/usr/bin/prlimit";

/** Whether this computer can run these tests (Linux, with prlimit). */
export const canLimit = Deno.build.os === "linux" && installed(PRLIMIT);

function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** More clients at once than 64 descriptors can hold, fewer than the
 * listen queue (128 or more), so that every one of them connects. */
export const CROWD = 100;

/** What a server logs, once per burst, when accept fails (on stderr). */
export const ACCEPT_FAILED =
  /^Accept failed, retrying: .*Too many open files \(os error 24\)$/;

/**
 * Starts task TASK with ARGS as a reader would, with its own command line
 * from deno.json, but through `prlimit --nofile=64:64` (prlimit sets the
 * limit, then runs the command in its place: same process, same signals).
 */
export function startWithFewDescriptors(
  task: string,
  args: string[],
): TaskProcess {
  return TaskProcess.spawn(PRLIMIT, [
    "--nofile=64:64",
    Deno.execPath(),
    ...taskArgs(task),
    ...args,
  ], { env: { NO_COLOR: "1" } });
}

/** Opens CROWD connections to ADDRESS at once; the caller closes them. */
export function crowd(
  address: { hostname: string; port: number },
): Promise<Deno.TcpConn[]> {
  return Promise.all(
    Array.from({ length: CROWD }, () => Deno.connect(address)),
  );
}
