/**
 * What the checker tells: a table of steps and what went wrong (text, for
 * the student at a terminal), Gradescope's results.json, a row of the
 * class table (CSV), and the conversations as sequence diagrams.
 *
 * @module
 */

import {
  type Sequence,
  sequenceSvg,
  sequenceText,
  visible,
} from "../sequence.ts";
import { CLIENT_NAME, type Role, SERVER_NAME } from "./case.ts";
import type { CaseResult, Report, StepResult } from "./run.ts";
import { STEPS } from "./steps.ts";

const MARK = { passed: "✓", failed: "✗", skipped: "-" } as const;

/** The command lines the checker runs, with PORT for the port. */
export function commandLines(command: string[]): Record<Role, string> {
  const line = (role: Role, name: string) =>
    [...command, role, "--host", "127.0.0.1", "--port", "PORT", "--username"]
      .map(quoteArg).join(" ") + ` ${name}`;
  return {
    server: line("server", SERVER_NAME),
    client: line("client", CLIENT_NAME),
  };
}

const quoteArg = (arg: string) =>
  /^[\w@%+=:,./{}-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;

/** The picture of one conversation. */
export function sequenceOf(r: StepResult, c: CaseResult): Sequence {
  const program = r.role === "server" ? SERVER_NAME : CLIENT_NAME;
  const checker = r.role === "server" ? CLIENT_NAME : SERVER_NAME;
  const yours = `${program} (your ${r.role})`;
  const mine = `${checker} (the checker)`;
  return {
    left: r.role === "server" ? mine : yours,
    right: r.role === "server" ? yours : mine,
    title: `Step ${r.step.number} ${r.step.id}, as the ${r.role}: ${c.title}`,
    arrows: c.arrows,
  };
}

/** The report for a person at a terminal. */
export function textReport(
  report: Report,
  options: { transcript?: boolean } = {},
): string {
  const out: string[] = [];
  const lines = commandLines(report.command);
  out.push(`Checking ${report.command.map(quoteArg).join(" ")}`);
  for (const role of report.roles) {
    const other = role === "server" ? "bob, the client" : "alice, the server";
    out.push(`  as the ${role}: ${lines[role]}  (I am ${other})`);
  }
  out.push("");
  const titles = Math.max(...report.results.map((r) => r.step.title.length));
  const left = 17 + titles + 2; // "NN id-padded-to-13 " and the title
  out.push(
    (" ".repeat(left) + report.roles.map((r) => r.padEnd(8)).join(""))
      .trimEnd(),
  );
  const numbers = [...new Set(report.results.map((r) => r.step.number))];
  for (const number of numbers) {
    const row = report.results.filter((r) => r.step.number === number);
    const { step } = row[0];
    const label = `${String(number).padStart(2)} ${step.id.padEnd(14)}` +
      step.title.padEnd(titles + 2);
    // Failed only because an earlier step must work first: not checked
    // yet, "-" as for a step not run (no points either way), not "✗".
    const mark = (r: StepResult) =>
      r.status === "failed" && !failedOnItsOwn(r)
        ? MARK.skipped
        : MARK[r.status];
    const marks = row.map((r) => `  ${mark(r)}     `).join("");
    out.push(`${label}${marks}`.trimEnd());
  }
  out.push("");
  out.push(
    `Score: ${report.score} of ${report.maxScore} ` +
      `(${(report.ms / 1000).toFixed(1)} s)`,
  );
  for (const problem of report.problems) {
    out.push(`The checker had to step in: your program ${problem}.`);
  }
  const skipped = new Set(
    report.results.filter((r) => r.status === "skipped").map((r) => r.reason),
  );
  for (const reason of skipped) out.push(`Skipped steps: ${reason}.`);

  // A case that broke on an earlier step's rule is one line, not a page:
  // the earlier step's own failure says what to fix.
  const waiting = new Map<
    string,
    { role: Role; needed: (typeof STEPS)[number]; steps: string[] }
  >();
  for (const r of report.results) {
    const failed = r.cases.filter((c) => !c.passed);
    if (failed.length === 0 && !options.transcript) continue;
    const shown = options.transcript ? r.cases : failed.filter((c) => {
      const needed = STEPS.find((step) => step.id === c.needs);
      if (!needed) return true;
      const key = `${r.role} ${needed.number}`;
      const entry = waiting.get(key) ?? { role: r.role, needed, steps: [] };
      const label = `${r.step.number} ${r.step.id}`;
      if (!entry.steps.includes(label)) entry.steps.push(label);
      waiting.set(key, entry);
      return false;
    });
    for (const c of shown) {
      out.push("");
      out.push(
        `${c.passed ? MARK.passed : MARK.failed} ${r.step.number} ` +
          `${r.step.id}, as the ${r.role}: ${c.title}`,
      );
      if (!c.passed) {
        const lines = failure(r, c).flatMap(wrapText);
        out.push(...lines.map((line) => `    ${line}`));
      }
      if (c.arrows.length > 0) {
        out.push("    The conversation:");
        for (
          const line of sequenceText(sequenceOf(r, c), { cut: "middle" }).split(
            "\n",
          )
        ) {
          out.push(`    ${line}`);
        }
      }
    }
  }
  if (waiting.size > 0) out.push("");
  for (const { role, needed, steps } of waiting.values()) {
    out.push(
      ...wrapText(
        `${MARK.skipped} As the ${role}, ${steps.join(", ")}: not checked ` +
          `yet; ${steps.length > 1 ? "they need" : "it needs"} step ` +
          `${needed.number} (${needed.id}) first.`,
      ),
    );
  }
  const first = report.results.find((r) =>
    r.cases.some((c) => !c.passed && !c.needs)
  );
  if (first) {
    out.push("");
    out.push(
      `Start with the first ✗ above: step ${first.step.number} ` +
        `(${first.step.id}), as the ${first.role}.`,
    );
  }
  return out.join("\n");
}

/** What went wrong in a case: expected, happened, what it usually means. */
function failure(r: StepResult, c: CaseResult): string[] {
  const needed = STEPS.find((step) => step.id === c.needs);
  const lines = [
    ...(c.expected ? [`Expected: ${sentence(c.expected)}`] : []),
    `Happened: ${sentence(c.happened ?? "")}`,
  ];
  const next = needed
    ? `This step could not be checked: it needs step ${needed.number} ` +
      `(${needed.id}) to work first.`
    : `Usually this means: ${c.hint ?? r.step.hint}`;
  return [...lines, next].map(visible);
}

/** Ends `text` with a full stop, unless it ends with one already. */
const sentence = (text: string) => /[.!?)]$/.test(text) ? text : `${text}.`;

/** Wraps a paragraph to 74 columns (the caller indents it). */
function wrapText(text: string): string[] {
  const rows: string[] = [];
  let row = "";
  for (const word of visible(text).split(" ")) {
    if (row.length + word.length > 74 && row.trim() !== "") {
      rows.push(row.trimEnd());
      row = "  ";
    }
    row += word + " ";
  }
  rows.push(row.trimEnd());
  return rows;
}

/**
 * Gradescope's results.json (its autograder specification): a score, and
 * one test per step and role, each with its points and what went wrong.
 */
export function gradescope(report: Report): unknown {
  return {
    score: report.score,
    execution_time: Math.round(report.ms / 1000),
    output: [
      `deno-chat checker: ${report.score} of ${report.maxScore} steps.`,
      ...report.problems.map((p) => `The checker had to stop it: it ${p}.`),
    ].join("\n"),
    output_format: "text",
    visibility: "visible",
    stdout_visibility: "hidden",
    tests: report.results.map((r) => ({
      name: `${r.step.title} (as the ${r.role})`,
      number: `${r.step.number}.${r.role === "server" ? 1 : 2}`,
      score: r.status === "passed" ? 1 : 0,
      max_score: 1,
      status: r.status === "passed" ? "passed" : "failed",
      output: r.status === "skipped"
        ? `${r.reason}.`
        : r.cases.map((c) =>
          c.passed
            ? `✓ ${c.title}`
            : [`✗ ${c.title}`, ...failure(r, c)].join("\n")
        ).join("\n"),
      output_format: "text",
      tags: [r.step.id, r.role],
      visibility: "visible",
    })),
    extra_data: { command: report.command, ms: Math.round(report.ms) },
  };
}

/** The class table's header: student, score, then one column a step. */
export function csvHeader(report: Report): string[] {
  return [
    "student",
    "score",
    "max_score",
    "seconds",
    ...report.results.map((r) => `${r.step.number} ${r.step.id} (${r.role})`),
    "stopped because",
    "first failure",
  ];
}

/**
 * Did this step fail on a rule of its own? Not when it was not run, nor
 * when each of its failed cases needed an earlier step ("not checked yet").
 */
export const failedOnItsOwn = (r: StepResult) =>
  r.status === "failed" && r.cases.some((c) => !c.passed && !c.needs);

export function csvRow(student: string, report: Report): string[] {
  // The first failure of its own, as the text report's last line says.
  const first = report.results.find(failedOnItsOwn) ??
    report.results.find((r) => r.status === "failed");
  const firstCase = first?.cases.find((c) => !c.passed && !c.needs) ??
    first?.cases.find((c) => !c.passed);
  return [
    student,
    `${report.score}`,
    `${report.maxScore}`,
    (report.ms / 1000).toFixed(1),
    ...report.results.map((r) =>
      r.status === "passed" ? "1" : r.status === "failed" ? "0" : "-"
    ),
    report.problems.join("; "),
    first
      ? `${first.step.id} (${first.role}): ${firstCase?.happened ?? ""}`
      : "",
  ];
}

export const csvLine = (cells: string[]) =>
  cells.map((cell) =>
    /[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell
  ).join(",");

/**
 * Writes one SVG per conversation into `dir`, named after its step, role
 * and case (01-start-server-1.svg, ...). Returns how many.
 */
export async function writeSvgs(report: Report, dir: string): Promise<number> {
  await Deno.mkdir(dir, { recursive: true });
  let count = 0;
  for (const r of report.results) {
    for (const [index, c] of r.cases.entries()) {
      const name = `${String(r.step.number).padStart(2, "0")}-${r.step.id}-` +
        `${r.role}-${index + 1}`;
      const svg = sequenceSvg(sequenceOf(r, c), { id: name, cut: "middle" });
      await Deno.writeTextFile(`${dir}/${name}.svg`, svg);
      count++;
    }
  }
  return count;
}
