/**
 * `deno task exercise`: the chapter's exercises and their checks.
 *
 *   deno task exercise                   every exercise, section and state
 *   deno task exercise NAME              check exercises/<its file>
 *   deno task exercise NAME --file F     check another Deno file
 *   deno task exercise NAME -- CMD ...   check a program in any language
 *
 * A check runs the student's program as a real process against a real
 * peer (a server or a client of the check's own, on real sockets; for the
 * lab exercise, the lab's own experiment) and says what the peer sent and
 * saw. A failing check ends with a hint and the lesson line that shows the
 * idea, found at run time by a snippet of the lesson's code.
 *
 * The state in the list: "not started" while the starter is as shipped;
 * otherwise the result of the last check of the file as it is now. A file
 * changed since its last check is checked again while listing. A check of
 * a program in another language (`-- CMD`) is remembered with its command.
 * Results live in exercises/.progress.json (not committed).
 *
 * Exit status: 0 passing (or the list), 1 failing, 2 a mistake in how it
 * was called, 77 this computer cannot run the check (no IPv6, no lab).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { encodeHex } from "@std/encoding/hex";
import { EXERCISES } from "./exercises.ts";
import STARTERS from "./starters.json" with { type: "json" };
import {
  CannotRun,
  type Cite,
  type Exercise,
  Fail,
  findCite,
  Program,
  quote,
  reflectQuestions,
  ROOT,
  within,
  wrap,
} from "./kit.ts";

const HELP = `Usage: deno task exercise [NAME] [--file FILE] [-- COMMAND ...]
  (no NAME)       list every exercise: its section, its file and its state
  NAME            check your file in exercises/ against a real peer
  --file FILE     check another Deno file instead
  -- COMMAND ...  check a program in any language; the check adds its own
                  arguments, e.g. deno task exercise whole-greeting -- python3 mine.py
Exit status: 0 passing, 1 failing, 2 a usage mistake, 77 cannot run here.
The exercises, what each asks and its Reflect questions: exercises/README.md`;

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
function usage(text: string): never {
  exit(2, `${text} (run with --help for usage)`);
}

// `deno task exercise NAME -- python3 mine.py` hands us a literal "--":
// everything after it is the student's command.
const split = Deno.args.indexOf("--");
const ours = split < 0 ? Deno.args : Deno.args.slice(0, split);
const command = split < 0 ? [] : Deno.args.slice(split + 1);
if (ours.includes("--help")) exit(0, HELP);
const flags = parseArgs(ours, {
  string: ["file"],
  unknown: (arg: string) =>
    !arg.startsWith("-") || usage(`unknown argument ${JSON.stringify(arg)}`),
});
const names = flags._.map(String);
if (names.length > 1) usage(`one exercise at a time, not ${names.join(", ")}`);
if (split >= 0 && command.length === 0) {
  usage("-- must be followed by a command");
}
if (flags.file !== undefined && command.length > 0) {
  usage("--file and -- COMMAND cannot go together");
}

// deno task runs us in the project's folder; the student typed paths from
// where they were (INIT_CWD).
const here = Deno.env.get("INIT_CWD") ?? Deno.cwd();
// Where the starters are (the tests point this at a folder of their own).
const folder = Deno.env.get("EXERCISES_DIR") ??
  new URL("exercises", ROOT).pathname;
const progressFile = `${folder}/.progress.json`;
const resolve = (path: string) =>
  path.startsWith("/") ? path : `${here}/${path}`;
const shown = (path: string) =>
  path.startsWith(ROOT.pathname) ? path.slice(ROOT.pathname.length) : path;

const CONFIG = new URL("deno.json", ROOT).pathname;

type State = "passing" | "failing" | "cannot run here";
interface Remembered {
  state: State;
  sha256?: string;
  command?: string;
}

function readProgress(): { [name: string]: Remembered } {
  try {
    return JSON.parse(Deno.readTextFileSync(progressFile));
  } catch {
    return {};
  }
}
function remember(name: string, record: Remembered) {
  const progress = readProgress();
  progress[name] = record;
  try {
    Deno.writeTextFileSync(progressFile, JSON.stringify(progress, null, 2));
  } catch {
    // A folder we may not write: the list then checks again. No harm.
  }
}

/** SHA-256 of a file's text, line ends as \n; null if there is no file. */
async function fingerprint(path: string): Promise<string | null> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return null;
  }
  const bytes = new TextEncoder().encode(text.replaceAll("\r\n", "\n"));
  return encodeHex(await crypto.subtle.digest("SHA-256", bytes));
}

/** SHA-256 of the starter as it was given out (tools/exercise/starters.json). */
function starterHash(exercise: Exercise): string | undefined {
  return (STARTERS as Record<string, string>)[exercise.file];
}

interface Outcome {
  state: State;
  message?: string;
  cite?: Cite;
  seconds: number;
}

/**
 * Runs one exercise's check against the student's Deno file at `path`, or
 * their `command`; `say` prints (or keeps) the story of what happened.
 */
async function run(
  exercise: Exercise,
  target: { path: string } | { command: string[] },
  say: (text: string) => void,
): Promise<Outcome> {
  const started = Date.now();
  const programs: Program[] = [];
  const start = (args: string[]) => {
    const line = "path" in target
      ? [
        Deno.execPath(),
        // --config: our import map (@std/...), wherever the file is.
        ...["run", "--no-prompt", "--config", CONFIG, ...exercise.permissions],
        target.path,
      ]
      : target.command;
    try {
      const program = new Program(
        [...line, ...args],
        "path" in target ? ROOT : here,
      );
      programs.push(program);
      return program;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Fail(
          `Could not start ${quote(line[0])}: no such program here.`,
        );
      }
      throw error;
    }
  };
  const limit = exercise.name === "lab-loss" ? 120_000 : 30_000;
  let outcome: Omit<Outcome, "seconds">;
  try {
    const result = await within(exercise.check({ start, say }), limit);
    if (result === "timeout") {
      throw new Error(`it did not finish within ${limit / 1000} s`);
    }
    outcome = { state: "passing" };
  } catch (error) {
    if (error instanceof Fail) {
      outcome = { state: "failing", message: error.message, cite: error.cite };
    } else if (error instanceof CannotRun) {
      outcome = { state: "cannot run here", message: error.message };
    } else {
      // Our own mistake, not the student's: one sentence, no stack trace.
      const why = error instanceof Error ? error.message : String(error);
      outcome = {
        state: "failing",
        message:
          `The check itself went wrong (${why}); this is not about your program. Please tell your teacher.`,
      };
    }
  } finally {
    await Promise.all(programs.map((program) => program.stop()));
  }
  return { ...outcome, seconds: (Date.now() - started) / 1000 };
}

// ---------------------------------------------------------------- list

if (names.length === 0) {
  if (flags.file !== undefined || command.length > 0) {
    usage("say which exercise: deno task exercise NAME");
  }
  const progress = readProgress();
  const states = new Map<string, string>();
  const stale: [Exercise, string, string][] = [];
  for (const exercise of EXERCISES) {
    const path = `${folder}/${exercise.file}`;
    const hash = await fingerprint(path);
    const record = progress[exercise.name];
    if (record?.command) {
      states.set(exercise.name, `${record.state} (${record.command})`);
    } else if (hash === null) states.set(exercise.name, "missing");
    else if (hash === starterHash(exercise)) {
      states.set(exercise.name, "not started");
    } else if (record?.sha256 === hash) states.set(exercise.name, record.state);
    else stale.push([exercise, path, hash]);
  }
  if (stale.length > 0) {
    const which = stale.map(([exercise]) => exercise.name).join(", ");
    console.log(`Checking what changed since its last check: ${which}...\n`);
  }
  // Two at a time: the machine may have two cores, shared.
  for (let i = 0; i < stale.length; i += 2) {
    await Promise.all(
      stale.slice(i, i + 2).map(async ([exercise, path, hash]) => {
        const { state } = await run(exercise, { path }, () => {});
        remember(exercise.name, { state, sha256: hash });
        states.set(exercise.name, state);
      }),
    );
  }
  console.log(
    "The exercises of chapter 12 (what each asks: exercises/README.md)\n",
  );
  const width = Math.max(...EXERCISES.map((e) => e.name.length));
  const fileWidth = Math.max(...EXERCISES.map((e) => e.file.length)) + 10;
  for (const exercise of EXERCISES) {
    const file = `exercises/${exercise.file}`.padEnd(fileWidth);
    const name = exercise.name.padEnd(width);
    console.log(
      `  ${exercise.section}  ${name}  ${file}  ${states.get(exercise.name)}`,
    );
  }
  const passing = [...states.values()].filter((s) => s.startsWith("passing"));
  console.log(
    `\n${passing.length} of ${EXERCISES.length} passing. Check one: deno task exercise NAME`,
  );
  Deno.exit(0);
}

// --------------------------------------------------------------- check

const exercise = EXERCISES.find((e) => e.name === names[0]);
if (exercise === undefined) {
  const all = EXERCISES.map((e) => e.name).join(", ");
  usage(`no exercise is called ${JSON.stringify(names[0])}; there are ${all}`);
}
if (command.length > 0 && !exercise.anyLanguage) {
  usage(
    `${exercise.name} is not a program to write in any language: edit exercises/${exercise.file}`,
  );
}
const path = flags.file !== undefined
  ? resolve(flags.file)
  : `${folder}/${exercise.file}`;
if (command.length === 0 && await fingerprint(path) === null) {
  exit(1, `There is no file ${shown(path)}.`);
}
const what = command.length > 0 ? command.join(" ") : shown(path);
console.log(
  `Checking ${exercise.name} (${exercise.section}: ${exercise.title})`,
);
console.log(`with ${what}\n`);
const outcome = await run(
  exercise,
  command.length > 0 ? { command } : { path },
  (text) => console.log(/^\s/.test(text) ? `  ${text}` : wrap(text)),
);
// Remembered for the list: a check of the file you edit, or of your command.
if (command.length > 0) {
  remember(exercise.name, { state: outcome.state, command: what });
} else if (flags.file === undefined) {
  const sha256 = await fingerprint(path) ?? undefined;
  remember(exercise.name, { state: outcome.state, sha256 });
}

const seconds = `${outcome.seconds.toFixed(1)} s`;
if (outcome.state === "passing") {
  console.log(`\n✓ Passing (${seconds}).`);
  const questions = reflectQuestions(exercise.name);
  if (questions.length > 0) {
    console.log("\nReflect (answers are with your teacher):");
    questions.forEach((question, i) => {
      // 1. The first line after its number, the others under its text.
      console.log(wrap(question, "     ").replace(/^ {5}/, `  ${i + 1}. `));
    });
  }
  Deno.exit(0);
}
if (outcome.state === "cannot run here") {
  console.log(`\n- Cannot run here (${seconds}).`);
  console.log(wrap(outcome.message ?? ""));
  Deno.exit(77);
}
console.log(`\n✗ Failing (${seconds}).`);
console.log(wrap(outcome.message ?? ""));
if (outcome.cite) {
  const found = findCite(outcome.cite);
  if (found) {
    console.log(`  The lesson shows how: ${outcome.cite.file}:${found.line}`);
    console.log(`      ${found.text}`);
  } else console.log(`  The lesson shows how: ${outcome.cite.file}`);
}
Deno.exit(1);
