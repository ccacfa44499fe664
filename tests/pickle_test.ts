// Section 12.6: `pickle` sends a Person as tagged JSON through the echo
// server and rebuilds it only if what comes back is exactly a Person.

import { assertEquals, assertMatch } from "@std/assert";
import { freePort, runTask, TaskProcess } from "./_helpers.ts";

/**
 * A fake echo server on a free port: it reads the line `pickle` sends and
 * answers with `reply` instead of the echo, then waits for the client to
 * hang up. Runs `client` (given the port) meanwhile.
 */
async function withImpostor(
  reply: string | Uint8Array,
  client: (port: number) => Promise<void>,
): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let line = "";
  const serving = (async () => {
    const conn = await listener.accept();
    try {
      const buffer = new Uint8Array(1024);
      while (!line.includes("\n")) {
        const count = await conn.read(buffer);
        if (count === null) return;
        line += new TextDecoder().decode(buffer.subarray(0, count));
      }
      const bytes = typeof reply === "string"
        ? new TextEncoder().encode(reply)
        : reply;
      let written = 0;
      while (written < bytes.length) {
        written += await conn.write(bytes.subarray(written));
      }
      while (await conn.read(buffer) !== null) {
        // Wait until the client hangs up.
      }
    } catch {
      // The client may reset the connection; that is its right.
    } finally {
      conn.close();
    }
  })();
  await client(listener.addr.port);
  await serving;
  // What pickle sent: Sarah, as one line of tagged JSON.
  assertEquals(line, '{"type":"Person","name":"Sarah","male":true}\n');
}

Deno.test("pickle sends Sarah through json-server and gets a real Person back", async () => {
  await using server = TaskProcess.start("json-server", ["--port", "0"]);
  try {
    const { port } = await server.listening();
    const result = await runTask("pickle", ["--port", `${port}`]);
    assertEquals(result, {
      code: 0,
      signal: null,
      stdout: "Sarah\nIt is a Person: true",
      stderr: "",
    });
    const line = await server.waitForLine(/ sent JSON: (.*)$/);
    assertEquals(line[1], '{"type":"Person","name":"Sarah","male":true}');
    await server.waitForLine(/^Disconnected: .* \(echoed 45 bytes\)$/);
  } finally {
    await server.stop();
  }
});

Deno.test("pickle works over IPv6 (::1)", async () => {
  await using server = TaskProcess.start("json-server", [
    "--host",
    "::1",
    "--port",
    "0",
  ]);
  try {
    const { port } = await server.listening();
    const result = await runTask("pickle", [
      "--host",
      "[::1]",
      "--port",
      `${port}`,
    ]);
    assertEquals([result.code, result.stdout], [
      0,
      "Sarah\nIt is a Person: true",
    ]);
  } finally {
    await server.stop();
  }
});

// Replies a tampering server might send, and the reason pickle must give.
const tampered: [string, string][] = [
  [
    '{"type":"Person","name":"Sarah","male":"yes"}',
    '"male" must be true or false, not "yes"',
  ],
  [
    '{"type":"Person","name":"Sarah","male":true,"admin":true}',
    'unexpected key "admin"',
  ],
  [
    '{"type":"Admin","name":"Sarah","male":true}',
    '"type" must be "Person", not "Admin"',
  ],
  [
    '{"__proto__":{"isAdmin":true},"type":"Person","name":"Sarah","male":true}',
    'unexpected key "__proto__"',
  ],
  ['{"type":"Person","name":"Sarah"}', 'missing key "male"'],
  ['{"type":"Person","name":"","male":true}', '"name" must not be empty'],
  [
    `{"type":"Person","name":"${"x".repeat(101)}","male":true}`,
    '"name" must be at most 100 characters long, not 101',
  ],
  [
    '{"type":"Person","name":"Sarah\\u001b[2J","male":true}',
    '"name" must not contain control characters',
  ],
  [
    '{"type":"Person","name":42,"male":true}',
    '"name" must be a string, not 42',
  ],
  ['["Person","Sarah",true]', 'it is ["Person","Sarah",true], not an object'],
  ["null", "it is null, not an object"],
];

for (const [reply, reason] of tampered) {
  Deno.test(`pickle refuses ${reply.slice(0, 60)}`, async () => {
    await withImpostor(reply + "\n", async (port) => {
      const result = await runTask("pickle", ["--port", `${port}`]);
      assertEquals(result, {
        code: 1,
        signal: null,
        stdout: "",
        stderr: `error: Refusing the reply from 127.0.0.1:${port}: it is not ` +
          `a valid Person (${reason}).`,
      });
    });
  });
}

Deno.test("pickle refuses bytes that are not JSON (a real pickle, say)", async () => {
  // What Python's pickle.dumps makes: binary, and not UTF-8.
  const pickled = new Uint8Array([0x80, 0x04, 0x95, 0x2e, 0x00, 0x2e]);
  await withImpostor(pickled, async (port) => {
    const result = await runTask("pickle", ["--port", `${port}`]);
    assertEquals([result.code, result.stdout, result.stderr], [
      1,
      "",
      `error: 127.0.0.1:${port} sent back something that is not JSON, or ` +
      `closed the connection in the middle of a value.`,
    ]);
  });
});

Deno.test("pickle gives up on a silent server after --timeout", async () => {
  await withImpostor("", async (port) => {
    const result = await runTask("pickle", [
      "--port",
      `${port}`,
      "--timeout",
      "0.3",
    ]);
    assertEquals([result.code, result.stderr], [
      1,
      `error: 127.0.0.1:${port} sent back no whole JSON value within 0.3 ` +
      `seconds; check that it is the JSON echo server, or wait longer with ` +
      `--timeout.`,
    ]);
  });
});

Deno.test("pickle refuses a reply longer than 64 KiB", async () => {
  await withImpostor(`{"name":"${"x".repeat(70_000)}`, async (port) => {
    const result = await runTask("pickle", ["--port", `${port}`]);
    assertEquals([result.code, result.stderr], [
      1,
      `error: 127.0.0.1:${port} sent back more than 64 KiB, far more than a ` +
      `Person; that is not the echo of what we sent.`,
    ]);
  });
});

Deno.test("pickle with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("pickle", ["--port", `${port}`]);
  assertEquals([result.code, result.stdout, result.stderr], [
    1,
    "",
    `error: Nothing is listening on 127.0.0.1:${port} (connection refused). ` +
    `Start the server first (deno task json-server) and check the host ` +
    `and port.`,
  ]);
});

Deno.test("pickle --help prints usage and exits 0", async () => {
  const result = await runTask("pickle", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task pickle /);
});

for (
  const [args, message] of <[string[], string][]> [
    [
      ["--port", "abc"],
      '--port must be a whole number from 0 to 65535, not "abc"',
    ],
    [
      ["--timeout", "soon"],
      '--timeout must be a number of seconds above 0, not "soon"',
    ],
    [["--name", "Eve"], 'unknown flag "--name"'],
    [["extra"], 'unexpected argument "extra"'],
  ]
) {
  Deno.test(`pickle ${args.join(" ")}: one line, exit 2`, async () => {
    const result = await runTask("pickle", args);
    assertEquals([result.code, result.stdout, result.stderr], [
      2,
      "",
      `error: ${message} (run with --help for usage)`,
    ]);
  });
}
