// Activity 12.1's checker (`deno task check-chat`), itself checked: run as a
// student and a teacher run it, against our chat, the Python client of
// chat/README.md, both starters, a Python program and a Node one written
// from the task sheet alone, thirteen programs broken on purpose (each must
// fail exactly its own steps and pass the others), four that misbehave
// (stopped, marked, and the run goes on) and a folder without a program.
// They are graded at once, to keep this file short in time: the class (19
// folders) and the single programs side by side (the Node one after them).

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { PYTHON, ROOT } from "./_helpers.ts";
import { taskArgs } from "../tools/task_process.ts";
import { parseLine } from "../tools/check_chat/frames.ts";
import { textReport } from "../tools/check_chat/report.ts";
import { STEPS } from "../tools/check_chat/steps.ts";
import {
  sequenceDescription,
  sequenceSvg,
  sequenceText,
} from "../tools/sequence.ts";

const FIXTURES = new URL("fixtures/chats/", import.meta.url).pathname;

// -S: this machine's site-packages holds a .pth file that imports certifi
// at every start (35 ms of 70); the programs here use the standard library
// only, and start about 80 times each.
const py = [PYTHON ?? "python3", "-S"];

/** Node.js, by its place on PATH, or null: a chat in another language. */
const NODE = (Deno.env.get("PATH") ?? "").split(":").map((dir) => `${dir}/node`)
  .find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  }) ?? null;

/** `deno task check-chat ARGS`, by the task's own command line. */
async function checkChat(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...taskArgs("check-chat"), ...args],
    cwd: ROOT,
    stdin: "null",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: output.code,
    stdout: text(output.stdout),
    stderr: text(output.stderr),
  };
}

/** `check-chat OPTIONS --json -- COMMAND`: what it printed, and its results. */
async function checkChatJson(command: string[], options: string[] = []) {
  const run = await checkChat([...options, "--json", "--", ...command]);
  let results: Results;
  try {
    results = JSON.parse(run.stdout);
  } catch {
    throw new Error(
      `no JSON from check-chat (exit ${run.code}): ${run.stderr}`,
    );
  }
  return { ...run, results };
}

interface Test {
  name: string;
  number: string;
  status: string;
  output: string;
  tags: string[];
}
interface Results {
  score: number;
  tests: Test[];
  output: string;
}

/** "id/role" of each failed step (skipped ones apart). */
const failed = (results: Results) =>
  results.tests.filter((t) =>
    t.status === "failed" && !t.output.startsWith("not run")
  ).map((t) => t.tags.join("/"));
const skipped = (results: Results) =>
  results.tests.filter((t) => t.output.startsWith("not run"))
    .map((t) => t.tags.join("/"));
const output = (results: Results, tag: string) =>
  results.tests.find((t) => t.tags.join("/") === tag)?.output ?? "";

const STEP_IDS = [
  "start",
  "hellos",
  "turns",
  "typed-ahead",
  "shown",
  "framing",
  "utf8",
  "safe",
  "bye",
  "out-of-turn",
  "bad-frames",
  "busy",
  "timeout",
  "polite-close",
];
const both = (...ids: string[]) =>
  ids.flatMap((id) => [`${id}/server`, `${id}/client`]);
const allBut = (...ids: string[]) =>
  both(...STEP_IDS).filter((tag) => !ids.includes(tag));

/** What each program of the class must fail: exactly these steps. */
const CLASS: Record<string, string[]> = {
  student_chat: [], // written from the task sheet alone: full marks
  broken_one_recv: both("framing", "out-of-turn"),
  broken_no_turns: [
    "turns/server",
    ...both("typed-ahead", "out-of-turn"),
  ],
  broken_no_bye: both("bye"),
  broken_raw_print: both("safe"),
  broken_ascii: both("utf8"),
  broken_wrong_hello: both("hellos"),
  broken_no_busy: ["busy/server"],
  broken_no_timeout: both("timeout"),
  broken_buffered: both("shown", "utf8"),
  broken_idle_timeout: both("timeout"),
  broken_hello_after: ["hellos/server"],
  broken_too_long_ge: both("framing"),
  broken_rst_close: both("polite-close"),
  misbehaving_fork: [],
  misbehaving_hang: allBut("start/server", "start/client"),
  misbehaving_flood: both("start"),
  misbehaving_memory: both("start"),
  empty_folder: both("start"), // no chat.py in it
};
/** The programs whose later steps are not run: step 1 failed. */
const NOT_STARTED = ["misbehaving_flood", "misbehaving_memory", "empty_folder"];

/**
 * Did this step fail on a rule of its own? Not when it was not run, nor
 * when each failed case only needed an earlier step ("not checked yet").
 */
const missed = (test: Test) =>
  test.status === "failed" && !test.output.startsWith("not run") &&
  test.output.split(/\n(?=[✓✗] )/).some((block) =>
    block.startsWith("✗ ") && !block.includes("could not be checked")
  );

/** The part of a step's output about one case: "✗ TITLE" and its lines. */
const caseOutput = (results: Results, tag: string, title: string) =>
  output(results, tag).split(/\n(?=[✓✗] )/)
    .find((block) => block.startsWith(`✗ ${title}`)) ?? "";

/** Every case that failed, as "id/role: case title". */
const failedCases = (results: Results) =>
  results.tests.filter((t) => t.status === "failed").flatMap((t) =>
    t.output.split("\n").filter((line) => line.startsWith("✗ "))
      .map((line) => `${t.tags.join("/")}: ${line.slice(2)}`)
  );

Deno.test({
  name:
    "check-chat grades our chat, the README client, the starters and a class of 19 (a student's program, 13 broken, 4 misbehaving, 1 empty), all at once",
  ignore: PYTHON === null,
  async fn(t) {
    const folder = await Deno.makeTempDir({ prefix: "check-chat-class-" });
    try {
      for (const name of Object.keys(CLASS)) {
        await Deno.mkdir(`${folder}/${name}`);
        if (name === "empty_folder") continue;
        await Deno.symlink(
          `${FIXTURES}${name}.py`,
          `${folder}/${name}/chat.py`,
        );
      }
      const deno = [Deno.execPath(), "run", "--allow-net"];
      const [klass, ours, readme, starterPy, starterTs] = await Promise.all([
        checkChat([
          "--class",
          folder,
          "--jobs",
          "5",
          "--",
          ...py,
          "{}/chat.py",
        ]),
        checkChatJson([...deno, "chat/chat.ts"]),
        checkChatJson([...py, `${FIXTURES}readme_client.py`]),
        checkChatJson([...py, "activity/starter/chat.py"]),
        checkChatJson([...deno, "activity/starter/chat.ts"]),
      ]);

      await t.step("the class: one line a program, a table, results", () => {
        assertEquals(klass.code, 0, klass.stderr);
        for (const name of Object.keys(CLASS)) {
          assertMatch(klass.stdout, new RegExp(`^${name}: \\d+ of 28 `, "m"));
        }
        const table = Deno.readTextFileSync(`${folder}-grades/grades.csv`)
          .trim().split("\n");
        assertEquals(table.length, 1 + Object.keys(CLASS).length);
        assertMatch(table[0], /^student,score,max_score,seconds,1 start/);
        assertMatch(klass.stdout, /^Steps most often missed:$/m);
        assertMatch(
          table.find((row) => row.startsWith("empty_folder,")) ?? "",
          /^empty_folder,0,28,.*,start \(server\): [^,]*no file chat\.py in \S*empty_folder/,
        );
      });

      await t.step(
        "the class's most missed steps: failures only, ties in step order",
        () => {
          const all = Object.keys(CLASS).map((name): Results =>
            JSON.parse(
              Deno.readTextFileSync(`${folder}-grades/${name}/results.json`),
            )
          );
          const students = Object.keys(CLASS).length;
          const expected = all[0].tests.map((test, i) => ({
            label: `${test.number.split(".")[0]} ${test.tags[0]} ` +
              `(${test.tags[1]})`,
            count: all.filter((results) => missed(results.tests[i])).length,
          })).filter((m) => m.count > 0)
            .sort((a, b) => b.count - a.count).slice(0, 8)
            .map(({ label, count }) =>
              `${String(count).padStart(3)} of ${students}  ${label}`
            );
          const shown = klass.stdout.split("Steps most often missed:\n")[1]
            .split("\n").filter((line) => / of \d+ {2}/.test(line))
            .map((line) => line.trim().replace(/^(\d+)/, (n) => n.padStart(3)));
          assertEquals(shown, expected, klass.stdout);
        },
      );

      for (const [name, expected] of Object.entries(CLASS)) {
        await t.step(`${name} fails exactly ${expected.length} steps`, () => {
          const results: Results = JSON.parse(
            Deno.readTextFileSync(`${folder}-grades/${name}/results.json`),
          );
          assertEquals(
            failed(results).sort(),
            expected.sort(),
            `${name}:\n${
              results.tests.filter((t) => t.status === "failed")
                .map((t) => t.output).join("\n")
            }`,
          );
          if (!NOT_STARTED.includes(name)) {
            assertEquals(skipped(results), [], name);
          }
          assertEquals(
            results.score,
            28 - expected.length - skipped(results).length,
          );
        });
      }

      await t.step(
        "failures say what happened, in the protocol's words",
        () => {
          const results = (name: string): Results =>
            JSON.parse(
              Deno.readTextFileSync(`${folder}-grades/${name}/results.json`),
            );
          // No turns: the line typed during bob's turn went out at once.
          assertStringIncludes(
            output(results("broken_no_turns"), "turns/server"),
            'your server sent {"type": "message", "text": "hi bob"}',
          );
          // One recv() as one frame: the split hello was answered not-json.
          assertMatch(
            output(results("broken_one_recv"), "framing/server"),
            /"code": "not-json"/,
          );
          // Raw printing: which character, and why it matters.
          assertMatch(
            output(results("broken_raw_print"), "safe/client"),
            /printed the character U\+001B as it is/,
          );
          // Buffered output: said so, in every step that looks at the output.
          for (const tag of both("shown", "utf8")) {
            assertStringIncludes(
              output(results("broken_buffered"), tag),
              "probably buffered",
            );
          }
          // A wrong hello: the key, the value, the rule.
          assertStringIncludes(
            output(results("broken_wrong_hello"), "hellos/client"),
            'its "version" is "1", not the number 1',
          );
          // No busy: a timeout reported as one, with its length.
          // (3 s and a little: a measured time, later on a loaded machine.)
          assertMatch(
            output(results("broken_no_busy"), "busy/server"),
            /your server sent nothing for 3\.\d s/,
          );
          // Silent for 11 s after the hellos, then a message: the chat goes
          // on (no time limit on a turn); this one had ended it at 10 s.
          for (const tag of both("timeout")) {
            assertMatch(
              output(results("broken_idle_timeout"), tag)
                .replace(/\n\s*/g, " "),
              /after the hellos, .* was silent for 11\.5 s.* no time limit .*sent \{"type": "error", "code": "timeout"/,
            );
          }
          // A server that waits for the client's hello loses step 2 only,
          // with the hint that fits.
          const helloAfter = output(
            results("broken_hello_after"),
            "hellos/server",
          );
          assertMatch(
            helloAfter.replace(/\n\s*/g, " "),
            /Usually this means: A server sends its hello as soon as it accepts; it must not wait for the client's/,
          );
          assert(!helloAfter.includes("Check every key"), helloAfter);
          // One recv() as one frame, as the client: a framing failure, said
          // so (step 2 passed), not "could not be checked"; and the glued
          // messages of step 10 need step 6, not a turn check.
          const oneRecv = results("broken_one_recv");
          assertStringIncludes(
            caseOutput(oneRecv, "framing/client", "alice's hello and reply"),
            '"code": "not-json"',
          );
          assert(
            !output(oneRecv, "framing/client").includes("could not be checked"),
            output(oneRecv, "framing/client"),
          );
          for (const tag of both("out-of-turn")) {
            const text = output(oneRecv, tag).replace(/\n\s*/g, " ");
            assertStringIncludes(text, "it needs step 6 (framing)", tag);
            assert(!text.includes("check whose turn"), text);
          }
          // Each way of leaving has its own hint: reading the network and
          // the keyboard at once is for a bye during your own turn.
          const noBye = results("broken_no_bye");
          for (const tag of both("bye")) {
            for (const title of ["/quit at your turn", "end of input at"]) {
              const text = caseOutput(noBye, tag, title);
              assertStringIncludes(text, "Usually this means:", tag + title);
              assert(!text.includes("network and the keyboard"), text);
            }
            assertStringIncludes(
              caseOutput(noBye, tag, "the other leaves during your turn"),
              "network and the keyboard",
            );
          }
          // A line of 32768 bytes whose newline comes apart is accepted;
          // this one refused it, having read 32768 bytes.
          for (const tag of both("framing")) {
            assertStringIncludes(
              output(results("broken_too_long_ge"), tag),
              '"code": "too-long"',
            );
          }
          // A reset, in words: no name of an error of Deno's.
          assertStringIncludes(
            output(results("broken_rst_close"), "polite-close/server")
              .replace(/\n\s*/g, " "),
            "the connection was reset (your server closed it with unread " +
              "data, or crashed)",
          );
          // Never "EOF", never a stack trace of the checker's, nor the name
          // of one of Deno's errors.
          for (const name of Object.keys(CLASS)) {
            const text = JSON.stringify(results(name));
            assert(!/\bEOF\b/.test(text), name);
            assert(!/at .*check_chat\/.*\.ts:\d+/.test(text), name);
            assert(
              !/ConnectionReset|BrokenPipe|ConnectionAborted|NotConnected/
                .test(text),
              name,
            );
          }
        },
      );

      await t.step("misbehaving programs are stopped and marked", () => {
        const table = Deno.readTextFileSync(`${folder}-grades/grades.csv`);
        assertMatch(table, /^misbehaving_flood,0,.*printed more than 1 MiB/m);
        assertMatch(table, /^misbehaving_memory,0,.*more than 512 MiB/m);
        assertMatch(table, /^misbehaving_fork,28,.*left 2 processes running/m);
        // Nothing of theirs is left running: not even the child that left
        // its process group.
        const left = [...Deno.readDirSync("/proc")]
          .filter((entry) => /^\d+$/.test(entry.name))
          .filter((entry) => {
            try {
              return Deno.readTextFileSync(`/proc/${entry.name}/cmdline`)
                .includes(folder);
            } catch {
              return false;
            }
          });
        assertEquals(left.length, 0, "processes left behind");
      });

      await t.step("our chat: full marks", () => {
        assertEquals(
          failedCases(ours.results),
          [],
          ours.results.tests.map((t) => t.output).join("\n"),
        );
        assertEquals(ours.results.score, 28);
        assertEquals(ours.code, 0);
      });

      await t.step("the README's client: a client only, 7 client steps", () => {
        const results = readme.results;
        assertEquals(
          skipped(results),
          both(...STEP_IDS.slice(1)).filter((t) => t.endsWith("/server")),
        );
        assertEquals(
          results.tests.filter((t) => t.status === "passed")
            .map((t) => t.tags[0]),
          ["start", "hellos", "turns", "typed-ahead", "shown", "safe", "busy"],
        );
        // Asked to be a server, it refuses: argparse's own sentence.
        assertMatch(
          output(results, "start/server"),
          /invalid choice: 'server'|a client only/,
        );
        // What the README says it leaves out is what it fails.
        assertStringIncludes(
          output(results, "bye/client"),
          'your client prints "alice left the chat" at once',
        );
      });

      await t.step("both starters: step 1 only", () => {
        for (const starter of [starterPy, starterTs]) {
          assertEquals(
            starter.results.tests.filter((t) => t.status === "passed")
              .map((t) => t.tags.join("/")),
            ["start/server", "start/client"],
          );
          assertEquals(starter.code, 0); // --json: graded, score inside
        }
      });
    } finally {
      await Deno.remove(folder, { recursive: true });
      await Deno.remove(`${folder}-grades`, { recursive: true }).catch(
        () => {},
      );
    }
  },
});

// A student's chat in another language, Node.js, written from the sheet
// alone. Graded on its own, after the class: one more program graded at
// once there made the class's timing cases fail on a loaded machine.
Deno.test({
  name: "check-chat gives a Node chat written from the sheet alone full marks",
  ignore: NODE === null,
  async fn() {
    const { code, stderr, results } = await checkChatJson([
      NODE!,
      `${FIXTURES}node_chat.js`,
    ]);
    assertEquals(code, 0, stderr);
    assertEquals(
      failedCases(results),
      [],
      results.tests.map((t) => t.output).join("\n"),
    );
    assertEquals(results.score, 28);
  },
});

// The other side of step 13's clock: a program that gives up on the hello
// after 5 s fails, although "too early" is measured from before it started
// (so that a loaded machine never makes a correct program look early).
Deno.test({
  name: "check-chat: a program that waits 5 s for the hello, not 10, fails",
  ignore: PYTHON === null,
  async fn() {
    const { code, stderr, results } = await checkChatJson(
      [...py, `${FIXTURES}broken_early_timeout.py`],
      ["--only", "timeout"],
    );
    assertEquals(code, 0, stderr);
    assertEquals(failed(results).sort(), both("timeout").sort());
    for (const tag of both("timeout")) {
      assertMatch(
        output(results, tag).replace(/\n\s*/g, " "),
        /waits 10 s for the hello before it gives up .* after 5\.\d s/,
      );
    }
  },
});

Deno.test("check-chat's report: a step that needs an earlier one is one line, and the last line says where to start", () => {
  const step = (id: string) => STEPS.find((s) => s.id === id)!;
  const failed = (id: string, needs?: string) => ({
    step: step(id),
    role: "server" as const,
    status: "failed" as const,
    cases: [{
      title: `a case of ${id}`,
      passed: false,
      expected: "your server says hello",
      happened: "your server closed the connection",
      needs,
      arrows: [],
      ms: 1,
    }],
  });
  const text = textReport({
    command: ["python3", "chat.py"],
    roles: ["server"],
    results: [
      failed("hellos"),
      failed("turns", "hellos"),
      failed("bye", "hellos"),
    ],
    score: 0,
    maxScore: 3,
    ms: 1000,
    problems: [],
  });
  assertStringIncludes(text, "✗ 2 hellos, as the server: a case of hellos");
  assert(!text.includes("a case of turns"), text);
  assertStringIncludes(
    text.replace(/\n\s+/g, " "),
    "- As the server, 3 turns, 9 bye: not checked yet; they need step 2 (hellos) first.",
  );
  // In the table too: "-" (not checked yet), "✗" only for hellos itself.
  assertMatch(text, /\n 2 hellos .*✗\n/);
  assertMatch(text, /\n 3 turns .*-\n/);
  assertMatch(text, /\n 9 bye .*-\n/);
  assert(
    text.endsWith(
      "Start with the first ✗ above: step 2 (hellos), as the server.",
    ),
    text,
  );
});

Deno.test("check-chat --transcript: the conversations as text diagrams and SVG files", async () => {
  const svg = await Deno.makeTempDir({ prefix: "check-chat-svg-" });
  try {
    const { code, stdout } = await checkChat([
      "--transcript",
      "--only",
      "hellos",
      "--svg",
      svg,
      "--",
      Deno.execPath(),
      "run",
      "--allow-net",
      "chat/chat.ts",
    ]);
    assertEquals(code, 0, stdout);
    assertMatch(stdout, /^ 2 hellos +Hellos, the server's first +✓ +✓$/m);
    // The client's hello, bob's, drawn from left to right, with its time,
    // cut in the middle so that the username shows.
    assertMatch(
      stdout,
      /^ +\d\.\d{3} s +\| --- \{"type":"hello",…,"username":"bob"\}.*-> \|$/m,
    );
    assertMatch(stdout, /\(typed|\(prints: bob joined the chat/);
    assertMatch(stdout, /The conversations as pictures: 4 SVG files in /);
    const files = [...Deno.readDirSync(svg)].map((f) => f.name).sort();
    assertEquals(files, [
      "01-start-client-1.svg",
      "01-start-server-1.svg",
      "02-hellos-client-1.svg",
      "02-hellos-server-1.svg",
    ]);
    const picture = Deno.readTextFileSync(`${svg}/02-hellos-server-1.svg`);
    assertMatch(picture, /^<svg [^>]*role="img"/);
    assertMatch(picture, /<title[^>]*>Step 2 hellos, as the server: /);
  } finally {
    await Deno.remove(svg, { recursive: true });
  }
});

Deno.test("check-chat's sheet says what the checker does: buffered output, the longest line", () => {
  const sheet = Deno.readTextFileSync(`${ROOT.pathname}activity/README.md`);
  const program = Deno.readTextFileSync(
    `${ROOT.pathname}tools/check_chat/program.ts`,
  );
  // The checker unbuffers Python itself: the sheet must not promise a
  // warning that a Python program never gets.
  assertStringIncludes(program, 'PYTHONUNBUFFERED: "1"');
  assertStringIncludes(sheet.replace(/\s+/g, " "), "PYTHONUNBUFFERED");
  // The protocol: at most 32768 bytes, not counting the LF. A receiver
  // that has read 32768 bytes without a newline cannot refuse yet: the
  // newline may be the next byte.
  const framing = STEPS.find((step) => step.id === "framing")!;
  const texts = [
    sheet.replace(/\s+/g, " "),
    framing.rule,
    framing.hint,
    ...[...framing.cases.server, ...framing.cases.client]
      .map((c) => c.hint ?? ""),
  ];
  for (const text of texts) {
    assert(!/have read 32768 bytes|once 32768 bytes/.test(text), text);
  }
  assertStringIncludes(texts[0], "32769th byte");
});

Deno.test("check-chat's hints name JavaScript's pitfall too, where Python's alone would mislead", () => {
  // Written from the sheet in Node: TextDecoder drops a byte-order mark
  // unless told not to, and a student told "not utf-8-sig" decodes with
  // "utf-8" already; socket.end() is Node's shutdown(SHUT_WR).
  const hints = (id: string) => {
    const step = STEPS.find((s) => s.id === id)!;
    return [step.hint, ...step.cases.server.map((c) => c.hint ?? "")]
      .join(" ");
  };
  assertMatch(
    hints("utf8"),
    /TextDecoder\("utf-8", \{ fatal: true, ignoreBOM: true \}\)/,
  );
  assertMatch(hints("utf8"), /toString\(\) never does/);
  assertStringIncludes(hints("polite-close"), "socket.end()");
  assertStringIncludes(hints("bad-frames"), "JSON.parse has no such hook");
});

Deno.test("check-chat: a usage error is one line and exit code 2", async () => {
  for (
    const [args, message] of [
      [[], /give the command that runs the program/],
      [["--only", "nope", "--", "x"], /no step "nope"/],
      [["--role", "both", "--", "x"], /--role is server or client/],
      [["--class", ROOT.pathname, "--", "x"], /write \{\} in COMMAND/],
      // The checker's options after the -- (as a student adds them to the
      // sheet's command): said, not run as the program's arguments.
      [["--", "--only", "bye", "node", "chat.js"], /"--only".*before the --/],
      [["--", "node", "chat.js", "--transcript"], /"--transcript".*before/],
    ] as const
  ) {
    const { code, stderr, stdout } = await checkChat([...args]);
    assertEquals(code, 2, stderr);
    assertEquals(stdout, "");
    assertEquals(stderr.trim().split("\n").length, 1, stderr);
    assertMatch(stderr, message);
  }
});

Deno.test("check-chat: a command that does not exist is step 1's failure, said plainly", async () => {
  const { code, stdout } = await checkChat([
    "--only",
    "start",
    "--",
    "no-such-program-here",
  ]);
  assertEquals(code, 1);
  assertMatch(
    stdout,
    /Happened: it ended before listening there \(the command\s+no-such-program-here\s+was not found\)/,
  );
});

Deno.test("check-chat: a program file that is not there is said by name", async () => {
  // As a student types it in a folder without their file: the sentence
  // names the file, not the end of python3's or deno's error message.
  const { code, stdout } = await checkChat([
    "--only",
    "start",
    "--",
    Deno.execPath(),
    "run",
    "no-such-chat.ts",
  ]);
  assertEquals(code, 1);
  assertMatch(
    stdout,
    /Happened: it ended before listening there \(there is no file\s+no-such-chat\.ts\s+in\s+\//,
  );
});

Deno.test("check-chat frames: the protocol page's rules, as the checker reads a program's lines", () => {
  const ok = (line: string) =>
    assertEquals(parseLine(line).problem, undefined, line);
  const bad = (line: string, problem: RegExp) =>
    assertMatch(parseLine(line).problem ?? "(none)", problem, line);
  ok(
    '{"type": "hello", "protocol": "deno-chat", "version": 1, "username": "a.b_c-1"}',
  );
  ok('{"type":"hello","protocol":"deno-chat","version":1.0,"username":"x"}');
  ok('{"type":"error","code":"bad-utf8","message":"digits are fine"}');
  ok(`{"type":"message","text":"${"é".repeat(2048)}"}`);
  bad(
    '{"type":"hello","protocol":"deno-chat","version":"1","username":"x"}',
    /not the number 1/,
  );
  bad(
    '{"type":"hello","protocol":"deno-chat","version":2,"username":"x"}',
    /is 2, not 1/,
  );
  bad(
    '{"type":"hello","protocol":"deno-chat","version":1,"username":"a b"}',
    /username/,
  );
  bad('{"type":"message","text":"a","text":"b"}', /written twice/);
  bad('{"type":"message","text":""}', /empty/);
  bad('{"type":"message","text":"\\ud83d"}', /half of a character/);
  bad(`{"type":"message","text":"${"é".repeat(2049)}"}`, /4098 bytes/);
  bad('{"type":"message","text":"x","extra":1}', /key too many/);
  bad('{"type":"bye","n":1e400}', /too large/);
  bad('{"type":"error","code":"Bad","message":"x"}', /"code"/);
  bad("[1]", /not an object/);
  bad("hello?", /not JSON/);
  bad('\ufeff{"type":"bye"}', /not JSON/);
});

Deno.test("sequence diagrams: a line typed or printed is drawn beside its own side, not as an arrow", () => {
  const sequence = {
    left: "bob",
    right: "alice",
    title: "Typed, sent, printed",
    arrows: [
      { from: "left" as const, label: "typed: hi", local: true },
      { from: "left" as const, label: '{"type":"message","text":"hi"}' },
      { from: "right" as const, label: "prints: bob: hi", local: true },
    ],
  };
  const lines = sequenceText(sequence).split("\n");
  assertMatch(lines[1], /^ {2}\| {2}\(typed: hi\) +\|$/);
  assertMatch(
    lines[2],
    /^ {2}\| --- \{"type":"message","text":"hi"\} -+-> \|$/,
  );
  assertMatch(lines[3], /^ {2}\| +\(prints: bob: hi\) {2}\|$/);
  for (const line of lines.slice(1)) assertEquals(line.length, lines[2].length);
  assertMatch(
    sequenceDescription(sequence),
    /1\. At bob: typed: hi\. 2\. bob sends alice/,
  );
  const svg = sequenceSvg(sequence);
  assertEquals(svg.match(/<line class="arrow/g)?.length, 1);
  assertEquals(svg.match(/class="local"/g)?.length, 2);
});
