/**
 * Servers short of file descriptors (issue 16, "a failed accept must not
 * end a server"). A server under `prlimit --nofile=64:64` may have 64 open
 * files, about 25 of them Deno's own: some 40 clients use up the rest, and
 * accept() fails with "Too many open files" (EMFILE), as a flood of clients
 * makes it fail on any server. Used by tcp_server_test.ts and
 * fragmented_test.ts.
 *
 * @module
 */

import { assert } from "@std/assert";
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

/** What a server logs (on stdout), once for a run of failed accepts. */
export const ACCEPT_FAILED =
  /^Cannot accept: Error: Too many open files \(os error 24\); retrying\.$/;

/**
 * Starts task TASK with ARGS as a reader would, with its own command line
 * from deno.json, but through `prlimit --nofile=64:64` (prlimit sets the
 * limit, then runs the command in its place: same process, same signals).
 * DENO_NO_UPDATE_CHECK: Deno's own update check, in the background, would
 * fail for want of a descriptor too, and print a warning of its own.
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
  ], { env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
}

/**
 * Connects to SERVER one client at a time, each until the server has shown
 * that it accepted it (`accepted(client)` builds the line to wait for, from
 * the client's address as the server prints it) or has said it cannot
 * accept: then every descriptor is in use, and one client waits in the
 * system's queue. Returns the clients, for the caller to close; no step
 * waits on a clock, each on what the server says.
 */
export async function crowdUntilAcceptFails(
  server: TaskProcess,
  address: { hostname: string; port: number },
  accepted: (client: string) => RegExp,
): Promise<Deno.TcpConn[]> {
  const crowd: Deno.TcpConn[] = [];
  while (!server.stdoutLines.some((line) => ACCEPT_FAILED.test(line))) {
    assert(crowd.length < 100, "100 clients, and accept() never failed");
    const conn = await Deno.connect(address);
    crowd.push(conn);
    const { hostname, port } = conn.localAddr as Deno.NetAddr;
    const line = accepted(RegExp.escape(`${hostname}:${port}`));
    await server.waitForLine(
      new RegExp(`${line.source}|${ACCEPT_FAILED.source}`),
    );
  }
  return crowd;
}
