// Section 12.6: `pickle` sends a Person as tagged JSON through the echo
// server and rebuilds it only if what comes back is exactly a Person.

import { assertEquals, assertMatch } from "@std/assert";
import { freePort, runTask, sleep, TaskProcess } from "./_helpers.ts";
import { noPython, withResetter } from "./_resetter.ts";

/** What pickle sends: Sarah as tagged JSON, 44 bytes, no newline. */
const SARAH = '{"type":"Person","name":"Sarah","male":true}';
const encoder = new TextEncoder();

/** Closes `conn` unless it is closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/**
 * A fake echo server on a free port: it reads the 44 bytes pickle sends,
 * checks them, and answers with `reply(sent)` instead of the echo (padded
 * with spaces, which JSON allows, when shorter than 44 bytes), then waits
 * (10 s at most) for pickle to hang up. Runs `client` (given the port).
 */
async function withImpostor(
  reply: (sent: string) => Uint8Array,
  client: (port: number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let sent = "";
  const serving = (async () => {
    const conn = await listener.accept();
    const timer = setTimeout(() => closeQuietly(conn), 10_000);
    try {
      const buffer = new Uint8Array(1024);
      while (sent.length < 44) {
        const count = await conn.read(buffer);
        if (count === null) return;
        sent += new TextDecoder().decode(buffer.subarray(0, count));
      }
      const bytes = reply(sent);
      for (let i = 0; i < bytes.length;) {
        i += await conn.write(bytes.subarray(i));
      }
      while (await conn.read(buffer) !== null) {
        // Wait until the client hangs up.
      }
    } catch {
      // The client may reset the connection; that is its right.
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  })();
  try {
    await client(listener.addr.port);
    await serving;
  } finally {
    listener.close();
  }
  assertEquals(sent, SARAH);
}

/** `text` as 44 bytes of UTF-8: padded with spaces (JSON allows them). */
function asEcho(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length > 44) throw new Error(`${text} is over 44 bytes`);
  const padded = new Uint8Array(44).fill(0x20);
  padded.set(bytes);
  return padded;
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
    const line = await server.waitForLine(/ sent (\d+) bytes: (.*)$/);
    assertEquals([line[1], line[2]], ["44", SARAH]);
    await server.waitForLine(/^Disconnected: .* \(echoed 44 bytes\)$/);
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

// Replies a tampering server might send (44 bytes at most, as the echo of
// our 44), and the reason pickle must give.
const NAME = '"name" must be 1 to 100 characters, none of them unsafe to print';
const tampered: [string, string][] = [
  ['{"type":"Person","name":"Sarah","male":1}', '"male" must be true or false'],
  [
    '{"type":"Person","name":"S","male":1,"x":1}',
    "its keys must be type, name and male",
  ],
  ['{"type":"Admin","name":"Sarah","male":true}', '"type" must be "Person"'],
  [
    '{"__proto__":{},"name":"S","male":true}',
    "its keys must be type, name and male",
  ],
  ['{"type":"Person","name":"Sarah"}', "its keys must be type, name and male"],
  ['{"type":"Person","name":"","male":true}', NAME],
  ['{"type":"Person","name":42,"male":true}', NAME],
  ['["Person","Sarah",true]', "its keys must be type, name and male"],
  ["null", "its keys must be type, name and male"],
];

for (const [reply, reason] of tampered) {
  Deno.test(`pickle refuses ${reply}`, async () => {
    await withImpostor(() => asEcho(reply), async (port) => {
      const result = await runTask("pickle", ["--port", `${port}`]);
      assertEquals(result, {
        code: 1,
        signal: null,
        stdout: "",
        stderr:
          `error: Refusing the reply from 127.0.0.1:${port}: not a valid ` +
          `Person (${reason}).`,
      });
    });
  });
}

// A server that swaps Sarah's name for one as long in bytes, holding a
// character that is unsafe to print: DEL and C1 controls (U+009B, CSI, is
// one character, two bytes in UTF-8, that some terminals obey as "ESC ["),
// a right-to-left override or isolate, an invisible one, a line separator.
const unsafeNames = [
  "Sa\u007fah",
  "Sa\u009bh",
  "S\u202eh",
  "S\u2066h",
  "S\u200bh",
  "S\u2028h",
];
for (const name of unsafeNames) {
  const shown = JSON.stringify(name).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  Deno.test(`pickle refuses a Person named ${shown}`, async () => {
    const swap = (sent: string) => asEcho(sent.replace("Sarah", name));
    await withImpostor(swap, async (port) => {
      const result = await runTask("pickle", ["--port", `${port}`]);
      assertEquals([result.code, result.stdout, result.stderr], [
        1,
        "",
        `error: Refusing the reply from 127.0.0.1:${port}: not a valid ` +
        `Person (${NAME}).`,
      ]);
    });
  });
}

Deno.test("pickle accepts a Person the echo gives back with another name", async () => {
  // Not a refusal: a plain name, as long, is a valid Person.
  const swap = (sent: string) => asEcho(sent.replace("Sarah", "Zoë"));
  await withImpostor(swap, async (port) => {
    const result = await runTask("pickle", ["--port", `${port}`]);
    assertEquals([result.code, result.stdout], [
      0,
      "Zoë\nIt is a Person: true",
    ]);
  });
});

Deno.test("pickle refuses bytes that are not JSON (a real pickle, say)", async () => {
  // What Python's pickle.dumps makes: binary, and not UTF-8.
  const pickled = new Uint8Array(44).fill(0x2e);
  pickled.set([0x80, 0x04, 0x95, 0x2e]);
  await withImpostor(() => pickled, async (port) => {
    const result = await runTask("pickle", ["--port", `${port}`]);
    assertEquals([result.code, result.stdout, result.stderr], [
      1,
      "",
      `error: 127.0.0.1:${port} sent back something that is not JSON.`,
    ]);
  });
});

// An echo is exactly as long as what was sent. Before, a longer reply was
// cut to 44 bytes and parsed: a valid Person followed by more was taken
// for the echo, and 1 MB of garbage was called "not JSON".
for (
  const [what, reply] of [
    ["Sarah and one byte more", encoder.encode(`${SARAH} `)],
    ["1 MB", encoder.encode(`{"name":"${"x".repeat(1_000_000)}`)],
  ] as const
) {
  Deno.test(`pickle says a reply longer than what it sent is not an echo: ${what}`, async () => {
    await withImpostor(() => reply, async (port) => {
      const result = await runTask("pickle", ["--port", `${port}`]);
      assertEquals([result.code, result.stdout, result.stderr], [
        1,
        "",
        `error: 127.0.0.1:${port} sent back more than we sent.`,
      ]);
    });
  });
}

Deno.test("pickle: a server that closes without echoing, one sentence", async () => {
  await withImpostor(() => new Uint8Array(0), async (port) => {
    const result = await runTask("pickle", ["--port", `${port}`]);
    assertEquals([result.code, result.stdout, result.stderr], [
      1,
      "",
      `error: 127.0.0.1:${port} hung up after 0 bytes of the echo.`,
    ]);
  });
});

// A server that resets the connection (RST) after part or all of the echo:
// pickle said "before it echoed" even after the whole echo.
for (const echoed of [10, 44]) {
  Deno.test({
    name: `pickle: a reset after ${echoed} bytes of the echo says so`,
    ignore: noPython,
    fn: async () => {
      const echo = encoder.encode(SARAH.slice(0, echoed));
      await withResetter(44, echo, async (port) => {
        const result = await runTask("pickle", ["--port", `${port}`]);
        assertEquals([result.code, result.stdout, result.stderr], [
          1,
          "",
          `error: 127.0.0.1:${port} reset the connection after ${echoed} ` +
          "bytes of the echo.",
        ]);
      });
    },
  });
}

// pickle closes its sending half once all is sent; an echo server then
// closes too, and that end is what tells a whole echo from a longer reply.
// A server that stays silent, or echoes and does not close, runs into
// --timeout.
for (const echo of [false, true]) {
  const what = echo ? "echoes but never closes" : "stays silent";
  Deno.test(`pickle gives up on a server that ${what}, after --timeout`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      const conn = await listener.accept();
      try {
        // Read the 44 bytes (and pickle's end of sending), then hold on.
        const bytes = new Uint8Array(44);
        for (let got = 0; got < 44;) {
          got += (await conn.read(bytes.subarray(got))) ?? 44;
        }
        if (echo) await conn.write(bytes);
        await sleep(1500);
      } finally {
        closeQuietly(conn);
      }
    })();
    try {
      const { port } = listener.addr;
      const result = await runTask("pickle", [
        "--port",
        `${port}`,
        "--timeout",
        "0.5",
      ]);
      assertEquals([result.code, result.stdout, result.stderr], [
        1,
        "",
        `error: 127.0.0.1:${port} did not echo and close in 0.5 s (see ` +
        `--timeout).`,
      ]);
    } finally {
      await serving;
      listener.close();
    }
  });
}

// A timer over 2^31-1 ms (about 24.8 days) fires at once: 2147484 s was
// "did not echo it ... within 2147484 s", at once. A day is the most.
Deno.test("pickle --timeout over a day is a usage error, a day works", async () => {
  const result = await runTask("pickle", ["--timeout", "2147484"]);
  assertEquals([result.code, result.stdout, result.stderr], [
    2,
    "",
    "error: --timeout must be a number of seconds above 0, at most 86400 " +
    "(run with --help for usage)",
  ]);
  await using server = TaskProcess.start("json-server", ["--port", "0"]);
  try {
    const { port } = await server.listening();
    const day = await runTask("pickle", [
      "--port",
      `${port}`,
      "--timeout",
      "86400",
    ]);
    assertEquals([day.code, day.stdout, day.stderr], [
      0,
      "Sarah\nIt is a Person: true",
      "",
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("pickle with no server: one sentence, exit 1", async () => {
  const port = freePort();
  const result = await runTask("pickle", ["--port", `${port}`]);
  assertEquals([result.code, result.stdout, result.stderr], [
    1,
    "",
    `error: Nothing is listening on 127.0.0.1:${port} (connection refused): ` +
    `start the server first (deno task json-server).`,
  ]);
});

Deno.test("pickle --help prints usage and exits 0", async () => {
  const result = await runTask("pickle", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task pickle /);
});

for (
  const [args, message] of <[string[], string][]> [
    [["--port", "abc"], "--port must be a whole number from 1 to 65535"],
    [["--port", "0"], "--port must be a whole number from 1 to 65535"],
    [
      ["--timeout", "soon"],
      "--timeout must be a number of seconds above 0, at most 86400",
    ],
    [["--name", "Eve"], 'unknown argument "--name"'],
    [["extra"], 'unknown argument "extra"'],
    [["--host", "[::1"], "--host must be a name or an address"],
    [["--host", "::1]"], "--host must be a name or an address"],
    [["--host", "[]x"], "--host must be a name or an address"],
    [
      ["--host", "a\u001b]52;c;aGk=\u0007"],
      "--host must be a name or an address",
    ],
  ]
) {
  Deno.test(`pickle ${JSON.stringify(args)}: one line, exit 2`, async () => {
    const result = await runTask("pickle", args);
    assertEquals([result.code, result.stdout, result.stderr], [
      2,
      "",
      `error: ${message} (run with --help for usage)`,
    ]);
  });
}
