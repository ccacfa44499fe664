// Activity 12.1: the chat (`deno task chat`). Two real processes talk
// through their stdin and stdout; raw sockets play the bad peers; tmux plays
// the person at a terminal.

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import {
  freePort,
  type Listening,
  PYTHON,
  ROOT,
  runTask,
  sleep,
  TaskProcess,
} from "./_helpers.ts";
import { taskArgs } from "../tools/task_process.ts";

// ---------------------------------------------------------------------------
// Helpers

/** `deno task chat server --username NAME --port 0 ...`, stdin ours. */
function startServer(name = "alice", args: string[] = []): TaskProcess {
  return TaskProcess.start(
    "chat",
    ["server", "--username", name, "--port", "0", ...args],
    { stdin: true },
  );
}

/** `deno task chat client --username NAME --port PORT ...`, stdin ours. */
function startClient(
  address: Listening,
  name = "bob",
  args: string[] = [],
): TaskProcess {
  return TaskProcess.start(
    "chat",
    ["client", "--username", name, "--port", `${address.port}`, ...args],
    { stdin: true },
  );
}

/** The lines of the conversation itself: messages, and who left. */
function chatLines(lines: string[]): string[] {
  return lines.filter((line) =>
    /^[A-Za-z0-9_.-]{1,32}: /.test(line) ||
    / left the chat( \(SIG[A-Z]+\))?$/.test(line)
  );
}

/** Does `text` hold a character a terminal might obey (or hide)? */
function hasControls(text: string): boolean {
  return /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(text);
}

/** Waits for line number `index` (from 0) of `process`'s stderr. */
async function newStderrLine(
  process: TaskProcess,
  index: number,
): Promise<string> {
  const started = Date.now();
  while (process.stderrLines.length <= index) {
    if (Date.now() - started > 10_000) {
      throw new Error(`no new line on stderr\n${process.transcript()}`);
    }
    await sleep(10);
  }
  return process.stderrLines[index];
}

/** How many "Waiting for someone" lines the server has printed so far. */
function waitings(server: TaskProcess): number {
  return server.stdoutLines.filter((l) => /^Waiting for someone/.test(l))
    .length;
}

/**
 * Waits until the server says it waits for someone for the time after
 * `before` (a count from waitings()): then it is free for a next client,
 * not still closing the last one (which a loaded machine can drag out).
 */
async function freeAgain(server: TaskProcess, before: number): Promise<void> {
  const started = Date.now();
  while (waitings(server) <= before) {
    if (Date.now() - started > 10_000) {
      throw new Error(`the server did not wait again\n${server.transcript()}`);
    }
    await sleep(10);
  }
}

/**
 * A good client (our chat, `NAME` says "hi" and leaves) chats with alice's
 * server at `port`, who answers "welcome": both lines on the client's side.
 */
async function goodClientChats(
  server: TaskProcess,
  port: number,
  name: string,
): Promise<void> {
  await server.write("welcome\n");
  const client = await runTask("chat", [
    ...["client", "--username", name, "--port", `${port}`],
  ], { stdin: "hi\n" });
  assertEquals(client.code, 0, client.stderr);
  assertEquals(chatLines(client.stdout.split("\n")), [
    `${name}: hi`,
    "alice: welcome",
    `${name} left the chat`,
  ]);
}

/**
 * The raw server `peer` waits for our client to hang up, hangs up too, and
 * the client ends with `code` and exactly `stderr`.
 */
async function clientEnds(
  client: TaskProcess,
  peer: RawPeer,
  code: number,
  stderr: string,
): Promise<void> {
  await peer.closed();
  peer.close();
  const result = await client.finished();
  assertEquals(result.code, code);
  assertEquals(result.stderr, stderr);
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A raw TCP peer, for playing a bad client (or a bad server): it sends
 * whatever bytes we like and reads what comes back, line by line.
 */
class RawPeer {
  #conn: Deno.TcpConn;
  #buffered = "";
  #ended = false;
  #closed = false;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Our own port (for a raw server: the port the client connected to). */
  get localPort(): number {
    return this.#conn.localAddr.port;
  }

  static async connect(address: Listening): Promise<RawPeer> {
    return new RawPeer(await Deno.connect(address));
  }

  /** Sends text (or bytes) as they are. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  /** Sends one frame: a JSON value and "\n". */
  async sendFrame(value: unknown): Promise<void> {
    await this.send(JSON.stringify(value) + "\n");
  }

  /** The next line, or null when the other side has closed. */
  async line(timeoutMs = 10_000): Promise<string | null> {
    const buffer = new Uint8Array(64 * 1024);
    while (!this.#buffered.includes("\n")) {
      if (this.#ended) return null;
      const timer = setTimeout(() => this.close(), timeoutMs);
      try {
        const count = await this.#conn.read(buffer);
        if (count === null) this.#ended = true;
        else this.#buffered += decoder.decode(buffer.subarray(0, count));
      } catch (error) {
        if (this.#closed) throw new Error(`no line in ${timeoutMs} ms`);
        // A reset after the last frame: the end, as far as we care.
        if (error instanceof Deno.errors.ConnectionReset) this.#ended = true;
        else throw error;
      } finally {
        clearTimeout(timer);
      }
    }
    const end = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, end);
    this.#buffered = this.#buffered.slice(end + 1);
    return line;
  }

  /** The next frame, parsed. */
  async frame(): Promise<Record<string, unknown>> {
    const line = await this.line();
    assert(line !== null, "the connection closed instead of a frame");
    return JSON.parse(line);
  }

  /** Asserts that the other side closes now, with nothing more to say. */
  async closed(): Promise<void> {
    assertEquals(await this.line(), null);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A raw client that has said hello as `name` and read the server's. */
async function greetedPeer(address: Listening, name = "eve") {
  const peer = await RawPeer.connect(address);
  assertEquals(await peer.frame(), hello("alice"));
  await peer.sendFrame(hello(name));
  return peer;
}

function hello(username: string) {
  return { type: "hello", protocol: "deno-chat", version: 1, username };
}

/** The server's "Turned away N connections" lines, and their total. */
function turnedAway(server: TaskProcess): { lines: number; total: number } {
  const pattern =
    /^Turned away (\d+) connections?: the server is busy with this chat\.$/;
  const counts = server.stderrLines.map((line) => line.match(pattern))
    .filter((match) => match !== null).map((match) => Number(match![1]));
  return {
    lines: counts.length,
    total: counts.reduce((sum, count) => sum + count, 0),
  };
}

// ---------------------------------------------------------------------------
// Two people

Deno.test("chat: the conversation through pipes, in order, on both ends", async () => {
  await using server = startServer();
  const address = await server.listening();
  // All of alice's input is there before bob even connects, and ends after
  // "fine": she must still wait for each of bob's turns, and the end of her
  // input must not make her leave before bob's goodbye arrives.
  await server.write("hi bob\nfine\n", true);

  const bob = await runTask(
    "chat",
    ["client", "--username", "bob", "--port", `${address.port}`],
    { stdin: "hello alice\nhow are you?\n" },
  );
  const expected = [
    "bob: hello alice",
    "alice: hi bob",
    "bob: how are you?",
    "alice: fine",
    "bob left the chat",
  ];
  assertEquals(bob.code, 0, bob.stderr);
  assertEquals(bob.stderr, "");
  assertEquals(chatLines(bob.stdout.split("\n")), expected);
  assertMatch(
    bob.stdout,
    /^Joined alice's chat at 127\.0\.0\.1:\d+; you write first\.\n/,
  );

  await server.waitForLine(/^bob left the chat$/);
  assertEquals(chatLines(server.stdoutLines), expected);
  // The server waits for the next client (its second "Waiting" line: the
  // first, before bob, is looked past)...
  const bobLeft = server.stdoutLines.indexOf("bob left the chat");
  const waiting =
    /^Waiting for someone to join: deno task chat client --username NAME --port \d+$/;
  await server.waitForLine(waiting, { after: bobLeft });
  assertEquals(server.stdoutLines.filter((l) => waiting.test(l)).length, 2);

  // ...and takes it. alice's input has run out: at her first turn with
  // carol she leaves, and the server ends.
  const carol = await runTask(
    "chat",
    ["client", "--username", "carol", "--port", `${address.port}`],
    { stdin: "hey\n" },
  );
  assertEquals(carol.code, 0, carol.stderr);
  assertEquals(chatLines(carol.stdout.split("\n")), [
    "carol: hey",
    "alice left the chat",
  ]);
  const finished = await server.finished();
  assertEquals(finished.code, 0);
  assertEquals(finished.stderr, "");
  assertEquals(chatLines(server.stdoutLines).slice(5), [
    "carol: hey",
    "alice left the chat",
  ]);
  assertMatch(
    finished.stdout,
    /\ncarol joined the chat from 127\.0\.0\.1:\d+; carol writes first\.\n/,
  );
});

Deno.test("chat: the client writes first, and lines typed out of turn wait", async () => {
  await using server = startServer();
  const address = await server.listening();
  await server.write("from alice\n");
  await using bob = startClient(address);
  await bob.waitForLine(/^Joined alice's chat/);
  await server.waitForLine(/^bob joined the chat/);
  // alice's line is queued, but it is bob's turn: nothing is sent.
  await sleep(300);
  assertEquals(chatLines(server.stdoutLines), []);
  assertEquals(chatLines(bob.stdoutLines), []);

  // bob types two lines at once: the second waits for alice's reply.
  await bob.write("one\ntwo\n");
  await bob.waitForLine(/^alice: from alice$/);
  await server.waitForLine(/^alice: from alice$/);
  await sleep(300);
  await bob.waitForLine(/^bob: two$/);
  await server.waitForLine(/^bob: two$/);
  const expected = ["bob: one", "alice: from alice", "bob: two"];
  assertEquals(chatLines(bob.stdoutLines), expected);
  assertEquals(chatLines(server.stdoutLines), expected);

  // Now it is alice's turn, and bob's next line waits for it.
  await bob.write("three\n");
  await sleep(300);
  assertEquals(chatLines(server.stdoutLines), expected);
  await server.write("/quit\n");
  const alice = await server.finished();
  assertEquals(alice.code, 0);
  const left = await bob.finished();
  assertEquals(left.code, 0);
  assertEquals(chatLines(bob.stdoutLines), [
    ...expected,
    "alice left the chat",
  ]);
  assertEquals(chatLines(server.stdoutLines), [
    ...expected,
    "alice left the chat",
  ]);
});

Deno.test("chat: /quit typed out of turn leaves at the client's next turn", async () => {
  await using server = startServer();
  const address = await server.listening();
  await using bob = startClient(address);
  // Typed all at once: "/quit" waits for alice's reply, and "never" is
  // never sent.
  await bob.write("hi\n/quit\nnever\n");
  await server.waitForLine(/^bob: hi$/);
  await sleep(200);
  assertEquals(chatLines(bob.stdoutLines), ["bob: hi"]);
  await server.write("yo\n");
  const result = await bob.finished();
  assertEquals(result.code, 0);
  const expected = ["bob: hi", "alice: yo", "bob left the chat"];
  assertEquals(chatLines(bob.stdoutLines), expected);
  await server.waitForLine(/^bob left the chat$/);
  assertEquals(chatLines(server.stdoutLines), expected);
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  assertEquals(server.stdoutLines.at(-1), "Server stopped (SIGINT).");
});

Deno.test("chat: Ctrl-C leaves at once, on either side", async () => {
  await using server = startServer();
  const address = await server.listening();

  // bob presses Ctrl-C during alice's turn.
  await using bob = startClient(address);
  await bob.write("hi\n");
  await server.waitForLine(/^bob: hi$/);
  const bobResult = await bob.stop();
  assertEquals(bobResult.code, 0);
  assertEquals(chatLines(bob.stdoutLines), [
    "bob: hi",
    "bob left the chat (SIGINT)",
  ]);
  await server.waitForLine(/^bob left the chat$/);

  // alice presses Ctrl-C during carol's turn: she leaves, the server ends.
  await using carol = startClient(address, "carol");
  await server.waitForLine(/^carol joined the chat/);
  const aliceResult = await server.stop();
  assertEquals(aliceResult.code, 0);
  assertEquals(chatLines(server.stdoutLines), [
    "bob: hi",
    "bob left the chat",
    "alice left the chat (SIGINT)",
  ]);
  const carolResult = await carol.finished();
  assertEquals(carolResult.code, 0);
  assertEquals(chatLines(carol.stdoutLines), ["alice left the chat"]);
});

Deno.test("chat: SIGTERM and SIGHUP (terminal closed) leave like Ctrl-C, named", async () => {
  await using server = startServer();
  const address = await server.listening();
  await using bob = startClient(address);
  await bob.write("hi\n");
  await server.waitForLine(/^bob: hi$/);
  bob.kill("SIGTERM");
  const bobResult = await bob.finished();
  assertEquals(bobResult.code, 0);
  assertEquals(bobResult.signal, null);
  assertEquals(bobResult.stderr, "");
  assertEquals(chatLines(bob.stdoutLines), [
    "bob: hi",
    "bob left the chat (SIGTERM)",
  ]);
  await server.waitForLine(/^bob left the chat$/);

  await using carol = startClient(address, "carol");
  await server.waitForLine(/^carol joined the chat/);
  server.kill("SIGHUP");
  const alice = await server.finished();
  assertEquals(alice.code, 0);
  assertEquals(alice.signal, null);
  assertEquals(server.stdoutLines.at(-1), "alice left the chat (SIGHUP)");
  const carolResult = await carol.finished();
  assertEquals(carolResult.code, 0);
  assertEquals(chatLines(carol.stdoutLines), ["alice left the chat"]);

  // A server with nobody to chat with just stops, and says why.
  await using idle = startServer();
  await idle.listening();
  idle.kill("SIGTERM");
  const idleResult = await idle.finished();
  assertEquals(idleResult.code, 0);
  assertEquals(idle.stdoutLines.at(-1), "Server stopped (SIGTERM).");
});

Deno.test("chat: a busy server turns a third party away; the chat goes on", async () => {
  await using server = startServer();
  const address = await server.listening();
  await using bob = startClient(address);
  await bob.write("hi\n");
  await server.waitForLine(/^bob: hi$/);

  // A raw socket is told, in an error frame, and hung up on.
  using raw = await RawPeer.connect(address);
  assertEquals(await raw.frame(), {
    type: "error",
    code: "busy",
    message: "The server is busy with another chat; try again later.",
  });
  await raw.closed();
  // The chat client says so in one sentence and exits 1.
  const carol = await runTask("chat", [
    "client",
    "--username",
    "carol",
    "--port",
    `${address.port}`,
  ], { stdin: "" });
  assertEquals(carol.code, 1);
  assertEquals(
    carol.stderr,
    `error: The chat server at 127.0.0.1:${address.port} is busy with ` +
      `another chat; try again later.`,
  );
  // The server counts them, in a line at most once a second.
  await server.waitForLine(/^Turned away/, { stream: "stderr" });
  for (let i = 0; i < 30 && turnedAway(server).total < 2; i++) {
    await sleep(100);
  }
  assertEquals(turnedAway(server).total, 2, server.transcript());

  // bob and alice did not notice.
  await server.write("still here\n");
  await bob.waitForLine(/^alice: still here$/);
  await bob.write("/quit\n");
  assertEquals((await bob.finished()).code, 0);
  assertEquals(chatLines(bob.stdoutLines), [
    "bob: hi",
    "alice: still here",
    "bob left the chat",
  ]);
  await server.waitForLine(/^bob left the chat$/);
  assertEquals((await server.stop()).code, 0);
});

Deno.test("chat: a flood of 3,000 connections during a chat: one count a second, the chat goes on", async () => {
  await using server = startServer();
  const address = await server.listening();
  await using bob = startClient(address);
  await bob.write("hi\n");
  await server.waitForLine(/^bob: hi$/);
  // Resident memory in MiB, as ps reports it (reading /proc would need
  // --allow-all).
  const rss = async () => {
    const ps = await new Deno.Command("ps", {
      args: ["-o", "rss=", "-p", `${server.pid}`],
    }).output();
    return Number(decoder.decode(ps.stdout).trim()) / 1024;
  };
  const before = await rss();

  // 3,000 connections, 250 at a time, each held open and never read: the
  // server must answer each and hang up by itself.
  const flood = 3000;
  const conns: Deno.TcpConn[] = [];
  try {
    for (let start = 0; start < flood; start += 250) {
      const batch = Array.from({ length: 250 }, () => Deno.connect(address));
      conns.push(...await Promise.all(batch));
    }
    const started = Date.now();
    while (turnedAway(server).total < flood && Date.now() - started < 30_000) {
      await sleep(200);
    }
  } finally {
    for (const conn of conns) conn.close();
  }
  const { lines, total } = turnedAway(server);
  assertEquals(total, flood, server.transcript().slice(-2000));
  // One line a second at most: a few lines, not one per connection.
  assert(lines <= 30, `${lines} lines for ${flood} connections`);
  assertEquals(server.stderrLines.length, lines, server.stderrLines[0]);
  const after = await rss();
  console.log(
    `chat server memory: ${before.toFixed(0)} MiB before the ` +
      `flood, ${after.toFixed(0)} MiB after`,
  );
  assert(after - before < 60, `memory grew from ${before} to ${after} MiB`);

  // The chat goes on.
  await server.write("still here\n");
  await bob.waitForLine(/^alice: still here$/);
  await bob.write("/quit\n");
  assertEquals((await bob.finished()).code, 0);
  await server.waitForLine(/^bob left the chat$/);
  assertEquals((await server.stop()).code, 0);
});

Deno.test("chat: IPv6 on ::1", async () => {
  await using server = startServer("alice", ["--host", "::1"]);
  const address = await server.listening();
  assertEquals(address.hostname, "::1");
  await server.write("hello over IPv6\n", true);
  const bob = await runTask("chat", [
    "client",
    "--username",
    "bob",
    "--host",
    "::1",
    "--port",
    `${address.port}`,
  ], { stdin: "hi\n" });
  assertEquals(bob.code, 0, bob.stderr);
  assertMatch(bob.stdout, /^Joined alice's chat at \[::1\]:\d+;/);
  assertEquals(chatLines(bob.stdout.split("\n")), [
    "bob: hi",
    "alice: hello over IPv6",
    "bob left the chat",
  ]);
  await server.waitForLine(/^bob joined the chat from \[::1\]:\d+;/);
  await server.waitForLine(/^bob left the chat$/);
  await server.waitForLine(/--host ::1 --port \d+$/);
  await server.stop();
});

Deno.test("chat server on 0.0.0.0 names this computer's addresses, not 0.0.0.0", async () => {
  const run = (sys: string[]) =>
    TaskProcess.spawn(Deno.execPath(), [
      "run",
      "--no-prompt",
      "--allow-net=0.0.0.0",
      ...sys,
      "chat/chat.ts",
      "server",
      "--username",
      "alice",
      "--host",
      "0.0.0.0",
      "--port",
      "0",
    ], { stdin: true, env: { NO_COLOR: "1" } });
  // This computer's addresses, from a child process (the tests may not
  // list them themselves: deno task test gives no --allow-sys).
  const listed = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "console.log(JSON.stringify(Deno.networkInterfaces()))"],
  }).output();
  const own =
    (JSON.parse(decoder.decode(listed.stdout)) as Deno.NetworkInterfaceInfo[])
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
  {
    await using server = run(["--allow-sys=networkInterfaces"]);
    const { port } = await server.listening();
    const [line] = await server.waitForLine(/^Waiting for someone.*/);
    assert(!line.includes("0.0.0.0"), line);
    assertStringIncludes(
      line,
      `deno run --allow-net=ADDRESS:${port} chat/chat.ts client --username ` +
        `NAME --host ADDRESS --port ${port}, where ADDRESS is `,
    );
    for (const address of own) assertStringIncludes(line, address);
    assertEquals((await server.stop()).code, 0);
  }
  {
    // Without the permission to list them, it says how to see them.
    await using server = run([]);
    const [line] = await server.waitForLine(/^Waiting for someone.*/);
    assert(!line.includes("0.0.0.0"), line);
    assertStringIncludes(line, "--allow-sys=networkInterfaces");
    assertEquals((await server.stop()).code, 0);
  }
  // Through the task, which allows only this computer: one sentence.
  const task = await runTask("chat", [
    "server",
    "--username",
    "alice",
    "--host",
    "0.0.0.0",
  ], { stdin: "" });
  assertEquals(task.code, 1);
  assertEquals(
    task.stderr,
    "error: Deno was not allowed to use 0.0.0.0:10002: run deno run " +
      "--allow-net=0.0.0.0:10002 --allow-sys=networkInterfaces chat/chat.ts " +
      "with the same arguments.",
  );
});

// ---------------------------------------------------------------------------
// Bad peers, against the server

Deno.test("chat server: each bad peer gets an error frame and one line", async (t) => {
  await using server = startServer();
  const address = await server.listening();

  /**
   * Connects, does `act`, then expects an error frame with `code` saying
   * "You sent DETAIL.", a hang-up, and one new line on the server's stderr:
   * "WHO sent DETAIL; told it so and hung up." WHO is the peer's name once
   * it said hello, its address before.
   */
  async function expectRejected(
    act: (peer: RawPeer) => Promise<void>,
    code: string,
    detail: string,
    who = "eve",
  ): Promise<Record<string, unknown>> {
    const before = server.stderrLines.length;
    const waiting = waitings(server);
    using peer = await RawPeer.connect(address);
    await act(peer);
    let frame = await peer.frame();
    if (frame.type === "hello") frame = await peer.frame();
    assertEquals(frame.type, "error");
    assertEquals(frame.code, code, JSON.stringify(frame));
    assertEquals(Object.keys(frame), ["type", "code", "message"]);
    assertStringIncludes(String(frame.message), `You sent ${detail}.`);
    await peer.closed();
    // A good peer hangs up when the server does; the server waits a little
    // for that before it closes (see close() in chat/protocol.ts).
    peer.close();
    const line = await newStderrLine(server, before);
    const start = who === "" ? String.raw`127\.0\.0\.1:\d+` : who;
    assertMatch(line, new RegExp(`^${start} sent `));
    assertStringIncludes(line, ` sent ${detail}; told it so and hung up.`);
    await freeAgain(server, waiting);
    assertEquals(server.stderrLines.length, before + 1, server.transcript());
    return frame;
  }

  await t.step("a line that is not JSON (netcat)", async () => {
    const frame = await expectRejected(
      (peer) => peer.send("hello?\n"),
      "not-json",
      "a line that is not JSON",
      "",
    );
    assertEquals(
      frame.message,
      "You sent a line that is not JSON. This program speaks deno-chat " +
        "version 1, one JSON object a line; see chat/README.md.",
    );
  });

  await t.step("JSON that is not a frame (the json-client's)", async () => {
    await expectRejected(
      (peer) => peer.sendFrame({ name: "Johanna", female: true }),
      "bad-frame",
      'a frame without a "type"',
      "",
    );
  });

  await t.step("a hello for another protocol", async () => {
    await expectRejected(
      (peer) =>
        peer.sendFrame({ type: "hello", protocol: "irc", version: 3, nick: 1 }),
      "wrong-protocol",
      'a hello for protocol "irc" version 3 (this program speaks deno-chat ' +
        "version 1)",
      "",
    );
  });

  await t.step("a number too large (1e400), not read as null", async () => {
    await expectRejected(
      (peer) =>
        peer.send(
          '{"type":"hello","protocol":"deno-chat","version":1e400,' +
            '"username":"eve"}\n',
        ),
      "bad-frame",
      "a number too large for JavaScript",
      "",
    );
  });

  await t.step("a message before hello", async () => {
    await expectRejected(
      (peer) => peer.sendFrame({ type: "message", text: "hi" }),
      "unexpected",
      'a "message" frame before hello',
      "",
    );
  });

  await t.step("a username that is too long, or not plain", async () => {
    const rule = 'which is not 1 to 32 letters, digits, "_", "." or "-"';
    await expectRejected(
      (peer) => peer.sendFrame(hello("e".repeat(33))),
      "bad-frame",
      `the username "${"e".repeat(33)}", ${rule}`,
      "",
    );
    await expectRejected(
      (peer) => peer.sendFrame(hello("\x1b[2Jeve")),
      "bad-frame",
      `the username "\\u001b[2Jeve", ${rule}`,
      "",
    );
  });

  await t.step(
    "an error frame is cut by characters, never in an emoji",
    async () => {
      // The username, quoted in the error, is cut to 40 characters. Cut by
      // UTF-16 units, the 37th would be the first half of the emoji.
      const name = "e".repeat(35) + "😀".repeat(5);
      const before = server.stderrLines.length;
      const waiting = waitings(server);
      using peer = await RawPeer.connect(address);
      await peer.sendFrame(hello(name));
      assertEquals((await peer.frame()).type, "hello");
      const line = await peer.line();
      assert(line !== null);
      assert(!/\\ud[89a-f]/i.test(line), `a lone surrogate in ${line}`);
      const frame = JSON.parse(line);
      assertEquals(frame.code, "bad-frame");
      assert(frame.message.isWellFormed(), frame.message);
      assertStringIncludes(frame.message, `"${"e".repeat(35)}😀...`);
      await peer.closed();
      peer.close();
      assert(!hasControls(await newStderrLine(server, before)));
      await freeAgain(server, waiting);
    },
  );

  await t.step("the server's own username: name-taken", async () => {
    const frame = await expectRejected(
      (peer) => peer.sendFrame(hello("alice")),
      "name-taken",
      `the username "alice", which is the server's own`,
      "",
    );
    assertStringIncludes(String(frame.message), "--username");
  });

  await t.step("an unknown frame type; a frame with an extra key", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.sendFrame({ type: "dance" });
      },
      "bad-frame",
      'a frame of unknown type "dance"',
    );
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.sendFrame({ type: "message", text: "hi", from: "alice" });
      },
      "bad-frame",
      'a "message" frame whose keys are not exactly "type", "text"',
    );
  });

  await t.step("a repeated key, not read as the last one", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.send('{"type":"message","text":"a","text":"b"}\n');
      },
      "bad-frame",
      "a frame with a repeated key",
    );
    // Spaces, escapes and colons inside strings do not fool the count.
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.send(
          '{ "type" : "message" , "text" : "x\\":\\" :", "\\u0074ext": "b"}\n',
        );
      },
      "bad-frame",
      "a frame with a repeated key",
    );
    assertEquals(chatLines(server.stdoutLines), []);
  });

  await t.step("a byte-order mark before the JSON: not-json", async () => {
    // Valid UTF-8, but U+FEFF is not JSON whitespace: JSON.parse and
    // Python's json.loads of the decoded text both refuse it.
    await expectRejected(
      (peer) => peer.send("\ufeff" + JSON.stringify(hello("eve")) + "\n"),
      "not-json",
      "a line that is not JSON",
      "",
    );
  });

  await t.step("version 1.0 and 1e0 are the number one: accepted", async () => {
    for (const version of ["1.0", "1e0"]) {
      const waiting = waitings(server);
      using peer = await RawPeer.connect(address);
      assertEquals(await peer.frame(), hello("alice"));
      await peer.send(
        `{"type":"hello","protocol":"deno-chat","version":${version},` +
          `"username":"eve"}\n`,
      );
      await peer.sendFrame({ type: "message", text: `version ${version}` });
      await server.waitForLine(new RegExp(`^eve: version ${version}$`));
      await peer.sendFrame({ type: "bye" });
      await peer.closed();
      peer.close();
      await freeAgain(server, waiting);
    }
    assertEquals(chatLines(server.stdoutLines).slice(-4), [
      "eve: version 1.0",
      "eve left the chat",
      "eve: version 1e0",
      "eve left the chat",
    ]);
  });

  await t.step("a version that is no number: bad-frame", async () => {
    for (const version of ['"1"', "true", "null", "[1]"]) {
      await expectRejected(
        (peer) =>
          peer.send(
            `{"type":"hello","protocol":"deno-chat","version":${version},` +
              `"username":"eve"}\n`,
          ),
        "bad-frame",
        'a hello whose "protocol" is no string or "version" no number',
        "",
      );
    }
    await expectRejected(
      (peer) =>
        peer.send(
          '{"type":"hello","protocol":5,"version":1,"username":"eve"}\n',
        ),
      "bad-frame",
      'a hello whose "protocol" is no string or "version" no number',
      "",
    );
  });

  await t.step("a number other than one: wrong-protocol", async () => {
    for (const version of ["2", "1.5", "0"]) {
      await expectRejected(
        (peer) =>
          peer.send(
            `{"type":"hello","protocol":"deno-chat","version":${version},` +
              `"username":"eve"}\n`,
          ),
        "wrong-protocol",
        `a hello for protocol "deno-chat" version ${Number(version)} (this ` +
          "program speaks deno-chat version 1)",
        "",
      );
    }
  });

  await t.step(
    "16,000 levels of nesting: bad-frame, and the server lives",
    async () => {
      // A line of 32768 bytes holds 16384 levels of "[": no frame nests at
      // all, and a reader must not overflow its stack on them.
      const deep = "[".repeat(16_000) + "]".repeat(16_000);
      await expectRejected(
        (peer) => peer.send(deep + "\n"),
        "bad-frame",
        "a frame that is not a JSON object",
        "",
      );
      await expectRejected(
        async (peer) => {
          await peer.sendFrame(hello("eve"));
          await peer.send(`{"type":"message","text":${deep}}\n`);
        },
        "bad-frame",
        "a message text that is not a string",
      );
    },
  );

  await t.step(
    "an error first is no mistake: shown, not answered",
    async () => {
      const before = server.stderrLines.length;
      const waiting = waitings(server);
      using peer = await RawPeer.connect(address);
      assertEquals(await peer.frame(), hello("alice"));
      await peer.sendFrame({
        type: "error",
        code: "e2e-test",
        message: "Bye!",
      });
      await peer.closed();
      peer.close();
      assertEquals(
        await newStderrLine(server, before),
        `127.0.0.1:${peer.localPort} ended the chat with an error: Bye! ` +
          "(e2e-test)",
      );
      await freeAgain(server, waiting);
    },
  );

  await t.step(
    "a bye before the client's hello: its address left",
    async () => {
      const before = server.stderrLines.length;
      const waiting = waitings(server);
      using peer = await RawPeer.connect(address);
      assertEquals(await peer.frame(), hello("alice"));
      await peer.sendFrame({ type: "bye" });
      await peer.closed();
      peer.close();
      // The server never learnt the client's name: it shows its address.
      await server.waitForLine(
        new RegExp(`^127\\.0\\.0\\.1:${peer.localPort} left the chat$`),
      );
      await freeAgain(server, waiting);
      assertEquals(server.stderrLines.length, before);
    },
  );

  await t.step("a hello twice", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.sendFrame(hello("eve"));
      },
      "unexpected",
      "a second hello",
    );
  });

  await t.step("a message that is too long, or empty", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.sendFrame({ type: "message", text: "é".repeat(2049) });
      },
      "bad-frame",
      "a message text of 4098 bytes (the limit is 4096)",
    );
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.sendFrame({ type: "message", text: "" });
      },
      "bad-frame",
      "an empty message text",
    );
  });

  await t.step("a message out of turn", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        // Spaces and "\r\n" are JSON whitespace: still a good frame.
        await peer.send('{ "type": "message", "text": "one" }\r\n');
        await peer.sendFrame({ type: "message", text: "two" });
      },
      "out-of-turn",
      "a message out of turn (it was alice's turn)",
    );
    // The message that was in turn was shown.
    assertEquals(chatLines(server.stdoutLines).at(-1), "eve: one");
  });

  await t.step("invalid UTF-8, and half a surrogate pair", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.send('{"type":"message","text":"');
        await peer.send(new Uint8Array([0xff, 0xfe, 0x22, 0x7d, 0x0a]));
      },
      "bad-utf8",
      "a line that is not valid UTF-8",
    );
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        await peer.send('{"type":"message","text":"\\ud800"}\n');
      },
      "bad-frame",
      "a message text with a lone surrogate",
    );
  });

  await t.step("a line of 10 MB, refused after 32 KiB", async () => {
    await expectRejected(
      async (peer) => {
        await peer.sendFrame(hello("eve"));
        // The server hangs up long before 10 MB are through: the write
        // then fails, which is what we expect.
        const line = new Uint8Array(10 * 1024 * 1024).fill(0x61);
        await peer.send(line).catch(() => {});
      },
      "too-long",
      "a line longer than 32768 bytes",
    );
  });

  await t.step("a peer that vanishes during its turn", async () => {
    const before = server.stderrLines.length;
    const peer = await greetedPeer(address);
    peer.close();
    assertEquals(
      await newStderrLine(server, before),
      "eve closed the connection without saying goodbye (its program may " +
        "have stopped or crashed).",
    );
    assertEquals(server.stderrLines.length, before + 1);
  });

  await t.step("a peer whose connection is reset", async () => {
    const before = server.stderrLines.length;
    // When a process ends with unread data in a socket, the operating
    // system resets the connection (RST) instead of closing it in order.
    // This peer, a process of its own, says hello, reads one byte of the
    // server's hello (so the rest is surely there, unread), and exits.
    const helloLine = JSON.stringify(JSON.stringify(hello("eve")) + "\n");
    const script = `
      const address = { hostname: "127.0.0.1", port: ${address.port} };
      const conn = await Deno.connect(address);
      await conn.write(new TextEncoder().encode(${helloLine}));
      await conn.read(new Uint8Array(1));
      Deno.exit(0);`;
    const peer = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "null",
      stderr: "inherit",
    });
    assertEquals((await peer.output()).code, 0);
    assertMatch(
      await newStderrLine(server, before),
      /^Lost eve: 127\.0\.0\.1:\d+ closed the connection abruptly \(connection reset\)\.$/,
    );
    assertEquals(server.stderrLines.length, before + 1);
  });

  await t.step(
    "escape sequences, C1, bidi and zero-width characters are shown escaped",
    async () => {
      using peer = await greetedPeer(address);
      await peer.sendFrame({
        type: "message",
        text: "\x1b[2J\x1b]0;owned\x07\u009b31m\u202eexe.txt\r\n\x7f" +
          "a\u200bb\u200dc\ufeffd\u2028e\u0085!",
      });
      await server.waitForLine(/^eve: \\u\{1b\}/);
      assertEquals(
        chatLines(server.stdoutLines).at(-1),
        String.raw`eve: \u{1b}[2J\u{1b}]0;owned\u{7}\u{9b}31m\u{202e}` +
          String.raw`exe.txt\u{d}\u{a}\u{7f}a\u{200b}b\u{200d}c\u{feff}d` +
          String.raw`\u{2028}e\u{85}!`,
      );
      // An error frame's message is shown escaped too.
      await peer.sendFrame({
        type: "error",
        code: "bad-frame",
        message: "\x1b]0;owned\x07\u200b",
      });
      await peer.closed();
      peer.close();
      await server.waitForLine(
        /^eve ended the chat with an error: \\u\{1b\}\]0;owned\\u\{7\}\\u\{200b\} \(bad-frame\)$/,
        { stream: "stderr" },
      );
      for (const line of [...server.stdoutLines, ...server.stderrLines]) {
        assert(!hasControls(line), line);
      }
    },
  );

  await t.step("after all that, a good client still gets to chat", async () => {
    await goodClientChats(server, address.port, "bob");
  });

  assertEquals((await server.stop()).code, 0);
});

// ---------------------------------------------------------------------------
// Bad servers, against the client

/** A raw "server" on a free port, and the chat client connected to it. */
async function clientOfRawServer(stdin: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = startClient(listener.addr);
  await client.write(stdin);
  const peer = new RawPeer(await listener.accept());
  listener.close();
  return { client, peer };
}

Deno.test("chat client: a server that is not a chat server", async () => {
  const { client, peer } = await clientOfRawServer("hi\n");
  await using _ = client;
  using _peer = peer;
  // What the greeting server of section 12.4 says.
  await peer.send("0. Hi new friend!\n");
  const frame = await peer.frame();
  assertEquals(frame.type, "error");
  assertEquals(frame.code, "not-json");
  await clientEnds(
    client,
    peer,
    1,
    `error: 127.0.0.1:${peer.localPort} sent a line that is not JSON; told it so ` +
      `and hung up. Is it a chat server (deno task chat server)?`,
  );
});

Deno.test("chat client: a server with its own name that never refuses it is named for that, not for a missing hello", async () => {
  const { client, peer } = await clientOfRawServer("hi\n");
  await using _ = client;
  using _peer = peer;
  await peer.sendFrame(hello("bob")); // the client's own name, then nothing
  assertEquals(await peer.frame(), hello("bob"));
  // The client waits 10 s for the name-taken it should get, then leaves
  // politely, without an error frame (it was not the server's hello that
  // was missing).
  assertEquals(await peer.line(15_000), null);
  peer.close();
  const result = await client.finished();
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    `error: The chat server at 127.0.0.1:${peer.localPort} is also called ` +
      `bob and did not refuse us (name-taken). Choose another with --username.`,
  );
});

Deno.test("chat client: shows a server's escape sequences neutralised", async () => {
  const { client, peer } = await clientOfRawServer("hi\n");
  await using _ = client;
  using _peer = peer;
  await peer.sendFrame(hello("mallory"));
  assertEquals(await peer.frame(), hello("bob"));
  assertEquals(await peer.frame(), { type: "message", text: "hi" });
  await peer.sendFrame({ type: "message", text: "\x1b[2J\x1b]2;pwned\x07" });
  await peer.sendFrame({ type: "bye" });
  await peer.closed();
  peer.close();
  const result = await client.finished();
  assertEquals(result.code, 0);
  assertEquals(chatLines(client.stdoutLines), [
    "bob: hi",
    String.raw`mallory: \u{1b}[2J\u{1b}]2;pwned\u{7}`,
    "mallory left the chat",
  ]);
  assert(!hasControls(result.stdout.replaceAll("\n", "")));
});

Deno.test("chat client: a server that vanishes mid-turn; exit 1, one line", async () => {
  const { client, peer } = await clientOfRawServer("hi\n");
  await using _ = client;
  await peer.sendFrame(hello("alice"));
  assertEquals(await peer.frame(), hello("bob"));
  assertEquals(await peer.frame(), { type: "message", text: "hi" });
  peer.close();
  const result = await client.finished();
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    "error: alice closed the connection without saying goodbye (its " +
      "program may have stopped or crashed).",
  );
});

Deno.test("chat client: a server that sends out of turn", async () => {
  const { client, peer } = await clientOfRawServer("");
  await using _ = client;
  using _peer = peer;
  await peer.sendFrame(hello("alice"));
  assertEquals(await peer.frame(), hello("bob"));
  await peer.sendFrame({ type: "message", text: "me first" });
  const frame = await peer.frame();
  assertEquals(frame.code, "out-of-turn");
  await clientEnds(
    client,
    peer,
    1,
    "error: alice sent a message out of turn (it was bob's turn); told it " +
      "so and hung up.",
  );
});

Deno.test("chat client: a repeated key from the server is refused", async () => {
  const { client, peer } = await clientOfRawServer("hi\n");
  await using _ = client;
  using _peer = peer;
  await peer.sendFrame(hello("alice"));
  assertEquals(await peer.frame(), hello("bob"));
  assertEquals(await peer.frame(), { type: "message", text: "hi" });
  await peer.send('{"type":"message","text":"real","text":"fake"}\n');
  const frame = await peer.frame();
  assertEquals(frame.code, "bad-frame");
  await peer.closed();
  peer.close();
  const result = await client.finished();
  assertEquals(result.code, 1);
  assertEquals(chatLines(client.stdoutLines), ["bob: hi"]);
  assertEquals(
    result.stderr,
    "error: alice sent a frame with a repeated key; told it so and hung up.",
  );
});

// ---------------------------------------------------------------------------
// At a terminal: tmux is the person's terminal, 40 columns wide

/** A tmux server of our own (its socket in a temporary folder), 40 x 20. */
class Terminal {
  readonly folder = Deno.makeTempDirSync({ prefix: "chat-tmux-" });

  async tmux(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-S", `${this.folder}/socket`, ...args],
      stdin: "null",
    }).output();
    return decoder.decode(output.stdout);
  }

  /** Starts the chat in the window, as a person would at a terminal. */
  async start(args: string[]): Promise<void> {
    const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
    const command = [Deno.execPath(), ...taskArgs("chat"), ...args]
      .map(quote).join(" ");
    await this.tmux(
      "new-session",
      "-d",
      "-x",
      "40",
      "-y",
      "20",
      "-c",
      new URL(ROOT).pathname,
      `env NO_COLOR=1 ${command}; sleep 30`,
    );
  }

  /** What the window shows now, row by row. */
  async screen(): Promise<string[]> {
    return (await this.tmux("capture-pane", "-p")).split("\n");
  }

  /** Waits until a row matches `pattern`. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (let i = 0; i < 200; i++) {
      const rows = await this.screen();
      const match = rows.map((row) => row.match(pattern)).find((m) => m);
      if (match) return match;
      await sleep(100);
    }
    throw new Error(`no row matches ${pattern}:\n${await this.screen()}`);
  }

  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "0", "-l", text);
    await this.tmux("send-keys", "-t", "0", "Enter");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.tmux("kill-server");
    await Deno.remove(this.folder, { recursive: true });
  }
}

const hasTmux = await new Deno.Command("tmux", { args: ["-V"] }).output()
  .then((output) => output.success, () => false);

Deno.test({
  name: "chat at a terminal: a peer cannot fake a line by padding to the width",
  ignore: !hasTmux,
  fn: async () => {
    await using terminal = new Terminal();
    await terminal.start(["server", "--username", "alice", "--port", "0"]);
    const [, port] = await terminal.waitFor(/^Listening on 127\.0\.0\.1:(\d+)/);
    using eve = await greetedPeer({ hostname: "127.0.0.1", port: +port });
    await terminal.waitFor(/^eve joined the chat/);
    // "eve: hi" and spaces to the window's 40 columns: a terminal left to
    // wrap it itself would start its next row with "alice: I will pay".
    const fake = "alice: I will pay eve 100 euros";
    await eve.sendFrame({
      type: "message",
      text: "hi" + " ".repeat(40 - "eve: hi".length) + fake,
    });
    await terminal.waitFor(/I will pay/);
    const rows = await terminal.screen();
    const row = rows.find((row) => row.includes("I will pay"))!;
    assert(!row.startsWith("alice:"), rows.join("\n"));
    assertMatch(row, /^ {5}/, rows.join("\n")); // under "eve: ", indented
    assert(rows.every((row) => row.length <= 40));

    // alice answers at her prompt; eve sees it; alice leaves with /quit.
    await terminal.waitFor(/^alice:\s*$/);
    await terminal.type("no way");
    assertEquals(await eve.frame(), { type: "message", text: "no way" });
    await eve.sendFrame({ type: "message", text: "a\u200bb\u0085c" });
    await terminal.waitFor(/^eve: a\\u\{200b\}b\\u\{85\}c$/);
    await terminal.type("/quit");
    assertEquals(await eve.frame(), { type: "bye" });
    await terminal.waitFor(/^alice left the chat$/);
    await eve.closed();
  },
});

// ---------------------------------------------------------------------------
// The command line

Deno.test("chat --help prints usage and exits 0", async () => {
  const result = await runTask("chat", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task chat server\|client /);
});

for (
  const [args, message] of <[string[], string][]> [
    [[], "give the role and --username NAME (there is no terminal to ask)"],
    [
      ["client"],
      "give the role and --username NAME (there is no terminal to ask)",
    ],
    [["host", "--username", "bob"], 'unknown argument "host"'],
    [
      ["server", "client", "--username", "bob"],
      'give one role, "server" or "client"',
    ],
    [
      ["client", "--username", "b o b"],
      '--username must be 1 to 32 letters, digits, "_", "." or "-"',
    ],
    [
      ["server", "--username", "alice", "--port", "99999"],
      "--port must be a whole number from 0 to 65535",
    ],
    [
      ["client", "--username", "bob", "--port", "0"],
      "a client's --port cannot be 0",
    ],
    [
      ["client", "--username", "bob", "--host", "[::1"],
      "--host must be a name or an address",
    ],
    [
      ["server", "--username", "alice", "--colour"],
      'unknown argument "--colour"',
    ],
  ]
) {
  Deno.test(`chat ${args.join(" ")}: one line, exit 2`, async () => {
    // No stdin: like a script, there is no terminal to ask on.
    const result = await runTask("chat", args, { stdin: "" });
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
  });
}

Deno.test("chat client with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("chat", [
    "client",
    "--username",
    "bob",
    "--port",
    `${port}`,
  ], { stdin: "" });
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    `error: Nothing is listening on 127.0.0.1:${port} (connection refused): ` +
      `start the server first (deno task chat server --username NAME).`,
  );
});

Deno.test("chat client with the server's own name: the server refuses it (name-taken)", async () => {
  await using server = startServer();
  const { port } = await server.listening();
  const client = await runTask("chat", [
    "client",
    "--username",
    "alice",
    "--port",
    `${port}`,
  ], { stdin: "hello\n" });
  assertEquals(client.code, 1);
  assertEquals(client.stdout, "");
  assertEquals(
    client.stderr,
    `error: alice ended the chat with an error: You sent the username ` +
      `"alice", which is the server's own. Choose another with --username. ` +
      `(name-taken)`,
  );
  // The server says what happened: no "may have crashed".
  const line = await newStderrLine(server, 0);
  assertMatch(
    line,
    /^127\.0\.0\.1:\d+ sent the username "alice", which is the server's own; told it so and hung up\.$/,
  );
  await server.write("hi\n");
  const bob = await runTask("chat", [
    "client",
    "--username",
    "bob",
    "--port",
    `${port}`,
  ], { stdin: "hello\n" });
  assertEquals(bob.code, 0, bob.stderr);
  assertEquals((await server.stop()).code, 0);
  assertEquals(server.stderrLines.length, 1, server.transcript());
});

// ---------------------------------------------------------------------------
// Turns, with lines typed ahead (issue 13: the reference must be right)

Deno.test("chat client: a message during its turn is out of turn, even with a line typed ahead", async (t) => {
  /** Client bob with `stdin` typed ahead; `act` plays alice, the server. */
  async function expectOutOfTurn(
    stdin: string,
    act: (peer: RawPeer) => Promise<void>,
    shown: string[],
  ) {
    const { client, peer } = await clientOfRawServer(stdin);
    await using _ = client;
    using _peer = peer;
    await act(peer);
    const frame = await peer.frame();
    assertEquals(frame.code, "out-of-turn", JSON.stringify(frame));
    await peer.closed();
    peer.close();
    const result = await client.finished();
    assertEquals(result.code, 1);
    assertEquals(chatLines(client.stdoutLines), shown);
    assertEquals(
      result.stderr,
      "error: alice sent a message out of turn (it was bob's turn); told " +
        "it so and hung up.",
    );
  }
  const helloLine = JSON.stringify(hello("alice")) + "\n";
  const message = (text: string) =>
    JSON.stringify({ type: "message", text }) + "\n";

  await t.step("with its hello, before the client's first turn", async () => {
    await expectOutOfTurn("one\ntwo\n", async (peer) => {
      await peer.send(helloLine + message("me first"));
      assertEquals(await peer.frame(), hello("bob"));
    }, []);
  });
  await t.step("glued to the reply", async () => {
    await expectOutOfTurn("one\ntwo\n", async (peer) => {
      await peer.send(helloLine);
      assertEquals(await peer.frame(), hello("bob"));
      assertEquals(await peer.frame(), { type: "message", text: "one" });
      await peer.send(message("reply") + message("too soon"));
    }, ["bob: one", "alice: reply"]);
  });
  await t.step("arrived, but still in the system's buffer", async () => {
    // Two frames of 24 KiB each (4088 control characters, each written
    // "\u0001"): the client's first reads take the reply and part of the
    // next frame, whose rest waits in the system until the client reads it.
    const long = (text: string) => message(text + "\x01".repeat(4088));
    await expectOutOfTurn("one\ntwo\n", async (peer) => {
      await peer.send(helloLine);
      assertEquals(await peer.frame(), hello("bob"));
      assertEquals(await peer.frame(), { type: "message", text: "one" });
      await peer.send(long("reply") + long("too soon"));
    }, ["bob: one", `alice: reply${"\\u{1}".repeat(4088)}`]);
  });
});

Deno.test("chat server: a message during its turn is out of turn, even with a line typed ahead", async () => {
  await using server = startServer();
  const address = await server.listening();
  await server.write("typed ahead\n");
  using peer = await greetedPeer(address);
  await peer.send(
    JSON.stringify({ type: "message", text: "one" }) + "\n" +
      JSON.stringify({ type: "message", text: "two" }) + "\n",
  );
  const frame = await peer.frame();
  assertEquals(frame.code, "out-of-turn", JSON.stringify(frame));
  await peer.closed();
  peer.close();
  assertEquals(
    await newStderrLine(server, 0),
    "eve sent a message out of turn (it was alice's turn); told it so and " +
      "hung up.",
  );
  assertEquals(chatLines(server.stdoutLines), ["eve: one"]);
  // alice's line was not sent: it waits for the next chat.
  const bob = await runTask("chat", [
    "client",
    "--username",
    "bob",
    "--port",
    `${address.port}`,
  ], { stdin: "hi\n" });
  assertEquals(bob.code, 0, bob.stderr);
  assertEquals(chatLines(bob.stdout.split("\n")), [
    "bob: hi",
    "alice: typed ahead",
    "bob left the chat",
  ]);
  assertEquals((await server.stop()).code, 0);
});

// ---------------------------------------------------------------------------
// Error frames: shown, never answered

Deno.test("chat client: an error with a digit in its code (bad-utf8) is shown, not answered", async () => {
  const { client, peer } = await clientOfRawServer("hi\n");
  await using _ = client;
  using _peer = peer;
  await peer.sendFrame(hello("alice"));
  assertEquals(await peer.frame(), hello("bob"));
  assertEquals(await peer.frame(), { type: "message", text: "hi" });
  await peer.sendFrame({
    type: "error",
    code: "bad-utf8",
    message: "You sent a line that is not valid UTF-8.",
  });
  // Rule 5: no error answers an error. The client only hangs up.
  await clientEnds(
    client,
    peer,
    1,
    "error: alice ended the chat with an error: You sent a line that is " +
      "not valid UTF-8. (bad-utf8)",
  );
});

Deno.test("chat client: stopped before the server's hello, it says bye", async () => {
  // Connected (we accepted) and waiting for a hello that never comes, bob
  // presses Ctrl-C. Nothing shows when his program has seen its connection
  // open: pressed in the same millisecond as our accept, Ctrl-C stops it
  // before, with no connection to say bye on (it hangs up, silent). So we
  // give it a moment, and try again with a longer one if that was too short.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { client, peer } = await clientOfRawServer("hi\n");
    await using _ = client;
    using _peer = peer;
    await sleep(100 * attempt);
    client.kill("SIGINT");
    const line = await peer.line();
    if (line === null && attempt < 5) continue;
    assertEquals(line, JSON.stringify({ type: "bye" }));
    await peer.closed();
    peer.close();
    const result = await client.finished();
    assertEquals(result.code, 0);
    assertEquals(chatLines(client.stdoutLines), [
      "bob left the chat (SIGINT)",
    ]);
    assertEquals(result.stderr, "");
    return;
  }
});

// ---------------------------------------------------------------------------
// The hello timeout: 10 seconds from the connection, on both sides at once

Deno.test("chat: no hello within 10 s of the connection: timeout, both sides", async () => {
  const seconds = (since: number) => (Date.now() - since) / 1000;
  const timedOut = (frame: Record<string, unknown>) => {
    assertEquals(frame.code, "timeout", JSON.stringify(frame));
    assertStringIncludes(
      String(frame.message),
      "You sent no hello within 10 seconds.",
    );
  };
  await using server = startServer();
  const address = await server.listening();

  // The server counts from accepting the connection, when it says hello.
  const serverSide = async () => {
    const before = Date.now(); // no later than the server's accept
    using peer = await RawPeer.connect(address);
    assertEquals(await peer.frame(), hello("alice"));
    const line = await peer.line(15_000);
    const elapsed = seconds(before);
    assert(line !== null);
    timedOut(JSON.parse(line));
    await peer.closed();
    peer.close();
    assert(
      elapsed >= 10 && elapsed < 14,
      `the timeout came after ${elapsed} s`,
    );
    assertMatch(
      await newStderrLine(server, 0),
      /^127\.0\.0\.1:\d+ sent no hello within 10 seconds; told it so and hung up\.$/,
    );
  };

  // The client counts from its connect; we see that as our accept, which
  // may be a moment after it (hence a little slack below 10).
  const clientSide = async () => {
    const { client, peer } = await clientOfRawServer("hi\n");
    await using _ = client;
    using _peer = peer;
    const accepted = Date.now();
    const line = await peer.line(15_000);
    const elapsed = seconds(accepted);
    assert(line !== null);
    timedOut(JSON.parse(line));
    await peer.closed();
    peer.close();
    assert(
      elapsed > 9.5 && elapsed < 14,
      `the timeout came after ${elapsed} s`,
    );
    const result = await client.finished();
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr,
      `error: 127.0.0.1:${peer.localPort} sent no hello within 10 seconds; ` +
        "told it so and hung up. Is it a chat server (deno task chat server)?",
    );
  };
  await Promise.all([serverSide(), clientSide()]);
  assertEquals((await server.stop()).code, 0);
});

// ---------------------------------------------------------------------------
// Out of file descriptors (issue 16): accepting fails, the server lives

Deno.test("chat server out of file descriptors: one line a burst, then it accepts again", async () => {
  // 64 descriptors at most (Deno itself holds about 20). DENO_NO_UPDATE_CHECK:
  // Deno's own update check, in the background, would fail too and print a
  // warning of its own.
  await using server = TaskProcess.spawn("prlimit", [
    "--nofile=64:64",
    Deno.execPath(),
    ...taskArgs("chat"),
    "server",
    "--username",
    "alice",
    "--port",
    "0",
  ], { stdin: true, env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
  const address = await server.listening();
  await using bob = startClient(address);
  await bob.write("hi\n");
  await server.waitForLine(/^bob: hi$/);

  // 100 connections at once, held open: each is told busy, and the server
  // runs out of descriptors before it can hang up on them all.
  const failed = /^Could not accept a connection: Too many open files/;
  const conns = await Promise.all(
    Array.from({ length: 100 }, () => Deno.connect(address)),
  );
  try {
    await server.waitForLine(failed, { stream: "stderr" });
    for (let i = 0; i < 100 && turnedAway(server).total < 100; i++) {
      await sleep(100);
    }
  } finally {
    for (const conn of conns) conn.close();
  }
  // Every one was answered in the end, and each burst of failures (from a
  // failed accept to the next good one) made one line, not one a failure.
  assertEquals(turnedAway(server).total, 100, server.transcript());
  const bursts = server.stderrLines.filter((line) => failed.test(line));
  assert(bursts.length <= 5, server.transcript());
  const other = server.stderrLines.filter((line) =>
    !failed.test(line) && !/^Turned away/.test(line)
  );
  assertEquals(other, []);

  // The chat went on; after it, the next client is served at once.
  await server.write("still here\n");
  await bob.waitForLine(/^alice: still here$/);
  await bob.write("/quit\n");
  assertEquals((await bob.finished()).code, 0);
  await server.waitForLine(/^bob left the chat$/);
  await goodClientChats(server, address.port, "carol");
  assertEquals((await server.stop()).code, 0);
});

// ---------------------------------------------------------------------------
// The Python client of chat/README.md, against our server

Deno.test({
  name: "chat/README.md's Python client chats with deno task chat server",
  ignore: PYTHON === null,
  fn: async () => {
    const readme = await Deno.readTextFile(new URL("chat/README.md", ROOT));
    const code = readme.match(/```python\n([\s\S]*?)```/)?.[1];
    assert(code !== undefined, "no Python client in chat/README.md");
    const folder = await Deno.makeTempDir({ prefix: "chat-python-" });
    try {
      await Deno.writeTextFile(`${folder}/chat_client.py`, code);
      await using server = startServer();
      const { port } = await server.listening();
      await server.write("hi \x1b[2Jbob\nfine\n");
      // The command line of our chat's client, which a checker uses too.
      await using bob = TaskProcess.spawn(PYTHON!, [
        `${folder}/chat_client.py`,
        "client",
        "--host",
        "127.0.0.1",
        "--port",
        `${port}`,
        "--username",
        "bob",
      ], { stdin: true, env: { PYTHONUNBUFFERED: "1" } });
      await bob.write("hello alice\nhéllo 😀\n/quit\nnever\n");
      const result = await bob.finished();
      assertEquals(result.code, 0, result.stderr);
      assertEquals(result.stderr, "");
      const conversation = (escape: string) => [
        "bob: hello alice",
        `alice: hi ${escape}[2Jbob`,
        "bob: héllo 😀",
        "alice: fine",
        "bob left the chat",
      ];
      assertEquals(result.stdout.split("\n"), conversation(String.raw`\x1b`));
      await server.waitForLine(/^bob left the chat$/);
      assertEquals(
        chatLines(server.stdoutLines),
        conversation(String.raw`\u{1b}`),
      );
      // It closed politely: the server saw a bye, and nothing went wrong.
      assertEquals(server.stderrLines, []);
      assertEquals((await server.stop()).code, 0);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});
