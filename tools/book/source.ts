/**
 * A TypeScript file taken apart the way the book shows it: the header
 * comment (the page's title and introduction), then segments, each a block
 * of comments (the prose) with the code it sits above, and the heading
 * comments (`// ---- The command line ...: as in every lesson ----`) as the
 * page's headings. Every line of the file lands in exactly one place, so the
 * whole file is on the page. Comments are told from code by the grammar
 * (shiki's scopes), not by guessing: a `//` inside a string stays code.
 *
 * @module
 */
import { type Token, tokenize } from "./highlight.ts";

/** A block of prose beside the code it explains. */
export interface Segment {
  kind: "segment";
  /** The comments above the code, as Markdown (may be empty). */
  prose: string;
  /** The code lines, highlighted. */
  code: Token[][];
  /** Number (from 1) of the first code line in the file. */
  line: number;
}

/** A heading comment: `// ---- The command line: as in every lesson ----`. */
export interface Heading {
  kind: "heading";
  text: string;
}

/** A source file as a page. */
export interface SourcePage {
  /**
   * The header's first sentence (Markdown: `code` may be in it), without
   * its full stop; the rest of the header is the introduction.
   */
  title: string;
  /** The rest of the header, as Markdown. */
  intro: string;
  parts: (Segment | Heading)[];
  /** Every `Deno.x` (and `Deno.errors.X`) the code uses, in order. */
  denoApis: string[];
}

type Kind = "blank" | "comment" | "code";

/** Lines such as `// deno-lint-ignore no-explicit-any`: they are code. */
const DIRECTIVE = /^\s*\/\/\s*deno-(fmt|lint)-ignore/;
/** `// ---- Title ----` or `// ------------ title`: a heading. */
const HEADING = /^\s*\/\/\s*-{3,}\s*(.*?)\s*-*\s*$/;

function kindOf(tokens: Token[], text: string): Kind {
  if (text.trim() === "") return "blank";
  if (DIRECTIVE.test(text)) return "code";
  const words = tokens.filter((token) => token.text.trim() !== "");
  return words.every((token) => token.comment) ? "comment" : "code";
}

/** The text of a comment line without its `//`, `/**`, `*` or `*\/`. */
function commentText(line: string): string {
  return line
    .replace(/^\s*\/\/ ?/, "")
    .replace(/^\s*\/\*\*?\s?/, "")
    .replace(/\s*\*\/\s*$/, "")
    .replace(/^\s*\* ?/, "")
    .replace(/^\s*\*$/, "");
}

/**
 * Comment text as Markdown: lines indented past the block's left edge
 * (commands, output, diagrams) become preformatted blocks, unless they
 * continue a list item; everything else is prose, where `code` in
 * backticks and lists keep their meaning.
 */
export function commentMarkdown(lines: string[]): string {
  const out: string[] = [];
  const indents = lines.filter((line) => line.trim() !== "")
    .map((line) => line.match(/^ */)![0].length);
  const base = Math.min(...indents, 80);
  let inList = false;
  let pre: string[] = [];
  const flush = () => {
    while (pre.length > 0 && pre.at(-1)!.trim() === "") pre.pop();
    if (pre.length > 0) out.push("```text", ...pre, "```");
    pre = [];
  };
  for (const raw of lines) {
    const line = raw.slice(Math.min(base, raw.match(/^ */)![0].length));
    const indented = /^ {2,}\S/.test(line);
    if (line.trim() === "") {
      if (pre.length > 0) pre.push("");
      else out.push("");
      inList = false;
      continue;
    }
    if (/^([-*]|\d+\.) \S/.test(line)) {
      flush();
      inList = true;
      out.push(line);
      continue;
    }
    if (indented && !(inList && pre.length === 0)) {
      if (pre.length === 0 && out.length > 0 && out.at(-1) !== "") {
        out.push(""); // a preformatted block starts a new paragraph
      }
      pre.push(line.slice(2));
      continue;
    }
    flush();
    out.push(inList ? line : line.trimStart());
  }
  flush();
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

/** Reads a .ts file into its title, introduction and segments. */
export async function readSource(source: string): Promise<SourcePage> {
  const tokens = await tokenize(source);
  const lines = source.replace(/\n$/, "").split("\n");
  const kinds = lines.map((line, i) => kindOf(tokens[i] ?? [], line));

  // The header: the comment lines at the top (a /** ... */ block, or
  // `//` lines), up to the first code.
  let start = 0;
  while (start < lines.length && kinds[start] === "blank") start++;
  let end = start;
  if (/^\s*\/\*/.test(lines[start] ?? "")) {
    while (end < lines.length && !/\*\//.test(lines[end])) end++;
    end++;
  } else {
    while (end < lines.length && kinds[end] === "comment") end++;
  }
  const headerLines = lines.slice(start, end).map(commentText)
    .filter((line) => !/^\s*@module\s*$/.test(line));
  const header = commentMarkdown(headerLines);
  const [first, ...rest] = header.split(/\n\s*\n/);
  const [title, more] = firstSentence((first ?? "").replace(/\s+/g, " "));
  const intro = [...(more ? [more] : []), ...rest].join("\n\n");

  const parts: (Segment | Heading)[] = [];
  let prose: string[] = [];
  let code: Token[][] = [];
  let codeStart = 0;
  const push = () => {
    while (code.length > 0 && code.at(-1)!.every((t) => !t.text.trim())) {
      code.pop();
    }
    if (prose.length > 0 || code.length > 0) {
      parts.push({
        kind: "segment",
        prose: commentMarkdown(prose),
        code,
        line: codeStart + 1,
      });
    }
    prose = [];
    code = [];
  };
  for (let i = end; i < lines.length; i++) {
    const kind = kinds[i];
    if (kind === "comment") {
      const heading = lines[i].match(HEADING);
      if (heading) {
        push();
        if (heading[1]) parts.push({ kind: "heading", text: heading[1] });
        continue;
      }
      if (code.length > 0) push();
      prose.push(commentText(lines[i]));
    } else if (kind === "blank") {
      if (code.length > 0) code.push([]);
      else if (prose.length > 0) prose.push("");
    } else {
      if (code.length === 0) codeStart = i;
      code.push(
        tokens[i] ?? [{
          text: lines[i],
          light: "",
          dark: "",
          comment: false,
          string: false,
          fontStyle: 0,
        }],
      );
    }
  }
  push();
  return { title, intro, parts, denoApis: denoApis(tokens) };
}

/**
 * A paragraph cut after its first sentence: at the first full stop that
 * ends a sentence (followed by a space or the end), outside brackets,
 * quotes and `code`, and not an "e.g." or "i.e.". Returns the sentence
 * without its full stop, and the rest.
 */
export function firstSentence(text: string): [string, string] {
  let depth = 0;
  let code = false;
  let quote = false;
  const trimmed = text.trim();
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed[i];
    if (c === "`") code = !code;
    if (code) continue;
    if (c === '"') quote = !quote;
    if (c === "(" || c === "[") depth++;
    if ((c === ")" || c === "]") && depth > 0) depth--;
    if (
      c === "." && depth === 0 && !quote &&
      (i + 1 === trimmed.length || trimmed[i + 1] === " ") &&
      !/\b(e\.g|i\.e|etc)$/.test(trimmed.slice(0, i))
    ) {
      return [trimmed.slice(0, i), trimmed.slice(i + 1).trim()];
    }
  }
  return [trimmed, ""];
}

/** `Deno.listen`, `Deno.errors.AddrInUse`, ... in code (not in comments). */
export const DENO_API = /\bDeno\.(errors\.[A-Z]\w*|[A-Za-z_]\w*)/g;

function denoApis(tokens: Token[][]): string[] {
  const found = new Set<string>();
  for (const line of tokens) {
    const code = line.map((token) =>
      token.comment || token.string ? " ".repeat(token.text.length) : token.text
    ).join("");
    for (const match of code.matchAll(DENO_API)) found.add(match[0]);
  }
  return [...found];
}

/** Where Deno documents an API, e.g. Deno.listen. */
export function denoDocs(api: string): string {
  return `https://docs.deno.com/api/deno/~/${api}`;
}
