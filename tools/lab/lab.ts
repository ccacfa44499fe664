/**
 * The lab: the chapter's ideas as experiments with real packets, on one
 * Linux computer (`deno task lab`). Not a lesson: a harness that builds
 * "computers" (network namespaces) joined by "cables" (veth pairs), runs
 * the lessons' own programs inside them, prints what happened, and removes
 * everything it made, also on Ctrl-C and on failure.
 *
 *   deno task lab two-computers   servers on A, clients on B (12.4, 12.5)
 *   deno task lab loss            a lossy cable: UDP loses, TCP resends
 *   deno task lab slow            a slow cable: TCP paces itself, UDP not
 *   deno task lab router          client - router - server, TTL 64 -> 63
 *   deno task lab capture DIR     packet captures for deno task headers
 *   deno task lab check           can the lab run here, and how
 *   deno task lab clean           remove what a killed run left behind
 *
 * It needs Linux, and either root or (as an ordinary user, no sudo)
 * unprivileged user namespaces: then it runs itself again inside
 * `unshare --user --net --mount --pid ...`, where it may make namespaces
 * of its own, and all of them vanish when it ends. Anywhere else it says
 * what it needs in one sentence and exits with status 77.
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
  loss           a lossy cable: UDP loses datagrams, TCP resends (12.2)
  slow           a slow cable: TCP paces itself, UDP overflows the queue
  router         client - router - server: TTL 64 arrives as 63 (Fig. 12.3)
  capture DIR    write greeting.pcap, greeting.pcapng, udp.pcap, lossy.pcap
                 and loopback-offload.pcap to DIR, for deno task headers
  check          say whether the lab can run here, and how
  clean          remove namespaces (${PREFIX}*) left by a killed run
Flags:
  --loss P       loss: fraction of packets the cable drops (default 0.2)
  --rate RATE    slow: the cable's speed, e.g. 1mbit, 500kbit (default 1mbit)
  --count N      loss, slow: UDP datagrams to send (default 1000, 2000)
  --size BYTES   loss, slow: bytes of the TCP transfer (default 4194304,
                 262144)
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

if (Deno.args.includes("--help")) exit(0, HELP);
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
if (!(bitsPerSecond(rate) >= 8000)) {
  usage("--rate must be like 1mbit or 500kbit, at least 8kbit");
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

async function probe(): Promise<"root" | "user"> {
  await run("ip", ["-V"]).catch(() => unavailable('"ip" was not found'));
  let why = "";
  if (Deno.uid() === 0) {
    const ns = `${PREFIX}${Deno.pid}-probe`;
    const made = await run("ip", ["netns", "add", ns]);
    if (made.code === 0) {
      const tools = await run("ip", ["netns", "exec", ns, "sh", "-c", TOOLS]);
      await removeNamespace(ns);
      if (tools.stdout.trim()) unavailable(missing(tools.stdout));
      return "root";
    }
    why = `root cannot make namespaces (${made.stderr.trim()})`;
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
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Ctrl-C in a terminal reaches the lab inside too, which cleans up and
  // ends; give it 5 s. Any other signal (and Ctrl-C sent to us alone): end
  // unshare, whose --kill-child ends everything inside, namespaces and all.
  let stoppedBy: Deno.Signal | undefined;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => {
      if (stoppedBy) return;
      stoppedBy = signal;
      if (signal !== "SIGINT") {
        console.log(`\nStopping (${signal}): ending the lab and all in it.`);
      }
      setTimeout(() => child.kill("SIGKILL"), signal === "SIGINT" ? 5000 : 0);
    });
  }
  const status = await child.status;
  if (stoppedBy && status.signal === "SIGKILL") {
    Deno.exit(128 + signalNumber(stoppedBy));
  }
  Deno.exit(status.signal ? 128 + signalNumber(status.signal) : status.code);
}

function signalNumber(signal: Deno.Signal): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[
    signal as string
  ] ?? 1;
}

// ---------------------------------------------------------------------
// The run

if (experiment === "clean") {
  const names = await leftovers();
  for (const ns of names) await removeNamespace(ns);
  const still = new Set(await leftovers());
  const removed = names.filter((ns) => !still.has(ns));
  if (names.length === 0) {
    console.log(
      `Nothing to clean: no namespace ${PREFIX}* is left from a killed run.`,
    );
  } else if (removed.length > 0) {
    console.log(`Removed ${removed.join(", ")} (and anything running there).`);
  }
  if (still.size > 0) {
    exit(1, `could not remove ${[...still].join(", ")}: run this as root.`);
  }
  Deno.exit(0);
}

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

const lab = new Lab(flags.verbose);
// A run killed before it could clean up (kill -9) left its namespaces.
for (const ns of await leftovers()) await removeNamespace(ns);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, () => {
    if (stopping) return; // `deno task` passes one Ctrl-C on twice
    stopping = true;
    console.log(`\nStopping (${signal}): removing everything the lab made.`);
    lab.close().then(() => {
      console.log("Removed.");
      Deno.exit(128 + signalNumber(signal));
    });
  });
}

let code = 0;
const started = Date.now();
try {
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
// After a signal, the handler is cleaning up, and exits when done.
if (stopping) await new Promise((resolve) => setTimeout(resolve, 60_000));
await lab.close();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `\n(${seconds} s; the lab removed its namespaces and all in them.)`,
);
Deno.exit(code);
