// Section 12.4: receiving a message in fragments. The fragment server
// (`fragment-server`, ours) and the book's client (`fragmented`), each
// started through its deno task.

import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLessOrEqual,
  assertMatch,
} from "@std/assert";
import { encodeHex } from "@std/encoding/hex";
import {
  freePort,
  type Listening,
  readAll,
  runTask,
  sleep,
  TaskProcess,
} from "./_helpers.ts";

const MiB = 1024 * 1024;

/** The SHA-256 of no bytes at all, as `sha256sum < /dev/null` prints it. */
const EMPTY_SHA256 =
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return encodeHex(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * The server's message built a second way, independently of the lesson:
 * one big string of 64-byte numbered lines, encoded, cut to `size`.
 */
function expectedMessage(size: number): Uint8Array<ArrayBuffer> {
  let text = "";
  for (let n = 1; text.length < size; n++) {
    text += `Line ${String(n).padStart(8, "0")}: ` +
      `TCP keeps the bytes in order but not the pieces.\n`;
  }
  return new TextEncoder().encode(text.slice(0, size));
}

/** `fragmented`'s two lines, parsed. */
function parseReport(stdout: string) {
  const match = stdout.match(
    /^Received (\d+) bytes in (\d+) chunks?\nSHA-256 ([0-9a-f]{64})$/,
  );
  assert(match, `unexpected output:\n${stdout}`);
  return {
    bytes: Number(match[1]),
    chunks: Number(match[2]),
    digest: match[3],
  };
}

/**
 * Starts fragment-server with `args`; returns it, its address and its
 * message's size and digest. `await using` stops it at the end of the test
 * with Ctrl-C first: killing `deno task` outright would leave the script it
 * started running, holding the output pipes open, and a failing test would
 * then hang instead of failing.
 */
async function startServer(args: string[]) {
  const server = TaskProcess.start("fragment-server", [
    "--port",
    "0",
    ...args,
  ]);
  const address = await server.listening();
  const match = await server.waitForLine(
    /^Message: (\d+) bytes, SHA-256 ([0-9a-f]{64})$/,
  );
  // The size-and-digest line comes straight after `Listening on`.
  assertEquals(server.stdoutLines[1], match[0]);
  return {
    server,
    address,
    size: Number(match[1]),
    digest: match[2],
    async [Symbol.asyncDispose]() {
      server.kill("SIGINT");
      await server.finished(5000).catch(() => {});
      await server[Symbol.asyncDispose]();
    },
  };
}

function receive(address: Listening, args: string[] = []) {
  return runTask("fragmented", [
    "--host",
    address.hostname,
    "--port",
    `${address.port}`,
    ...args,
  ]);
}

Deno.test("fragmented receives all 5 MiB, with the server's digest and the test's own", async () => {
  const size = 5 * MiB + 100; // not a multiple of 64: the last line is cut
  await using started = await startServer(["--size", `${size}`]);
  const server = started.server;
  const { address } = started;
  assertEquals(started.size, size);

  // The test's own digests: from the message built independently, and from
  // the bytes a plain socket reads.
  const expected = expectedMessage(size);
  const expectedDigest = await sha256(expected);
  const raw = new Uint8Array(await readAll(address));
  assertEquals(raw.length, size);
  assertEquals(await sha256(raw), expectedDigest);
  assertEquals(started.digest, expectedDigest);
  assertEquals(
    new TextDecoder().decode(raw.subarray(0, 128)),
    "Line 00000001: TCP keeps the bytes in order but not the pieces.\n" +
      "Line 00000002: TCP keeps the bytes in order but not the pieces.\n",
  );

  for (const chunkSize of [1024, 65536]) {
    const result = await receive(address, ["--chunk-size", `${chunkSize}`]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stderr, "");
    const report = parseReport(result.stdout);
    assertEquals(report.bytes, size);
    assertEquals(report.digest, expectedDigest);
    // No read returns more than --chunk-size bytes, so at least this many.
    assertGreaterOrEqual(report.chunks, Math.ceil(size / chunkSize));
  }

  // The server sent 64 KiB pieces (81 of them: 80 full, 1 of 100 bytes) to
  // each of the three clients, and said so, one line each.
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  const sent = server.stdoutLines.filter((line) => line.startsWith("Sent "));
  assertEquals(sent.length, 3);
  for (const line of sent) {
    assertMatch(line, /^Sent 5242980 bytes in 81 writes to 127\.0\.0\.1:\d+$/);
  }
  assertEquals(server.stdoutLines.at(-1), "Server stopped.");
});

Deno.test("fragmented reads exactly ceil(bytes/chunk-size) chunks when reads are full", async () => {
  // A server that has written everything and closed before we connect, with
  // less than fits in the socket buffers: every read finds a full chunk.
  const message = expectedMessage(100_000);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sending = (async () => {
    const conn = await listener.accept();
    let written = 0;
    while (written < message.length) {
      written += await conn.write(message.subarray(written));
    }
    conn.close();
  })();
  const result = await receive(listener.addr, ["--chunk-size", "4096"]);
  await sending;
  assertEquals(result.code, 0, result.stderr);
  // Reads may come back short if bytes are still on their way, so allow a
  // few extra chunks, but never fewer than ceil(100000 / 4096) = 25.
  const report = parseReport(result.stdout);
  assertEquals(report.bytes, 100_000);
  assertEquals(report.digest, await sha256(message));
  assertGreaterOrEqual(report.chunks, 25);
  assertLessOrEqual(report.chunks, 30);
});

Deno.test("fragmented reassembles any sender's odd fragments (1, 3, 7, ... bytes, with pauses)", async () => {
  // Fragments of 1, 3, 7, 15, ... 4095 bytes, all 256 byte values (not only
  // text), each written on its own after a pause.
  const sizes = Array.from({ length: 12 }, (_, k) => 2 ** (k + 1) - 1);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const message = new Uint8Array(total);
  for (let i = 0; i < total; i++) message[i] = (i * 37 + 11) % 256;

  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sending = (async () => {
    const conn = await listener.accept();
    let offset = 0;
    for (const size of sizes) {
      const piece = message.subarray(offset, offset + size);
      let written = 0;
      while (written < piece.length) {
        written += await conn.write(piece.subarray(written));
      }
      offset += size;
      await sleep(5);
    }
    conn.close();
  })();
  const result = await receive(listener.addr);
  await sending;
  assertEquals(result.code, 0, result.stderr);
  const report = parseReport(result.stdout);
  assertEquals(report.bytes, total);
  assertEquals(report.digest, await sha256(message));
  assertGreaterOrEqual(report.chunks, Math.ceil(total / 1024));
  assertLessOrEqual(report.chunks, total);
});

Deno.test("an empty message: 0 bytes, 0 chunks and the SHA-256 of nothing", async () => {
  await using started = await startServer(["--size", "0"]);
  const server = started.server;
  assertEquals(started.digest, EMPTY_SHA256);
  const result = await receive(started.address);
  assertEquals(result, {
    code: 0,
    signal: null,
    stdout: `Received 0 bytes in 0 chunks\nSHA-256 ${EMPTY_SHA256}`,
    stderr: "",
  });
  await server.waitForLine(/^Sent 0 bytes in 0 writes to 127\.0\.0\.1:\d+$/);
  assertEquals((await server.stop()).code, 0);
});

Deno.test("four fragmented clients at once all get the whole message", async () => {
  await using started = await startServer(["--size", `${2 * MiB}`]);
  const server = started.server;
  const results = await Promise.all(
    Array.from({ length: 4 }, () => receive(started.address)),
  );
  for (const result of results) {
    assertEquals(result.code, 0, result.stderr);
    const report = parseReport(result.stdout);
    assertEquals(report.bytes, 2 * MiB);
    assertEquals(report.digest, started.digest);
  }
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  const sent = server.stdoutLines.filter((line) =>
    /^Sent 2097152 bytes in 32 writes to 127\.0\.0\.1:\d+$/.test(line)
  );
  assertEquals(sent.length, 4);
});

Deno.test("fragment-server and fragmented work over IPv6 (::1)", async () => {
  await using started = await startServer([
    "--host",
    "::1",
    "--size",
    "100000",
  ]);
  const server = started.server;
  assertEquals(started.address.hostname, "::1");
  const result = await receive(started.address);
  assertEquals(result.code, 0, result.stderr);
  const report = parseReport(result.stdout);
  assertEquals(report.bytes, 100_000);
  assertEquals(report.digest, await sha256(expectedMessage(100_000)));
  await server.waitForLine(/^Sent 100000 bytes in 2 writes to \[::1\]:\d+$/);
  assertEquals((await server.stop()).code, 0);
});

Deno.test("fragment-server: a client that leaves midway costs one line; others still served", async () => {
  await using started = await startServer(["--size", `${16 * MiB}`]);
  const server = started.server;
  // Read a little, then hang up with the rest unread.
  const leaver = await Deno.connect(started.address);
  await leaver.read(new Uint8Array(1024));
  leaver.close();
  const line = await server.waitForLine(/^Stopped sending to /, {
    stream: "stderr",
  });
  assertMatch(
    line.input!,
    /^Stopped sending to 127\.0\.0\.1:\d+ after \d+ of 16777216 bytes: the client closed the connection .*\.$/,
  );
  // The server goes on: the next client gets everything.
  const result = await receive(started.address, ["--chunk-size", "65536"]);
  assertEquals(parseReport(result.stdout).digest, started.digest);
  assertEquals((await server.stop()).code, 0);
  assertEquals(server.stderrLines.length, 2); // that line and "Stopping"
});

Deno.test("fragment-server stops on Ctrl-C (exit 0) even with a client that reads nothing", async () => {
  await using started = await startServer(["--size", `${16 * MiB}`]);
  const server = started.server;
  // Connected, reading nothing: the server's write waits on it for ever.
  const stuck = await Deno.connect(started.address);
  await sleep(100);
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  assertEquals(server.stdoutLines.at(-1), "Server stopped.");
  assert(
    server.stderrLines.some((line) =>
      /^Stopped sending to 127\.0\.0\.1:\d+ after \d+ of 16777216 bytes: the server is stopping\.$/
        .test(line)
    ),
    server.transcript(),
  );
  stuck.close();
});

Deno.test("fragmented stops at --max-bytes with one sentence, exit 1", async () => {
  await using started = await startServer(["--size", "5000"]);
  const server = started.server;
  const { port } = started.address;
  const over = await receive(started.address, ["--max-bytes", "4999"]);
  assertEquals(over, {
    code: 1,
    signal: null,
    stdout: "",
    stderr: `error: 127.0.0.1:${port} sent more than 4999 bytes, the ` +
      `--max-bytes limit, so we stopped reading; raise --max-bytes to ` +
      `receive more.`,
  });
  // Exactly the limit is fine.
  const exact = await receive(started.address, ["--max-bytes", "5000"]);
  assertEquals(exact.code, 0, exact.stderr);
  assertEquals(parseReport(exact.stdout).bytes, 5000);
  assertEquals((await server.stop()).code, 0);
});

Deno.test("fragmented with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("fragmented", ["--port", `${port}`]);
  assertEquals(result, {
    code: 1,
    signal: null,
    stdout: "",
    stderr: `error: Nothing is listening on 127.0.0.1:${port} (connection ` +
      `refused). Start the server first (deno task fragment-server) and check the host and port.`,
  });
});

Deno.test("fragment-server says the port is in use, and exits 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await runTask("fragment-server", [
    "--port",
    `${taken.addr.port}`,
  ]);
  assertEquals(result.code, 1);
  assertMatch(
    result.stderr,
    /^error: Port \d+ on 127\.0\.0\.1 is already in use/,
  );
});

for (const task of ["fragment-server", "fragmented"]) {
  Deno.test(`${task} --help prints usage and exits 0`, async () => {
    const result = await runTask(task, ["--help"]);
    assertEquals(result.code, 0);
    assertEquals(result.stderr, "");
    assertMatch(result.stdout, new RegExp(`^Usage: deno task ${task} `));
  });
}

for (
  const [task, args, message] of <[string, string[], string][]> [
    [
      "fragmented",
      ["--chunk-size", "0"],
      '--chunk-size must be a whole number from 1 to 16777216, not "0"',
    ],
    [
      "fragmented",
      ["--chunk-size", "abc"],
      '--chunk-size must be a whole number from 1 to 16777216, not "abc"',
    ],
    [
      "fragmented",
      ["--chunk-size", "16777217"],
      '--chunk-size must be a whole number from 1 to 16777216, not "16777217"',
    ],
    [
      "fragmented",
      ["--max-bytes", "-1"],
      '--max-bytes must be a whole number from 0 to 4294967296, not "-1"',
    ],
    [
      "fragment-server",
      ["--size", "1073741825"],
      '--size must be a whole number from 0 to 1073741824, not "1073741825"',
    ],
    [
      "fragment-server",
      ["--size", "1MB"],
      '--size must be a whole number from 0 to 1073741824, not "1MB"',
    ],
    ["fragment-server", ["--size"], "--size needs a value"],
  ]
) {
  Deno.test(`${task} ${args.join(" ")}: one line, exit 2`, async () => {
    const result = await runTask(task, args);
    assertEquals(result, {
      code: 2,
      signal: null,
      stdout: "",
      stderr: `error: ${message} (run with --help for usage)`,
    });
  });
}
