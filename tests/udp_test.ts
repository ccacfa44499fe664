// Section 12.4: the UDP server (`udp-server`) and client (`udp-client`),
// each started through its deno task, talking to each other and to raw
// Deno.listenDatagram sockets in the test. (Deno.listenDatagram needs
// --unstable-net in the test process too; the test task passes it.)

import { assert, assertEquals, assertMatch } from "@std/assert";
import { runDeno, runTask, sleep, TaskProcess } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GREETING = "Hi, I'm sending this message.";

/**
 * A UDP socket of the test's own, on a free loopback port, closed by
 * `using` at the end of the test (unless receiveWithin closed it already).
 */
function testSocket(hostname = "127.0.0.1"): Deno.DatagramConn & Disposable {
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  return Object.assign(socket, {
    [Symbol.dispose]() {
      try {
        socket.close();
      } catch {
        // Closed already, after a receive timed out.
      }
    },
  });
}

/**
 * Receives the next datagram, or fails the test after `timeoutMs` (a lost
 * datagram would otherwise leave the test waiting forever). The socket is
 * closed on failure, so no operation is left pending.
 */
async function receiveWithin(
  socket: Deno.DatagramConn,
  timeoutMs = 5000,
): Promise<[Uint8Array, Deno.NetAddr]> {
  const timer = setTimeout(() => socket.close(), timeoutMs);
  try {
    const [data, from] = await socket.receive(new Uint8Array(65536));
    return [data, from as Deno.NetAddr];
  } catch (error) {
    throw new Error(`no datagram within ${timeoutMs} ms (${error})`);
  } finally {
    clearTimeout(timer);
  }
}

/** What a peer may send to write on our terminal, and how it must show. */
const HOSTILE = "\x1b[2J\u009b31mred\u202eevil\u200bhidden\u2028x\x7f\x07";
const HOSTILE_SHOWN =
  "\\u{1b}[2J\\u{9b}31mred\\u{202e}evil\\u{200b}hidden\\u{2028}x\\u{7f}\\u{7}";

Deno.test("udp-client and udp-server: message out, Response for 127.0.0.1 back", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  const address = await server.listening();
  assertEquals(address.hostname, "127.0.0.1");

  const client = await runTask("udp-client", ["--port", `${address.port}`]);
  assertEquals(client, {
    code: 0,
    signal: null,
    stdout: "Response for 127.0.0.1",
    stderr: "",
  });
  await server.waitForLine(
    /^From 127\.0\.0\.1:\d+: Hi, I'm sending this message\.$/,
  );
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  assertEquals(stopped.stdout.split("\n"), [
    `Listening on 127.0.0.1:${address.port}`,
    stopped.stdout.split("\n")[1],
    "Server stopped (SIGINT).",
  ]);
  assertEquals(stopped.stderr, "");
});

Deno.test("udp-client and udp-server over IPv6: Response for ::1", async () => {
  await using server = TaskProcess.start("udp-server", [
    "--host",
    "::1",
    "--port",
    "0",
  ]);
  const address = await server.listening();
  assertEquals(address.hostname, "::1");
  for (const host of ["::1", "[::1]"]) {
    const client = await runTask("udp-client", [
      "--host",
      host,
      "--port",
      `${address.port}`,
    ]);
    assertEquals(client.code, 0, client.stderr);
    assertEquals(client.stdout, "Response for ::1");
  }
  await server.waitForLine(
    /^From \[::1\]:\d+: Hi, I'm sending this message\.$/,
  );
  assertEquals((await server.stop()).code, 0);
});

Deno.test("udp-client takes the answer from an address written another way (127.1, 0:0:0:0:0:0:0:1, ::ffff:127.0.0.1)", async () => {
  const cases = [
    { server: "127.0.0.1", written: "127.1", any: "0.0.0.0" },
    { server: "::1", written: "0:0:0:0:0:0:0:1", any: "[::]" },
    // IPv4 through an IPv6 socket: the server on both families at once
    // (its task allows only loopback, so deno run allows it all here).
    { server: "::", written: "::ffff:127.0.0.1", any: "[::]" },
  ];
  for (const { server, written, any } of cases) {
    await using udp = TaskProcess.spawn(Deno.execPath(), [
      "run",
      "--unstable-net",
      "--allow-net",
      "chapters/12_4_udp_server.ts",
      "--host",
      server,
      "--port",
      "0",
    ], { env: { NO_COLOR: "1" } });
    const { port } = await udp.listening();
    // As the lesson's own sentence says, for a host outside its task's
    // --allow-net: deno run with the host (and our "any" address) allowed.
    const host = written.includes(":") ? `[${written}]` : written;
    const client = await runDeno([
      "run",
      "--no-prompt",
      "--unstable-net",
      `--allow-net=${host},${any}`,
      "chapters/12_4_udp_client.ts",
      "--host",
      written,
      "--port",
      `${port}`,
    ]);
    assertEquals([client.code, client.stderr], [0, ""], written);
    const answer = server === "::" ? written : server;
    assertEquals(client.stdout, `Response for ${answer}`);
    assertEquals((await udp.stop()).code, 0);
  }
});

Deno.test("udp-client --message and --host localhost: the server prints the text", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  const address = await server.listening();
  const text = "Héllo, UDP! 😀 (a custom message)";
  const client = await runTask("udp-client", [
    "--host",
    "localhost",
    "--port",
    `${address.port}`,
    "--message",
    text,
  ]);
  assertEquals(client.code, 0, client.stderr);
  assertEquals(client.stdout, "Response for 127.0.0.1");
  const line = await server.waitForLine(/^From 127\.0\.0\.1:\d+: (.*)$/);
  assertEquals(line[1], text);
  await server.stop();
});

Deno.test("udp-client with no answer: the timeout sentence, exit 1", async () => {
  // A socket that receives the datagram and never answers.
  using silent = testSocket();
  const port = (silent.addr as Deno.NetAddr).port;
  const started = Date.now();
  const client = await runTask("udp-client", [
    "--port",
    `${port}`,
    "--timeout",
    "0.5",
  ]);
  const elapsed = Date.now() - started;
  assertEquals(client.code, 1);
  assertEquals(client.stdout, "");
  assertEquals(
    client.stderr,
    `error: No answer from 127.0.0.1:${port} within 0.5 s: the server may ` +
      `not be running (deno task udp-server), or a datagram was lost (UDP ` +
      `does not resend); try again, or wait longer with --timeout.`,
  );
  assert(elapsed >= 500, `gave up after ${elapsed} ms, before 0.5 s`);
  // The datagram did arrive: the client sent it before waiting.
  const [data] = await receiveWithin(silent);
  assertEquals(decoder.decode(data), GREETING);
});

Deno.test("udp-client ignores datagrams that do not come from the server", async () => {
  using fake = testSocket(); // plays the server
  using stranger = testSocket(); // another program, on another port
  const port = (fake.addr as Deno.NetAddr).port;
  const client = TaskProcess.start("udp-client", ["--port", `${port}`]);
  try {
    const [, clientAddress] = await receiveWithin(fake);
    await stranger.send(encoder.encode("not the answer"), clientAddress);
    await sleep(100);
    await fake.send(encoder.encode("the answer"), clientAddress);
    const result = await client.finished();
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout, "the answer");
  } finally {
    await client[Symbol.asyncDispose]();
  }
});

// A server that answers from another socket (another port) is running:
// the client said it "may not be running". It names who answered instead.
Deno.test("udp-client: an answer from another port is named when time runs out", async () => {
  using fake = testSocket(); // receives, and answers from...
  using other = testSocket(); // ...another port
  const port = (fake.addr as Deno.NetAddr).port;
  const otherPort = (other.addr as Deno.NetAddr).port;
  const client = TaskProcess.start("udp-client", [
    "--port",
    `${port}`,
    "--timeout",
    "0.5",
  ]);
  try {
    const [, clientAddress] = await receiveWithin(fake);
    await other.send(encoder.encode("Response for 127.0.0.1"), clientAddress);
    const result = await client.finished();
    assertEquals([result.code, result.stdout, result.stderr], [
      1,
      "",
      `error: No answer from 127.0.0.1:${port} within 0.5 s, only from ` +
      `127.0.0.1 port ${otherPort}, not where we sent to (does it answer ` +
      "from another socket?)",
    ]);
  } finally {
    await client[Symbol.asyncDispose]();
  }
});

// Issue 9.5: the client used to print the server's bytes raw, so a server
// could clear the screen, write C1 controls (U+009B is a one-byte CSI), turn
// text around (U+202E), hide text (U+200B) or break lines (U+2028).
Deno.test("udp-client shows a server's control characters instead of obeying them", async () => {
  using fake = testSocket();
  const port = (fake.addr as Deno.NetAddr).port;
  const client = TaskProcess.start("udp-client", ["--port", `${port}`]);
  try {
    const [, clientAddress] = await receiveWithin(fake);
    await fake.send(encoder.encode(HOSTILE), clientAddress);
    const result = await client.finished();
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout, HOSTILE_SHOWN);
  } finally {
    await client[Symbol.asyncDispose]();
  }
});

Deno.test("udp-server answers empty, 65,507-byte, non-UTF-8 and escape-laden datagrams", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  const address = await server.listening();
  const target: Deno.NetAddr = { transport: "udp", ...address };
  using socket = testSocket();
  const me = `127.0.0.1:${(socket.addr as Deno.NetAddr).port}`;

  const cases: [Uint8Array, string][] = [
    [new Uint8Array(0), `From ${me} (empty datagram)`],
    [
      encoder.encode("A".repeat(65_507)),
      `From ${me} (65507 bytes): ${"A".repeat(200)}…`,
    ],
    // 300 emoji, each two UTF-16 units: the first 200 characters, whole.
    [
      encoder.encode("😀".repeat(300)),
      `From ${me} (1200 bytes): ${"😀".repeat(200)}…`,
    ],
    // "foo", then two bytes that are not UTF-8: shown as "�".
    [
      new Uint8Array([0x66, 0x6f, 0x6f, 0xff, 0xfe]),
      `From ${me}: foo\u{fffd}\u{fffd}`,
    ],
    // Clear-screen, a line break and a bell: written out, not obeyed.
    [
      encoder.encode("\x1b[2Jhello\nFrom 6.6.6.6:6: fake\x07"),
      `From ${me}: \\u{1b}[2Jhello\\u{a}From 6.6.6.6:6: fake\\u{7}`,
    ],
    // Issue 9.5: C1, bidi, zero-width and U+2028 too, not only C0.
    [encoder.encode(HOSTILE), `From ${me}: ${HOSTILE_SHOWN}`],
  ];
  for (const [datagram, logLine] of cases) {
    await socket.send(datagram, target);
    const [reply, from] = await receiveWithin(socket);
    assertEquals(decoder.decode(reply), "Response for 127.0.0.1");
    assertEquals(from.port, address.port);
    await server.waitForLine(
      new RegExp(`^${RegExp.escape(logLine)}$`),
    );
  }
  // Still alive, and still answering the book's message.
  const client = await runTask("udp-client", ["--port", `${address.port}`]);
  assertEquals(client.stdout, "Response for 127.0.0.1");
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  // One line per datagram: nothing a peer sent broke a line in two.
  assertEquals(stopped.stdout.split("\n").length, 1 + cases.length + 1 + 1);
  assertEquals(stopped.stderr, "");
});

Deno.test("udp-server answers every one of 300 datagrams sent in quick bursts", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  const address = await server.listening();
  const target: Deno.NetAddr = { transport: "udp", ...address };
  using socket = testSocket();
  const me = `127.0.0.1:${(socket.addr as Deno.NetAddr).port}`;
  // Bursts of 100, sent without waiting: 100 small datagrams fit in a
  // socket's receive queue (about 200 KB), so none has to be dropped.
  let answers = 0;
  for (let burst = 0; burst < 3; burst++) {
    for (let i = 0; i < 100; i++) {
      await socket.send(encoder.encode(`datagram ${burst * 100 + i}`), target);
    }
    for (let i = 0; i < 100; i++) {
      const [reply] = await receiveWithin(socket);
      assertEquals(decoder.decode(reply), "Response for 127.0.0.1");
      answers += 1;
    }
  }
  assertEquals(answers, 300);
  await server.waitForLine(new RegExp(`^From ${me}: datagram 299$`));
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  const logged = stopped.stdout.split("\n")
    .filter((line) => line.startsWith(`From ${me}: datagram `))
    .map((line) => Number(line.slice(line.lastIndexOf(" ") + 1)));
  assertEquals(logged, Array.from({ length: 300 }, (_, i) => i));
});

// Issue 9.2: `kill` (SIGTERM) and a closed terminal (SIGHUP) stop the server
// as Ctrl-C does, and the last line names the signal that came.
for (const signal of ["SIGTERM", "SIGHUP"] as const) {
  Deno.test(`udp-server stops cleanly on ${signal}, and says so`, async () => {
    await using server = TaskProcess.start("udp-server", ["--port", "0"]);
    const address = await server.listening();
    const client = await runTask("udp-client", ["--port", `${address.port}`]);
    assertEquals(client.stdout, "Response for 127.0.0.1");
    server.kill(signal);
    const stopped = await server.finished();
    assertEquals([stopped.code, stopped.signal], [0, null]);
    assertMatch(
      stopped.stdout,
      new RegExp(`\nServer stopped \\(${signal}\\)\\.$`),
    );
    assertEquals(stopped.stderr, "");
  });
}

Deno.test("udp-server: one Ctrl-C that arrives twice (deno task) is still a clean stop", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  await server.listening();
  server.kill("SIGINT");
  server.kill("SIGINT");
  const stopped = await server.finished();
  assertEquals(stopped.code, 0, stopped.stderr);
  assertMatch(stopped.stdout, /\nServer stopped \(SIGINT\)\.$/);
  assertEquals(stopped.stderr, "");
});

Deno.test("udp-server: port already in use -> one sentence, exit 1", async () => {
  using taken = testSocket();
  const port = (taken.addr as Deno.NetAddr).port;
  const result = await runTask("udp-server", ["--port", `${port}`]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  assertEquals(
    result.stderr,
    `error: Port ${port} on 127.0.0.1 is in use by another program.`,
  );
});

Deno.test("udp-client to a host outside --allow-net gives the flags to add, exit 1", async () => {
  const result = await runTask("udp-client", ["--host", "127.0.0.2"]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  // Another host: our own socket is bound to 0.0.0.0, which needs the flag
  // too, and the task does not give it.
  assertEquals(
    result.stderr,
    "error: Deno was not allowed to reach 127.0.0.2:25000 (to allow it: " +
      "deno run --unstable-net --allow-net=127.0.0.2,0.0.0.0 " +
      "chapters/12_4_udp_client.ts --host 127.0.0.2 --port 25000)",
  );
});

for (const task of ["udp-server", "udp-client"]) {
  Deno.test(`${task} --help prints usage and exits 0`, async () => {
    const result = await runTask(task, ["--help"]);
    assertEquals(result.code, 0);
    assertMatch(result.stdout, new RegExp(`^Usage: deno task ${task} `));
  });
}

Deno.test("udp-server and udp-client usage errors: one line each, exit 2", async () => {
  const port = (low: number) =>
    `--port must be a whole number from ${low} to 65535`;
  const host = "--host must be a name or an address";
  const TIMEOUT =
    "--timeout must be a number of seconds above 0, at most 86400";
  const cases: [string, string[], string][] = [
    ["udp-server", ["--port", "abc"], port(0)],
    ["udp-server", ["--port", "70000"], port(0)],
    ["udp-server", ["--port=-1"], port(0)],
    ["udp-server", ["--colour"], 'unknown argument "--colour"'],
    ["udp-server", ["extra"], 'unknown argument "extra"'],
    ["udp-client", ["--port", "0"], port(1)],
    ["udp-client", ["--port", "x"], port(1)],
    ["udp-client", ["--port", "65536"], port(1)],
    ["udp-client", ["extra"], 'unknown argument "extra"'],
    ["udp-client", ["--timeout", "0"], TIMEOUT],
    // More than a day; 2147484 s is past what setTimeout can time (2^31-1
    // ms: it would fire at once). Said as tcp-client says it.
    ["udp-client", ["--timeout", "86401"], TIMEOUT],
    ["udp-client", ["--timeout", "2147484"], TIMEOUT],
    [
      "udp-client",
      ["--message", "é".repeat(32_754)],
      "--message must be 65507 bytes at most",
    ],
  ];
  // Issue 9.8: hosts that are no host at all are usage errors, for both.
  for (const task of ["udp-server", "udp-client"]) {
    for (const bad of ["[::1", "::1]", "[]x", "a\x1b[2Jb", "fe80::1%eth0"]) {
      cases.push([task, ["--host", bad], host]);
    }
  }
  // The cases are independent: run them side by side.
  const results = await Promise.all(
    cases.map(([task, args]) => runTask(task, args)),
  );
  cases.forEach(([task, args, message], i) => {
    const result = results[i];
    const what = `${task} ${JSON.stringify(args).slice(0, 60)}`;
    assertEquals(result.code, 2, what);
    assertEquals(result.stdout, "", what);
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
      what,
    );
    assert(!result.stderr.includes("\x1b"), `${what}: a raw ESC`);
  });
});

Deno.test("udp-client sends an empty datagram with --message ''", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  const { port } = await server.listening();
  const client = await runTask("udp-client", [
    "--port",
    `${port}`,
    "--message",
    "",
  ]);
  assertEquals(client.code, 0, client.stderr);
  assertEquals(client.stdout, "Response for 127.0.0.1");
  await server.waitForLine(/^From 127\.0\.0\.1:\d+ \(empty datagram\)$/);
  assertEquals((await server.stop()).code, 0);
});
