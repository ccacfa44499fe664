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

const commentRenderer = new MarkdownIt("zero", { linkify: true })
  .enable(["paragraph", "list", "fence", "code", "backticks", "linkify"]);
linkDenoApis(commentRenderer);

/** Prose from comments as HTML. */
export function comment(text: string): string {
  return keepFlagsWhole(commentRenderer.render(text));
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
  options: { from: string; link: LinkTarget; shift?: number },
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
  return md.render(text);
}

/** `tools/../chat/README.md` -> `chat/README.md`. */
function normalise(path: string): string {
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
  options: { from: string; link: LinkTarget },
): string {
  return document(text, options).replace(/^<p>|<\/p>\n?$/g, "");
}
