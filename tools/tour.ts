/**
 * The tour: every example of the chapter, both sides, in a few seconds.
 *
 *   $ deno task demo
 *
 * For each section the tour does what you would do by hand with two
 * terminals. It starts the server with its own task, on a free port
 * (`deno task tcp-server --port 0`), reads the port from the server's
 * `Listening on HOST:PORT` line, runs the client against that port, and
 * finally presses Ctrl-C on the server. Every line any of them prints is shown
 * as it happens, labelled with who printed it:
 *
 *   $ deno task tcp-server --port 0
 *     tcp-server     | Listening on 127.0.0.1:40313
 *   $ deno task tcp-listener --port 40313
 *     tcp-server     | Connection from: 127.0.0.1:52978
 *     tcp-listener   | 0. Hi new friend!
 *
 * `|` marks what a program printed on its standard output, `!` what it
 * printed on its standard error (errors, and notes).
 *
 * Nothing leaves this computer: every server listens on 127.0.0.1, and the
 * TCP client of section 12.4, which the book points at www.python.org,
 * talks to a small web server the tour starts for it.
 *
 * The tour exits 0 when every program did what it should, and 1 (naming
 * the step) when one did not.
 *
 * @module
 */

import { type OnLine, runTask, TaskProcess } from "./task_process.ts";

/** Steps that went wrong, reported at the end. */
const failures: string[] = [];

/** Prints a section title. */
function section(title: string): void {
  console.log(`\n== ${title} ${"=".repeat(Math.max(3, 72 - title.length))}`);
}

/** Prints each line of a program, labelled with its task name. */
function labelled(label: string): OnLine {
  return (line, stream) => {
    const mark = stream === "stdout" ? "|" : "!";
    console.log(`  ${label.padEnd(15)} ${mark} ${line}`);
  };
}

/** Starts a server on a free port and waits until it is listening. */
async function startServer(
  task: string,
  args: string[] = [],
  label = task,
) {
  const allArgs = [...args, "--port", "0"];
  console.log(`$ deno task ${[task, ...allArgs].join(" ")}`);
  const server = TaskProcess.start(task, allArgs, {
    stdin: task === "chat",
    onLine: labelled(label),
  });
  const { port } = await server.listening();
  return { server, port: `${port}` };
}

/**
 * Runs a client to the end, showing its output. `stdin` is typed into it.
 * A client that exits other than with `expectedCode` is a failed step.
 */
async function runClient(
  task: string,
  args: string[],
  options: { stdin?: string; expectedCode?: number; label?: string } = {},
): Promise<void> {
  console.log(`$ deno task ${[task, ...args].join(" ")}`);
  const result = await runTask(task, args, {
    stdin: options.stdin,
    onLine: labelled(options.label ?? task),
  });
  const expected = options.expectedCode ?? 0;
  if (result.code !== expected) {
    failures.push(`${task} ${args.join(" ")} exited ${result.code}`);
  }
}

/**
 * Gives a server a moment to print what it has to say about the client
 * that just left (its log line may arrive after the client's own output),
 * so the tour shows things in the order they happened.
 */
async function settle(server: TaskProcess): Promise<void> {
  let seen = -1;
  for (let i = 0; i < 20 && seen !== server.lineCount; i++) {
    seen = server.lineCount;
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
}

/** Presses Ctrl-C on a server and checks that it stopped cleanly. */
async function stopServer(task: string, server: TaskProcess): Promise<void> {
  await settle(server);
  console.log(`(Ctrl-C on ${task})`);
  const result = await server.stop();
  if (result.code !== 0) failures.push(`${task} stopped with ${result.code}`);
}

// --- 12.1 to 12.3: no server needed ---------------------------------------

section("12.1 How to identify machines on the internet");
await runClient("address", []);

section("12.2 Ports");
await runClient("ports", []);

section("12.2 Figures 12.1 and 12.2: the headers of real packets");
await runClient("headers", ["chapters/captures/greeting.pcap"]);

section("12.3 Sockets");
await runClient("create-socket", []);

// --- 12.4 TCP client: a web server of our own stands in for python.org ----

section("12.4 TCP client (a local web server stands in for www.python.org)");
const web = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  (request) => {
    labelled("web server")(
      `${request.method} ${new URL(request.url).pathname}`,
      "stdout",
    );
    return new Response("Hello from the tour's web server.\n");
  },
);
await runClient("tcp-client", [
  "--host",
  "127.0.0.1",
  "--port",
  `${web.addr.port}`,
]);
await web.shutdown();

// --- 12.4 TCP server and its client ---------------------------------------

section("12.4 TCP server and its client");
{
  const { server, port } = await startServer("tcp-server");
  await runClient("tcp-listener", ["--port", port]);
  await settle(server);
  await runClient("tcp-listener", ["--port", port]);
  await stopServer("tcp-server", server);
}

// --- 12.4 UDP --------------------------------------------------------------

section("12.4 UDP client and server");
{
  const { server, port } = await startServer("udp-server");
  await runClient("udp-client", ["--port", port]);
  await stopServer("udp-server", server);
}

// --- 12.4 Receiving a message in fragments ---------------------------------

section("12.4 Receiving a message in fragments");
{
  const { server, port } = await startServer("fragment-server");
  await runClient("fragmented", ["--port", port]);
  await stopServer("fragment-server", server);
}

// --- 12.5 and 12.6: JSON through the echo server, then a Person -----------

section("12.5 Sending JSON data, and 12.6 sending an object");
{
  const { server, port } = await startServer("json-server");
  await runClient("json-client", ["--port", port]);
  await settle(server);
  await runClient("pickle", ["--port", port]);
  await stopServer("json-server", server);
}

// --- Activity 12.1: the chat -----------------------------------------------

section("Activity 12.1: the two-person chat (typed input comes from pipes)");
{
  const { server, port } = await startServer(
    "chat",
    ["server", "--username", "alice"],
    "chat (alice)",
  );
  // alice's lines wait in her input until it is her turn.
  await server.write("hi bob\nfine\n");
  await runClient("chat", ["client", "--username", "bob", "--port", port], {
    stdin: "hello alice\nhow are you?\n",
    label: "chat (bob)",
  });
  await stopServer("chat", server);
}

// --- The end ---------------------------------------------------------------

section("Done");
if (failures.length > 0) {
  console.log(`The tour found ${failures.length} problem(s):`);
  for (const failure of failures) console.log(`  - ${failure}`);
  Deno.exit(1);
}
console.log("Every program did what it should.");
console.log(
  [
    "Next:",
    "  deno task book        read every lesson as a page in a browser",
    "  deno task exercise    practise: small programs checked by real peers",
    "  deno task check-chat -- python3 chat.py",
    "                        Activity 12.1: build the chat, graded step by step",
    "  deno task lab loss    real packets (Linux: root, or user namespaces)",
  ].join("\n"),
);
