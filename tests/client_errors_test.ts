// Every client, against the three mistakes a reader meets first: no server
// on that port, a name that does not resolve, and a host that --allow-net
// does not cover. Each must end with ONE clear sentence and exit 1.

import {
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import {
  freePort,
  PYTHON,
  pythonServer,
  runDeno,
  runTask,
} from "./_helpers.ts";

/** Each client: its task, the flags it needs besides --host/--port. */
const clients: { task: string; args: string[]; file: string }[] = [
  { task: "tcp-client", args: [], file: "chapters/12_4_tcp_client.ts" },
  { task: "tcp-listener", args: [], file: "chapters/12_4_tcp_listener.ts" },
  { task: "fragmented", args: [], file: "chapters/12_4_fragmented.ts" },
  { task: "json-client", args: [], file: "chapters/12_5_json_client.ts" },
  { task: "pickle", args: [], file: "chapters/12_6_pickle.ts" },
  {
    task: "chat",
    args: ["client", "--username", "bob"],
    file: "chat/chat.ts",
  },
];

function assertOneSentence(stderr: string): void {
  assertEquals(stderr.split("\n").length, 1, stderr);
  assertMatch(stderr, /^error: [A-Z"\d[].*[.)]$/); // a sentence, or an address
}

for (const { task, args } of clients) {
  Deno.test(`${task}: no server on the port -> one sentence, exit 1`, async () => {
    const port = freePort();
    const result = await runTask(task, [
      ...args,
      "--host",
      "127.0.0.1",
      "--port",
      `${port}`,
    ]);
    assertEquals(result.code, 1, result.stderr);
    assertOneSentence(result.stderr);
    assertStringIncludes(
      result.stderr,
      `Nothing is listening on 127.0.0.1:${port} (connection refused): `,
    );
  });

  Deno.test(`${task}: host outside --allow-net -> names the flag, exit 1`, async () => {
    const result = await runTask(task, [
      ...args,
      "--host",
      "127.0.0.2",
      "--port",
      "9",
    ]);
    assertEquals(result.code, 1, result.stderr);
    assertOneSentence(result.stderr);
    assertStringIncludes(result.stderr, "--allow-net=127.0.0.2");
  });
}

// A name that does not resolve: with the tasks' loopback-only permission,
// Deno refuses any other name before looking it up (the test above). So this
// runs each script the way README.md says to reach other hosts, with
// --allow-net naming the host. `.invalid` names never resolve (RFC 6761).
// udp-client joins them: for a host that is not this computer it binds its
// own socket to 0.0.0.0, which --allow-net must name too (its message says).
const resolvers = [
  ...clients.map((client) => ({ ...client, allow: "no-such-host.invalid" })),
  {
    task: "udp-client",
    args: [],
    file: "chapters/12_4_udp_client.ts",
    allow: "no-such-host.invalid,0.0.0.0",
  },
];
for (const { task, args, file, allow } of resolvers) {
  Deno.test(`${task}: a name that does not resolve -> one sentence, exit 1`, async () => {
    const { code, stderr } = await runDeno([
      "run",
      "--unstable-net",
      `--allow-net=${allow}`,
      file,
      ...args,
      "--host",
      "no-such-host.invalid",
      "--port",
      "9",
    ]);
    assertEquals(code, 1, stderr);
    assertOneSentence(stderr);
    assertStringIncludes(
      stderr,
      'Could not find the address of "no-such-host.invalid"',
    );
  });
}

Deno.test("udp-client: nobody answers -> the timeout sentence, exit 1", async () => {
  const result = await runTask("udp-client", [
    "--port",
    `${freePort()}`,
    "--timeout",
    "0.5",
  ]);
  assertEquals(result.code, 1, result.stderr);
  assertOneSentence(result.stderr);
});

Deno.test("udp-client: host outside --allow-net -> names the flag, exit 1", async () => {
  const result = await runTask("udp-client", ["--host", "127.0.0.2"]);
  assertEquals(result.code, 1, result.stderr);
  assertOneSentence(result.stderr);
  assertStringIncludes(result.stderr, "--allow-net=127.0.0.2");
});

// A server that resets the connection (SO_LINGER 0, then close): each client
// says so in a sentence, not with Deno's error name. The server reads what
// the client sends (up to 0.3 s), sends a few bytes, and resets; a reset
// that lands as Deno.connect finishes is NotConnected, said the same way.
const RESETTER = `
import socket, struct
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    conn.settimeout(0.3)
    try:
        conn.recv(65536)
    except OSError:
        pass
    conn.sendall(b'{"na')
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
`;
Deno.test({
  name: "every client: a server that resets -> one sentence, exit 1",
  ignore: PYTHON === null,
  fn: async () => {
    await using resetter = await pythonServer(RESETTER);
    const { port } = resetter;
    const at = `127\\.0\\.0\\.1:${port}`;
    for (const { task, args } of clients) {
      const result = await runTask(task, [
        ...args,
        "--host",
        "127.0.0.1",
        "--port",
        `${port}`,
      ]);
      assertEquals(result.code, 1, `${task}: ${result.stderr}`);
      assertOneSentence(result.stderr);
      assertMatch(
        result.stderr,
        new RegExp(`^error: ${at} (reset|closed) the `),
        task,
      );
      assertNotMatch(result.stderr, /ConnectionReset|NotConnected|os error/);
    }
  },
});
