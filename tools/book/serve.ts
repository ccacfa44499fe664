/**
 * `deno task book --serve`: the book served on 127.0.0.1, by a server like
 * section 12.4's. `Deno.serve` listens on a TCP port, as tcp-server does,
 * and speaks HTTP over each connection: the browser's request (`GET
 * /chapters/12_4_tcp_server.html HTTP/1.1`, headers, a blank line), our
 * answer (a status line, headers, the page). Each page it sends says so at
 * its foot. When a lesson (or README, or a transcript) changes, the book is
 * built again, so a reload shows the change.
 *
 * @module
 */
import { OUT, ROOT } from "./pages.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
  // The files a page links without a page of their own (a Python starter):
  // shown as text, to read or to save.
  py: "text/plain; charset=utf-8",
};

/** What the server answers for one request, from the book in `root`. */
export async function answer(
  request: Request,
  root: URL = OUT,
): Promise<Response> {
  const url = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Only GET and HEAD here.\n", { status: 405 });
  }
  let path = decodeURIComponent(url.pathname).replace(/^\/+/, "");
  // Asked by a browser for a picture opened alone (the pages say they
  // have no icon): no icon, and nothing wrong.
  if (path === "favicon.ico") return new Response(null, { status: 204 });
  if (path === "" || path.endsWith("/")) path += "index.html";
  // Nothing outside the book: no "..", no hidden files.
  if (path.split("/").some((part) => part === ".." || part.startsWith("."))) {
    return new Response("Not found.\n", { status: 404 });
  }
  const type = TYPES[path.split(".").at(-1) ?? ""];
  let body: Uint8Array<ArrayBuffer> | string;
  try {
    body = await Deno.readFile(new URL(path, root));
  } catch {
    return new Response("Not found.\n", {
      status: 404,
      headers: { "content-type": TYPES.txt },
    });
  }
  if (path.endsWith(".html")) {
    const note = `<p class="served">This page came to you over HTTP from ` +
      `<code>deno task book --serve</code>: a TCP server like section ` +
      `12.4's (<code>Deno.serve</code> on ${url.host}), which read your ` +
      `browser's request, <code>${request.method} ${
        url.pathname.replaceAll("<", "&lt;")
      }</code>, and answered with this page.</p>`;
    body = new TextDecoder().decode(body).replace("<!--served-->", note);
  }
  // HEAD: Deno.serve sends the headers (content-length too), not the body.
  return new Response(body, {
    headers: { "content-type": type ?? "application/octet-stream" },
  });
}

/** Serves the book until Ctrl-C, building it again after each change. */
export async function serveBook(options: {
  port: number;
  rebuild: () => Promise<unknown>;
}): Promise<void> {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port,
    onListen: ({ hostname, port }) => {
      console.log(`Listening on ${hostname}:${port}`);
      console.log(`Open http://${hostname}:${port}/ (Ctrl-C stops it)`);
    },
  }, (request) => answer(request));
  const watched = ["chapters", "chat", "tools", "activity", "exercises"]
    .map((folder) => new URL(folder, ROOT).pathname)
    .filter((path) => {
      try {
        return Deno.statSync(path).isDirectory;
      } catch {
        return false;
      }
    });
  const watcher = Deno.watchFs([
    ...watched,
    new URL("README.md", ROOT).pathname,
  ]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let building = Promise.resolve();
  const watching = (async () => {
    for await (const event of watcher) {
      if (event.paths.every((path) => path.includes("/_book/"))) continue;
      clearTimeout(timer);
      timer = setTimeout(() => {
        building = building.then(async () => {
          const started = performance.now();
          try {
            await options.rebuild();
            console.log(
              `Rebuilt in ${
                ((performance.now() - started) / 1000).toFixed(1)
              } s`,
            );
          } catch (error) {
            console.error(`error: the rebuild failed: ${error}`);
          }
        });
      }, 300);
    }
  })();
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
  const signal = await stopped;
  clearTimeout(timer);
  watcher.close();
  await watching;
  await server.shutdown();
  console.log(`Server stopped (${signal}).`);
  Deno.exit(0);
}
