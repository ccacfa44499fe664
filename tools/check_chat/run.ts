/**
 * Grading one program: step 1 in both roles, then every other case at once
 * (a few at a time, each conversation on its own port). The cases of step
 * 13 (timeout), which wait 10 and 11.5 s, start with step 1 and are not
 * counted among the few: they only wait, and the others run meanwhile, so
 * that a correct program is graded in about 12 s.
 *
 * @module
 */

import type { Arrow } from "../sequence.ts";
import { Case, Fail, type Role, type Subject } from "./case.ts";
import { type CaseDef, type StepDef, STEPS } from "./steps.ts";

export interface CaseResult {
  title: string;
  passed: boolean;
  expected?: string;
  happened?: string;
  /** An earlier step this case needed, and whose rule broke here. */
  needs?: string;
  /** What a failure of this case usually means, if not the step's hint. */
  hint?: string;
  /** What went each way, typed and printed, in order. */
  arrows: Arrow[];
  /** Why the checker had to stop the program, if it did. */
  problem?: string;
  ms: number;
}

export interface StepResult {
  step: StepDef;
  role: Role;
  status: "passed" | "failed" | "skipped";
  /** Why a step was skipped. */
  reason?: string;
  cases: CaseResult[];
}

export interface Report {
  command: string[];
  roles: Role[];
  results: StepResult[];
  score: number;
  maxScore: number;
  ms: number;
  /** Misbehaviour the checker stopped (floods, memory...), once each. */
  problems: string[];
}

const other = (role: Role): Role => role === "server" ? "client" : "server";

/** At most `size` things at once. */
export class Limiter {
  #running = 0;
  #queue: (() => void)[] = [];
  constructor(readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.size) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}

export interface CheckOptions {
  roles?: Role[];
  /** Step ids to run (all when not given). */
  only?: string[];
  /** How many conversations at once (shared, in a class). */
  limiter?: Limiter;
}

/** One case: a conversation with the program started afresh. */
export async function runCase(
  def: CaseDef,
  role: Role,
  subject: Subject,
): Promise<CaseResult> {
  const c = new Case(role, subject);
  const started = performance.now();
  let fail: Fail | undefined;
  try {
    await def.run(c);
  } catch (error) {
    fail = error instanceof Fail ? error : new Fail(
      "the checker finishes this conversation",
      `the checker itself failed (please report it): ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  const late = await c.finish();
  if (fail && late) fail.happened += `. ${late}`;
  const problem = c.problem;
  if (!fail && problem && !problem.startsWith("left ")) {
    fail = new Fail(
      "your program behaves while we talk",
      `the checker had to stop it: it ${problem}`,
    );
  }
  return {
    title: def.title,
    passed: fail === undefined,
    expected: fail?.expected,
    happened: fail?.happened,
    needs: fail?.needs,
    hint: fail?.hint ?? def.hint,
    arrows: c.arrows,
    problem,
    ms: performance.now() - started,
  };
}

export async function checkProgram(
  subject: Subject,
  options: CheckOptions = {},
): Promise<Report> {
  const started = performance.now();
  const roles = options.roles ?? ["server", "client"];
  const limiter = options.limiter ?? new Limiter(12);
  const steps = STEPS.filter((step) =>
    step.id === "start" || !options.only || options.only.includes(step.id)
  );
  const result = (step: StepDef, role: Role): StepResult => ({
    step,
    role,
    status: "passed",
    cases: [],
  });
  const results = steps.flatMap((step) =>
    roles.map((role) => result(step, role))
  );
  const find = (id: string, role: Role) =>
    results.find((r) => r.step.id === id && r.role === role)!;

  // Step 1 first: a role the program cannot start in is not run further.
  // The timeout cases wait 10 s and more, nearly idle: they start at once,
  // with step 1 (their result is dropped if it fails), and run beside the
  // limiter's few (in a class: four per student graded at once).
  const startedAs = new Map(roles.map((role) => [
    role,
    (async () => {
      const start = find("start", role);
      for (const def of start.step.cases[role]) {
        start.cases.push(await limiter.run(() => runCase(def, role, subject)));
      }
      return start.cases.every((c) => c.passed);
    })(),
  ]));
  const tasks: Promise<void>[] = [];
  for (const role of roles) {
    for (const step of steps.slice(1)) {
      const target = find(step.id, role);
      const long = step.id === "timeout";
      step.cases[role].forEach((def, index) => {
        tasks.push((async () => {
          if (!long && !(await startedAs.get(role))) return;
          target.cases[index] = long
            ? await runCase(def, role, subject)
            : await limiter.run(() => runCase(def, role, subject));
        })());
      });
    }
  }
  await Promise.all(tasks);
  for (const role of roles) {
    if (await startedAs.get(role)) continue;
    for (const step of steps.slice(1)) {
      const target = find(step.id, role);
      target.status = "skipped";
      target.reason = `not run: your program did not start as a ${role} ` +
        `(step 1); if it is meant to be a ${other(role)} only, check it ` +
        `with --role ${other(role)}`;
      target.cases = [];
    }
  }

  for (const r of results) {
    if (r.status === "skipped") continue;
    r.status = r.cases.every((c) => c.passed) ? "passed" : "failed";
  }
  const problems = [
    ...new Set(
      results.flatMap((r) => r.cases.map((c) => c.problem))
        .filter((p): p is string => p !== undefined),
    ),
  ];
  return {
    command: subject.command,
    roles,
    results,
    score: results.filter((r) => r.status === "passed").length,
    maxScore: results.length,
    ms: performance.now() - started,
    problems,
  };
}
