// Section 12.5: the echo server (`json-server`) and its client
// (`json-client`), each started through its deno task, and talked to with
// real sockets.

import { assert, assertEquals, assertLess, assertMatch } from "@std/assert";
import {
  freePort,
  type Listening,
  runTask,
  sleep,
  TaskProcess,
} from "./_helpers.ts";
import { taskArgs } from "../tools/task_process.ts";
import { noPython, withResetter } from "./_resetter.ts";

const encoder = new TextEncoder();
const BOOK_DATA = '{"name": "Johanna", "female": true}';

/** Writes every byte of `bytes` (one `write` may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Closes `conn` unless it is closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/**
 * Reads exactly `length` bytes. If they have not all come within
 * `timeoutMs`, the connection is closed, which makes the read fail (and so
 * the test) instead of hanging.
 */
async function readExactly(
  conn: Deno.Conn,
  length: number,
  timeoutMs = 10_000,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
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

/**
 * Reads until the other side closes (or resets), throwing away what comes;
 * fails if that takes longer than `timeoutMs`.
 */
async function readUntilClosed(
  conn: Deno.Conn,
  timeoutMs = 10_000,
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    closeQuietly(conn);
  }, timeoutMs);
  try {
    while (await conn.read(buffer) !== null) {
      // Throw it away.
    }
  } catch {
    // A reset is a way of closing too.
  } finally {
    clearTimeout(timer);
  }
  assert(!late, `the server did not close the connection in ${timeoutMs} ms`);
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

/** The server's log lines that are about `address`. */
function linesAbout(server: TaskProcess, address: string): string[] {
  // The address, and not a longer port that starts with the same digits.
  const pattern = new RegExp(`${address.replaceAll(".", "\\.")}(?!\\d)`);
  return server.stdoutLines.filter((line) => pattern.test(line));
}

/** A read's log line after "sent ": "1 byte: ..." or "N bytes: ...". */
const PIECE = /^(?:(1) byte|(0|[2-9]|\d\d+) bytes): (.*)$/s;

/** What the server logged of each read from `address`: bytes and text. */
function piecesFrom(server: TaskProcess, address: string) {
  const start = `${address} sent `;
  return server.stdoutLines.filter((line) => line.startsWith(start))
    .map((line) => {
      // A line that says "1 bytes" does not parse: the test fails.
      const match = line.slice(start.length).match(PIECE);
      assert(match !== null, `not how a read is logged: ${line}`);
      return { bytes: Number(match[1] ?? match[2]), text: match[3] };
    });
}

/** Waits until `condition()` holds; fails after `timeoutMs`. */
async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await sleep(20);
  }
}

/** The resident memory of process `pid`, in MB (Linux: /proc). */
async function residentMB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) / 1024;
}

/**
 * A client that sends `text` and then vanishes with a reset (RST), as when
 * its program crashes: it exits without closing the socket while the echo
 * sits unread in its receive buffer, so the operating system resets the
 * connection. Returns the client's address, as the server logs it.
 */
async function resetAfterSending(
  address: Listening,
  text: string,
): Promise<string> {
  const code = `
    const conn = await Deno.connect(${JSON.stringify(address)});
    await conn.write(new TextEncoder().encode(${JSON.stringify(text)}));
    console.log(conn.localAddr.port);
    // One byte of the echo: the rest is surely there, unread, so the exit
    // resets the connection (a sleep could end before the echo came).
    await conn.read(new Uint8Array(1));
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
 * A fake server on a free port: it reads the `expected` bytes a client
 * sends, lets `respond` answer, then waits (at most 10 s) for the client to
 * hang up. Runs `client` (given the port) meanwhile.
 */
async function withFakeServer(
  expected: number,
  respond: (conn: Deno.TcpConn) => Promise<void>,
  client: (port: number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    try {
      await readExactly(conn, expected);
      await respond(conn);
      await readUntilClosed(conn);
    } catch {
      // The client may reset the connection; that is its right.
    } finally {
      closeQuietly(conn);
    }
  })();
  try {
    await client(listener.addr.port);
    await serving;
  } finally {
    listener.close();
  }
}

/**
 * Starts json-server on a free port, for `await using`: at the end of the
 * test, passed or failed, the server gets Ctrl-C.
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
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test("json-client sends the book's bytes through json-server and prints what came back", async () => {
  await using running = await startServer();
  const { server, address } = running;
  assertEquals(address.hostname, "127.0.0.1");

  const client = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals(client, {
    code: 0,
    signal: null,
    stdout: BOOK_DATA,
    stderr: "",
  });

  await server.waitForLine(/^Disconnected: /);
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  const [listening, connected, sent, disconnected, end] = stopped.stdout
    .split("\n");
  assertEquals(listening, `Listening on 127.0.0.1:${address.port}`);
  const who = connected.match(/^Connected: (127\.0\.0\.1:\d+)$/)?.[1];
  assert(who, connected);
  // 35 bytes, as Python's json.dumps writes the book's dictionary; no newline.
  assertEquals(sent, `${who} sent 35 bytes: ${BOOK_DATA}`);
  assertEquals(disconnected, `Disconnected: ${who} (echoed 35 bytes)`);
  assertEquals(end, "Server stopped (SIGINT).");
  assertEquals(stopped.stderr, "");
});

Deno.test("json-client --data: JSON longer than one read, UTF-8, a number, a string", async () => {
  await using running = await startServer();
  const { address: { port } } = running;
  const long = {
    name: "Jöhanna ✓",
    list: Array.from({ length: 500 }, (_, i) => i),
  };
  const pretty = JSON.stringify(long, null, 2);
  for (
    const [data, printed] of [
      // Line breaks are control characters: shown as \u{a}, never obeyed.
      [pretty, pretty.replaceAll("\n", "\\u{a}")],
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
});

Deno.test("json-client prints, and json-server logs, numbers and keys exactly as sent", async () => {
  await using running = await startServer();
  const { server, address: { port } } = running;
  // What JavaScript's JSON.parse makes of each: digits lost to a double,
  // Infinity written as null, the last of two keys.
  const cases = [
    ["12345678901234567890", "12345678901234567000"],
    ["[1e400]", "[null]"],
    ['{"a":1,"a":2}', '{"a":2}'],
  ];
  for (const [data, javascript] of cases) {
    const client = await runTask("json-client", [
      "--port",
      `${port}`,
      "--data",
      data,
    ]);
    assertEquals([client.code, client.stderr], [0, ""]);
    assertEquals(client.stdout.split("\n"), [
      data,
      `Parsed and written back: ${javascript}`,
    ]);
    await server.waitForLine(
      new RegExp(` sent ${data.length} bytes: ${RegExp.escape(data)}$`),
    );
  }
});

Deno.test("json-client and json-server show C1, bidi, zero-width and U+2028 characters as \\u{HEX}", async () => {
  await using running = await startServer();
  const { server, address: { port } } = running;
  // U+009B (CSI) is one character, two bytes in UTF-8, that some terminals
  // obey as "ESC ["; U+202E writes what follows right-to-left; U+2066 is an
  // isolate; U+200B is invisible.
  const data = '"a\u009bb\u202ec\u200bd\u2028e\u2066f\u007fg😀"';
  const shown = '"a\\u{9b}b\\u{202e}c\\u{200b}d\\u{2028}e\\u{2066}f\\u{7f}g😀"';
  const client = await runTask("json-client", [
    "--port",
    `${port}`,
    "--data",
    data,
  ]);
  assertEquals([client.code, client.stdout, client.stderr], [0, shown, ""]);
  const bytes = encoder.encode(data).length;
  await server.waitForLine(
    new RegExp(` sent ${bytes} bytes: ${RegExp.escape(shown)}$`),
  );
});

Deno.test("json-server echoes and logs JSON written one byte at a time", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const conn = await Deno.connect(address);
  try {
    conn.setNoDelay(true);
    // "ö" and "✓" are 2 and 3 bytes: the server gets them cut in pieces.
    const text = '{"name": "Jö✓"}';
    const bytes = encoder.encode(text);
    for (let i = 0; i < bytes.length; i++) {
      await writeAll(conn, bytes.subarray(i, i + 1));
      await sleep(5);
    }
    assertEquals(await readExactly(conn, bytes.length), bytes);
    const who = addressOf(conn);
    await until(
      () =>
        piecesFrom(server, who).reduce((n, p) => n + p.bytes, 0) ===
          bytes.length,
      "the server to log every byte",
    );
    // However the reads cut the bytes, the streaming decoder put every
    // character back together: the pieces add up to the text.
    const pieces = piecesFrom(server, who);
    assertEquals(pieces.map((piece) => piece.text).join(""), text);
    assert(!server.stdoutLines.some((line) => line.includes("\ufffd")));
  } finally {
    conn.close();
  }
});

Deno.test("json-server logs what each read brought: a value in two pieces, two values in one", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const conn = await Deno.connect(address);
  try {
    conn.setNoDelay(true);
    // What the book's json_client.py does: no newline, and no close. Each
    // echo comes back before we send more, so each write is one read.
    for (
      const text of [BOOK_DATA.slice(0, 12), BOOK_DATA.slice(12), "[1] [2]"]
    ) {
      const bytes = encoder.encode(text);
      await writeAll(conn, bytes);
      assertEquals(await readExactly(conn, bytes.length), bytes);
    }
    const who = addressOf(conn);
    await until(() => piecesFrom(server, who).length === 3, "three pieces");
    assertEquals(piecesFrom(server, who), [
      { bytes: 12, text: '{"name": "Jo' },
      { bytes: 23, text: 'hanna", "female": true}' },
      { bytes: 7, text: "[1] [2]" },
    ]);
  } finally {
    conn.close();
  }
});

Deno.test("json-server: 50 concurrent clients each get their 1 MB back, in order; 20 log lines each", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const size = 1024 * 1024;
  const who: string[] = [];
  const clients = Array.from({ length: 50 }, async () => {
    const conn = await Deno.connect(address);
    try {
      who.push(addressOf(conn));
      const sent = randomBytes(size);
      const writing = (async () => {
        for (let i = 0; i < size; i += 64 * 1024) {
          await writeAll(conn, sent.subarray(i, i + 64 * 1024));
        }
      })();
      const echoed = await readExactly(conn, size, 30_000);
      await writing;
      // Compare without printing a megabyte if they differ.
      const same = echoed.every((byte, i) => byte === sent[i]);
      assert(same, "the echo differs from what was sent");
    } finally {
      conn.close();
    }
  });
  await Promise.all(clients);
  await until(
    () =>
      server.stdoutLines.filter((l) => l.startsWith("Disconnected")).length ===
        50,
    "50 Disconnected lines",
  );
  for (const address of who) {
    const lines = linesAbout(server, address);
    // Connected, 20 reads, "echoing, not logging", Disconnected.
    assertEquals(lines.length, 23, lines.join("\n"));
    assertEquals(lines[21], `${address}: echoing, not logging`);
    assertEquals(lines[22], `Disconnected: ${address} (echoed ${size} bytes)`);
  }
});

Deno.test("json-server serves a good client while others idle, leave halfway, reset, flood", async () => {
  await using running = await startServer();
  const { server, address } = running;

  // 1. Connects and sends nothing.
  const silent = await Deno.connect(address);
  const silentAddress = addressOf(silent);
  // 2. Sends half a JSON value and closes (a normal end of stream).
  const half = await Deno.connect(address);
  const halfAddress = addressOf(half);
  await writeAll(half, encoder.encode(BOOK_DATA.slice(0, 15)));
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
  const resetAddress = await resetAfterSending(address, BOOK_DATA.slice(0, 20));
  await readExactly(half, 15);
  half.close();

  // Meanwhile a good client is served as usual.
  const client = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals([client.code, client.stdout], [0, BOOK_DATA]);

  await sleep(200); // the flood fills the buffers between us
  flood.close();
  await flooding;
  silent.close();
  for (const who of [silentAddress, halfAddress, resetAddress, floodAddress]) {
    await server.waitForLine(
      new RegExp(`^Disconnected: ${RegExp.escape(who)} `),
    );
  }

  // One line for each client that went wrong, and the server lives on.
  assertEquals(linesAbout(server, silentAddress), [
    `Connected: ${silentAddress}`,
    `Disconnected: ${silentAddress} (echoed 0 bytes)`,
  ]);
  assertEquals(linesAbout(server, halfAddress), [
    `Connected: ${halfAddress}`,
    `${halfAddress} sent 15 bytes: ${BOOK_DATA.slice(0, 15)}`,
    `Disconnected: ${halfAddress} (echoed 15 bytes)`,
  ]);
  const resetLines = linesAbout(server, resetAddress);
  assertEquals(resetLines.slice(0, 2), [
    `Connected: ${resetAddress}`,
    `${resetAddress} sent 20 bytes: ${BOOK_DATA.slice(0, 20)}`,
  ]);
  assertMatch(
    resetLines[2],
    /^Disconnected: \S+ \(echoed \d+ bytes; (ConnectionReset|BrokenPipe): .*\)$/,
  );
  assertEquals(resetLines.length, 3, resetLines.join("\n"));
  const floodLines = linesAbout(server, floodAddress);
  assert(floodLines.length <= 23, floodLines.join("\n"));
  assertMatch(
    floodLines.at(-1)!,
    /^Disconnected: \S+ \(echoed \d+ bytes; (ConnectionReset|BrokenPipe): .*\)$/,
  );
  assertEquals(server.stderrLines, []);

  const again = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals(again.code, 0, JSON.stringify(again));
});

Deno.test(
  "json-server keeps little memory for clients holding unfinished values",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    await using running = await startServer();
    const { server, address } = running;
    // 100 clients each send 900 KiB of an array that never ends, read their
    // echo, and stay. The server keeps no unfinished value (the old one kept
    // up to 1 MiB each, 188 MB in all): only a read buffer of 64 KiB at most.
    const value = encoder.encode(`["${"x".repeat(900 * 1024 - 2)}`);
    const conns: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const conn = await Deno.connect(address);
        conns.push(conn);
        const writing = writeAll(conn, value);
        await readExactly(conn, value.length, 30_000);
        await writing;
      }
      const megabytes = await residentMB(server.pid);
      assert(megabytes < 120, `json-server uses ${megabytes.toFixed(0)} MB`);
    } finally {
      for (const conn of conns) conn.close();
    }
  },
);

Deno.test("json-server turns away clients over 1024, with one log line for many", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 1100; i++) conns.push(await Deno.connect(address));
    await until(
      () =>
        server.stdoutLines.filter((l) => l.startsWith("Connected")).length ===
          1024,
      "1024 Connected lines",
    );
    // The last ones were closed at once: their reads end (or reset).
    await readUntilClosed(conns[1099]);
    await until(
      () => server.stdoutLines.includes("Server full."),
      "the Server full line",
    );
    await sleep(300);
    assertEquals(
      server.stdoutLines.filter((l) => l === "Server full.").length,
      1,
    );
    // A client of the first 1024 is still served.
    await writeAll(conns[0], encoder.encode("[0]"));
    assertEquals(
      new TextDecoder().decode(await readExactly(conns[0], 3)),
      "[0]",
    );
  } finally {
    for (const conn of conns) closeQuietly(conn);
  }
});

// The classic bug: a server that ends at the first failed accept(). With
// 64 file descriptors (prlimit wraps the task's own command line), about 40
// clients use them all up; accept() then fails with "Too many open files"
// until one leaves. --timeout 600 keeps the idle sweeper out of the way, and
// 64 is far below json-server's own cap of 1024 clients.
Deno.test({
  name:
    "json-server out of file descriptors: one line for the burst, serves again after",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await using server = TaskProcess.spawn("/usr/bin/prlimit", [
      "--nofile=64:64",
      Deno.execPath(),
      ...taskArgs("json-server"),
      "--port",
      "0",
      "--timeout",
      "600",
    ], { env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
    const address = await server.listening();
    const failed =
      /^Cannot accept: Error: Too many open files \(os error 24\); retrying\.$/;
    const crowd: Deno.Conn[] = [];
    try {
      // One client at a time, each until the server has either logged it or
      // said it cannot accept: then every descriptor is in use.
      while (!server.stdoutLines.some((line) => failed.test(line))) {
        assert(crowd.length < 100, "100 clients and accept() never failed");
        const conn = await Deno.connect(address);
        crowd.push(conn);
        const who = RegExp.escape(addressOf(conn));
        await server.waitForLine(
          new RegExp(`^Connected: ${who}$|${failed.source}`),
        );
      }
      // Retries at 5, 10, 20, ... 640 ms: the burst goes on for 1.3 s, and
      // its one line stays one.
      await sleep(1500);
      assertEquals(server.stdoutLines.filter((l) => failed.test(l)).length, 1);
      assertEquals(server.stderrLines, []);
      // Still listening: a connection is taken into the system's queue.
      const queued = await Deno.connect(address);
      queued.close();
    } finally {
      // All at once, so that they free their descriptors together.
      for (const conn of crowd) conn.close();
    }
    // The crowd has left: a new client is served (within the next retry).
    const client = await Deno.connect(address);
    try {
      await writeAll(client, encoder.encode(BOOK_DATA));
      const echo = await readExactly(client, BOOK_DATA.length);
      assertEquals(new TextDecoder().decode(echo), BOOK_DATA);
    } finally {
      client.close();
    }
    assertEquals(server.stdoutLines.filter((l) => failed.test(l)).length, 1);
    const stopped = await server.stop();
    assertEquals([stopped.code, stopped.stderr], [0, ""]);
    assertEquals(stopped.stdout.split("\n").at(-1), "Server stopped (SIGINT).");
  },
});

Deno.test("json-server hangs up on a client silent for --timeout seconds, not on a busy one", async () => {
  await using running = await startServer(["--timeout", "1"]);
  const { server, address } = running;
  const silent = await Deno.connect(address);
  const busy = await Deno.connect(address);
  try {
    // The busy one sends something every 100 ms for 2 s.
    for (let i = 0; i < 20; i++) {
      await writeAll(busy, encoder.encode("1 "));
      await readExactly(busy, 2);
      await sleep(100);
    }
    await readUntilClosed(silent);
    await server.waitForLine(
      new RegExp(
        `^Disconnected: ${addressOf(silent)} \\(echoed 0 bytes; idle\\)$`,
      ),
    );
    assert(
      !linesAbout(server, addressOf(busy)).some((l) => l.startsWith("Disc")),
      "the busy client was cut off",
    );
  } finally {
    silent.close();
    busy.close();
  }
});

Deno.test("json-server: a client that sends and never reads is hung up on as 'not reading', not 'idle'", async () => {
  await using running = await startServer(["--timeout", "1"]);
  const { server, address } = running;
  const sender = await Deno.connect(address);
  // It sends on and on, and reads nothing: once the system's buffers are
  // full, the server's echo waits, and so does this writing.
  const chunk = new Uint8Array(65536).fill(0x20);
  const sending = (async () => {
    try {
      while (true) await writeAll(sender, chunk);
    } catch {
      // The server hung up: the writing fails, as it should.
    }
  })();
  try {
    const line = await server.waitForLine(
      new RegExp(
        `^Disconnected: ${addressOf(sender)} \\(echoed \\d+ bytes; (.*)\\)$`,
      ),
    );
    assertEquals(line[1], "not reading");
  } finally {
    closeQuietly(sender);
    await sending;
  }
});

Deno.test("json-server stops on Ctrl-C with clients connected: 2 s to finish, exit 0", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const idle = await Deno.connect(address);
  const late = await Deno.connect(address);
  // A client whose echo the server cannot write (it never reads).
  const flood = await Deno.connect(address);
  const flooding = (async () => {
    try {
      const chunk = new Uint8Array(64 * 1024);
      for (let i = 0; i < 160; i++) await writeAll(flood, chunk);
    } catch {
      // The server closes it.
    }
  })();
  try {
    await until(
      () =>
        server.stdoutLines.filter((l) => l.startsWith("Connected")).length ===
          3,
      "three clients",
    );
    server.kill("SIGINT");
    await sleep(100);
    // No new clients once stopping...
    let refused = false;
    try {
      closeQuietly(await Deno.connect(address));
    } catch (error) {
      refused = error instanceof Deno.errors.ConnectionRefused;
    }
    assert(refused, "a new client was accepted after Ctrl-C");
    // ...but one already connected still gets its echo within the grace.
    await writeAll(late, encoder.encode("[42]"));
    assertEquals(new TextDecoder().decode(await readExactly(late, 4)), "[42]");
    late.close();
    const stopped = await server.finished();
    assertEquals(stopped.code, 0);
    assertEquals(stopped.stderr, "");
    const lines = stopped.stdout.split("\n");
    assertEquals(lines.at(-1), "Server stopped (SIGINT).");
    assert(
      lines.includes(`Disconnected: ${addressOf(late)} (echoed 4 bytes)`),
      stopped.stdout,
    );
    assert(
      lines.includes(`Disconnected: ${addressOf(idle)} (echoed 0 bytes; stop)`),
      stopped.stdout,
    );
    // The server closed every connection on its way out.
    await readUntilClosed(idle);
    await readUntilClosed(flood);
    await flooding;
  } finally {
    closeQuietly(idle);
    closeQuietly(late);
    closeQuietly(flood);
  }
});

Deno.test("json-server: two Ctrl-C 1 ms apart count as one; the grace holds", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const client = await Deno.connect(address);
  try {
    await server.waitForLine(/^Connected: /);
    // `deno task` passes one Ctrl-C on twice, a millisecond apart.
    server.kill("SIGINT");
    await sleep(1);
    server.kill("SIGINT");
    await sleep(1000);
    // Still within the 2 s: the connection is served.
    await writeAll(client, encoder.encode("[1]"));
    assertEquals(new TextDecoder().decode(await readExactly(client, 3)), "[1]");
    const stopped = await server.finished();
    assertEquals(stopped.code, 0);
    assert(
      stopped.stdout.includes(
        `Disconnected: ${addressOf(client)} (echoed 3 bytes; stop)`,
      ),
      stopped.stdout,
    );
  } finally {
    client.close();
  }
});

Deno.test("json-server: a second Ctrl-C, 0.5 s or more after the first, ends the grace", async () => {
  await using running = await startServer();
  const { server, address } = running;
  const idle = await Deno.connect(address);
  try {
    await server.waitForLine(/^Connected: /);
    server.kill("SIGINT");
    await sleep(600);
    const second = Date.now();
    server.kill("SIGINT");
    const stopped = await server.finished();
    // Without it, the grace would go on for 1.4 s more.
    assertLess(Date.now() - second, 1200);
    assertEquals(stopped.stdout.split("\n").slice(-2), [
      `Disconnected: ${addressOf(idle)} (echoed 0 bytes; stop)`,
      "Server stopped (SIGINT).",
    ]);
  } finally {
    idle.close();
  }
});

for (const signal of ["SIGTERM", "SIGHUP"] as const) {
  Deno.test(`json-server stops on ${signal}, exit 0, and says which`, async () => {
    await using running = await startServer();
    const { server, address } = running;
    const client = await runTask("json-client", ["--port", `${address.port}`]);
    assertEquals(client.code, 0);
    await server.waitForLine(/^Disconnected: /);
    server.kill(signal);
    const stopped = await server.finished();
    assertEquals([stopped.code, stopped.signal], [0, null]);
    assertEquals(
      stopped.stdout.split("\n").at(-1),
      `Server stopped (${signal}).`,
    );
  });
}

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
  assertEquals(client.stdout, BOOK_DATA);
  await server.waitForLine(/^\[::1\]:\d+ sent 35 bytes: \{"name": "Johanna"/);
});

Deno.test("json-server says the port is in use, and exits 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const result = await runTask("json-server", [
      "--port",
      `${taken.addr.port}`,
    ]);
    assertEquals([result.code, result.stdout, result.stderr], [
      1,
      "",
      `error: Port ${taken.addr.port} on 127.0.0.1 is in use by another program.`,
    ]);
  } finally {
    taken.close();
  }
});

Deno.test("json-client with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("json-client", ["--port", `${port}`]);
  assertEquals(result, {
    code: 1,
    signal: null,
    stdout: "",
    stderr: `error: Nothing is listening on 127.0.0.1:${port} (connection ` +
      `refused): start the server first (deno task json-server).`,
  });
});

Deno.test("json-client: a server that hangs up early, sends no JSON, or stays silent", async () => {
  const cases: [(conn: Deno.TcpConn) => Promise<void>, string[], string][] = [
    [
      async (conn) => {
        await writeAll(conn, encoder.encode('{"name": "Joh'));
        await conn.closeWrite();
      },
      [],
      "hung up after 13 bytes of the echo.",
    ],
    [
      // As many bytes as we sent, but not JSON (and not all UTF-8).
      (conn) => writeAll(conn, new Uint8Array(35).fill(0xff)),
      [],
      "sent back something that is not JSON; is it the echo server (deno " +
      "task json-server)?",
    ],
    [
      (conn) => writeAll(conn, encoder.encode("0. Hi new friend!\n".repeat(2))),
      [],
      "sent back something that is not JSON; is it the echo server (deno " +
      "task json-server)?",
    ],
    [
      () => sleep(0),
      ["--timeout", "0.3"],
      "did not echo it all in 0.3 s (see --timeout).",
    ],
  ];
  for (const [respond, flags, sentence] of cases) {
    await withFakeServer(35, respond, async (port) => {
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

// A server that resets the connection (RST) after 13 bytes of the echo:
// the client said "before it echoed"; it says how much came.
Deno.test({
  name: "json-client: a reset after part of the echo says how much came",
  ignore: noPython,
  fn: async () => {
    const echo = encoder.encode(BOOK_DATA.slice(0, 13));
    await withResetter(35, echo, async (port) => {
      const result = await runTask("json-client", ["--port", `${port}`]);
      assertEquals([result.code, result.stdout, result.stderr], [
        1,
        "",
        `error: 127.0.0.1:${port} reset the connection after 13 bytes of ` +
        "the echo.",
      ]);
    });
  },
});

// A timer over 2^31-1 ms (about 24.8 days) fires at once: --timeout 2147484
// was "did not echo it all within 2147484 s", at once. A day is the most.
Deno.test("json-client --timeout over a day is a usage error, a day works", async () => {
  const result = await runTask("json-client", ["--timeout", "2147484"]);
  assertEquals([result.code, result.stdout, result.stderr], [
    2,
    "",
    "error: --timeout must be a number of seconds above 0, at most 86400 " +
    "(run with --help for usage)",
  ]);
  await using running = await startServer();
  const day = await runTask("json-client", [
    "--port",
    `${running.address.port}`,
    "--timeout",
    "86400",
  ]);
  assertEquals([day.code, day.stdout, day.stderr], [0, BOOK_DATA, ""]);
});

Deno.test("json-client --data that is not JSON: one line, exit 2", async () => {
  for (const data of ["{name: Ann}", "", "[1,"]) {
    const result = await runTask("json-client", ["--data", data]);
    assertEquals(result.code, 2, data);
    assertEquals(result.stdout, "");
    assertMatch(result.stderr, /^error: [^\n]+ \(run with --help for usage\)$/);
  }
  const result = await runTask("json-client", ["--data", "{name: Ann}"]);
  assertEquals(
    result.stderr,
    `error: --data must be JSON, like '{"name": "Ann"}' or 42 (run with ` +
      `--help for usage)`,
  );
});

for (const task of ["json-server", "json-client"]) {
  const low = task === "json-server" ? 0 : 1;
  // The client's --timeout is a timer: a day at most (see below).
  const seconds = task === "json-server"
    ? "--timeout must be a number of seconds above 0"
    : "--timeout must be a number of seconds above 0, at most 86400";
  Deno.test(`${task} --help prints usage and exits 0`, async () => {
    const result = await runTask(task, ["--help"]);
    assertEquals(result.code, 0);
    assertMatch(result.stdout, new RegExp(`^Usage: deno task ${task} `));
  });

  const cases: [string[], string][] = [
    [["--port", "abc"], `--port must be a whole number from ${low} to 65535`],
    [["--port", "70000"], `--port must be a whole number from ${low} to 65535`],
    [["--timeout", "0"], seconds],
    [["--colour"], 'unknown argument "--colour"'],
    [["extra"], 'unknown argument "extra"'],
    // Brackets that do not pair, a control character, an IPv6 zone.
    [["--host", "[::1"], "--host must be a name or an address"],
    [["--host", "::1]"], "--host must be a name or an address"],
    [["--host", "[]x"], "--host must be a name or an address"],
    [["--host", "a\u001b[2Jb"], "--host must be a name or an address"],
    [["--host", "fe80::1%eth0"], "--host must be a name or an address"],
  ];
  for (const [args, message] of cases) {
    Deno.test(`${task} ${JSON.stringify(args)}: one line, exit 2`, async () => {
      const result = await runTask(task, args);
      assertEquals([result.code, result.stdout, result.stderr], [
        2,
        "",
        `error: ${message} (run with --help for usage)`,
      ]);
    });
  }
}
