/**
 * Debian's chromium, driven from Deno by puppeteer-core (npm), for the
 * book's browser test and its screenshots: headless, with no sandbox (it
 * runs as root in CI), nothing of Google's own (no updates, no sync, no
 * background requests), and a new empty profile each time, removed after.
 *
 *   deno run -A tools/book/browser.ts PAGE OUT_DIR
 *
 * takes screenshots of one page of the built book (_book/PAGE) at 1280 and
 * 390 pixels wide, light and dark, into OUT_DIR, to look at as a reader.
 *
 * @module
 */
import type { Browser } from "puppeteer-core";

/** Where Debian puts chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** The browser, or why there is none here. */
export async function launch(): Promise<
  { browser: Browser; close: () => Promise<void> } | { missing: string }
> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    return { missing: `no browser at ${CHROMIUM}` };
  }
  const { default: puppeteer } = await import("puppeteer-core");
  const profile = await Deno.makeTempDir({ prefix: "book-browser-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

if (import.meta.main) {
  const [page = "chapters/12_4_tcp_server.html", out = "/tmp/book-shots"] = Deno
    .args.filter((arg, i) =>
      !arg.startsWith("--") && !["--scroll", "--at"].includes(Deno.args[i - 1])
    );
  const { answer } = await import("./serve.ts");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => answer(request),
  );
  const opened = await launch();
  if ("missing" in opened) {
    console.error(opened.missing);
    Deno.exit(1);
  }
  await Deno.mkdir(out, { recursive: true });
  const tab = await opened.browser.newPage();
  for (const width of [1280, 390]) {
    for (const scheme of ["light", "dark"]) {
      await tab.setViewport({ width, height: 900 });
      await tab.emulateMediaFeatures([
        { name: "prefers-color-scheme", value: scheme },
      ]);
      await tab.goto(`http://127.0.0.1:${server.addr.port}/${page}`);
      // --scroll Y: the screen Y pixels down the page.
      const scroll = Deno.args.indexOf("--scroll");
      const y = scroll > 0 ? Number(Deno.args[scroll + 1]) : 0;
      await tab.evaluate(`scrollTo(0, ${y})`);
      // --at SELECTOR: the screen that starts at that element.
      const at = Deno.args.indexOf("--at");
      if (at > 0) {
        await tab.evaluate(
          `document.querySelector(${
            JSON.stringify(Deno.args[at + 1])
          }).scrollIntoView()`,
        );
      }
      const file = `${out}/${width}-${scheme}${y ? `-${y}` : ""}.png`;
      await tab.screenshot({ path: file });
      console.log(file);
    }
  }
  await opened.close();
  await server.shutdown();
}
