/**
 * Markdown to HTML with markdown-it (npm), in two strengths:
 *
 * - `comment()` for the prose taken from comments, which were written as
 *   plain text, not as Markdown: only paragraphs, lists, preformatted
 *   blocks, `code` and bare URLs mean anything; `*`, `_` and `\` stay
 *   what they are (`2**128`, `AF_INET`, `\u{1b}`).
 * - `document()` for the Markdown files (README.md, chat/README.md, the
 *   hands-on part): all of CommonMark and tables, with each link to a file
 *   of the project pointed at that file's page, or made plain text where
 *   the file has none, so that no link leads nowhere.
 *
 * Both may be given `name`, which links what prose names: a file of the
 * project (`chat/protocol.ts`, `conversation.ts`, README), a task
 * (`tcp-listener`, `deno task ports`), one of the book's programs
 * (`fragmented.py`), each to its page; and `document()` may be given
 * `refer`, which links a reference to another section of README
 * (`see "Experiments" below`) to where the book has that section.
 *
 * Raw HTML is never passed through: `<` in any text stays text.
 *
 * @module
 */
import MarkdownIt, { type MarkdownIt as Markdown } from "markdown-it";
import { DENO_API, denoDocs } from "./source.ts";

const escapeHtml = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/** `Deno.listen` in inline code becomes a link to its documentation. */
function linkDenoApis(md: Markdown): void {
  md.renderer.rules.code_inline = (tokens, index) => {
    const text = tokens[index].content;
    const html = escapeHtml(text);
    const whole = text.match(new RegExp(`^${DENO_API.source}`));
    if (whole && whole[0].length >= text.replace(/\(.*$/, "").length) {
      return `<a class="api" href="${denoDocs(whole[0])}"><code>${html}` +
        `</code></a>`;
    }
    return `<code>${html}</code>`;
  };
}

/**
 * Where what prose names leads (a relative link), or null: `text` is a
 * whole inline code span, or a word of text that looks like a file name.
 */
export type NameTarget = (text: string, inCode: boolean) => string | null;

/** Where a section of README named in a "see ..." leads, or null. */
export type SectionTarget = (name: string) => string | null;

interface Env {
  name?: NameTarget;
  refer?: SectionTarget;
  [key: string | symbol]: unknown;
}

/** A file's name in prose: `chat/protocol.ts`, `../README.md`, README. */
const FILE_NAME =
  /(?<![\w/.:@-])((?:\.\.?\/)*(?:[\w-]+\/)*[\w-]+\.(?:ts|md|py)|README)(?![\w/-]|\.\w)/g;
/**
 * `"Experiments" below`, `see "What the book gets wrong"`,
 * `(see Permissions)`: other parts of README, by name.
 */
const SEE =
  /"([^"\n]+)"( below| above)|(?<=\bsee )"([^"\n]+)"|(?<=\bsee )([A-Z][\w']*(?: [a-z][\w']*)*)/g;

/**
 * The links that prose names (see `Env`), added after markdown-it has
 * parsed the inline text: never inside a link, a heading's id unchanged.
 */
function linkNames(md: Markdown): void {
  md.core.ruler.push("book-names", (state) => {
    const env = state.env as Env;
    if (!env.name && !env.refer) return;
    const link = (href: string, inner: InstanceType<typeof state.Token>[]) => {
      const open = new state.Token("link_open", "a", 1);
      open.attrSet("href", href);
      return [open, ...inner, new state.Token("link_close", "a", -1)];
    };
    const text = (content: string) => {
      const token = new state.Token("text", "", 0);
      token.content = content;
      return token;
    };
    for (const block of state.tokens) {
      if (block.type !== "inline" || !block.children) continue;
      const out: InstanceType<typeof state.Token>[] = [];
      let depth = 0;
      for (const child of block.children) {
        if (child.type === "link_open") depth++;
        if (child.type === "link_close") depth--;
        if (depth > 0 || !env.name && child.type !== "text") {
          out.push(child);
          continue;
        }
        if (child.type === "code_inline" && env.name) {
          const href = env.name(child.content, true);
          out.push(...(href ? link(href, [child]) : [child]));
          continue;
        }
        if (child.type !== "text") {
          out.push(child);
          continue;
        }
        // Plain text: cut where a name or a reference stands.
        const found: {
          at: number;
          end: number;
          href: string;
          words: string;
        }[] = [];
        for (const m of child.content.matchAll(FILE_NAME)) {
          const href = env.name?.(m[1], false);
          if (href) {
            found.push({
              at: m.index,
              end: m.index + m[0].length,
              href,
              words: m[0],
            });
          }
        }
        for (const m of child.content.matchAll(SEE)) {
          const name = m[1] ?? m[3] ?? m[4];
          const href = env.refer?.(name);
          if (!href) continue;
          // "below" and "above" are no longer true on another page.
          const words = m[0].replace(/ (below|above)$/, "");
          found.push({ at: m.index, end: m.index + m[0].length, href, words });
        }
        found.sort((a, b) => a.at - b.at);
        let at = 0;
        for (const f of found) {
          if (f.at < at) continue;
          if (f.at > at) out.push(text(child.content.slice(at, f.at)));
          out.push(...link(f.href, [text(f.words)]));
          at = f.end;
        }
        if (at === 0) out.push(child);
        else if (at < child.content.length) {
          out.push(text(child.content.slice(at)));
        }
      }
      block.children = out;
    }
  });
}

const commentRenderer = new MarkdownIt("zero", { linkify: true })
  .enable(["paragraph", "list", "fence", "code", "backticks", "linkify"]);
linkDenoApis(commentRenderer);
linkNames(commentRenderer);

/** Prose from comments as HTML. */
export function comment(text: string, options: { name?: NameTarget } = {}) {
  const env: Env = { name: options.name };
  return keepFlagsWhole(commentRenderer.render(text, env));
}

/** A title (inline Markdown: only `code` counts) as HTML. */
export function titleHtml(text: string): string {
  return commentRenderer.renderInline(text);
}

/**
 * `--port` and `-N` in prose kept on one line: a browser may break a line
 * after a hyphen, and `-` at the end of one line with `-port` on the next
 * reads as something else. (Only outside code, which never wraps.)
 */
function keepFlagsWhole(html: string): string {
  let inCode = 0;
  return html.split(/(<[^>]+>)/).map((part) => {
    if (part.startsWith("<")) {
      if (/^<(code|pre)\b/.test(part)) inCode++;
      if (/^<\/(code|pre)>/.test(part)) inCode--;
      return part;
    }
    if (inCode > 0) return part;
    return part.replace(
      /(^|[\s(])(--?[A-Za-z][\w=.:,-]*)/g,
      '$1<span class="flag">$2</span>',
    );
  }).join("");
}

/** Where a link to a project file should go (relative), or null. */
export type LinkTarget = (path: string, hash: string) => string | null;

/**
 * A Markdown file as HTML. `link` maps a project path (from the top, no
 * leading ./) to a page; `from` is the Markdown file's own path.
 * Headings get ids from their text (`#what-the-book-gets-wrong`), and
 * `shift` moves every heading level down (2 makes `#` an `<h3>`).
 */
export function document(
  text: string,
  options: {
    from: string;
    link: LinkTarget;
    shift?: number;
    name?: NameTarget;
    refer?: SectionTarget;
  },
): string {
  const md = new MarkdownIt({ html: false, linkify: true });
  linkDenoApis(md);
  const folder = options.from.includes("/")
    ? options.from.slice(0, options.from.lastIndexOf("/") + 1)
    : "";
  const used = new Set<string>();
  md.core.ruler.push("book", (state) => {
    for (let i = 0; i < state.tokens.length; i++) {
      const token = state.tokens[i];
      if (token.type === "heading_open") {
        const level = Math.min(6, Number(token.tag[1]) + (options.shift ?? 0));
        token.tag = `h${level}`;
        state.tokens[i + 2].tag = `h${level}`;
        let id = slug(state.tokens[i + 1].content);
        for (let n = 2; used.has(id); n++) id = `${slug(id)}-${n}`;
        used.add(id);
        token.attrSet("id", id);
      }
      const children = token.children ?? [];
      for (let j = 0; j < children.length; j++) {
        const child = children[j];
        if (child.type !== "link_open") continue;
        const href = String(child.attrGet("href") ?? "");
        if (/^[a-z][a-z+.-]*:/i.test(href)) continue; // https:, mailto:
        if (href.startsWith("#")) continue;
        const [path, hash = ""] = href.split("#");
        const target = options.link(normalise(folder + path), hash);
        if (target !== null) {
          child.attrSet("href", target);
          continue;
        }
        // No page for it: keep the text, drop the link.
        let depth = 0;
        for (let k = j; k < children.length; k++) {
          if (children[k].type === "link_open") depth++;
          if (children[k].type === "link_close") depth--;
          if (depth === 0) {
            children.splice(k, 1);
            break;
          }
        }
        children.splice(j, 1);
        j--;
      }
    }
  });
  // After the links written in the file: those it adds are pages already.
  linkNames(md);
  const env: Env = { name: options.name, refer: options.refer };
  return md.render(text, env);
}

/** `tools/../chat/README.md` -> `chat/README.md`. */
export function normalise(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") out.pop();
    else if (part !== "." && part !== "") out.push(part);
  }
  return out.join("/") + (path.endsWith("/") && out.length ? "/" : "");
}

/** A heading's text as an id: "What the book gets wrong" -> what-the-... */
export function slug(text: string): string {
  return text.toLowerCase().replace(/`/g, "").replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-|-$/g, "") || "section";
}

/** A Markdown file cut into its sections: heading text -> the Markdown. */
export function sections(
  text: string,
  level = 2,
): { heading: string; body: string }[] {
  const marker = "#".repeat(level) + " ";
  const out: { heading: string; body: string }[] = [];
  let fence = false;
  for (const line of text.split("\n")) {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    if (!fence && line.startsWith(marker)) {
      out.push({ heading: line.slice(marker.length).trim(), body: "" });
    } else if (out.length > 0) {
      out.at(-1)!.body += line + "\n";
    }
  }
  return out;
}

/** The cells of the first table in `markdown`, as rows of raw Markdown. */
export function table(markdown: string): string[][] {
  const rows: string[][] = [];
  for (const line of markdown.split("\n")) {
    if (!line.trim().startsWith("|")) {
      if (rows.length > 0) break;
      continue;
    }
    const cells = line.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
    rows.push(cells);
  }
  return rows;
}

/** Inline Markdown (one table cell) as HTML. */
export function inline(
  text: string,
  options: {
    from: string;
    link: LinkTarget;
    name?: NameTarget;
    refer?: SectionTarget;
  },
): string {
  return document(text, options).replace(/^<p>|<\/p>\n?$/g, "");
}
