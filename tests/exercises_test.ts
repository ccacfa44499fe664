// The exercises (`deno task exercise`, tools/exercise/): every check is
// honest. It fails on the untouched starter, with its hint and the lesson
// line that shows the idea; it fails on one typical wrong answer
// (tests/fixtures/exercises/), with the hint for that mistake; and it passes
// on the solution (exercises/solutions/). Each check runs as a student runs
// it, through the task's own command line, against its real peer. Also: a
// program in Python passes where the exercise is language-neutral; the list
// shows each state; every lesson line a hint points to still exists.

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import config from "../deno.json" with { type: "json" };
import { EXERCISES } from "../tools/exercise/exercises.ts";
import {
  CONNECT_CITE,
  findCite,
  LISTENING_CITE,
  numberedList,
  reflectQuestions,
} from "../tools/exercise/kit.ts";
import STARTERS from "../tools/exercise/starters.json" with { type: "json" };
import { encodeHex } from "@std/encoding/hex";
import {
  type Finished,
  ROOT,
  runTask,
  taskArgs,
  TaskProcess,
} from "../tools/task_process.ts";
import { PYTHON } from "./_helpers.ts";

/** Runs `deno task exercise ARGS`, with its task's own command line. */
async function exercise(
  args: string[],
  env: Record<string, string> = {},
): Promise<Finished> {
  if (Object.keys(env).length === 0) {
    return await runTask("exercise", args, { timeoutMs: 60_000 });
  }
  await using process = TaskProcess.spawn(
    Deno.execPath(),
    [...taskArgs("exercise"), ...args],
    { env: { NO_COLOR: "1", ...env } },
  );
  return await process.finished(60_000);
}

/** What a check must never print, whatever happened. */
function assertNoTrace(run: Finished) {
  const all = `${run.stdout}\n${run.stderr}`;
  assert(!/^\s+at .*:\d+:\d+\)?$/m.test(all), `a stack trace:\n${all}`);
  assert(!/\bEOF\b/.test(all), `"EOF" in:\n${all}`);
  assert(!/Uncaught/.test(run.stdout.split("✗")[1] ?? ""), "an error verdict");
}

const lab = await runTask("lab", ["check"], { timeoutMs: 30_000 });
const labRuns = lab.code === 0;
if (!labRuns) {
  console.log(`lab-loss checked as "cannot run here": ${lab.stderr}`);
}

// The hint each failing run must give: [starter, typical wrong answer].
const HINTS: Record<string, [RegExp, RegExp]> = {
  "my-address": [/the first 4 are the address/, /read the wrong way round/],
  "time-server": [/hung up without sending anything/, /\(70 years\) early/],
  "checksum": [/printed 0x0000/, /covers a pseudo-header/],
  "lab-loss": [/Predict first/, /risks the loss once, not twice/],
  "dual-stack": [
    /The IPv6 one is missing/,
    /never greeted a client over IPv6/,
  ],
  "whole-greeting": [/printed only "\d+\. Hi"/, /Your client printed "�"/],
  "udp-retry": [/UDP does not resend/, /sent datagram 2 only \d+ ms after/],
  "length-prefix": [/without its length in front/, /came in two pieces/],
  "json-lines": [/one read brought three values/, /Line 5 came in three/],
  "safe-objects": [/Its type is "Evil"/, /Its type is "constructor"/],
};

for (const { name, section, file } of EXERCISES) {
  Deno.test(`${name} (${section}): fails on the starter and on a typical wrong answer, passes on the solution`, async () => {
    const [starter, wrong, solution] = await Promise.all(
      [
        `exercises/${file}`,
        `tests/fixtures/exercises/${file}`,
        `exercises/solutions/${file}`,
      ].map((path) => exercise([name, "--file", path])),
    );
    const cannot = name === "lab-loss" && !labRuns;
    for (
      const [run, hint] of [[starter, HINTS[name][0]], [
        wrong,
        HINTS[name][1],
      ]] as const
    ) {
      assertNoTrace(run);
      if (cannot && run === wrong) {
        assertEquals(run.code, 77, run.stdout);
        assertMatch(run.stdout, /Cannot run here[\s\S]*The lab says: /);
        continue;
      }
      assertEquals(run.code, 1, run.stdout);
      assertEquals(run.stderr, "");
      assertStringIncludes(run.stdout, "✗ Failing");
      assertMatch(run.stdout.replace(/\n\s+/g, " "), hint);
      // The lesson's line: found now, in the file, with the code shown.
      const cite = run.stdout.match(
        /The lesson shows how: (\S+):(\d+)\n\s+(.+)/,
      );
      assert(cite, `no lesson line in:\n${run.stdout}`);
      const lines = Deno.readTextFileSync(new URL(cite[1], ROOT)).split("\n");
      assertEquals(lines[Number(cite[2]) - 1].trim(), cite[3]);
    }
    assertNoTrace(solution);
    if (cannot) {
      assertEquals(solution.code, 77, solution.stdout);
      return;
    }
    assertEquals(solution.code, 0, solution.stdout);
    assertStringIncludes(solution.stdout, "✓ Passing");
    assertStringIncludes(solution.stdout, "Reflect");
  });
}

Deno.test("a program in Python passes the language-neutral checks (length-prefix, time-server), and the list remembers it", async () => {
  if (PYTHON === null) {
    console.log("python3 is not installed here: skipped");
    return;
  }
  const python = PYTHON;
  const folder = await Deno.makeTempDir({ prefix: "exercises-" });
  try {
    const env = { EXERCISES_DIR: folder };
    const [framed, time] = await Promise.all([
      exercise([
        "length-prefix",
        "--",
        python,
        "exercises/solutions/12_4_length_prefix.py",
      ], env),
      exercise([
        "time-server",
        "--",
        python,
        "exercises/solutions/12_2_time_server.py",
      ], env),
    ]);
    for (const run of [framed, time]) {
      assertEquals(run.code, 0, run.stdout + run.stderr);
      assertStringIncludes(run.stdout, "✓ Passing");
    }
    assertStringIncludes(framed.stdout, '"Got 100000 bytes"');
    const list = await exercise([], env);
    assertMatch(
      list.stdout,
      /length-prefix .* passing \(.*python.*12_4_length_prefix\.py\)/,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("second wrong answers: a UDP client that never gives up, and Python's decode() of a cut character (its own last words shown)", async () => {
  const folder = await Deno.makeTempDir({ prefix: "exercises-" });
  try {
    const env = { EXERCISES_DIR: folder };
    // The solution, but trying 8 times: the server that answers the third
    // cannot tell; the one that answers nothing can.
    const eight = `${folder}/udp_retry_eight.ts`;
    const solution = await Deno.readTextFile(
      new URL("exercises/solutions/12_4_udp_retry.ts", ROOT),
    );
    assertStringIncludes(solution, "tries <= 5");
    await Deno.writeTextFile(
      eight,
      solution.replace("tries <= 5", "tries <= 8"),
    );
    // Each piece decoded on its own: Python stops at the cut 👋.
    const greet = `${folder}/greet.py`;
    await Deno.writeTextFile(
      greet,
      [
        "import socket, sys",
        "s = socket.create_connection(('127.0.0.1', int(sys.argv[-1])))",
        "text = ''",
        "while data := s.recv(1024):",
        "    text += data.decode('utf-8')",
        "print(text)",
      ].join("\n"),
    );
    const [retry, decode] = await Promise.all([
      exercise(["udp-retry", "--file", eight], env),
      exercise(["whole-greeting", "--", "python3", greet], env),
    ]);
    for (const run of [retry, decode]) {
      assertNoTrace(run);
      assertEquals(run.code, 1, run.stdout);
    }
    assertMatch(
      retry.stdout.replace(/\n\s+/g, " "),
      /answers nothing .* received 8 datagrams.*With no answer at all, your client sent 8 datagrams: send 5/,
    );
    assertMatch(
      decode.stdout.replace(/\n\s+/g, " "),
      /said: "UnicodeDecodeError: .*could not decode a piece: 👋 is 4 bytes/,
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("the list: every exercise, its section and state (not started, failing, passing)", async () => {
  const folder = await Deno.makeTempDir({ prefix: "exercises-" });
  try {
    for (const { file } of EXERCISES) {
      await Deno.copyFile(
        new URL(`exercises/${file}`, ROOT),
        `${folder}/${file}`,
      );
    }
    const env = { EXERCISES_DIR: folder };
    const fresh = await exercise([], env);
    assertEquals(fresh.code, 0, fresh.stderr);
    const rows = fresh.stdout.split("\n").filter((l) => /^ {2}12\.\d /.test(l));
    assertEquals(
      rows.map((row) => row.trim().split(/\s+/).slice(0, 2).join(" ")),
      EXERCISES.map((e) => `${e.section} ${e.name}`),
    );
    for (const row of rows) assertMatch(row, /not started$/);
    assertStringIncludes(fresh.stdout, "0 of 10 passing");

    // A solution and a wrong answer in the student's place: checked now.
    const copy = (from: string, name: string) =>
      Deno.copyFile(new URL(from, ROOT), `${folder}/${name}`);
    await copy(
      "exercises/solutions/12_4_whole_greeting.ts",
      "12_4_whole_greeting.ts",
    );
    await copy(
      "tests/fixtures/exercises/12_1_my_address.ts",
      "12_1_my_address.ts",
    );
    const checked = await exercise([], env);
    assertMatch(
      checked.stdout,
      /Checking what changed since its last check: my-address, whole-greeting/,
    );
    assertMatch(checked.stdout, /12\.4 {2}whole-greeting .* passing\n/);
    assertMatch(checked.stdout, /12\.1 {2}my-address .* failing\n/);
    assertStringIncludes(checked.stdout, "1 of 10 passing");
    // Remembered: the next list runs no check at all.
    const again = await exercise([], env);
    assert(!again.stdout.includes("Checking what changed"), again.stdout);
    assertEquals(again.stdout, checked.stdout.split("\n").slice(2).join("\n"));
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

const isRoot = Deno.uid() === 0;

Deno.test({
  name:
    "lab-loss says plainly when the lab cannot run here: exit 77, with the lab's own sentence",
  ignore: !isRoot,
  fn: async () => {
    // The lab looks for `ip` in PATH, /usr/sbin and /sbin. In a private
    // mount namespace with an empty /usr/sbin (and /sbin, its link on
    // Debian) and a PATH of nothing, it finds none: it says why and exits
    // 77, and the check passes that on.
    await using process = TaskProcess.spawn("unshare", [
      "--mount",
      "sh",
      "-c",
      'mount -t tmpfs none /usr/sbin && [ -L /sbin ] || mount -t tmpfs none /sbin; PATH=/nonexistent exec "$@"',
      "sh",
      Deno.execPath(),
      ...taskArgs("exercise"),
      ...["lab-loss", "--file", "exercises/solutions/12_2_lab_loss.ts"],
    ], { env: { NO_COLOR: "1" } });
    const run = await process.finished(60_000);
    assertNoTrace(run);
    assertEquals(run.code, 77, run.stdout + run.stderr);
    assertStringIncludes(run.stdout, "- Cannot run here");
    assertMatch(
      run.stdout.replace(/\n\s+/g, " "),
      /The lab cannot run on this computer, so there is nothing to compare your predictions with\. The lab says: The lab needs Linux.*"ip" is in none of PATH/,
    );
  },
});

Deno.test("every lesson line a hint points to is there, exactly once", () => {
  const cites = [
    LISTENING_CITE,
    CONNECT_CITE,
    ...EXERCISES.flatMap((e) => Object.values(e.cites)),
  ];
  for (const cite of cites) {
    assert(
      findCite(cite),
      `${cite.file} has not exactly one line with: ${cite.snippet}`,
    );
  }
});

Deno.test("each starter is as starters.json says (so a fresh clone lists it as not started)", async () => {
  const hashes: Record<string, string> = {};
  for (const { file } of EXERCISES) {
    const text = await Deno.readTextFile(new URL(`exercises/${file}`, ROOT));
    const bytes = new TextEncoder().encode(text.replaceAll("\r\n", "\n"));
    hashes[file] = encodeHex(await crypto.subtle.digest("SHA-256", bytes));
  }
  const sorted = Object.fromEntries(Object.entries(hashes).sort());
  assertEquals(
    STARTERS,
    sorted,
    `a starter changed: write this to tools/exercise/starters.json\n${
      JSON.stringify(sorted, null, 2)
    }`,
  );
});

Deno.test("the sheet and the teachers' page: each exercise has Reflect questions, and each question an answer", () => {
  for (const { name, section } of EXERCISES) {
    const questions = reflectQuestions(name);
    assert(
      questions.length >= 2,
      `${name}: ${questions.length} Reflect questions`,
    );
    const answers = numberedList("exercises/solutions/README.md", name);
    assertEquals(answers.length, questions.length, `${name}: answers`);
    const sheet = Deno.readTextFileSync(new URL("exercises/README.md", ROOT));
    assertStringIncludes(sheet, `### \`${name}\` (${section})`);
  }
  const teachers = Deno.readTextFileSync(
    new URL("exercises/solutions/README.md", ROOT),
  );
  assertMatch(teachers, /^# .*for teachers\n\nThis folder is for teachers\./);
});

Deno.test("starters and solutions stand alone: only @std/* and Deno; a header saying how to check", () => {
  for (const { name, file } of EXERCISES) {
    for (const path of [`exercises/${file}`, `exercises/solutions/${file}`]) {
      const source = Deno.readTextFileSync(new URL(path, ROOT));
      for (const [, specifier] of source.matchAll(/^import[^"]*"([^"]+)"/gm)) {
        assertMatch(specifier, /^@std\//, `${path} imports ${specifier}`);
      }
      const header = source.match(/^\/\*\*[\s\S]*?\*\//)?.[0] ?? "";
      assert(header.split("\n").length <= 25, `${path}: header too long`);
      if (!path.includes("solutions")) {
        assertStringIncludes(header, `deno task exercise ${name}`);
        assertMatch(source, /TODO/, `${path} has no TODO`);
      }
    }
  }
});

Deno.test("deno task exercise: its task, and its mistakes said in one line", async () => {
  const task = config.tasks.exercise;
  assert(!/^\d+\.\d/.test(task.description), "a section number first");
  assertMatch(config.tasks.check.command, /deno check [^&]*\bexercises\b/);
  const unknown = await exercise(["no-such-exercise"]);
  assertEquals(unknown.code, 2);
  assertMatch(
    unknown.stderr,
    /^error: no exercise is called "no-such-exercise"; there are my-address, /,
  );
  const prediction = await exercise(["lab-loss", "--", "python3", "x.py"]);
  assertEquals(prediction.code, 2);
  assertMatch(
    prediction.stderr,
    /^error: lab-loss is not a program to write in any language/,
  );
  // A check remembers its result for the list (exercises/.progress.json):
  // this one in a folder of its own, so that the reader's list never shows
  // the test's program.
  const progress = new URL("exercises/.progress.json", ROOT);
  const before = await Deno.readTextFile(progress).catch(() => null);
  const elsewhere = await Deno.makeTempDir({ prefix: "exercises-" });
  const missing = await exercise([
    "whole-greeting",
    "--",
    "no-such-program-here",
  ], { EXERCISES_DIR: elsewhere });
  await Deno.remove(elsewhere, { recursive: true });
  assertEquals(await Deno.readTextFile(progress).catch(() => null), before);
  assertEquals(missing.code, 1);
  assertStringIncludes(
    missing.stdout,
    'Could not start "no-such-program-here": no such program here.',
  );
  assertNoTrace(missing);
});
