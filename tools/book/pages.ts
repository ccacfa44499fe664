/**
 * Which pages the book has, in which order, and what each is about: found
 * from the files themselves, so that a lesson added, moved or renamed gets
 * its page at the next build with no list to keep.
 *
 * - The order is the book's: the table under "The lessons" in README.md
 *   (its columns Book, Task, File and What it shows), row by row.
 * - Every file of chapters/ and chat/, every lab experiment (tools/lab/),
 *   the tour, and the Markdown and TypeScript files of activity/ and
 *   exercises/ (the hands-on part, when they exist) gets a page; a file the
 *   table does not name comes after the last page of its own folder.
 * - "What the book gets wrong" is README's section of that name; README's
 *   other sections (but the table, which is the index) are the Notes page.
 * - One reading order, the index's: the chapter's pages row by row, the
 *   hands-on part (what the table did not already name), what the book
 *   gets wrong, the notes, then the other files. Every page stands in it
 *   once; Previous and Next follow it. The exercises' solutions are for
 *   teachers: a chain of their own, out of a reader's way.
 * - A page's tasks are the deno.json tasks that run its file
 *   (`tcp-server`), or the lab's experiment named after it (`lab router`).
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };
import { sections, table } from "./markdown.ts";

/** The project's top folder. */
export const ROOT = new URL("../../", import.meta.url);

/** Where the site goes (git ignores it). */
export const OUT = new URL("_book/", ROOT);

export interface Page {
  /** The file it is made from (from the top), "" for made-up pages. */
  path: string;
  /** Where it goes in the site, e.g. `chapters/12_4_tcp_server.html`. */
  url: string;
  kind: "source" | "markdown" | "wrong" | "notes" | "index";
  /** The tasks that run this file: `tcp-server`, `lab router`. */
  tasks: string[];
  /** The book's section, from README's table ("12.4 TCP server"). */
  section: string;
  /**
   * The part of the index it is listed in. Pages of "teachers" (the
   * exercises' solutions) are not in a reader's Previous/Next.
   */
  part: "chapter" | "hands-on" | "more" | "teachers";
}

/** One row of README's table of lessons. */
export interface Row {
  book: string;
  tasks: string[];
  /** Markdown of the row's "What it shows". */
  shows: string;
  /** The pages it links (paths of files). */
  paths: string[];
}

/** Folders whose files are the hands-on part (other issues write them). */
export const HANDS_ON = ["activity", "exercises"];

/** The folder of the hands-on part that is for teachers only. */
export const TEACHERS = "exercises/solutions/";

const exists = (path: string) => {
  try {
    Deno.statSync(new URL(path, ROOT));
    return true;
  } catch {
    return false;
  }
};

/** Files of `folder` ending in one of `endings`, sorted; recursive. */
function files(folder: string, endings: string[], deep = false): string[] {
  const found: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(new URL(folder, ROOT))];
  } catch {
    return [];
  }
  for (const entry of entries) {
    const path = `${folder}${entry.name}`;
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    if (entry.isDirectory && deep) {
      found.push(...files(`${path}/`, endings, deep));
    }
    if (entry.isFile && endings.some((end) => entry.name.endsWith(end))) {
      found.push(path);
    }
  }
  // README.md first in its folder, then the rest by name.
  return found.sort((a, b) =>
    Number(!a.endsWith("README.md")) - Number(!b.endsWith("README.md")) ||
    a.localeCompare(b)
  );
}

/** The site's file for a project file: .ts/.md -> .html, README -> index. */
export function urlOf(path: string): string {
  if (/(^|\/)README\.md$/.test(path)) {
    return path.replace(/README\.md$/, "index.html");
  }
  return path.replace(/\.(ts|md)$/, ".html");
}

/** A link from page `from` to page `to`, both site paths. */
export function relative(from: string, to: string): string {
  const up = from.split("/").length - 1;
  return "../".repeat(up) + to;
}

/** Task name -> its file, from deno.json (`chapters/12_4_tcp_server.ts`). */
export function taskFiles(): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, task] of Object.entries(config.tasks)) {
    const file = task.command.match(/\s([\w./-]+\.ts)\b/);
    if (file && !file[1].startsWith("tools/book/")) map.set(name, file[1]);
  }
  return map;
}

/** The file a task (maybe with an argument: `lab router`) stands for. */
function fileOfTask(task: string, files: Map<string, string>): string | null {
  const [name, argument] = task.split(/\s+/);
  const file = files.get(name);
  if (!file) return null;
  if (!argument) return file;
  const folder = file.slice(0, file.lastIndexOf("/") + 1);
  const candidate = `${folder}${argument.replaceAll("-", "_")}.ts`;
  return exists(candidate) ? candidate : null;
}

/** README's table of lessons, row by row. */
export function lessonRows(readme: string): Row[] {
  const section = sections(readme).find((s) => /^The lessons/.test(s.heading));
  if (!section) return [];
  const [head, ...rows] = table(section.body);
  if (!head) return [];
  const column = (name: RegExp) => head.findIndex((cell) => name.test(cell));
  const book = column(/^Book/i), task = column(/^Task/i);
  const file = column(/^File/i), shows = column(/^What/i);
  const files = taskFiles();
  return rows.map((cells) => {
    const tasks = [...(cells[task] ?? "").matchAll(/`([^`]+)`/g)]
      .map((m) => m[1]);
    const links = [...(cells[file] ?? "").matchAll(/\]\(([^)#\s]+)/g)]
      .map((m) => m[1]);
    const paths: string[] = [];
    for (const link of links) {
      const main = link.endsWith("/") ? mainOfFolder(link) : link;
      if (main && exists(main)) paths.push(main);
    }
    for (const name of tasks) {
      const path = fileOfTask(name, files);
      if (path) paths.push(path);
    }
    return {
      book: cells[book] ?? "",
      tasks,
      shows: cells[shows] ?? "",
      paths: [...new Set(paths)],
    };
  });
}

/** A folder's main file: its README.md, or the .ts named like it. */
function mainOfFolder(folder: string): string | null {
  if (exists(`${folder}README.md`)) return `${folder}README.md`;
  const name = folder.replace(/\/$/, "").split("/").at(-1);
  return exists(`${folder}${name}.ts`) ? `${folder}${name}.ts` : null;
}

/** The tasks that run `path`. */
function tasksOf(path: string, files: Map<string, string>): string[] {
  const tasks = [...files].filter(([, file]) => file === path)
    .map(([name]) => name);
  if (tasks.length > 0) return tasks;
  // A lab experiment: `lab router` runs tools/lab/router.ts.
  for (const [name, file] of files) {
    const folder = file.slice(0, file.lastIndexOf("/") + 1);
    if (!path.startsWith(folder) || path.includes("/", folder.length)) continue;
    const argument = path.slice(folder.length).replace(/\.ts$/, "")
      .replaceAll("_", "-");
    const main = Deno.readTextFileSync(new URL(file, ROOT));
    if (main.includes(`"${argument}"`)) return [`${name} ${argument}`];
  }
  return [];
}

/** Every page of the book, in reading order, and README's table. */
export function findPages(): { pages: Page[]; rows: Row[] } {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const rows = lessonRows(readme);
  const tasks = taskFiles();
  const all = new Set<string>([
    ...files("chapters/", [".ts"]),
    ...files("chat/", [".ts", ".md"]),
    ...files("tools/lab/", [".ts"]),
    ...rows.flatMap((row) => row.paths),
  ]);
  const handsOnFiles = HANDS_ON.flatMap((folder) =>
    files(`${folder}/`, [".md", ".ts"], true)
  );

  const order: string[] = [];
  const section = new Map<string, string>();
  for (const row of rows) {
    for (const path of row.paths) {
      if (!order.includes(path)) order.push(path);
      if (!section.has(path)) section.set(path, row.book);
    }
  }
  // The rest: after the last page of the same folder, else at the end.
  for (const path of all) {
    if (order.includes(path)) continue;
    const folder = path.slice(0, path.lastIndexOf("/") + 1);
    const last = order.findLastIndex((p) =>
      p.slice(0, p.lastIndexOf("/") + 1) === folder
    );
    const at = last < 0 ? order.length : last + 1;
    order.splice(at, 0, path);
    if (last >= 0) section.set(path, section.get(order[last]) ?? "");
  }
  const chapterPaths = new Set(rows.flatMap((row) => row.paths));
  const page = (path: string, part: Page["part"]): Page => ({
    path,
    url: urlOf(path),
    kind: path.endsWith(".md") ? "markdown" : "source",
    tasks: tasksOf(path, tasks),
    section: section.get(path) ?? "",
    part,
  });
  const made = (
    url: string,
    kind: Page["kind"],
    path = "README.md",
  ): Page => ({ path, url, kind, tasks: [], section: "", part: "more" });
  const readmeSections = sections(readme).map((s) => s.heading);
  const hasWrong = readmeSections.some((h) =>
    /^What the book gets wrong/.test(h)
  );
  const hasNotes = readmeSections.some((h) =>
    !/^What the book gets wrong|^The lessons/.test(h)
  );
  // The reading order: each page once, where the index first names it.
  const chapter = order.filter((path) => chapterPaths.has(path));
  const rest = order.filter((path) => !chapterPaths.has(path) && !isPart(path));
  const handsOn = handsOnFiles.filter((path) => !chapterPaths.has(path));
  return {
    pages: [
      made("index.html", "index", ""),
      ...chapter.map((path) => page(path, "chapter")),
      ...handsOn.filter((path) => !path.startsWith(TEACHERS))
        .map((path) => page(path, "hands-on")),
      ...(hasWrong ? [made("wrong.html", "wrong")] : []),
      ...(hasNotes ? [made("notes.html", "notes")] : []),
      ...rest.map((path) => page(path, "more")),
      ...handsOn.filter((path) => path.startsWith(TEACHERS))
        .map((path) => page(path, "teachers")),
    ],
    rows,
  };
}

/** Whether a path belongs to the hands-on part. */
function isPart(path: string): boolean {
  return HANDS_ON.some((folder) => path.startsWith(`${folder}/`));
}
