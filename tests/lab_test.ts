/**
 * Tests for `deno task lab` (tools/lab/): each experiment end to end, with
 * checks that cannot flake (statistics within 5 standard deviations,
 * kernel counters that must add up exactly), and proof that everything a
 * run made is gone afterwards: no namespace named after it, and no process
 * carrying its mark (every process the lab starts inherits the environment
 * variable LAB_TEST_MARK we give it), also after Ctrl-C, after kill -9
 * followed by `lab clean` (as root), after kill -9 alone (as an ordinary
 * user: nothing may outlive the lab), after a signal during the lab's
 * first probe, and beside `lab clean` run again and again.
 *
 * The lab needs Linux with root or unprivileged user namespaces; elsewhere
 * `lab check` exits 77 and these tests are skipped (the reason is printed).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  type Finished,
  runTask,
  taskArgs,
  TaskProcess,
} from "../tools/task_process.ts";
import { checksumOk, packets, readPcap } from "../tools/lab/pcap.ts";
import { sentTwice } from "../tools/lab/capture.ts";

const probe = await runTask("lab", ["check"], { timeoutMs: 30_000 });
const unavailable = probe.code === 77;
if (unavailable) {
  console.log(`lab tests skipped: ${probe.stderr.trim()}`);
}

/** Starts `deno task lab ARGS` (its own command line) with our mark. */
function startLab(args: string[], mark: string): TaskProcess {
  return TaskProcess.spawn(Deno.execPath(), [...taskArgs("lab"), ...args], {
    env: { NO_COLOR: "1", LAB_TEST_MARK: mark },
  });
}

/** Runs `deno task lab ARGS` to the end and checks it left nothing. */
async function lab(args: string[], timeoutMs = 60_000): Promise<Finished> {
  const mark = crypto.randomUUID();
  const process = startLab(args, mark);
  const finished = await process.finished(timeoutMs);
  await assertNothingLeft(process.pid, mark);
  return finished;
}

/** The lab's namespaces still there for run `pid`. */
async function namespaces(pid: number): Promise<string[]> {
  const list = await new Deno.Command("ip", { args: ["netns", "list"] })
    .output();
  return new TextDecoder().decode(list.stdout).split("\n")
    .map((line) => line.split(" ")[0])
    .filter((name) => name.startsWith(`denolab-${pid}-`));
}

/** Runs `deno task lab clean` (as root) and returns what it printed. */
async function clean(env: Record<string, string> = {}): Promise<Finished> {
  const process = TaskProcess.spawn(
    Deno.execPath(),
    [...taskArgs("lab"), "clean"],
    { env: { NO_COLOR: "1", ...env } },
  );
  return await process.finished(30_000);
}

/**
 * The processes whose environment holds our mark. (grep reads /proc for
 * us: Deno may read it only with --allow-all.)
 */
async function marked(mark: string): Promise<string[]> {
  const grep = await new Deno.Command("sh", {
    args: [
      "-c",
      'grep -ls "LAB_TEST_MARK=$1" /proc/[0-9]*/environ',
      "sh",
      mark,
    ],
    stderr: "null",
  }).output();
  return new TextDecoder().decode(grep.stdout).split("\n")
    .filter((line) => line !== "" && !line.startsWith("/proc/self/"));
}

async function assertNothingLeft(pid: number, mark: string): Promise<void> {
  assertEquals(await namespaces(pid), [], "namespaces left behind");
  // A process being killed can take a moment to leave /proc.
  for (let i = 0; i < 20 && (await marked(mark)).length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assertEquals(await marked(mark), [], "processes left behind");
}

/** The output with line breaks and indents made single spaces. */
const flat = (text: string) => text.replace(/\s+/g, " ");
/** "1,000" -> 1000. */
const int = (text: string) => Number(text.replaceAll(",", ""));

/** Each transfer's digests, sender's and receiver's, in order. */
function digests(stdout: string): [string[], string[]] {
  const sent = [
    ...stdout.matchAll(/Sent \d+ bytes in [\d.]+ s, SHA-256 (\w+)/g),
  ]
    .map((m) => m[1]);
  const received = [
    ...stdout.matchAll(/Received \d+ bytes from .*SHA-256 (\w+)/g),
  ]
    .map((m) => m[1]);
  return [sent, received];
}

Deno.test("lab, lab help and lab --help print the help", async () => {
  for (const args of [[], ["help"], ["--help"], ["loss", "--help"]]) {
    const result = await runTask("lab", args);
    assertEquals(result.code, 0, `lab ${args.join(" ")}: ${result.stderr}`);
    assertMatch(result.stdout, /^Usage: deno task lab EXPERIMENT/);
    assertMatch(result.stdout, /--loss P .*0 to 0\.9/);
    assertEquals(result.stderr, "");
  }
});

Deno.test("lab: a usage error is one line on stderr and exit 2", async () => {
  for (
    const args of [
      ["nonsense"],
      ["capture"],
      ["loss", "--loss", "2"],
      ["loss", "--loss", "0.95"],
      ["slow", "--rate", "fast"],
      ["slow", "--rate", "100gbit"],
      ["loss", "--count", "0"],
      ["router", "--bogus"],
    ]
  ) {
    const result = await runTask("lab", args);
    assertEquals(result.code, 2, `lab ${args.join(" ")}: ${result.stderr}`);
    assertEquals(result.stdout, "");
    assertMatch(result.stderr, /^error: [^\n]+ \(run with --help for usage\)$/);
  }
});

Deno.test({
  name: "lab two-computers: 127.0.0.1 unreachable from B, 0.0.0.0 reachable",
  ignore: unavailable,
  fn: async () => {
    const { code, stdout, stderr } = await lab(["two-computers"]);
    assertEquals(code, 0, stdout + stderr);
    const [first, second, third] = stdout.split(/\n\d\. /).slice(1);
    assertMatch(first, /B \| error: .*connection refused/);
    assertMatch(second, /B \| error: .*--allow-net=10\.77\.0\.1/);
    assertMatch(third, /B \| 0\. Hi new friend!/);
    assertMatch(third, /A \| .*10\.77\.0\.2/); // the servers saw B
    assertMatch(third, /B \| \{"name": "Johanna", "female": true\}/);
    assertMatch(third, /B \| alice: hi bob/);
  },
});

Deno.test({
  name: "lab loss: the router drops about 20%, seen on both cables; TCP intact",
  ignore: unavailable,
  fn: async () => {
    const { code, stdout, stderr } = await lab(["loss"], 120_000);
    assertEquals(code, 0, stdout + stderr);
    const text = flat(stdout);
    const [, arrived, lost] = text.match(
      /Arrived: ([\d,]+) of 1,000\. Lost: ([\d,]+)/,
    )!;
    // The captures: every datagram left A; those missing on B's cable are
    // exactly as many as the router's own counter says it dropped.
    const [, reached, missing, dropped] = text.match(
      /tcpdump saw all 1,000 leave A and ([\d,]+) reach B's end of the cable; the ([\d,]+) missing there went into the router and never came out \(its rule 2 counted ([\d,]+) drops\)/,
    )!;
    assertEquals(int(reached) + int(missing), 1000);
    assertEquals(int(missing), int(dropped));
    const [, buffer] = text.match(/receive buffer dropped ([\d,]+) more/)!;
    assertEquals(int(arrived) + int(lost), 1000);
    // Lost = dropped by the router + dropped by B's full receive buffer.
    assertEquals(int(lost), int(dropped) + int(buffer));
    // The router drops each datagram with probability 0.2: 200 on average,
    // standard deviation sqrt(1000 * 0.2 * 0.8) = 12.6; 5 of them is 63.
    assert(Math.abs(int(dropped) - 200) <= 63, `the router dropped ${dropped}`);
    assertMatch(text, /every send\(\) succeeded/);
    const [sent, received] = digests(stdout);
    assertEquals(sent.length, 2);
    assertEquals(sent, received); // without loss, with loss: both intact
    assertEquals(sent[0], sent[1]); // and the same bytes both times
    assertMatch(text, /The same SHA-256 on both sides, and the same as on/);
    const [, resent] = text.match(/A's kernel sent ([\d,]+) segments? again/)!;
    assert(int(resent) > 0, text);
    assertMatch(text, /tcp_rto_max_ms \(Linux 6\.15 and later\)/);
  },
});

Deno.test({
  name: "lab slow: TCP paces itself intact; UDP overflows the queue untold",
  ignore: unavailable,
  fn: async () => {
    const { code, stdout, stderr } = await lab(["slow"], 120_000);
    assertEquals(code, 0, stdout + stderr);
    const text = flat(stdout);
    const [sent, received] = digests(stdout);
    assertEquals(sent.length, 1);
    assertEquals(sent, received);
    // 256 KiB at 1 Mbit/s: at least (256 KiB - 32 KB of bursts) * 8 bits.
    const [, seconds] = text.match(/256 KiB in ([\d.]+) s:/)!;
    assert(Number(seconds) >= 1.5, `256 KiB at 1 Mbit/s in ${seconds} s`);
    const [, arrived] = text.match(/Arrived: ([\d,]+) of 2,000/)!;
    const [, queue, buffer] = text.match(
      /The queue dropped ([\d,]+) \(tc -s qdisc\), B's receive buffer ([\d,]+)/,
    )!;
    assertEquals(int(arrived) + int(queue) + int(buffer), 2000);
    assert(int(arrived) >= 1 && int(queue) >= 1000, text);
    assertMatch(text, /every send\(\) succeeded/);
    const [, told] = text.match(/counted ([\d,]+) in Udp SndbufErrors/)!;
    assert(int(told) >= 1, text);
  },
});

Deno.test({
  name: "lab slow --rate 10gbit: what it says follows what it measured",
  ignore: unavailable,
  fn: async () => {
    const args = ["slow", "--rate", "10gbit", "--count", "5"];
    const { code, stdout, stderr } = await lab([...args, "--size", "65536"]);
    assertEquals(code, 0, stdout + stderr);
    const text = flat(stdout);
    // 5 datagrams of 1,000 bytes fit the 32 KB queue and B's buffer.
    assertMatch(text, /Arrived: 5 of 5\. Neither the queue/);
    assertMatch(text, /UDP lost nothing this time/);
    assert(!/only \d+ arrived|did not pace/.test(text), text);
    assertMatch(text, /64 KiB in [\d.]+ s: .* on a cable of 10 Gbit\/s/);
  },
});

Deno.test({
  name: "lab router: every packet crosses with TTL 64 -> 63",
  ignore: unavailable,
  fn: async () => {
    const { code, stdout, stderr } = await lab(["router"]);
    assertEquals(code, 0, stdout + stderr);
    assertMatch(stdout, /client \| 0\. Hi new friend!/);
    const rows = stdout.split("\n").filter((line) => / > .*TTL/.test(line));
    assert(rows.length >= 6, stdout);
    for (const row of rows) {
      const toServer = / > 10\.77\.0\.130:10001/.test(row);
      assertMatch(row, toServer ? /TTL 64\s+TTL 63$/ : /TTL 63\s+TTL 64$/);
    }
    assertMatch(flat(stdout), new RegExp(`All ${rows.length} packets crossed`));
  },
});

Deno.test({
  name: "lab capture DIR: the five files deno task headers reads",
  ignore: unavailable,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab_capture_" });
    try {
      const { code, stdout, stderr } = await lab(["capture", dir]);
      assertEquals(code, 0, stdout + stderr);
      const read = async (name: string) =>
        readPcap(await Deno.readFile(`${dir}/${name}`));
      const greeting = await read("greeting.pcap");
      assertEquals(greeting.linkType, 1); // Ethernet
      const greetingPackets = packets(greeting);
      assertEquals(greetingPackets.length, greeting.frames.length);
      assertEquals(greetingPackets[0].flags, "SYN");
      assertEquals(greetingPackets[0].ttl, 64);
      assertEquals(greetingPackets[1].flags, "SYN ACK");
      assert(greetingPackets.some((p) => p.payload === 18)); // the greeting
      assert(greeting.frames.every((frame) => checksumOk(frame) === true));
      const udp = packets(await read("udp.pcap"));
      assertEquals(udp.map((p) => p.protocol), ["UDP", "UDP"]);
      assertEquals(udp[0].destinationPort, 25000);
      const lossy = await read("lossy.pcap");
      assert(sentTwice(lossy) >= 1, "no segment sent twice");
      const lo = await read("loopback-offload.pcap");
      assert(lo.frames.length >= 6);
      // On lo, offload leaves every TCP checksum unfinished.
      assert(lo.frames.every((frame) => checksumOk(frame) === false));
      // pcapng: a Section Header Block, and the same packets (tshark, if
      // it is installed, reads them as the same number of frames).
      const pcapng = await Deno.readFile(`${dir}/greeting.pcapng`);
      assertEquals([...pcapng.subarray(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a]);
      const tshark = await new Deno.Command("tshark", {
        args: ["-r", `${dir}/greeting.pcapng`, "-T", "fields", "-e", "ip.ttl"],
        stderr: "null",
      }).output().catch(() => undefined);
      if (tshark) {
        const ttls = new TextDecoder().decode(tshark.stdout).trim().split("\n");
        assertEquals(ttls, greetingPackets.map((p) => `${p.ttl}`));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "lab: Ctrl-C mid-run removes everything it made, exit 130",
  ignore: unavailable,
  fn: async () => {
    const mark = crypto.randomUUID();
    // At 100 kbit/s the 256 KiB transfer takes 21 s: it is surely still
    // going when we press Ctrl-C.
    const process = startLab(["slow", "--rate", "100kbit"], mark);
    await process.waitForLine(/tcp_bulk\.ts send/);
    assertEquals((await namespaces(process.pid)).length, 2);
    assert((await marked(mark)).length >= 3); // lab, receiver, sender
    // lab clean leaves a run that is still going alone.
    const clean = await runTask("lab", ["clean"]);
    assertEquals(clean.code, 0, clean.stderr);
    assertEquals((await namespaces(process.pid)).length, 2);
    process.kill("SIGINT");
    const { code, stdout } = await process.finished(30_000);
    assertEquals(code, 130);
    assertMatch(stdout, /Stopping \(SIGINT\)[^]*Removed\.$/);
    await assertNothingLeft(process.pid, mark);
  },
});

Deno.test({
  name: "lab clean: removes what a run killed with SIGKILL left behind",
  ignore: unavailable,
  fn: async () => {
    const mark = crypto.randomUUID();
    const process = startLab(["slow", "--rate", "100kbit"], mark);
    await process.waitForLine(/tcp_bulk\.ts send/);
    process.kill("SIGKILL");
    await process.finished(30_000);
    // Killed, it could not clean up: its namespaces and programs are there.
    const left = await namespaces(process.pid);
    assertEquals(left.length, 2);
    // The receiver at least (it said "Listening"; the sender may not have
    // been started yet when the lab was killed).
    assert((await marked(mark)).length >= 1);
    const clean = await runTask("lab", ["clean"]);
    assertEquals(clean.code, 0, clean.stderr);
    for (const name of left) assertMatch(clean.stdout, new RegExp(name));
    await assertNothingLeft(process.pid, mark);
  },
});

Deno.test({
  name: "lab clean beside live labs: only what runs that ended left",
  ignore: unavailable,
  fn: async () => {
    // Three runs, one after the other, each while two loops run `lab
    // clean` again and again: while the run makes its namespaces, uses
    // them, and removes them at its end.
    for (let run = 0; run < 3; run++) {
      const mark = crypto.randomUUID();
      const process = startLab(["router"], mark);
      let done = false;
      const cleans: Finished[] = [];
      const loop = async () => {
        while (!done) cleans.push(await clean());
      };
      const loops = [loop(), loop()];
      const finished = await process.finished(60_000).finally(() => {
        done = true;
      });
      await Promise.all(loops);
      assertEquals(finished.code, 0, finished.stdout + finished.stderr);
      assertMatch(flat(finished.stdout), /All \d+ packets crossed/);
      assert(cleans.length >= 2, `only ${cleans.length} cleans`);
      for (const result of cleans) {
        assertEquals(result.code, 0, result.stdout + result.stderr);
        assert(
          !new RegExp(`Removed .*denolab-${process.pid}-`).test(result.stdout),
          `lab clean removed a live run's namespace: ${result.stdout}`,
        );
      }
      await assertNothingLeft(process.pid, mark);
    }
  },
});

Deno.test({
  name: "lab: a signal while the first probe's namespace exists removes it",
  ignore: unavailable,
  fn: async () => {
    // As root, `lab check` makes denolab-PID-probe for some milliseconds:
    // watch for it, and send SIGTERM the moment it is there.
    let caught = 0;
    for (let attempt = 0; attempt < 20 && caught < 3; attempt++) {
      const mark = crypto.randomUUID();
      const process = startLab(["check"], mark);
      let seen = false;
      const ended = process.finished(30_000);
      let over = false;
      ended.finally(() => over = true).catch(() => {});
      while (!over && !seen) {
        seen = (await namespaces(process.pid)).length > 0;
      }
      if (seen) process.kill("SIGTERM");
      const { code, stdout } = await ended;
      await assertNothingLeft(process.pid, mark);
      if (seen && code !== 0) {
        caught++;
        assertEquals(code, 143, stdout);
        assertMatch(stdout, /Stopping \(SIGTERM\)[^]*Removed\.$/);
      }
    }
    assert(caught > 0, "never caught the probe's namespace");
  },
});

Deno.test({
  name: "lab clean works with a PATH that leaves out ip's folder",
  ignore: unavailable,
  fn: async () => {
    // ip is in /usr/sbin or /sbin on many systems (or /usr/bin, here too);
    // an ordinary user's PATH often has neither.
    for (const path of ["/usr/local/bin:/usr/bin:/bin", "/usr/local/bin"]) {
      const { code, stdout, stderr } = await clean({ PATH: path });
      assertEquals(code, 0, `PATH=${path}: ${stdout}${stderr}`);
      assertEquals(stderr, "");
      assertMatch(stdout, /^(Nothing to clean|Removed)/);
    }
  },
});

// As an ordinary user (no sudo): root can check that by running the lab as
// user nobody, which needs Deno, this folder and a Deno cache it can read.
async function asNobody(): Promise<string[] | string> {
  if (unavailable) return "the lab cannot run here";
  const id = await new Deno.Command("id", { args: ["-u"] }).output();
  if (new TextDecoder().decode(id.stdout).trim() !== "0") return "not root";
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
  }).output();
  const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout));
  const home = await Deno.makeTempDir({ prefix: "lab_nobody_" });
  const copy = await new Deno.Command("sh", {
    args: [
      "-c",
      'cp -r "$1" "$2/npm" && chown -R 65534:65534 "$2" && chmod 755 "$2"',
      "sh",
      npmCache,
      home,
    ],
  }).output().catch(() => undefined);
  if (!copy?.success) return "could not prepare a Deno cache for nobody";
  return [
    ...["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
    ...["env", `HOME=${home}`, `DENO_DIR=${home}`],
    "PATH=/usr/local/bin:/usr/bin:/bin",
    ...[Deno.execPath(), ...taskArgs("lab")],
  ];
}
const nobody = await asNobody();
let nobodyCheck: Finished | undefined;
if (Array.isArray(nobody)) {
  const [program, ...args] = nobody;
  const check = TaskProcess.spawn(program, [...args, "check"]);
  nobodyCheck = await check.finished(30_000).catch(() => undefined);
}
const nobodyCan = nobodyCheck?.code === 0;
if (!unavailable && !nobodyCan) {
  console.log(
    `lab as an ordinary user: skipped (${
      typeof nobody === "string"
        ? nobody
        : nobodyCheck?.stderr.trim() || "nobody cannot run deno here"
    })`,
  );
}

Deno.test({
  name: "lab as an ordinary user: its own user namespace, gone with the lab",
  ignore: !nobodyCan,
  fn: async (t) => {
    assertMatch(nobodyCheck!.stdout, /as this user, inside a user namespace/);
    const [program, ...args] = nobody as string[];
    const home = args.find((arg) => arg.startsWith("HOME="))!.slice(5);
    const start = (more: string[], mark: string) =>
      TaskProcess.spawn(program, [...args, ...more], {
        env: { NO_COLOR: "1", LAB_TEST_MARK: mark },
      });
    try {
      await t.step("runs the router experiment, no sudo", async () => {
        const mark = crypto.randomUUID();
        const process = start(["router"], mark);
        const { code, stdout, stderr } = await process.finished(60_000);
        assertEquals(code, 0, stdout + stderr);
        assertMatch(stdout, /TTL 64\s+TTL 63/);
        await assertNothingLeft(process.pid, mark);
      });
      await t.step("kill -9 of the lab ends everything in it", async () => {
        const mark = crypto.randomUUID();
        // At 100 kbit/s the 256 KiB transfer takes 21 s.
        const process = start(["slow", "--rate", "100kbit"], mark);
        await process.waitForLine(/tcp_bulk\.ts send/);
        assert((await marked(mark)).length >= 4); // lab, unshare, lab, B
        process.kill("SIGKILL");
        // Within 5 s, nothing it started may be running any more.
        for (let i = 0; i < 50 && (await marked(mark)).length > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assertEquals(await marked(mark), [], "processes left behind");
        const { signal } = await process.finished(10_000);
        assertEquals(signal, "SIGKILL");
      });
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
// The temporary Deno cache for nobody, when the test above was skipped.
if (Array.isArray(nobody) && !nobodyCan) {
  const home = nobody.find((arg) => arg.startsWith("HOME="))!.slice(5);
  await Deno.remove(home, { recursive: true });
}
