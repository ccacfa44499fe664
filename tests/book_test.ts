// The book in a browser (tools/book/): every lesson has its page; the
// transcripts on the pages are what the lessons print today (recorded
// again here and compared); the examples in the lessons' headers are what
// a real run prints; and a real browser (Debian's chromium, driven by
// puppeteer-core) reads every page: no console error, no failed request,
// no request that leaves the machine, every link and anchor resolves,
// nothing scrolls sideways at 390 px but code, text and code readable in
// light and dark, headings in order, every picture with a text
// alternative, and no script at all.

import { assert, assertEquals } from "@std/assert";
import { build } from "../tools/book/build.ts";
import { CHROMIUM, launch } from "../tools/book/browser.ts";
import type { Page } from "../tools/book/pages.ts";
import { answer } from "../tools/book/serve.ts";
import { record } from "../tools/book/record.ts";
import {
  checkHeader,
  difference,
  readTranscripts,
  type Transcript,
} from "../tools/book/transcript.ts";
import { ROOT } from "./_helpers.ts";
import { inspect, inspectPicture } from "./_book_page.js";

/** The .ts and .md files of a folder (from the top), if it exists. */
function filesOf(folder: string, endings = [".ts"]): string[] {
  try {
    return [...Deno.readDirSync(new URL(folder, ROOT))]
      .filter((e) => e.isFile && endings.some((end) => e.name.endsWith(end)))
      .map((e) => `${folder}${e.name}`).sort();
  } catch {
    return [];
  }
}

const site = await Deno.makeTempDir({ prefix: "book-test-" });
const OUT = new URL(`file://${site}/`);
let built: Promise<Page[]> | undefined;
/** The book, built once for all the tests below; its pages. */
function bookPages(): Promise<Page[]> {
  built ??= build(OUT);
  return built;
}
/** The site paths of the book's pages. */
async function book(): Promise<string[]> {
  return (await bookPages()).map((page) => page.url);
}

let fresh: Promise<Map<string, Transcript | "skip">> | undefined;
/** Every lesson run again now, as the recorder runs them. */
function freshRuns() {
  fresh ??= record();
  return fresh;
}

Deno.test("book: every lesson, the chat, the lab and the hands-on part have a page, linked from the index", async () => {
  const urls = await book();
  const index = await Deno.readTextFile(new URL("index.html", OUT));
  const files = [
    ...filesOf("chapters/"),
    ...filesOf("chat/", [".ts", ".md"]),
    ...filesOf("tools/lab/"),
    ...["activity/", "exercises/"].flatMap((f) => filesOf(f, [".md", ".ts"])),
  ];
  assert(files.length > 20, `only ${files.length} files found`);
  for (const file of files) {
    const url = file.endsWith("README.md")
      ? file.replace(/README\.md$/, "index.html")
      : file.replace(/\.(ts|md)$/, ".html");
    assert(urls.includes(url), `${file} has no page`);
    assert(index.includes(`href="${url}"`), `the index does not link ${url}`);
    const html = await Deno.readTextFile(new URL(url, OUT));
    // The whole file is on the page: each of its code lines is there.
    if (file.endsWith(".ts")) {
      const source = await Deno.readTextFile(new URL(file, ROOT));
      const text = html.replace(/<[^>]+>/g, "").replaceAll("&lt;", "<")
        .replaceAll("&gt;", ">").replaceAll("&quot;", '"')
        .replaceAll("&amp;", "&");
      const code = source.split("\n").filter((l) => /^\s*[\w}{)(]/.test(l));
      for (const line of code) {
        assert(
          text.includes(line.trim()),
          `${file}: "${line}" not on the page`,
        );
      }
    }
  }
  assert(urls.includes("wrong.html"), "no page for what the book gets wrong");
});

/** A page's Previous and Next (site paths), from its pager. */
async function neighbours(url: string) {
  const html = await Deno.readTextFile(new URL(url, OUT));
  const target = (rel: string) => {
    const href = html.match(new RegExp(`<a rel="${rel}" href="([^"]+)"`))
      ?.[1];
    return href && new URL(href, new URL(url, OUT)).href.slice(OUT.href.length);
  };
  return { html, previous: target("prev"), next: target("next") };
}

Deno.test("book: Previous and Next go through every page once, in the index's order, each the other's way back", async () => {
  const urls = await book();
  const solutions = urls.filter((url) =>
    url.startsWith("exercises/solutions/")
  );
  assert(urls.includes("exercises/solutions/index.html"));
  const walks: string[][] = [];
  for (const start of ["index.html", "exercises/solutions/index.html"]) {
    const walk = [start];
    const first = await neighbours(start);
    assertEquals(first.previous, undefined, `${start} has a Previous`);
    for (let at = first; at.next; at = await neighbours(walk.at(-1)!)) {
      assert(!walk.includes(at.next), `${at.next} reached twice: ${walk}`);
      assert(urls.includes(at.next), `${walk.at(-1)} links a missing page`);
      // Previous mirrors Next.
      assertEquals(
        (await neighbours(at.next)).previous,
        walk.at(-1),
        `${at.next}'s Previous is not ${walk.at(-1)}, whose Next it is`,
      );
      walk.push(at.next);
    }
    walks.push(walk);
  }
  const [reader, teachers] = walks;
  // Every page once: the readers' pages in one walk, the teachers' (the
  // solutions) in the other, none of them in a reader's way.
  assertEquals(
    [...reader].sort(),
    urls.filter((url) => !solutions.includes(url)).sort(),
  );
  assertEquals([...teachers].sort(), [...solutions].sort());
  // In the index's order: the chapter row by row, then the rest.
  const index = await Deno.readTextFile(new URL("index.html", OUT));
  const listed: string[] = [];
  for (
    const list of index.matchAll(
      /<p class="how">.*?<\/p>|<ul class="pages">.*?<\/ul>/gs,
    )
  ) {
    for (const m of list[0].matchAll(/href="([^"#]+)"/g)) {
      if (!listed.includes(m[1])) listed.push(m[1]);
    }
  }
  assertEquals(reader.slice(1), listed);
});

/** Text of some HTML: tags out, entities back. */
const textOf = (html: string) =>
  html.replace(/<[^>]+>/g, "").replaceAll("&lt;", "<").replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"').replaceAll("&amp;", "&").trim();

Deno.test("book: titles are one sentence with its `code` rendered, and links to pages are short", async () => {
  const urls = await book();
  const wrong: string[] = [];
  for (const url of urls) {
    const html = await Deno.readTextFile(new URL(url, OUT));
    const h1 = textOf(html.match(/<h1>(.*?)<\/h1>/s)?.[1] ?? "");
    if (h1.length > 140) wrong.push(`${url}: a heading of ${h1.length}: ${h1}`);
    const title = textOf(html.match(/<title>(.*?)<\/title>/s)?.[1] ?? "");
    for (const m of html.matchAll(/<a rel="(?:prev|next)"[^>]*>(.*?)<\/a>/gs)) {
      const link = textOf(m[1].replace(/<span>(Previous|Next)<\/span>/, ""));
      if (link.length > 90) {
        wrong.push(`${url}: a link of ${link.length}: ${link}`);
      }
    }
    // No Markdown left raw outside code: no backtick in the text read.
    const prose = textOf(
      html.replace(/<(pre|code|style|title)\b.*?<\/\1>/gs, ""),
    );
    for (const text of [title, prose]) {
      const at = text.indexOf("`");
      if (at >= 0) {
        wrong.push(`${url}: a raw backtick: ${text.slice(at - 40, at + 20)}`);
      }
    }
  }
  assertEquals(wrong, [], wrong.join("\n"));
});

/** `a/../b/./c.ts` -> `b/c.ts`. */
function tidy(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "." && part !== "") parts.push(part);
  }
  return parts.join("/");
}

const isFile = (path: string) => {
  try {
    return Deno.statSync(new URL(path, ROOT)).isFile;
  } catch {
    return false;
  }
};

Deno.test("book: every file, task and book program that prose names is a link, and no reference leads to a section the page lacks", async () => {
  const pages = await bookPages();
  const tasks = Object.keys(
    JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks,
  );
  // The book's programs our lessons stand for ("the book's tcp_server.py").
  const programs = new Set<string>();
  for (const file of filesOf("chapters/")) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    for (const m of text.matchAll(/the book's ([\w-]+\.py)\)/g)) {
      programs.add(m[1]);
    }
  }
  const unlinked: string[] = [];
  for (const page of pages) {
    const html = await Deno.readTextFile(new URL(page.url, OUT));
    const own = page.path === "" ? "README.md" : page.path;
    const folder = own.slice(0, own.lastIndexOf("/") + 1);
    const body = (html.match(/<main>([\s\S]*)<\/main>/)?.[1] ?? "")
      .replace(/<pre\b[\s\S]*?<\/pre>/g, "")
      .replace(/<h1>[\s\S]*?<\/h1>/g, "")
      .replace(/<svg\b[\s\S]*?<\/svg>/g, "")
      .replace(/<p class="how">[\s\S]*?<\/p>/g, "")
      .replace(/<a\b[\s\S]*?<\/a>/g, "");
    // A file the book has (a page, or a copy of a Python file), not this.
    const named = (name: string) => {
      const path = name === "README" ? "README.md" : name;
      const found = [tidy(folder + path), tidy(path)].find(isFile);
      return found !== undefined && found !== own &&
        (pages.some((p) => p.path === found) || found.endsWith(".py"));
    };
    for (const m of body.matchAll(/<code>([^<]*)<\/code>/g)) {
      const code = textOf(m[1]);
      const task = code.match(/^(?:deno task )?([\w-]+)(?: ([\w-]+))?/);
      // The page of the task named (the most precise first): not this.
      const target = task &&
        (code.startsWith("deno task ") || task[0] === code) &&
        tasks.includes(task[1]) &&
        [`${task[1]} ${task[2]}`, task[1]].map((t) =>
          pages.find((p) => p.tasks.includes(t))
        ).find((p) => p !== undefined);
      const isTask = target && target !== page;
      const isFileName = /^[\w./-]+\.(ts|md|py)$/.test(code) &&
        (named(code) || programs.has(code));
      if (isTask || isFileName) unlinked.push(`${page.url}: ${code}`);
    }
    const prose = textOf(body.replace(/<code>[^<]*<\/code>/g, " "));
    const words =
      /(?<![\w/.:@-])((?:\.\.?\/)*(?:[\w-]+\/)*[\w-]+\.(?:ts|md|py)|README)(?![\w/-]|\.\w)/g;
    for (const m of prose.matchAll(words)) {
      if (named(m[1])) unlinked.push(`${page.url}: ${m[1]}`);
    }
    // A section "below" or "above" that is in another file.
    for (const m of prose.matchAll(/"[^"\n]+" (below|above)/g)) {
      unlinked.push(`${page.url}: ${m[0]}`);
    }
  }
  assertEquals(unlinked, [], unlinked.join("\n"));
});

Deno.test("book: pictures show what differs and a newline one way, and say where their packets come from", async () => {
  const pages = await bookPages();
  const wrong: string[] = [];
  for (const entry of Deno.readDirSync(new URL("pictures/", OUT))) {
    const svg = await Deno.readTextFile(new URL(`pictures/${entry.name}`, OUT));
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)]
      .map((m) => textOf(m[1]));
    // One way to show a newline in every picture, the lessons' \u{a}.
    for (const text of texts.filter((t) => /\\n/.test(t))) {
      wrong.push(`${entry.name}: "\\n" in ${text}`);
    }
    // Arrows that carry different frames are labelled differently.
    if (entry.name === "chat.svg") {
      const hellos = texts.filter((t) => t.includes('"hello"'));
      assertEquals(hellos.length, 2, `the chat's hellos: ${hellos}`);
      if (hellos[0] === hellos[1]) {
        wrong.push(`chat.svg: both hellos ${hellos[0]}`);
      }
      for (const name of ["alice", "bob"]) {
        if (!hellos.some((h) => h.includes(`"${name}"`))) {
          wrong.push(`chat.svg: no hello shows the username ${name}`);
        }
      }
    }
  }
  // A picture drawn from packets between other addresses than the runs
  // on its page says where they come from.
  const transcripts = [...readTranscripts().values()];
  for (const page of pages) {
    const html = await Deno.readTextFile(new URL(page.url, OUT));
    const runs = [...html.matchAll(/<section class="run"[\s\S]*?<\/section>/g)]
      .map((m) => textOf(m[0])).join("\n");
    for (
      const figure of html.matchAll(
        /<figure class="picture"[\s\S]*?<\/figure>/g,
      )
    ) {
      const drawn = figure[0].replace(/<figcaption>[\s\S]*$/, "");
      const caption = textOf(
        figure[0].match(/<figcaption>([\s\S]*?)<\/figcaption>/)?.[1] ?? "",
      );
      const addresses = new Set(
        [
          ...textOf(drawn.replace(/<desc[\s\S]*?<\/desc>/, "")).matchAll(
            /\b(\d+\.\d+\.\d+\.\d+)\b/g,
          ),
        ]
          .map((m) => m[1]),
      );
      for (const address of addresses) {
        if (!runs.includes(address) && !caption.includes(address)) {
          wrong.push(
            `${page.url}: the caption does not say where ${address} is`,
          );
        }
      }
    }
    // The note on free ports: only where the recorder used them.
    const shown = transcripts.filter((t) =>
      t.tasks.some((task) => page.tasks.includes(task))
    );
    const noted = html.includes("free ports");
    if (noted !== shown.some((t) => t.defaultPorts)) {
      wrong.push(
        `${page.url}: the note on free ports is ${noted ? "there" : "missing"}`,
      );
    }
  }
  assertEquals(wrong, [], wrong.join("\n"));
});

Deno.test("book: no page has a script, and the index is in the book's order", async () => {
  const urls = await book();
  for (const url of urls) {
    const html = await Deno.readTextFile(new URL(url, OUT));
    assert(!/<script\b|\son\w+=/i.test(html), `${url} has a script`);
  }
  const index = await Deno.readTextFile(new URL("index.html", OUT));
  const order = [...index.matchAll(/href="(chapters\/[^"]+)"/g)]
    .map((m) => m[1]);
  assert(
    order.indexOf("chapters/12_1_address.html") <
      order.indexOf("chapters/12_6_pickle.html"),
    "the index is not in the book's order",
  );
});

Deno.test("book: the committed transcripts are what the lessons print today", async () => {
  const committed = readTranscripts();
  const runs = await freshRuns();
  const stale: string[] = [];
  for (const [name, run] of runs) {
    if (run === "skip") {
      console.log(`  (${name}: the lab cannot run here; not compared)`);
      continue;
    }
    const old = committed.get(name);
    if (!old) stale.push(`${name}: not recorded yet`);
    else {
      const differs = difference(old, run);
      if (differs) stale.push(differs);
    }
    // Nothing of a cold cache ("Download https://...") in a transcript.
    const text = JSON.stringify(run);
    assert(!/Download https?:/.test(text), `${name} caught a download line`);
  }
  assertEquals(
    stale,
    [],
    `transcripts no longer match a fresh run: deno task book-record\n` +
      stale.join("\n"),
  );
});

Deno.test("book: a lab run is compared computer by computer where two print at once", () => {
  const run = (lines: string[]): Transcript => ({
    name: "lab-two",
    title: "Two",
    tasks: ["lab two"],
    check: "each computer",
    terminals: [{
      name: "Terminal 1",
      entries: [
        { command: "deno task lab two" },
        ...lines.map((out) => ({ out })),
      ],
    }],
  });
  const recorded = run([
    "as ip netns exec denolab-16616-a",
    "  A | Connection from: 10.77.0.2:52206",
    "  B | 0. Hi new friend!",
    "  A | Server stopped (SIGINT).",
  ]);
  // B first this time, another process id and port: the same run.
  const again = run([
    "as ip netns exec denolab-4242-a",
    "  B | 0. Hi new friend!",
    "  A | Connection from: 10.77.0.2:41000",
    "  A | Server stopped (SIGINT).",
  ]);
  assertEquals(difference(recorded, again), "");
  // One computer's own lines in another order: not the same run.
  const swapped = run([
    "as ip netns exec denolab-16616-a",
    "  A | Server stopped (SIGINT).",
    "  B | 0. Hi new friend!",
    "  A | Connection from: 10.77.0.2:52206",
  ]);
  assert(difference(recorded, swapped) !== "");
  assert(
    difference({ ...recorded, check: "exact" }, {
      ...again,
      check: "exact",
    }) !== "",
  );
});

Deno.test("book: the examples in the lessons' headers are what a real run prints", async () => {
  const runs = await freshRuns();
  const transcripts = [...runs.values()].filter((t) => t !== "skip")
    .concat([...readTranscripts().values()]);
  const wrong: string[] = [];
  for (const file of [...filesOf("chapters/"), "chat/chat.ts"]) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    const found = checkHeader(source, transcripts);
    // The header's own first example is one the recorder runs.
    assert(found.checked.length > 0, `${file}: no example of it was run`);
    for (const { command, line } of found.wrong) {
      wrong.push(`${file}: \`${command}\` did not print "${line}"`);
    }
  }
  assertEquals(wrong, [], wrong.join("\n"));
});

// ---------------------------------------------------------------------
// In a real browser

/** What the page says about itself, measured in the browser. */
export interface Report {
  ids: string[];
  links: string[];
  headings: number[];
  unlabelled: string[];
  lowContrast: string[];
  lowGraphics: string[];
  smallText: string[];
  hiddenScroll: string[];
  wide: string[];
}

let hasBrowser = false;
try {
  hasBrowser = Deno.statSync(CHROMIUM).isFile;
} catch {
  // No browser here: the test below says so and is skipped.
}

Deno.test("book --serve: HEAD gives GET's headers, its length too, and no body", async () => {
  await bookPages();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => answer(request, OUT),
  );
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const get = await fetch(url);
  const page = await get.bytes();
  const head = await fetch(url, { method: "HEAD" });
  assertEquals(await head.text(), "");
  assertEquals(
    head.headers.get("content-type"),
    get.headers.get("content-type"),
  );
  // The page says which request it answered: "HEAD /" is one byte longer.
  assertEquals(Number(head.headers.get("content-length")), page.length + 1);
});

Deno.test({
  name:
    `book: every page in a real browser (${CHROMIUM}), light and dark, 390 and 1280 px wide`,
  ignore: !hasBrowser,
  // puppeteer talks to the browser through timers and pipes of its own,
  // which it closes after the test's last await.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const urls = await book();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => answer(request, OUT),
    );
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const opened = await launch();
    if ("missing" in opened) throw new Error(opened.missing);
    const problems: string[] = [];
    const ids = new Map<string, string[]>();
    const links = new Set<string>();
    try {
      const tab = await opened.browser.newPage();
      await tab.setRequestInterception(true);
      let current = "";
      tab.on("request", (request) => {
        const url = request.url();
        if (url.startsWith(`${origin}/`) || url.startsWith("data:")) {
          request.continue();
        } else {
          problems.push(`${current}: a request leaves the machine: ${url}`);
          request.abort();
        }
      });
      tab.on("console", (message) => {
        if (message.type() === "error") {
          problems.push(`${current}: console error: ${message.text()}`);
        }
      });
      tab.on("pageerror", (error) => problems.push(`${current}: ${error}`));
      tab.on("requestfailed", (request) => {
        if (request.url().startsWith(origin)) {
          problems.push(`${current}: request failed: ${request.url()}`);
        }
      });
      tab.on("response", (response) => {
        if (response.status() >= 400) {
          problems.push(`${current}: ${response.status()} ${response.url()}`);
        }
      });
      for (const url of urls) {
        current = url;
        await tab.setViewport({ width: 390, height: 800 });
        await tab.emulateMediaFeatures([
          { name: "prefers-color-scheme", value: "light" },
        ]);
        await tab.goto(`${origin}/${url}`, { waitUntil: "load" });
        const light = await tab.evaluate(inspect) as Report;
        await tab.emulateMediaFeatures([
          { name: "prefers-color-scheme", value: "dark" },
        ]);
        const dark = await tab.evaluate(inspect) as Report;
        await tab.setViewport({ width: 1280, height: 800 });
        const wide = await tab.evaluate(inspect) as Report;
        ids.set(url, light.ids);
        for (const link of light.links) links.add(`${url} ${link}`);
        for (const line of light.wide) {
          problems.push(`${url} at 390 px: ${line}`);
        }
        for (const line of wide.wide) {
          problems.push(`${url} at 1280 px: ${line}`);
        }
        for (const line of light.lowContrast) {
          problems.push(`${url} light: contrast ${line}`);
        }
        for (const line of dark.lowContrast) {
          problems.push(`${url} dark: contrast ${line}`);
        }
        for (const [name, report] of [["light", light], ["dark", dark]]) {
          for (const line of (report as Report).lowGraphics) {
            problems.push(`${url} ${name} at 390 px: a picture's ${line}`);
          }
        }
        for (const line of wide.lowGraphics) {
          problems.push(`${url} dark at 1280 px: a picture's ${line}`);
        }
        for (const line of light.smallText) {
          problems.push(`${url} at 390 px: a picture's text at ${line}`);
        }
        for (const line of light.hiddenScroll) {
          problems.push(`${url} at 390 px: ${line}`);
        }
        for (const line of light.unlabelled) {
          problems.push(`${url}: no text alternative: ${line}`);
        }
        const [first, ...rest] = light.headings;
        if (first !== 1 || rest.includes(1)) {
          problems.push(`${url}: not one h1 first (${light.headings})`);
        }
        light.headings.forEach((level, i) => {
          if (i > 0 && level > light.headings[i - 1] + 1) {
            problems.push(`${url}: h${light.headings[i - 1]} then h${level}`);
          }
        });
      }
      // Each picture opened alone, in light and dark: readable on its own
      // background.
      const pictures = [...Deno.readDirSync(new URL("pictures/", OUT))]
        .map((entry) => `pictures/${entry.name}`).sort();
      assert(pictures.length > 0, "no pictures");
      for (const picture of pictures) {
        current = picture;
        for (const scheme of ["light", "dark"]) {
          await tab.emulateMediaFeatures([
            { name: "prefers-color-scheme", value: scheme },
          ]);
          await tab.goto(`${origin}/${picture}`, { waitUntil: "load" });
          const low = await tab.evaluate(inspectPicture) as string[];
          for (const line of low) {
            problems.push(`${picture} alone, ${scheme}: contrast ${line}`);
          }
        }
      }
    } finally {
      await opened.close();
      await server.shutdown();
    }
    // Every link inside the book leads to a page, and its #anchor to an id
    // on that page; links out go to Deno's documentation or the web, and
    // are never requested.
    for (const entry of links) {
      const [from, href] = entry.split(" ");
      if (!href.startsWith(`${origin}/`)) continue;
      const target = new URL(href);
      const path = target.pathname.slice(1) || "index.html";
      if (path.endsWith(".html")) {
        const found = ids.get(path);
        if (!found) problems.push(`${from}: link to a missing page ${path}`);
        else if (target.hash && !found.includes(target.hash.slice(1))) {
          problems.push(`${from}: link to a missing anchor ${href}`);
        }
      } else {
        try {
          await Deno.stat(new URL(path, OUT));
        } catch {
          problems.push(`${from}: link to a missing file ${path}`);
        }
      }
    }
    assertEquals(problems, [], problems.slice(0, 40).join("\n"));
  },
});

Deno.test({
  name: "book: the built site is removed",
  sanitizeResources: false,
  async fn() {
    await book();
    await Deno.remove(site, { recursive: true });
  },
});
