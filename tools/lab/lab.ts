/**
 * The lab: the chapter's ideas as experiments with real packets, on one
 * Linux computer (`deno task lab`). Not a lesson: a harness that builds
 * "computers" (network namespaces) joined by "cables" (veth pairs), runs
 * the lessons' own programs inside them, prints what happened, and removes
 * everything it made, also on Ctrl-C and on failure.
 *
 *   deno task lab two-computers   servers on A, clients on B (12.4, 12.5)
 *   deno task lab loss            a lossy router: UDP loses, TCP resends
 *   deno task lab slow            a slow cable: TCP paces itself, UDP not
 *   deno task lab router          client - router - server, TTL 64 -> 63
 *   deno task lab capture DIR     packet captures for deno task headers
 *   deno task lab check           can the lab run here, and how
 *   deno task lab clean           remove what a killed run left behind
 *   deno task lab help            the experiments and their flags
 *
 * It needs Linux, and either root or (as an ordinary user, no sudo)
 * unprivileged user namespaces: then it runs itself again inside
 * `unshare --user --net --mount --pid ...`, where it may make namespaces
 * of its own, and all of them vanish when it ends, however it ends (even
 * by kill -9: see again() below). Anywhere else it says what it needs in
 * one sentence and exits with status 77.
 *
 * As root its namespaces are the computer's own, named after the run
 * (`denolab-PID-a`), so that you can look into them from another terminal
 * (`ip netns exec denolab-PID-a ss -tn`). A run killed by kill -9 cannot
 * remove them: the next run, or `lab clean`, does, and only those whose
 * run has ended (process PID is gone); other runs' are left alone.
 *
 * Each experiment is in its own file, with a header that says what to look
 * for: two_computers.ts, loss.ts, slow.ts, router.ts, capture.ts.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import config from "../../deno.json" with { type: "json" };
import { ROOT } from "../task_process.ts";
import { captures } from "./capture.ts";
import {
  ENV,
  findIp,
  Lab,
  LabError,
  leftovers,
  PREFIX,
  removeNamespace,
  run,
} from "./kit.ts";
import { loss } from "./loss.ts";
import { router } from "./router.ts";
import { bitsPerSecond, slow } from "./slow.ts";
import { twoComputers } from "./two_computers.ts";

const HELP = `Usage: deno task lab EXPERIMENT [--verbose] [flags]
Experiments with real packets between "computers" made on this one (Linux;
as root, or as an ordinary user where user namespaces are allowed):
  two-computers  servers on computer A, their clients on B (12.4, 12.5)
  loss           a router that loses packets: UDP loses datagrams, TCP
                 sends again (12.2)
  slow           a slow cable: TCP paces itself, UDP overflows the queue
  router         client - router - server: TTL 64 arrives as 63 (Fig. 12.3)
  capture DIR    write greeting.pcap, greeting.pcapng, udp.pcap, lossy.pcap
                 and loopback-offload.pcap to DIR, for deno task headers
  check          say whether the lab can run here, and how
  clean          remove namespaces (${PREFIX}PID-*) left by runs killed
                 before they could clean up (PID no longer running)
  help           this help
Flags:
  --loss P       loss: fraction of packets the router drops, 0 to 0.9
                 (default 0.2)
  --rate RATE    slow: the cable's speed, 8kbit to 10gbit, e.g. 1mbit,
                 500kbit (default 1mbit)
  --count N      loss, slow: UDP datagrams to send, 1 to 100000 (default
                 1000, 2000)
  --size BYTES   loss, slow: bytes of the TCP transfer, 1 to 67108864
                 (default 4194304, 262144); the lab stops a transfer that
                 has not finished after 60 s
  --verbose      print every command the lab runs`;

const EXPERIMENTS = [
  "two-computers",
  "loss",
  "slow",
  "router",
  "capture",
  "check",
  "clean",
];

/** "Cannot run here": the status test runners take for "skipped". */
const UNAVAILABLE = 77;

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

/** One sentence: what the lab needs, and what to read meanwhile. */
function unavailable(why: string): never {
  exit(
    UNAVAILABLE,
    `The lab needs Linux with root, or an ordinary user allowed to make ` +
      `user namespaces, and the programs ip, iptables, tc, tcpdump, ` +
      `ethtool and sysctl (Debian: apt-get install iproute2 iptables ` +
      `tcpdump ethtool procps); here ${why}; meanwhile, packets it ` +
      `captured are in the repository: deno task headers ` +
      `chapters/captures/greeting.pcap`,
  );
}

const first = Deno.args[0];
if (first === undefined || first === "help" || Deno.args.includes("--help")) {
  exit(0, HELP);
}
const flags = parseArgs(Deno.args, {
  string: ["loss", "rate", "count", "size"],
  boolean: ["verbose", "in-userns"],
  unknown: (arg: string) =>
    !arg.startsWith("-") || usage(`unknown argument ${JSON.stringify(arg)}`),
});
const [experiment, ...rest] = flags._.map(String);
if (experiment === undefined) usage("say which experiment");
if (!EXPERIMENTS.includes(experiment)) {
  usage(`unknown experiment ${JSON.stringify(experiment)}`);
}
const dir = experiment === "capture" ? rest.shift() : undefined;
if (experiment === "capture" && (dir === undefined || dir === "")) {
  usage("capture needs a folder: deno task lab capture DIR");
}
if (rest.length > 0) usage(`unexpected ${JSON.stringify(rest[0])}`);

const number = (text: string | undefined, fallback: number) =>
  text === undefined ? fallback : /^\d+(\.\d+)?$/.test(text) ? +text : NaN;
const lossRate = number(flags.loss, 0.2);
const rate = flags.rate ?? "1mbit";
const datagrams = number(flags.count, experiment === "slow" ? 2000 : 1000);
const size = number(flags.size, experiment === "slow" ? 262144 : 4194304);
if (!(lossRate >= 0 && lossRate <= 0.9)) usage("--loss must be 0 to 0.9");
// tc's token bucket needs a burst (16 KB here) of at least what the rate
// carries in one clock tick: above 10gbit it may pass nothing at all.
const bits = bitsPerSecond(rate);
if (!(bits >= 8000 && bits <= 10e9)) {
  usage("--rate must be like 1mbit or 500kbit, from 8kbit to 10gbit");
}
if (!(Number.isInteger(datagrams) && datagrams >= 1 && datagrams <= 100000)) {
  usage("--count must be a whole number from 1 to 100000");
}
if (!(Number.isInteger(size) && size >= 1 && size <= 64 * 1048576)) {
  usage("--size must be a whole number of bytes from 1 to 67108864");
}

if (Deno.build.os !== "linux") {
  unavailable(`this is ${Deno.build.os}, not Linux`);
}
if (!(await findIp())) {
  unavailable('"ip" is in none of PATH, /usr/sbin and /sbin');
}

// ---------------------------------------------------------------------
// lab clean: remove what killed runs left, and nothing of runs going on

if (experiment === "clean") {
  const { dead, live } = await leftovers();
  const removed: string[] = [];
  const failed: string[] = [];
  for (const ns of dead) {
    const { removed: done, error } = await removeNamespace(ns);
    if (error) failed.push(`${ns} (${error})`);
    if (done) removed.push(ns);
  }
  if (removed.length > 0) {
    console.log(`Removed ${removed.join(", ")} (and anything running there).`);
  } else if (failed.length === 0) {
    console.log(
      `Nothing to clean: no namespace ${PREFIX}* is left from a run that ` +
        `has ended.`,
    );
  }
  if (live.length > 0) {
    console.log(
      `Left alone, as their runs are still going: ${live.join(", ")}.`,
    );
  }
  if (failed.length > 0) {
    exit(
      1,
      `could not remove ${failed.join(", ")}${
        Deno.uid() === 0 ? "" : "; only root can: run this as root"
      }.`,
    );
  }
  Deno.exit(0);
}

// ---------------------------------------------------------------------
// Stopping: on Ctrl-C (SIGINT), SIGTERM and SIGHUP, from the very start

const lab = new Lab(flags.verbose);
/** The lab run again inside a user namespace (see again()), if it is. */
let inside:
  | { child: Deno.ChildProcess; pipe: WritableStreamDefaultWriter }
  | undefined;
let stopping = false;

function signalNumber(signal: string): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1;
}

/** console.log, when nobody may be reading any more (kill -9 outside). */
function say(text: string): void {
  try {
    console.log(text);
  } catch {
    // Our standard output is gone; the cleanup goes on.
  }
}

/** Removes everything the lab made, and ends: `why` is a signal's name. */
function stop(why: string): void {
  if (stopping) return; // a Ctrl-C may arrive twice: terminal, deno task
  stopping = true;
  const code = why.startsWith("SIG") ? 128 + signalNumber(why) : 1;
  if (inside) {
    // Tell the lab inside (its standard input ends; see again()), and
    // give it 5 s to clean up; then SIGKILL for unshare ends all of it.
    const { child, pipe } = inside;
    pipe.write(new TextEncoder().encode(why)).then(() => pipe.close())
      .catch(() => {});
    setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has ended.
      }
    }, 5000);
    child.status.then(() => Deno.exit(code));
    return;
  }
  say(`\nStopping (${why}): removing everything the lab made.`);
  lab.close().then(() => {
    say("Removed.");
    Deno.exit(code);
  });
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, () => stop(signal));
}

// ---------------------------------------------------------------------
// Where can the lab run: as root, or in a user namespace of its own?

/**
 * A shell script, run in a throwaway namespace, that prints what is
 * missing: programs, and the kernel's parts the experiments use.
 */
const TOOLS = [
  "for t in iptables tc tcpdump ethtool sysctl; do",
  'command -v "$t" >/dev/null || printf "%s, " "$t"; done',
  "iptables -A INPUT -m statistic --mode random --probability 0.5 -j ACCEPT" +
  ' 2>/dev/null || printf "iptables\x27 statistic match, "',
  "tc qdisc replace dev lo root tbf rate 1mbit burst 16kb limit 32kb" +
  ' 2>/dev/null || printf "tc\x27s tbf, "',
  "ip link add probe0 type veth peer name probe1" +
  ' 2>/dev/null || printf "veth pairs, "',
].join("\n");

/** "tcpdump, ethtool, " -> "here tcpdump and ethtool are missing". */
function missing(list: string): string {
  const names = list.split(", ").filter((name) => name !== "");
  const all = names.length === 1
    ? names[0]
    : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return `${all} ${names.length === 1 ? "is" : "are"} missing`;
}

/**
 * unshare's flags for an ordinary user: a user namespace in which we keep
 * our own user id (tcpdump, seeing root, would try to switch users and
 * fail) with our capabilities, plus network, mount and process namespaces
 * of our own. --kill-child: if unshare dies, so does everything inside.
 */
function userns(): string[] {
  return [
    ...["--user", `--map-user=${Deno.uid()}`, `--map-group=${Deno.gid()}`],
    ...["--keep-caps", "--net", "--mount", "--pid", "--fork", "--kill-child"],
  ];
}
/** In there, a fresh /run: `ip netns add` keeps its namespaces in it. */
const FRESH_RUN = 'mount -t tmpfs tmpfs /run && exec "$@"';

/**
 * As root: make a namespace (through `lab`, so that a signal meanwhile
 * removes it too) and try the tools in it. Else: the same inside a user
 * namespace, which vanishes with everything in it when the test ends.
 */
async function probe(): Promise<"root" | "user"> {
  let why = "";
  if (Deno.uid() === 0) {
    const ns = await lab.namespace("probe").catch((error) => {
      if (!(error instanceof LabError)) throw error;
      why = `root cannot make namespaces (${error.message})`;
    });
    if (ns) {
      const tools = await lab.ip(["netns", "exec", ns, "sh", "-c", TOOLS]);
      await lab.remove(ns);
      if (tools.trim()) unavailable(missing(tools));
      return "root";
    }
  }
  const test = `ip netns add probe || exit 1\n${TOOLS}`;
  const inside = await run("unshare", [
    ...userns(),
    ...["sh", "-c", FRESH_RUN, "sh", "sh", "-c", test],
  ]).catch((error) => ({ code: 1, stdout: "", stderr: `${error.message}` }));
  if (inside.code === 0) {
    if (inside.stdout.trim()) unavailable(missing(inside.stdout));
    return "user";
  }
  const reason = inside.stderr.trim().split("\n")[0];
  const user = Deno.uid() === 0 ? "" : `user id ${Deno.uid()} is not root and `;
  unavailable(
    `${
      why ? `${why}, and ` : ""
    }${user}cannot make user namespaces (${reason})`,
  );
}

/**
 * Runs this same program again inside a user namespace of its own, with
 * the lab task's own flags from deno.json, and ends with its status.
 *
 * Everything inside lives only as long as the lab inside: it is process
 * 1 of its own process namespace, and when process 1 ends, the kernel
 * ends every other process there; with the last one go the namespaces.
 * And the lab inside lives only as long as we do: its standard input is
 * a pipe from us, on which we never write until we stop. When we end, in
 * any way, even by kill -9, the kernel closes our end of the pipe; the lab
 * inside reads the end of its input, cleans up and ends (see watch()).
 */
async function again(): Promise<never> {
  const words = config.tasks.lab.command.split(/\s+/);
  const script = words.findIndex((word) => word.endsWith("lab.ts"));
  const child = new Deno.Command("unshare", {
    args: [
      ...userns(),
      ...["sh", "-c", FRESH_RUN, "sh", Deno.execPath()],
      ...words.slice(1, script + 1),
      ...["--in-userns", ...Deno.args],
    ],
    cwd: ROOT,
    env: ENV,
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  inside = { child, pipe: child.stdin.getWriter() };
  const status = await child.status;
  // After a signal, stop() ends us with the signal's status.
  if (stopping) await new Promise(() => {});
  Deno.exit(status.signal ? 128 + signalNumber(status.signal) : status.code);
}

/**
 * Inside (see again()): when our standard input ends, the lab outside has
 * ended or is stopping (it wrote which signal stopped it): stop too.
 */
async function watch(): Promise<void> {
  let text = "";
  try {
    for await (const chunk of Deno.stdin.readable) {
      text += new TextDecoder().decode(chunk);
    }
  } catch {
    // Read errors end the input as well.
  }
  stop(/^SIG[A-Z]+$/.test(text) ? text : "the lab outside has ended");
}

// ---------------------------------------------------------------------
// The run

let code = 0;
const started = Date.now();
try {
  if (flags["in-userns"]) watch();
  const as = flags["in-userns"] ? "inside" : await probe();
  if (experiment === "check") {
    console.log(
      as === "root"
        ? "The lab can run here, as root."
        : "The lab can run here, as this user, inside a user namespace of its own.",
    );
    Deno.exit(0);
  }
  if (as === "user") await again();
  // As root: runs killed before they could clean up (kill -9) left their
  // namespaces; remove those (and only those: see leftovers()).
  if (as === "root") {
    for (const ns of (await leftovers()).dead) await removeNamespace(ns);
  }

  if (experiment === "two-computers") await twoComputers(lab);
  if (experiment === "loss") {
    await loss(lab, { loss: lossRate, count: datagrams, size });
  }
  if (experiment === "slow") await slow(lab, { rate, count: datagrams, size });
  if (experiment === "router") await router(lab);
  if (experiment === "capture") await captures(lab, dir!);
} catch (error) {
  // Ctrl-C in a terminal reaches the lessons too, which may end (and fail
  // the experiment) just before our own signal handler runs: give it time.
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (!stopping) {
    console.error(
      `error: ${error instanceof LabError ? error.message : error}`,
    );
    code = 1;
  }
}
// After a signal, stop() is cleaning up, and ends the program when done.
if (stopping) await new Promise(() => {});
await lab.close();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `\n(${seconds} s; the lab removed its namespaces and all in them.)`,
);
Deno.exit(code);
