// Section 12.5: the JSON echo server (`json-server`) and its client
// (`json-client`), each started through its deno task, and talked to with
// real sockets.

import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  freePort,
  type Listening,
  runTask,
  sleep,
  TaskProcess,
} from "./_helpers.ts";

const encoder = new TextEncoder();
const BOOK_MESSAGE = '{"name": "Johanna", "female": true}';

/** Writes every byte of `bytes` (one `write` may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Reads exactly `length` bytes. If they have not all come within
 * `timeoutMs`, the connection is closed, which makes the read fail (and so
 * the test), instead of hanging.
 */
async function readExactly(
  conn: Deno.Conn,
  length: number,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (filled < length) {
      const count = await conn.read(bytes.subarray(filled));
      if (count === null) {
        throw new Error(`closed after ${filled} of ${length} bytes`);
      }
      filled += count;
    }
  } finally {
    clearTimeout(timer);
  }
  return bytes;
}

/** Reads until the other side closes (or resets); ignores what comes. */
async function drainUntilClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (await conn.read(buffer) !== null) {
      // Throw it away.
    }
  } catch {
    // A reset is a way of closing too.
  }
}

/** `length` random bytes. */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65536));
  }
  return bytes;
}

/** `127.0.0.1:PORT` of our end of `conn`, as the server logs it. */
function addressOf(conn: Deno.Conn): string {
  return `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`;
}

/** The server's log lines (stdout and stderr) that mention `address`. */
function linesAbout(server: TaskProcess, address: string): string[] {
  // The address, and not a longer port that starts with the same digits.
  const pattern = new RegExp(`${address.replaceAll(".", "\\.")}(?!\\d)`);
  return [...server.stdoutLines, ...server.stderrLines]
    .filter((line) => pattern.test(line));
}

/**
 * A client that sends `text` and then vanishes with a reset (RST), as when
 * its program crashes: it exits without closing the socket while the echo
 * sits unread in its receive buffer, so the operating system resets the
 * connection. (Deno's `conn.close()` would first send a normal end of
 * stream, FIN.) Returns the client's address, as the server logs it.
 */
async function resetAfterSending(
  address: Listening,
  text: string,
): Promise<string> {
  const code = `
    const conn = await Deno.connect(${JSON.stringify(address)});
    await conn.write(new TextEncoder().encode(${JSON.stringify(text)}));
    console.log(conn.localAddr.port);
    await new Promise((resolve) => setTimeout(resolve, 200));
    Deno.exit(0);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  });
  const { code: status, stdout } = await child.output();
  assertEquals(status, 0);
  return `127.0.0.1:${new TextDecoder().decode(stdout).trim()}`;
}

/**
 * A fake server on a free port that reads the client's line, then lets
 * `respond` answer it; runs `client` (given the port) meanwhile.
 */
async function withFakeServer(
  respond: (conn: Deno.TcpConn) => Promise<void>,
  client: (port: number) => Promise<void>,
): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    try {
      const buffer = new Uint8Array(1024);
      let line = "";
      while (!line.includes("\n")) {
        const count = await conn.read(buffer);
        if (count === null) return;
        line += new TextDecoder().decode(buffer.subarray(0, count));
      }
      await respond(conn);
    } finally {
      conn.close();
    }
  })();
  await client(listener.addr.port);
  await serving;
}

/**
 * Starts json-server on a free port, for `await using`: at the end of the
 * test, passed or failed, the server gets Ctrl-C. (Disposing a TaskProcess
 * alone kills `deno task` with SIGKILL, which cannot pass it on: the server
 * it started would live on, and the test would wait for it.)
 */
async function startServer(args: string[] = []) {
  const server = TaskProcess.start("json-server", ["--port", "0", ...args]);
  try {
    const address = await server.listening();
    return {
      server,
      address,
      async [Symbol.asyncDispose]() {
        await server.stop();
        await server[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

Deno.test("json-client sends the book's JSON through json-server and prints the echo", async () => {
  await using running = await startServer();
  const { server, address } = running;
  assertEquals(address.hostname, "127.0.0.1");

  const client = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals(client, {
    code: 0,
    signal: null,
    stdout: '{"name":"Johanna","female":true}',
    stderr: "",
  });

  await server.waitForLine(/^Disconnected: /);
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  const [listening, connected, json, disconnected, end] = stopped.stdout
    .split("\n");
  assertEquals(listening, `Listening on 127.0.0.1:${address.port}`);
  const who = connected.match(/^Connected: (127\.0\.0\.1:\d+)$/)?.[1];
  assert(who, connected);
  assertEquals(json, `${who} sent JSON: {"name":"Johanna","female":true}`);
  // 35 bytes of the book's JSON and the newline.
  assertEquals(disconnected, `Disconnected: ${who} (echoed 36 bytes)`);
  assertEquals(end, "Server stopped.");
  assertEquals(stopped.stderr, "Stopping (Ctrl-C).");
});

Deno.test("json-client --data: any JSON, longer than one read, UTF-8 and a bare number", async () => {
  await using running = await startServer();
  const { server, address: { port } } = running;
  const long = {
    name: "Jöhanna ✓",
    list: Array.from({ length: 500 }, (_, i) => i),
  };
  for (
    const [data, printed] of [
      [JSON.stringify(long, null, 2), JSON.stringify(long)],
      ["42", "42"],
      ['"just a string"', '"just a string"'],
    ]
  ) {
    const client = await runTask("json-client", [
      "--port",
      `${port}`,
      "--data",
      data,
    ]);
    assertEquals([client.code, client.stdout, client.stderr], [0, printed, ""]);
  }
  await server.waitForLine(/ sent JSON: 42$/);
  await server.waitForLine(/ sent JSON: "just a string"$/);
  await server.stop();
});

Deno.test("json-server logs and echoes JSON written one byte at a time", async () => {
  await using running = await startServer();
  const { server, address } = running;
  using conn = await Deno.connect(address);
  conn.setNoDelay(true);
  // "ö" and "✓" are 2 and 3 bytes: the server gets them cut in pieces.
  const bytes = encoder.encode('{"name": "Jöhanna ✓", "tags": ["a\\"b"]}');
  for (let i = 0; i < bytes.length; i++) {
    await writeAll(conn, bytes.subarray(i, i + 1));
    await sleep(2);
  }
  assertEquals(await readExactly(conn, bytes.length), bytes);
  const match = await server.waitForLine(/ sent JSON: (.*)$/);
  assertEquals(match[1], '{"name":"Jöhanna ✓","tags":["a\\"b"]}');
  assertEquals(linesAbout(server, addressOf(conn)).length, 2); // Connected, sent JSON
  await server.stop();
});

Deno.test("json-server echoes a split value with no newline, without a close", async () => {
  await using running = await startServer();
  const { server, address } = running;
  using conn = await Deno.connect(address);
  conn.setNoDelay(true);
  // What the book's json_client.py does: no newline, and no close.
  const first = encoder.encode(BOOK_MESSAGE.slice(0, 12));
  const second = encoder.encode(BOOK_MESSAGE.slice(12));
  await writeAll(conn, first);
  assertEquals(await readExactly(conn, first.length), first);
  await writeAll(conn, second);
  assertEquals(await readExactly(conn, second.length), second);
  await server.waitForLine(/ sent JSON: \{"name":"Johanna","female":true\}$/);
  await server.stop();
});

Deno.test("json-server: 50 concurrent clients each get their 1 MB back, in order", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const size = 1024 * 1024;
  const clients = Array.from({ length: 50 }, async () => {
    using conn = await Deno.connect(address);
    const sent = randomBytes(size);
    const writing = (async () => {
      for (let i = 0; i < size; i += 64 * 1024) {
        await writeAll(conn, sent.subarray(i, i + 64 * 1024));
      }
    })();
    const echoed = await readExactly(conn, size, 10_000);
    await writing;
    // Compare without printing a megabyte if they differ.
    const same = echoed.every((byte, i) => byte === sent[i]);
    assert(same, "the echo differs from what was sent");
  });
  await Promise.all(clients);
  await server.stop();
  const notJson = server.stdoutLines.filter((line) =>
    line.endsWith(
      " sent something that is not JSON; echoing the rest " +
        "without logging it.",
    )
  );
  assertEquals(notJson.length, 50);
  const done = server.stdoutLines.filter((line) =>
    / \(echoed 1048576 bytes\)$/.test(line)
  );
  assertEquals(done.length, 50);
  assertEquals(server.stderrLines, ["Stopping (Ctrl-C)."]);
});

Deno.test("json-server serves on while clients idle, leave or reset mid-value, flood", async () => {
  await using running = await startServer();
  const { server, address } = running;

  // 1. Connects and sends nothing.
  const silent = await Deno.connect(address);
  const silentAddress = addressOf(silent);
  // 2. Sends half a JSON value and closes (a normal end of stream).
  const half = await Deno.connect(address);
  const halfAddress = addressOf(half);
  await writeAll(half, encoder.encode(BOOK_MESSAGE.slice(0, 15)));
  // 3. Sends 10 MB and never reads the echo.
  const flood = await Deno.connect(address);
  const floodAddress = addressOf(flood);
  const floodBytes = randomBytes(10 * 1024 * 1024);
  const flooding = (async () => {
    try {
      for (let i = 0; i < floodBytes.length; i += 64 * 1024) {
        await writeAll(flood, floodBytes.subarray(i, i + 64 * 1024));
      }
    } catch {
      // We close it below, in the middle of a write.
    }
  })();
  // 4. Sends half a JSON value and resets the connection.
  const resetAddress = await resetAfterSending(
    address,
    BOOK_MESSAGE.slice(0, 20),
  );
  await readExactly(half, 15);
  half.close();

  // Meanwhile a good client is served as usual.
  const client = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals([client.code, client.stdout], [
    0,
    '{"name":"Johanna","female":true}',
  ]);

  flood.close();
  await flooding;
  silent.close();
  await server.waitForLine(/ \(echoed 0 bytes\)$/);
  await server.waitForLine(/ reset| broken pipe/, { stream: "stderr" });
  await sleep(100); // no more lines should come

  // One line for each client that went wrong, and the server lives on.
  assertEquals(linesAbout(server, silentAddress), [
    `Connected: ${silentAddress}`,
    `Disconnected: ${silentAddress} (echoed 0 bytes)`,
  ]);
  assertEquals(linesAbout(server, halfAddress), [
    `Connected: ${halfAddress}`,
    `Disconnected: ${halfAddress} (echoed 15 bytes; it left in the middle ` +
    `of a JSON value)`,
  ]);
  assertEquals(linesAbout(server, resetAddress), [
    `Connected: ${resetAddress}`,
    `${resetAddress} closed the connection abruptly (connection reset) ` +
    `before the conversation was over. It was in the middle of a JSON value.`,
  ]);
  const floodLines = linesAbout(server, floodAddress);
  assertEquals(floodLines.length, 3, floodLines.join("\n"));
  assertEquals(floodLines[0], `Connected: ${floodAddress}`);
  assertEquals(
    floodLines[1],
    `${floodAddress} sent something that is not JSON; echoing the rest ` +
      `without logging it.`,
  );
  assertMatch(
    floodLines[2],
    /^127\.0\.0\.1:\d+ closed the connection (abruptly \(connection reset\)|while we were still sending \(broken pipe\))/,
  );
  assertEquals(server.stderrLines.length, 2, server.transcript());

  const again = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals(again.code, 0, JSON.stringify(again));
  const stopped = await server.stop();
  assertEquals(stopped.code, 0, JSON.stringify(stopped));
});

Deno.test("json-server stops on Ctrl-C with clients still connected, exit 0", async () => {
  await using running = await startServer();
  const { server, address } = running;
  using idle = await Deno.connect(address);
  using midValue = await Deno.connect(address);
  await writeAll(midValue, encoder.encode('{"name": "Jo'));
  await readExactly(midValue, 12);
  // A client whose echo the server cannot write (it never reads).
  using flood = await Deno.connect(address);
  const flooding = (async () => {
    try {
      const chunk = new Uint8Array(64 * 1024);
      for (let i = 0; i < 160; i++) await writeAll(flood, chunk);
    } catch {
      // The server closes it on Ctrl-C.
    }
  })();
  await sleep(200);
  await server.waitForLine(/^Connected: /);

  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  assertMatch(stopped.stdout, /\nServer stopped\.$/);
  assertEquals(stopped.stderr, "Stopping (Ctrl-C).");
  // The server closed every connection on its way out.
  assertEquals(await idle.read(new Uint8Array(1)), null);
  await drainUntilClosed(midValue);
  await flooding;
});

Deno.test("json-server and json-client work over IPv6 (::1)", async () => {
  await using running = await startServer(["--host", "::1"]);
  const { server, address } = running;
  assertEquals(address.hostname, "::1");
  const client = await runTask("json-client", [
    "--host",
    "::1",
    "--port",
    `${address.port}`,
  ]);
  assertEquals(client.stdout, '{"name":"Johanna","female":true}');
  await server.waitForLine(/^\[::1\]:\d+ sent JSON: \{"name":"Johanna"/);
  await server.stop();
});

Deno.test("json-server says the port is in use, and exits 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await runTask("json-server", ["--port", `${taken.addr.port}`]);
  assertEquals(result.code, 1);
  assertMatch(
    result.stderr,
    /^error: Port \d+ on 127\.0\.0\.1 is already in use/,
  );
});

Deno.test("json-client with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("json-client", ["--port", `${port}`]);
  assertEquals(result, {
    code: 1,
    signal: null,
    stdout: "",
    stderr: `error: Nothing is listening on 127.0.0.1:${port} (connection ` +
      `refused). Start the server first (deno task json-server) and ` +
      `check the host and port.`,
  });
});

Deno.test("json-client: a server that closes mid-value, sends no JSON, or stays silent", async () => {
  const cases: [(conn: Deno.TcpConn) => Promise<void>, string[], string][] = [
    [
      (conn) => writeAll(conn, encoder.encode('{"name": "Joh')),
      [],
      "closed the connection before a whole JSON value came back.",
    ],
    [
      (conn) => writeAll(conn, encoder.encode("0. Hi new friend!\n")),
      [],
      "sent back something that is not JSON; check that it is the JSON " +
      "echo server (deno task json-server).",
    ],
    [
      drainUntilClosed,
      ["--timeout", "0.3"],
      "sent back no whole JSON value within 0.3 seconds; check that it is " +
      "the JSON echo server, or wait longer with --timeout.",
    ],
  ];
  for (const [respond, flags, sentence] of cases) {
    await withFakeServer(respond, async (port) => {
      const result = await runTask("json-client", [
        "--port",
        `${port}`,
        ...flags,
      ]);
      assertEquals([result.code, result.stdout, result.stderr], [
        1,
        "",
        `error: 127.0.0.1:${port} ${sentence}`,
      ]);
    });
  }
});

Deno.test("json-client --data that is not JSON: one line, exit 2", async () => {
  const result = await runTask("json-client", ["--data", "{name: Ann}"]);
  assertEquals(result, {
    code: 2,
    signal: null,
    stdout: "",
    stderr: `error: --data must be JSON, like '{"name": "Ann"}', not ` +
      `'{name: Ann}' (run with --help for usage)`,
  });
});

for (const task of ["json-server", "json-client"]) {
  Deno.test(`${task} --help prints usage and exits 0`, async () => {
    const result = await runTask(task, ["--help"]);
    assertEquals(result.code, 0);
    assertMatch(result.stdout, new RegExp(`^Usage: deno task ${task} `));
  });

  for (
    const [args, message] of <[string[], string][]> [
      [
        ["--port", "abc"],
        '--port must be a whole number from 0 to 65535, not "abc"',
      ],
      [["--colour"], 'unknown flag "--colour"'],
      [["extra"], 'unexpected argument "extra"'],
    ]
  ) {
    Deno.test(`${task} ${args.join(" ")}: one line, exit 2`, async () => {
      const result = await runTask(task, args);
      assertEquals([result.code, result.stdout, result.stderr], [
        2,
        "",
        `error: ${message} (run with --help for usage)`,
      ]);
    });
  }
}

Deno.test("json-client --timeout 0: one line, exit 2", async () => {
  const result = await runTask("json-client", ["--timeout", "0"]);
  assertEquals([result.code, result.stderr], [
    2,
    'error: --timeout must be a number of seconds above 0, not "0" ' +
    "(run with --help for usage)",
  ]);
});
