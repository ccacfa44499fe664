/**
 * The benchmark's report: each figure is a small table with one line per
 * server (ours, the book's Python, Node.js, the limits), each value the
 * median of the runs with their min–max, then what the figure is bound by
 * and its targets (met or missed; never asserted).
 *
 * @module
 */

/** The median of several runs, with the smallest and largest. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(runs: number[]): Spread {
  const sorted = [...runs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1)!, runs };
}

/** One server's line in a figure. */
export interface Entry {
  /** "ours (Deno 2.9.6)", "book (Python 3.11.7)", "Node.js 20.20.2"... */
  server: string;
  /** Requests per second, MB/s, ms or MB: the figure's `unit`. */
  value?: Spread;
  /** CPU time the server process used per request: the figure's `costUnit`. */
  cost?: Spread;
  /** Connections that waited more than a second, per run. */
  stalls?: Spread;
  /** The longest any connection waited, over all runs, in ms. */
  longestWaitMs?: number;
  /** Anything a reader must know about this line. */
  note?: string;
}

/** A target printed beside a figure: met or missed, never asserted. */
export interface Target {
  text: string;
  /** How it came out, e.g. "0.91x" or "41 MB vs 52 MB". */
  measured: string;
  met: boolean;
}

export interface Figure {
  /** A short stable key for --json readers, e.g. "greetings-8". */
  key: string;
  title: string;
  /** What the figure means, one or two sentences, printed under it. */
  about?: string;
  unit: string;
  /** "higher" when more is better (rates), "lower" for times and memory. */
  better: "higher" | "lower";
  costUnit?: string;
  entries: Entry[];
  /** Generator-bound, scheduler-bound, skipped peers... */
  notes: string[];
  targets: Target[];
}

/** 12,345 / 123 / 12.3 / 1.23: enough digits to compare, no more. */
export function format(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

/** "12,345 (11,900–12,800)", or just the value for a single run. */
export function formatSpread(
  value: Spread | undefined,
  formatOne: (value: number) => string = format,
): string {
  if (value === undefined) return "";
  if (value.runs.length === 1 || value.min === value.max) {
    return formatOne(value.median);
  }
  return `${formatOne(value.median)} (${formatOne(value.min)}–${
    formatOne(value.max)
  })`;
}

/** A count: a whole number (a median of two runs may end in .5). */
const formatCount = (value: number) =>
  Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(1);

function formatWait(ms: number | undefined): string {
  if (ms === undefined) return "";
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** A Markdown table row; a `|` inside a cell (`nc | openssl`) is escaped. */
function row(cells: string[]): string {
  return `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
}

/** One figure as a Markdown table, with its notes and targets under it. */
export function figureMarkdown(figure: Figure): string {
  const hasCost = figure.entries.some((entry) => entry.cost);
  const hasStalls = figure.entries.some((entry) => entry.stalls);
  const hasNote = figure.entries.some((entry) => entry.note);
  // The cost per request first: it is the headline, as it does not depend
  // on the load generator.
  const header = ["server"];
  if (hasCost) header.push(`CPU ${figure.costUnit}`);
  header.push(figure.unit);
  if (hasStalls) header.push("stalls per run (> 1 s)", "longest wait");
  if (hasNote) header.push("note");
  const lines = [
    `### ${figure.title}`,
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
  ];
  for (const entry of figure.entries) {
    const cells = [entry.server];
    if (hasCost) cells.push(formatSpread(entry.cost));
    cells.push(formatSpread(entry.value));
    if (hasStalls) {
      cells.push(
        formatSpread(entry.stalls, formatCount),
        formatWait(entry.longestWaitMs),
      );
    }
    if (hasNote) cells.push(entry.note ?? "");
    lines.push(row(cells));
  }
  const after: string[] = [];
  if (figure.about) after.push(figure.about);
  for (const note of figure.notes) after.push(note);
  for (const target of figure.targets) {
    after.push(
      `Target: ${target.text}: ${target.measured}, ` +
        `**${target.met ? "met" : "missed"}**.`,
    );
  }
  if (after.length > 0) lines.push("", ...after.map((line) => `- ${line}`));
  return lines.join("\n");
}

/** Every target of the run, one line each, for the end of the report. */
export function targetsMarkdown(figures: Figure[]): string {
  const lines = ["### Targets", ""];
  for (const figure of figures) {
    for (const target of figure.targets) {
      lines.push(
        `- ${target.met ? "met" : "MISSED"}: ${target.text} ` +
          `(${figure.title}): ${target.measured}`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * The headline: the CPU per request of every figure that has one, one
 * column per server (`columns`: a heading, and the names the server goes
 * by in the figures' entries). Empty when no figure has a CPU per request.
 */
export function headlineMarkdown(
  figures: Figure[],
  columns: { heading: string; servers: string[] }[],
): string {
  const lines = [
    "### Cost per request (CPU time of the server process, median)",
    "",
    `| figure | ${columns.map((c) => c.heading).join(" | ")} | unit |`,
    `|---|${columns.map(() => "---").join("|")}|---|`,
  ];
  for (const figure of figures) {
    const costs = columns.map((column) =>
      figure.entries.find((entry) => column.servers.includes(entry.server))
        ?.cost
    );
    if (costs.every((cost) => cost === undefined)) continue;
    const cells = costs.map((cost) => cost ? format(cost.median) : "");
    lines.push(row([figure.title, ...cells, figure.costUnit ?? ""]));
  }
  return lines.length > 4 ? lines.join("\n") : "";
}
