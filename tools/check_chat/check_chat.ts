/**
 * The chat checker of Activity 12.1: grades any program, in any language,
 * that speaks deno-chat (chat/README.md), step by step, by playing the
 * other side itself over loopback.
 *
 *   $ deno task check-chat -- python3 chat.py
 *   $ deno task check-chat --transcript -- deno run --allow-net chat/chat.ts
 *   $ deno task check-chat --class submissions -- python3 {}/chat.py
 *
 * The program is started as `COMMAND server --host 127.0.0.1 --port PORT
 * --username alice` and as `COMMAND client ... --username bob`; its input
 * is typed by the checker, its output read. activity/README.md is the
 * student's sheet, activity/TEACHERS.md the teacher's.
 *
 * The task grants --allow-all: the checker runs whatever program it is
 * given (--allow-run without a list is all access already), and Deno lets a
 * program read /proc (the memory and processes of the program checked)
 * only with --allow-all.
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import type { Role, Subject } from "./case.ts";
import { checkProgram, Limiter, type Report } from "./run.ts";
import {
  csvHeader,
  csvLine,
  csvRow,
  failedOnItsOwn,
  gradescope,
  textReport,
  writeSvgs,
} from "./report.ts";
import { STEPS } from "./steps.ts";

const HELP = `Usage: deno task check-chat [OPTIONS] -- COMMAND...
Grades a chat program of Activity 12.1 (protocol: chat/README.md), in any
language. The checker starts it as
  COMMAND server --host 127.0.0.1 --port PORT --username alice
  COMMAND client --host 127.0.0.1 --port PORT --username bob
types its input (one message a line; /quit), reads its output (NAME: TEXT)
and plays the other side itself.

  --transcript      print every conversation as a sequence diagram, and
                    write each as an SVG into --svg DIR
  --svg DIR         where --transcript writes its SVGs (default check-chat-svg)
  --json            print Gradescope's results.json instead of the report
  --only IDS        run only these steps (comma-separated ids; step 1 always)
  --role ROLE       the program is only a server, or only a client
  --class DIR       grade every folder of DIR (one per student); {} in
                    COMMAND stands for the folder: -- python3 {}/chat.py
  --out DIR         --class: where the table and the results go
                    (default: DIR-grades)
  --jobs N          --class: students graded at once (default 4)
Steps: ${STEPS.map((s) => s.id).join(", ")}
Exit code: 0 when every step passed (with --json or --class: when the
grading ran; the score is in what it wrote), 1 when a step failed, 2 for a
mistake in the command line.`;

/** Ends with one line on stderr: a usage error, exit code 2. */
function usage(message: string): never {
  console.error(`error: ${message} (run with --help for usage)`);
  Deno.exit(2);
}

if (Deno.args.includes("--help")) {
  console.log(HELP);
  Deno.exit(0);
}
const flags = parseArgs(Deno.args, {
  string: ["svg", "only", "role", "class", "out", "jobs"],
  boolean: ["transcript", "json"],
  stopEarly: true, // what follows the command is the command's
  unknown: (arg: string) =>
    !arg.startsWith("-") || usage(`unknown option ${JSON.stringify(arg)}`),
});
const command = flags._.map(String).filter((arg, i) => i > 0 || arg !== "--");
if (command.length === 0) usage("give the command that runs the program");
// The sheet's command plus an option (`-- python3 chat.py --only bye`) would
// pass the option to the program, or run it as the command: say where it goes.
const OPTIONS = /^--(svg|only|role|class|out|jobs|transcript|json)(=|$)/;
const misplaced = command.find((arg) => OPTIONS.test(arg));
if (misplaced !== undefined) {
  usage(
    `"${misplaced}" is the checker's option: write it before the --, as in ` +
      "deno task check-chat --only bye -- python3 chat.py",
  );
}

// Under `deno task`, the working folder is the project's; the reader's own
// is INIT_CWD, where their program and their paths are.
const here = Deno.env.get("INIT_CWD") ?? Deno.cwd();
const resolve = (path: string) =>
  path.startsWith("/") ? path : `${here}/${path}`;

const roles: Role[] = flags.role === undefined
  ? ["server", "client"]
  : flags.role === "server" || flags.role === "client"
  ? [flags.role]
  : usage("--role is server or client");
const only = flags.only?.split(",").map((id) => id.trim());
for (const id of only ?? []) {
  if (!STEPS.some((step) => step.id === id)) usage(`no step "${id}"`);
}
const jobs = Number(flags.jobs ?? 4);
if (!Number.isInteger(jobs) || jobs < 1) usage("--jobs is a whole number");

if (flags.class !== undefined) {
  await gradeClass(resolve(flags.class));
} else {
  // `python3 chat.py` with no chat.py here: said by name, as in --class.
  const source = /^[^-].*\.(py|pyw|ts|js|mjs|cjs|rb|pl|php|lua|jar|sh)$/;
  const files = command.slice(1).filter((arg) => source.test(arg))
    .map(resolve);
  const report = await checkProgram({ command, cwd: here, files }, {
    roles,
    only,
  });
  if (flags.json) {
    console.log(JSON.stringify(gradescope(report), null, 2));
    Deno.exit(0); // graded: the score is in the JSON (Gradescope reads it)
  } else {
    console.log(textReport(report, { transcript: flags.transcript }));
    if (flags.transcript) {
      const dir = resolve(flags.svg ?? "check-chat-svg");
      const count = await writeSvgs(report, dir);
      console.log(
        `\nThe conversations as pictures: ${count} SVG files in ${dir}`,
      );
    }
  }
  Deno.exit(report.score === report.maxScore ? 0 : 1);
}

/**
 * Grades each folder of `dir`, `jobs` students at once; writes the table
 * (grades.csv) and, per student, results.json (Gradescope) and report.txt.
 */
async function gradeClass(dir: string) {
  const out = resolve(flags.out ?? `${dir.replace(/\/+$/, "")}-grades`);
  const students: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) {
        students.push(entry.name);
      }
    }
  } catch {
    usage(`cannot read the folder ${dir}`);
  }
  if (students.length === 0) usage(`${dir} has no folders (one per student)`);
  if (!command.some((arg) => arg.includes("{}"))) {
    usage("in --class mode, write {} in COMMAND for the student's folder");
  }
  students.sort();
  await Deno.mkdir(out, { recursive: true });
  console.log(
    `Grading ${students.length} programs from ${dir}, ${jobs} at once`,
  );

  const started = performance.now();
  const conversations = new Limiter(Math.max(8, jobs * 4));
  const studentsAtOnce = new Limiter(jobs);
  const reports = new Map<string, Report>();
  await Promise.all(students.map((student) =>
    studentsAtOnce.run(async () => {
      const folder = `${dir}/${student}`;
      const subject: Subject = {
        command: command.map((arg) => arg.replaceAll("{}", folder)),
        cwd: folder,
        // {}/chat.py: a file of the student's, said by name when missing.
        files: command.filter((arg) => arg.startsWith("{}/"))
          .map((arg) => arg.replaceAll("{}", folder)),
      };
      const report = await checkProgram(subject, {
        roles,
        only,
        limiter: conversations,
      });
      reports.set(student, report);
      await Deno.mkdir(`${out}/${student}`, { recursive: true });
      await Deno.writeTextFile(
        `${out}/${student}/results.json`,
        JSON.stringify(gradescope(report), null, 2) + "\n",
      );
      await Deno.writeTextFile(
        `${out}/${student}/report.txt`,
        textReport(report) + "\n",
      );
      const stopped = report.problems.length > 0
        ? `; stopped: ${report.problems.join("; ")}`
        : "";
      console.log(
        `${student}: ${report.score} of ${report.maxScore} ` +
          `(${(report.ms / 1000).toFixed(1)} s${stopped})`,
      );
    })
  ));

  const all = students.map((student) => reports.get(student)!);
  const table = [
    csvLine(csvHeader(all[0])),
    ...students.map((student, i) => csvLine(csvRow(student, all[i]))),
  ];
  await Deno.writeTextFile(`${out}/grades.csv`, table.join("\n") + "\n");
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`\n${students.length} programs in ${seconds} s.`);
  console.log(`Table: ${out}/grades.csv; each student: ${out}/NAME/`);
  // What the class got wrong, most common first (ties in step order): the
  // teacher's overview. Only failures count: not a step that was not run
  // (-), nor one whose failed cases all needed an earlier step.
  const misses = all[0].results.map((r, i) => ({
    step: `${r.step.number} ${r.step.id} (${r.role})`,
    index: i,
    count: all.filter((report) => failedOnItsOwn(report.results[i])).length,
  })).filter((m) => m.count > 0)
    .sort((a, b) => b.count - a.count || a.index - b.index);
  if (misses.length > 0) console.log("Steps most often missed:");
  for (const { step, count } of misses.slice(0, 8)) {
    console.log(
      `  ${String(count).padStart(3)} of ${students.length}  ${step}`,
    );
  }
  // Done: whatever a program left behind has been killed, and nothing of
  // ours is waiting for anything.
  Deno.exit(0);
}
