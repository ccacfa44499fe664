/**
 * The book in a browser: `deno task book` builds a static site from the
 * lessons into _book/ (git ignores it); open _book/index.html.
 * `deno task book --serve` also serves it on http://127.0.0.1:8000/ and
 * builds it again when a lesson changes (`--port N` for another port).
 *
 * Each page is made from its file: the header comment is the page's
 * introduction, each comment block the prose beside the code it explains,
 * the whole file is shown, highlighted here at build time (shiki), with
 * every `Deno.*` API linked to its documentation. Transcripts come from
 * tools/book/transcripts/ (recorded by `deno task book-record`), pictures
 * from real packets and those runs (pictures.ts). No page has a script:
 * reading needs no JavaScript, and nothing is fetched from elsewhere.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };
import type { Token } from "./highlight.ts";
import {
  comment,
  document,
  inline,
  type LinkTarget,
  type NameTarget,
  normalise,
  sections,
  type SectionTarget,
  slug,
  titleHtml,
} from "./markdown.ts";
import {
  findPages,
  OUT,
  type Page,
  relative,
  ROOT,
  type Row,
  urlOf,
} from "./pages.ts";
import { type Picture, pictures } from "./pictures.ts";
import { denoDocs, readSource } from "./source.ts";
import { STYLE } from "./style.ts";
import {
  readTranscripts,
  type Terminal,
  type Transcript,
} from "./transcript.ts";

const TITLE = "Chapter 12, Networking";

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/** Colour classes for highlighted code: one per (light, dark) pair. */
class Colours {
  #classes = new Map<string, string>();
  of(token: Token): string {
    const key = `${token.light}|${token.dark}|${token.fontStyle & 3}`;
    let name = this.#classes.get(key);
    if (!name) {
      name = `k${this.#classes.size}`;
      this.#classes.set(key, name);
    }
    return name;
  }
  css(): string {
    const light: string[] = [];
    const dark: string[] = [];
    for (const [key, name] of this.#classes) {
      const [themeLight, themeDark, style] = key.split("|");
      // GitHub's grey for comments reads at 4.3:1 on a code block: made a
      // little darker (lighter in the dark) until it reads at 4.5:1.
      const l = readable(themeLight || "#1f2328", CODE_BG.light, 0);
      const d = readable(themeDark || "#e6edf3", CODE_BG.dark, 255);
      const font = (Number(style) & 1 ? "font-style:italic;" : "") +
        (Number(style) & 2 ? "font-weight:bold;" : "");
      light.push(`.${name}{color:${l};${font}}`);
      dark.push(`.${name}{color:${d}}`);
    }
    return `${light.join("\n")}\n@media (prefers-color-scheme:dark){\n` +
      `${dark.join("\n")}\n}\n`;
  }
}

/** The backgrounds of code blocks (style.ts's --code-bg). */
const CODE_BG = { light: "#f6f8fa", dark: "#161b22" };

/** WCAG's contrast ratio of two colours written #rrggbb. */
export function contrast(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** `colour` moved towards black (0) or white (255) until 4.6:1 on `bg`. */
function readable(colour: string, bg: string, towards: number): string {
  let hex = colour.slice(0, 7).toLowerCase();
  for (let step = 0; step < 40 && contrast(hex, bg) < 4.6; step++) {
    hex = "#" + [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16);
      const moved = Math.round(c + (towards - c) * 0.08);
      return moved.toString(16).padStart(2, "0");
    }).join("");
  }
  return hex;
}

/** One line of code as HTML, with `Deno.x` linked to its documentation. */
function codeLine(tokens: Token[], colours: Colours): string {
  const text = tokens.map((t) => t.text).join("");
  // Where the links are: code only, not comments or strings.
  const plain = tokens.map((t) =>
    t.comment || t.string ? " ".repeat(t.text.length) : t.text
  ).join("");
  const links: { start: number; end: number; api: string }[] = [];
  for (const m of plain.matchAll(/\bDeno\.(errors\.[A-Z]\w*|[A-Za-z_]\w*)/g)) {
    links.push({ start: m.index, end: m.index + m[0].length, api: m[0] });
  }
  let html = "";
  let at = 0;
  let open: (typeof links)[number] | undefined;
  for (const token of tokens) {
    let start = at;
    const end = at + token.text.length;
    while (start < end) {
      const link = links.find((l) => l.start >= start && l.start < end);
      const cut = Math.min(
        end,
        open ? open.end : link ? link.start : end,
      );
      if (!open && link && link.start === start) {
        html += `<a class="api" href="${denoDocs(link.api)}">`;
        open = link;
        continue;
      }
      const piece = text.slice(start, cut === start ? end : cut);
      html += `<span class="${colours.of(token)}">${escape(piece)}</span>`;
      start += piece.length;
      if (open && start >= open.end) {
        html += "</a>";
        open = undefined;
      }
    }
    at = end;
  }
  if (open) html += "</a>";
  return html || " ";
}

function codeBlock(lines: Token[][], colours: Colours): string {
  return `<pre class="code"><code>${
    lines.map((line) => codeLine(line, colours)).join("\n")
  }</code></pre>`;
}

/** Both terminals of a transcript, side by side on a wide screen. */
function transcriptHtml(transcript: Transcript): string {
  const terminal = (t: Terminal) => {
    const lines: string[] = [];
    let ctrlC = false;
    for (const entry of t.entries) {
      if (entry.command !== undefined) {
        lines.push(
          `<span class="prompt">$ </span><b>${escape(entry.command)}</b>`,
        );
      } else if (entry.key !== undefined) {
        ctrlC = true;
      } else {
        const text = entry.out ?? entry.err ?? "";
        const key = ctrlC ? `<span class="key">^C</span>` : "";
        ctrlC = false;
        lines.push(
          entry.err !== undefined
            ? `${key}<span class="err">${escape(text)}</span>`
            : key + escape(text),
        );
      }
    }
    if (ctrlC) lines.push(`<span class="key">^C</span>`);
    return `<figure class="terminal"><figcaption>${escape(t.name)}` +
      `</figcaption><pre>${lines.join("\n")}</pre></figure>`;
  };
  const varies = transcript.check === "commands"
    ? "Its figures differ from run to run (what is lost, and when, is " +
      "chance): the test compares only its commands and headings. Run it " +
      "yourself and compare."
    : "";
  const notes = [transcript.note ?? "", varies].filter((n) => n !== "");
  const note = notes.length > 0
    ? `<p class="note">${escape(notes.join(" "))}</p>`
    : "";
  return `<section class="run" id="run-${transcript.name}">` +
    `<h3>${escape(transcript.title)}</h3>${note}` +
    `<div class="terminals n${transcript.terminals.length}">` +
    transcript.terminals.map(terminal).join("") + `</div></section>`;
}

/** Each `<code>` of some HTML that names a page, linked to it. */
function linkCode(html: string, name: NameTarget): string {
  return html.replace(/<code>([^<]*)<\/code>/g, (whole, code: string) => {
    const text = code.replaceAll("&lt;", "<").replaceAll("&gt;", ">")
      .replaceAll("&quot;", '"').replaceAll("&amp;", "&");
    const href = name(text, true);
    return href ? `<a href="${href}">${whole}</a>` : whole;
  });
}

/**
 * The narrowest a picture is drawn, as a share of its own width: at 85% its
 * 13 px text reads at 11 px, its 11 px text at 9.4 px. A screen narrower
 * than that scrolls the picture sideways, inside its frame, as code does.
 */
const PICTURE_SCALE = 0.85;

function pictureHtml(picture: Picture, page: Page, name: NameTarget): string {
  const file = relative(page.url, `pictures/${picture.id}.svg`);
  const width = Number(picture.svg.match(/viewBox="0 0 ([\d.]+)/)![1]);
  const svg = picture.svg.replace(
    "<svg ",
    `<svg style="min-width:${Math.ceil(width * PICTURE_SCALE)}px" `,
  );
  return `<figure class="picture" id="picture-${picture.id}">` +
    `<div class="drawing">${svg}</div>` +
    `<figcaption>${linkCode(picture.caption, name)} <span class="source">` +
    `Drawn from ` +
    `${escape(picture.source)}. <a href="${file}">The picture alone` +
    `</a>.</span></figcaption></figure>`;
}

/** A title as plain text (for the window's title): no backticks. */
const plain = (title: string) => title.replaceAll("`", "");

/**
 * A title short enough to link with: without a closing "(...)" and at
 * most about 90 characters (cut after a clause, else after a word).
 */
export function shortTitle(title: string): string {
  let short = title.replace(/\s*\((?:[^()]|\([^()]*\))*\)$/, "");
  if (short.length < 12) short = title;
  if (short.length > 90) {
    const clause = Math.max(
      short.lastIndexOf(", ", 90),
      short.lastIndexOf(": ", 90),
      short.lastIndexOf("; ", 90),
    );
    short = clause >= 20
      ? short.slice(0, clause)
      : `${short.slice(0, short.lastIndexOf(" ", 88))}…`;
  }
  // A `code` span cut in two is not code any more.
  if ((short.match(/`/g) ?? []).length % 2 === 1) {
    short = short.replace(/`([^`]*)$/, "$1");
  }
  return short;
}

/** The frame of every page. */
function frame(
  page: Page,
  title: string,
  body: string,
  neighbours: { previous?: Page; next?: Page; titles: Map<string, string> },
): string {
  const home = relative(page.url, "index.html");
  const link = (label: string, target?: Page) =>
    target
      ? `<a rel="${label === "Previous" ? "prev" : "next"}" href="${
        relative(page.url, target.url)
      }"><span>${label}</span> ${
        titleHtml(shortTitle(neighbours.titles.get(target.url)!))
      }</a>`
      : "";
  const nav = neighbours.previous || neighbours.next
    ? `<nav class="pager" aria-label="Previous and next page">${
      link("Previous", neighbours.previous)
    }${link("Next", neighbours.next)}</nav>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escape(plain(page.kind === "index" ? title : shortTitle(title)))}${
    page.kind === "index" ? "" : ` · ${TITLE}`
  }</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${relative(page.url, "style.css")}">
</head>
<body>
<header class="top"><a href="${home}">${TITLE}</a>${
    page.section ? ` <span>· ${escape(page.section)}</span>` : ""
  }</header>
<main>
${body}
${nav}
</main>
<footer><!--served-->Built by <code>deno task book</code> from the files
of the project; every transcript was recorded from a real run.</footer>
</body>
</html>
`;
}

/** The `deno task` lines that run a page's file, with what they run. */
function runBox(page: Page): string {
  const tasks: Record<string, { command: string; description: string }> =
    config.tasks;
  const lines = page.tasks.map((task) => {
    const [name, ...rest] = task.split(" ");
    const command = [tasks[name]?.command ?? "", ...rest].join(" ");
    return `<span class="prompt">$ </span><b>deno task ${escape(task)}</b>\n` +
      `<span class="prompt">  runs </span>${escape(command)}`;
  });
  return lines.length
    ? `<figure class="runs"><figcaption>How to run it (the task's ` +
      `command line, with the permissions it grants):</figcaption>` +
      `<pre>${lines.join("\n")}</pre></figure>`
    : "";
}

interface Context {
  colours: Colours;
  transcripts: Transcript[];
  pictures: Picture[];
  pages: Page[];
  rows: Row[];
  readme: string;
  /** The book's programs (`fragmented.py`) -> the site path of ours. */
  bookPrograms: Map<string, string>;
  /** Files linked from a page that are no page: copied into files/. */
  copies: Set<string>;
}

const exists = (path: string) => {
  try {
    return Deno.statSync(new URL(path, ROOT)).isFile;
  } catch {
    return false;
  }
};

/** Files a page may link to without a page of their own: copied whole. */
const COPIED = /^(?!\.|.*\/\.)[\w./-]+\.(py|txt|json|csv|sh)$/;

/** Where README's section with this id is in the book. */
function readmeSection(context: Context, hash: string): string {
  const heading = sections(context.readme).find((s) => slug(s.heading) === hash)
    ?.heading ?? "";
  if (/^What the book gets wrong/.test(heading)) return "wrong.html";
  if (/^The lessons/.test(heading)) return "index.html#the-chapter";
  return `notes.html#${hash}`;
}

/** Links from a Markdown file to project files: to their pages. */
function linker(page: Page, context: Context): LinkTarget {
  const pages = context.pages;
  return (path: string, hash: string) => {
    if (path === "README.md" && hash) {
      return relative(page.url, readmeSection(context, hash));
    }
    const target = pages.find((p) =>
      p.kind !== "wrong" && p.kind !== "index" && (
        p.path === path || (path.endsWith("/") && p.path.startsWith(path) &&
          p.url === urlOf(`${path}README.md`)) ||
        (path.endsWith("/") && p.path === `${path}${path.split("/").at(-2)}.ts`)
      )
    );
    if (!target) {
      // A file with no page (a Python starter): a copy of it, to read or
      // to save.
      if (COPIED.test(path) && exists(path)) {
        context.copies.add(path);
        return relative(page.url, `files/${path}`);
      }
      return null;
    }
    return relative(page.url, target.url) + (hash ? `#${hash}` : "");
  };
}

/**
 * What prose names, linked: a task (`tcp-listener`, `deno task lab loss`)
 * to its page, a file of the project (`conversation.ts` beside the page,
 * `chat/README.md` from the top, README) to its page, one of the book's
 * programs (`fragmented.py`) to our lesson for it. Never to the page
 * itself.
 */
function namer(page: Page, context: Context): NameTarget {
  const folder = page.path.slice(0, page.path.lastIndexOf("/") + 1);
  const link = linker(page, context);
  const self = relative(page.url, page.url);
  const notSelf = (href: string | null) =>
    href === null || href === self || href.startsWith(`${self}#`) ? null : href;
  return (text: string, inCode: boolean) => {
    const words = text.trim();
    if (inCode) {
      // `deno task lab loss --count 9`, `lab clean`, `tcp-listener`.
      const task = words.match(/^(?:deno task )?([\w-]+)(?: ([\w-]+))?/);
      const named = task &&
        (words.startsWith("deno task ") || task[0] === words);
      for (const name of named ? [`${task[1]} ${task[2]}`, task[1]] : []) {
        const target = context.pages.find((p) => p.tasks.includes(name));
        if (target) return notSelf(relative(page.url, target.url));
      }
      if (!/^(?:\.\.?\/)*(?:[\w-]+\/)*[\w-]+\.(?:ts|md|py)$/.test(words)) {
        return null;
      }
    }
    const path = words === "README" ? "README.md" : words;
    for (const candidate of [normalise(folder + path), normalise(path)]) {
      if (exists(candidate)) return notSelf(link(candidate, ""));
    }
    const ours = context.bookPrograms.get(words);
    return ours ? notSelf(relative(page.url, ours)) : null;
  };
}

/** `see "Experiments" below` in README's text: to where that section is. */
function referrer(page: Page, context: Context): SectionTarget {
  const headings = sections(context.readme).map((s) => s.heading);
  return (name: string) => {
    const heading = headings.find((h) =>
      h === name || h.startsWith(`${name} `) || h.startsWith(`${name},`)
    );
    if (heading) {
      return relative(page.url, readmeSection(context, slug(heading)));
    }
    // The rows "marked "Exercise"" of the table: the index's chapter.
    return context.rows.some((row) => row.book.split(" ").includes(name))
      ? relative(page.url, "index.html#the-chapter")
      : null;
  };
}

/** What every Markdown file of the project is rendered with. */
function markdownOptions(page: Page, context: Context, from: string) {
  return {
    from,
    link: linker(page, context),
    name: namer(page, context),
    ...(from === "README.md" ? { refer: referrer(page, context) } : {}),
  };
}

async function sourcePage(page: Page, context: Context) {
  const text = await Deno.readTextFile(new URL(page.path, ROOT));
  const source = await readSource(text);
  const plainFile = relative(page.url, `files/${page.path}.txt`);
  const name = namer(page, context);
  const title = source.title || page.path;
  // A first sentence too long for a heading: the heading is its start,
  // and the sentence opens the introduction.
  const heading = title.length > 140 ? shortTitle(title) : title;
  const intro = heading === title
    ? source.intro
    : `${title}.\n\n${source.intro}`;
  const parts: string[] = [];
  parts.push(`<h1>${titleHtml(heading)}</h1>`);
  parts.push(
    `<p class="meta">The file <a href="${plainFile}"><code>${page.path}` +
      `</code></a>, shown whole below.</p>`,
  );
  parts.push(`<div class="intro">${comment(intro, { name })}</div>`);
  parts.push(runBox(page));
  const runs = context.transcripts.filter((t) =>
    t.tasks.some((task) => page.tasks.includes(task))
  );
  if (runs.length > 0) {
    parts.push(`<h2 id="a-real-run">A real run</h2>`);
    // Only where it is true: the recorder ran these on free ports.
    const ported = runs.some((t) => t.defaultPorts)
      ? ` (The recorder used free ports the system picked; shown here is ` +
        `the lesson's default port, the one you will see.)`
      : "";
    parts.push(
      `<p>Recorded by <code>deno task book-record</code>, which runs the ` +
        `lessons as you would; a test runs them again and fails when ` +
        `what they print no longer matches.${ported}</p>`,
    );
    parts.push(...runs.map(transcriptHtml));
  }
  const drawn = context.pictures.filter((p) =>
    p.tasks.some((task) => page.tasks.includes(task))
  );
  if (drawn.length > 0) {
    parts.push(`<h2 id="pictures">Pictures</h2>`);
    parts.push(...drawn.map((p) => pictureHtml(p, page, name)));
  }
  parts.push(`<h2 id="the-code">The code</h2>`);
  const used = new Set<string>();
  for (const part of source.parts) {
    if (part.kind === "heading") {
      let id = slug(part.text);
      while (used.has(id)) id += "-";
      used.add(id);
      parts.push(`<h3 id="${id}">${escape(part.text)}</h3>`);
      continue;
    }
    const prose = part.prose ? comment(part.prose, { name }) : "";
    const code = part.code.length ? codeBlock(part.code, context.colours) : "";
    parts.push(
      `<div class="segment${prose ? "" : " bare"}${code ? "" : " only"}">` +
        `<div class="prose">${prose}</div><div class="source">${code}</div>` +
        `</div>`,
    );
  }
  if (source.denoApis.length > 0) {
    parts.push(`<h2 id="deno-apis">Deno's APIs on this page</h2>`);
    parts.push(
      `<ul class="apis">${
        source.denoApis.map((api) =>
          `<li><a class="api" href="${
            denoDocs(api)
          }"><code>${api}</code></a></li>`
        ).join("")
      }</ul>`,
    );
  }
  await write(`files/${page.path}.txt`, text);
  return { title, body: parts.join("\n") };
}

async function markdownPage(page: Page, context: Context) {
  const text = await Deno.readTextFile(new URL(page.path, ROOT));
  const heading = text.match(/^# (.+)$/m);
  const title = heading ? heading[1].trim() : page.path;
  const rest = heading ? text.replace(heading[0], "") : text;
  const body =
    `<h1>${titleHtml(title)}</h1>\n<p class="meta">From <code>${
      escape(page.path)
    }</code>.</p>\n` +
    document(rest, markdownOptions(page, context, page.path));
  return { title, body };
}

function wrongPage(page: Page, context: Context) {
  const section = sections(context.readme).find((s) =>
    /^What the book gets wrong/.test(s.heading)
  )!;
  const body = `<h1>${titleHtml(section.heading)}</h1>\n` +
    `<p class="meta">From README.md, the section of that name. Each ` +
    `slip links to the lesson that does otherwise.</p>\n` +
    document(section.body, {
      ...markdownOptions(page, context, "README.md"),
      shift: 1,
    });
  return { title: section.heading, body };
}

/** Notes: README's sections that no other page shows. */
function notesPage(page: Page, context: Context) {
  const kept = sections(context.readme).filter((s) =>
    !/^What the book gets wrong|^The lessons/.test(s.heading)
  );
  const title = "Notes on running the lessons";
  const markdown = kept.map((s) => `## ${s.heading}\n${s.body}`).join("\n");
  const body = `<h1>${title}</h1>\n` +
    `<p class="meta">From README.md: its sections but the table of lessons ` +
    `(the contents page) and what the book gets wrong (its own page).</p>\n` +
    document(markdown, markdownOptions(page, context, "README.md"));
  return { title, body };
}

function indexPage(page: Page, context: Context) {
  const options = markdownOptions(page, context, "README.md");
  const intro = context.readme.split(/\n## /)[0].replace(/^# .*\n/, "");
  const titles = new Map<string, string>();
  const parts: string[] = [];
  const name = namer(page, context);
  /** A command in code, linked to its page. */
  const code = (text: string) => {
    const href = name(text, true);
    const html = `<code>${escape(text)}</code>`;
    return href ? `<a href="${href}">${html}</a>` : html;
  };
  parts.push(`<h1>${TITLE}, as runnable Deno lessons</h1>`);
  parts.push(document(intro, options));
  parts.push(
    `<p>Each lesson is a page: what it teaches, both terminals of a real ` +
      `run, pictures drawn from real packets, then the whole program with ` +
      `the explanation beside the lines it explains. Run a server in one ` +
      `terminal (${code("deno task tcp-server")}) and its client in ` +
      `another, and watch the two talk. Previous and Next, at the foot of ` +
      `each page, go through the pages in the order of this one.</p>`,
  );
  parts.push(`<h2 id="the-chapter">The chapter, in the book's order</h2>`);
  parts.push(`<ol class="lessons">`);
  for (const row of context.rows) {
    const pages = row.paths.map((path) =>
      context.pages.find((p) => p.path === path)
    ).filter((p) => p !== undefined);
    const links = pages.map((p) =>
      `<a href="${relative(page.url, p.url)}"><code>${
        escape(p.path)
      }</code></a>`
    ).join(", ");
    const run = row.tasks.map((task) =>
      `<code>deno task ${escape(task)}</code>`
    )
      .join(", ");
    parts.push(
      `<li><h3>${escape(row.book)}</h3><p>${
        inline(row.shows, options)
      }</p><p class="how">Run ${run || "—"}; read ${links || "—"}.</p></li>`,
    );
  }
  parts.push(`</ol>`);
  const group = (part: Page["part"]) =>
    context.pages.filter((p) =>
      p.part === part && (p.kind === "source" || p.kind === "markdown")
    );
  const list = (pages: Page[], kind = "pages") =>
    `<ul class="${kind}">${
      pages.map((p) =>
        `<li><a href="${relative(page.url, p.url)}">${
          titleHtml(shortTitle(titles.get(p.url) ?? p.path))
        }<code class="path">${escape(p.path)}</code></a></li>`
      ).join("")
    }</ul>`;
  const handsOn = group("hands-on");
  const teachers = group("teachers");
  if (handsOn.length > 0 || teachers.length > 0) {
    parts.push(`<h2 id="hands-on">Hands-on: the activity and exercises</h2>`);
    parts.push(
      `<p>Each exercise stands in the chapter above, after its section, and ` +
        `the activity's task sheet under Activity 12.1. Here, the rest:</p>`,
    );
    parts.push(`<!--hands-on-->`);
  }
  if (teachers.length > 0) {
    parts.push(`<h3 id="for-teachers">For teachers</h3>`);
    parts.push(
      `<p>The exercises' solutions and the answers to their Reflect ` +
        `questions: not in the pages' Previous and Next, so that no ` +
        `student meets them by turning the page.</p>`,
    );
    parts.push(`<!--teachers-->`);
  }
  if (context.pages.some((p) => p.kind === "wrong")) {
    parts.push(`<h2 id="wrong">What the book gets wrong</h2>`);
    parts.push(
      `<p>The book's code has slips; each lesson says, at its line, what ` +
        `the book did and why we do otherwise.</p>`,
    );
    parts.push(`<!--wrong-->`);
  }
  if (context.pages.some((p) => p.kind === "notes")) {
    parts.push(`<h2 id="notes">Notes</h2>`);
    parts.push(
      `<p>Quick start, permissions, the experiments with real packets, ` +
        `troubleshooting, watching the traffic: the rest of README.</p>`,
    );
    parts.push(`<!--notes-->`);
  }
  parts.push(`<h2 id="more">The other files</h2>`);
  parts.push(
    `<p>The rest of the chat, and the lab's machinery: each file whole.</p>`,
  );
  parts.push(`<!--more-->`);
  parts.push(`<h2 id="reading">Reading it served</h2>`);
  parts.push(
    `<p>Opened from <code>deno task book --serve</code>, these pages come ` +
      `from a server like section 12.4's: <code>tools/book/serve.ts</code> ` +
      `listens on 127.0.0.1 with <code>Deno.serve</code> and answers each ` +
      `request of your browser in HTTP, the protocol ` +
      `${code("deno task tcp-client")} speaks by hand.</p>`,
  );
  return {
    title: TITLE,
    body: parts.join("\n"),
    finish: (all: Map<string, string>) => {
      for (const [url, title] of all) titles.set(url, title);
      const kind = (kind: Page["kind"]) =>
        list(context.pages.filter((p) => p.kind === kind));
      return (html: string) =>
        html.replace("<!--hands-on-->", list(handsOn))
          .replace("<!--teachers-->", list(teachers, "teachers"))
          .replace("<!--wrong-->", kind("wrong"))
          .replace("<!--notes-->", kind("notes"))
          .replace("<!--more-->", list(group("more")));
    },
  };
}

let out = OUT;

async function write(path: string, text: string): Promise<void> {
  const url = new URL(path, out);
  await Deno.mkdir(new URL(".", url), { recursive: true });
  await Deno.writeTextFile(url, text);
}

/** Lesson pages by the book's program each stands for (`tcp_server.py`). */
function bookPrograms(pages: Page[]): Map<string, string> {
  const programs = new Map<string, string>();
  for (const page of pages) {
    if (!page.path.startsWith("chapters/")) continue;
    const text = Deno.readTextFileSync(new URL(page.path, ROOT));
    const header = text.slice(0, text.indexOf("*/"));
    const name = header.match(/\(section [^)]*the book's ([\w-]+\.py)\)/)?.[1];
    if (name && !programs.has(name)) programs.set(name, page.url);
  }
  return programs;
}

/** Builds the whole site into _book/ (or `into`). Returns its pages. */
export async function build(into: URL = OUT): Promise<Page[]> {
  out = into;
  const { pages, rows } = findPages();
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const transcripts = [...readTranscripts().values()];
  const context: Context = {
    colours: new Colours(),
    transcripts,
    pictures: await pictures(transcripts),
    pages,
    rows,
    readme,
    bookPrograms: bookPrograms(pages),
    copies: new Set(),
  };
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const made = new Map<string, { title: string; body: string }>();
  let index: ReturnType<typeof indexPage> | undefined;
  for (const page of pages) {
    if (page.kind === "source") {
      made.set(page.url, await sourcePage(page, context));
    }
    if (page.kind === "markdown") {
      made.set(page.url, await markdownPage(page, context));
    }
    if (page.kind === "wrong") made.set(page.url, wrongPage(page, context));
    if (page.kind === "notes") made.set(page.url, notesPage(page, context));
    if (page.kind === "index") {
      index = indexPage(page, context);
      made.set(page.url, index);
    }
  }
  const titles = new Map([...made].map(([url, { title }]) => [url, title]));
  const fill = index?.finish(titles) ?? ((html: string) => html);
  // Previous and next: one chain for readers, in the index's order, and
  // one for teachers (the solutions), so that each page has its place once.
  const chains = [
    pages.filter((p) => p.part !== "teachers"),
    pages.filter((p) => p.part === "teachers"),
  ];
  for (const chain of chains) {
    for (const [i, page] of chain.entries()) {
      const { title, body } = made.get(page.url)!;
      const previous = chain[i - 1];
      const next = chain[i + 1];
      const html = frame(page, title, body, { previous, next, titles });
      await write(page.url, page.kind === "index" ? fill(html) : html);
    }
  }
  for (const path of context.copies) {
    await write(`files/${path}`, await Deno.readTextFile(new URL(path, ROOT)));
  }
  for (const picture of context.pictures) {
    await write(`pictures/${picture.id}.svg`, picture.standalone);
  }
  await write("style.css", STYLE + context.colours.css());
  return pages;
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(
      "Usage: deno task book [--serve [--port PORT]]\n" +
        "Builds the book (every lesson as a page) into _book/; open " +
        "_book/index.html.\n" +
        "  --serve      also serve it on http://127.0.0.1:PORT/ and build " +
        "again when a file changes\n" +
        "  --port PORT  the port for --serve (default 8000; 0: a free one)",
    );
    Deno.exit(0);
  }
  const serve = Deno.args.includes("--serve");
  const portFlag = Deno.args.indexOf("--port");
  const port = portFlag >= 0 ? Number(Deno.args[portFlag + 1]) : 8000;
  const unknown = Deno.args.filter((arg, i) =>
    arg !== "--serve" && arg !== "--port" &&
    !(i > 0 && Deno.args[i - 1] === "--port")
  );
  if (unknown.length > 0 || !(port >= 0 && port <= 65535)) {
    console.error(
      "error: usage: deno task book [--serve [--port PORT]] (default port 8000)",
    );
    Deno.exit(2);
  }
  const started = performance.now();
  const pages = await build();
  console.log(
    `Built ${pages.length} pages into _book/ in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s: open _book/index.html`,
  );
  if (serve) {
    const { serveBook } = await import("./serve.ts");
    await serveBook({ port, rebuild: () => build() });
  }
}
