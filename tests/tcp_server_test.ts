// Section 12.4: the greeting server (`tcp-server`) and its client
// (`tcp-listener`), each started through its deno task.

import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { freePort, readAll, runTask, TaskProcess } from "./_helpers.ts";

Deno.test("tcp-server greets clients 0..N-1 in order of arrival and logs each", async () => {
  await using server = TaskProcess.start("tcp-server", ["--port", "0"]);
  const address = await server.listening();
  assertEquals(address.hostname, "127.0.0.1");

  const first = await runTask("tcp-listener", ["--port", `${address.port}`]);
  assertEquals(first, {
    code: 0,
    signal: null,
    stdout: "0. Hi new friend!",
    stderr: "",
  });
  const second = await runTask("tcp-listener", ["--port", `${address.port}`]);
  assertEquals(second.stdout, "1. Hi new friend!");

  await server.waitForLine(/^Connection from: 127\.0\.0\.1:\d+$/);
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  const connections = stopped.stdout.split("\n")
    .filter((line) => line.startsWith("Connection from: "));
  assertEquals(connections.length, 2);
  assertMatch(stopped.stdout, /Server stopped\.$/);
});

Deno.test("tcp-server numbers 20 concurrent clients exactly 0..19", async () => {
  await using server = TaskProcess.start("tcp-server", ["--port", "0"]);
  const address = await server.listening();
  const greetings = await Promise.all(
    Array.from({ length: 20 }, () => readAll(address)),
  );
  const numbers = greetings
    .map((bytes) => new TextDecoder().decode(bytes))
    .map((text) => {
      assertMatch(text, /^\d+\. Hi new friend!\n$/);
      return parseInt(text);
    })
    .sort((a, b) => a - b);
  assertEquals(numbers, Array.from({ length: 20 }, (_, i) => i));
  await server.stop();
});

Deno.test("tcp-server and tcp-listener work over IPv6 (::1)", async () => {
  await using server = TaskProcess.start("tcp-server", [
    "--host",
    "::1",
    "--port",
    "0",
  ]);
  const address = await server.listening();
  assertEquals(address.hostname, "::1");
  const client = await runTask("tcp-listener", [
    "--host",
    "::1",
    "--port",
    `${address.port}`,
  ]);
  assertEquals(client.stdout, "0. Hi new friend!");
  await server.waitForLine(/^Connection from: \[::1\]:\d+$/);
  await server.stop();
});

Deno.test("tcp-server says the port is in use, and exits 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await runTask("tcp-server", ["--port", `${taken.addr.port}`]);
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    `error: Port ${taken.addr.port} on 127.0.0.1 is already in use by another ` +
      `program. Stop that program, or choose another port with --port ` +
      `(--port 0 picks a free one).`,
  );
});

Deno.test("tcp-listener with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("tcp-listener", ["--port", `${port}`]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  assertEquals(
    result.stderr,
    `error: Nothing is listening on 127.0.0.1:${port} (connection refused). ` +
      `Start the server first (deno task tcp-server) and check the host and port.`,
  );
});

Deno.test("tcp-listener outside --allow-net names the flag to add", async () => {
  const result = await runTask("tcp-listener", ["--host", "127.0.0.2"]);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "--allow-net=127.0.0.2");
  assertEquals(result.stderr.split("\n").length, 1);
});

for (const task of ["tcp-server", "tcp-listener"]) {
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
      [
        ["--port", "70000"],
        '--port must be a whole number from 0 to 65535, not "70000"',
      ],
      [
        ["--port", "-1"],
        '--port must be a whole number from 0 to 65535, not "-1"',
      ],
      [["--colour"], 'unknown flag "--colour"'],
      [["--port"], "--port needs a value"],
      [["extra"], 'unexpected argument "extra"'],
    ]
  ) {
    Deno.test(`${task} ${args.join(" ")}: one line, exit 2`, async () => {
      const result = await runTask(task, args);
      assertEquals(result.code, 2);
      assertEquals(result.stdout, "");
      assertEquals(
        result.stderr,
        `error: ${message} (run with --help for usage)`,
      );
    });
  }
}

Deno.test("tcp-listener gives up, in one sentence, on a server that never closes", async () => {
  // A server that accepts and then says nothing, holding the connection.
  using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = silent.accept();
  const result = await runTask("tcp-listener", [
    "--port",
    `${silent.addr.port}`,
    "--timeout",
    "0.5",
  ]);
  (await accepting).close();
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    `error: 127.0.0.1:${silent.addr.port} has not closed the connection ` +
      `after 0.5 s; is it the greeting server (deno task tcp-server)?`,
  );
});
