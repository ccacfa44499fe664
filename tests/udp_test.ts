// Section 12.4: the UDP server (`udp-server`) and client (`udp-client`),
// each started through its deno task, talking to each other and to raw
// Deno.listenDatagram sockets in the test. (Deno.listenDatagram needs
// --unstable-net in the test process too; the test task passes it.)

import { assert, assertEquals, assertMatch } from "@std/assert";
import { runTask, sleep, TaskProcess } from "./_helpers.ts";

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
    "Server stopped.",
  ]);
  assertEquals(stopped.stderr, "Stopping (Ctrl-C).");
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
    `error: No answer from 127.0.0.1:${port} within 0.5 seconds; UDP ` +
      `promises nothing, so the server may not be running (start it with: ` +
      `deno task udp-server), or the message or its answer was lost (try ` +
      `again, or wait longer with --timeout).`,
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
      `From ${me} (65507 bytes, the first 200 characters shown): ` +
      `${"A".repeat(200)}…`,
    ],
    // "foo", then two bytes that are not UTF-8: shown as "�".
    [
      new Uint8Array([0x66, 0x6f, 0x6f, 0xff, 0xfe]),
      `From ${me}: foo\u{fffd}\u{fffd}`,
    ],
    // Clear-screen, a line break and a bell: written out, not obeyed.
    [
      encoder.encode("\x1b[2Jhello\nFrom 6.6.6.6:6: fake\x07"),
      `From ${me}: \\x1b[2Jhello\\nFrom 6.6.6.6:6: fake\\x07`,
    ],
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
  assertEquals(stopped.stderr, "Stopping (Ctrl-C).");
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

Deno.test("udp-server: port already in use -> one sentence, exit 1", async () => {
  using taken = testSocket();
  const port = (taken.addr as Deno.NetAddr).port;
  const result = await runTask("udp-server", ["--port", `${port}`]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  assertEquals(
    result.stderr,
    `error: Port ${port} on 127.0.0.1 is already in use by another ` +
      `program. Stop that program, or choose another port with --port ` +
      `(--port 0 picks a free one).`,
  );
});

Deno.test("udp-client to a host outside --allow-net names the flag, exit 1", async () => {
  const result = await runTask("udp-client", ["--host", "127.0.0.2"]);
  assertEquals(result.code, 1);
  assertEquals(result.stderr.split("\n").length, 1);
  assertMatch(result.stderr, /--allow-net=127\.0\.0\.2 /);
});

for (const task of ["udp-server", "udp-client"]) {
  Deno.test(`${task} --help prints usage and exits 0`, async () => {
    const result = await runTask(task, ["--help"]);
    assertEquals(result.code, 0);
    assertMatch(result.stdout, new RegExp(`^Usage: deno task ${task} `));
  });
}

Deno.test("udp-server and udp-client usage errors: one line each, exit 2", async () => {
  const port = (low: number) => (text: string) =>
    `--port must be a whole number from ${low} to 65535, not "${text}"`;
  const cases: [string, string[], string][] = [
    ["udp-server", ["--port", "abc"], port(0)("abc")],
    ["udp-server", ["--port", "70000"], port(0)("70000")],
    ["udp-server", ["--port", "-1"], port(0)("-1")],
    ["udp-server", ["--colour"], 'unknown flag "--colour"'],
    ["udp-server", ["extra"], 'unexpected argument "extra"'],
    ["udp-client", ["--port", "0"], port(1)("0")],
    ["udp-client", ["--port", "x"], port(1)("x")],
    [
      "udp-client",
      ["--timeout", "0"],
      '--timeout must be a number of seconds above 0, not "0"',
    ],
    [
      "udp-client",
      ["--message", "é".repeat(32_754)],
      "--message is 65508 bytes, more than the 65507 one UDP datagram " +
      "can carry",
    ],
    ["udp-client", ["--message"], "--message needs a value"],
    ["udp-client", ["extra"], 'unexpected argument "extra"'],
  ];
  // The cases are independent: run them side by side.
  const results = await Promise.all(
    cases.map(([task, args]) => runTask(task, args)),
  );
  cases.forEach(([task, args, message], i) => {
    const result = results[i];
    assertEquals(result.code, 2, `${task} ${args.join(" ").slice(0, 40)}`);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
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
