// Every TCP server: clients that reset (RST) before the server accepts them.
// Linux keeps such a connection in the listener's queue; accept() takes it
// and fails ("Transport endpoint is not connected", Deno.errors.NotConnected)
// because the client is gone. That is the client's doing, not a shortage:
// the server takes the next client at once, says nothing of it, and does not
// wait as it does when it runs out of descriptors (a port scan of a few
// dozen connections once kept good clients waiting 13 s).

import { assertEquals, assertMatch } from "@std/assert";
import {
  type Listening,
  PYTHON,
  readAll,
  runTask,
  TaskProcess,
} from "./_helpers.ts";

/**
 * Connects COUNT times and resets each connection: python3, since Deno
 * cannot set SO_LINGER 0.
 */
const RESET = `
import socket, struct, sys
for _ in range(int(sys.argv[3])):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
`;

/**
 * Leaves COUNT reset connections in SERVER's queue: the server is stopped
 * (SIGSTOP) while the system completes them and the client resets them,
 * then goes on (SIGCONT) to find them there.
 */
async function resetBeforeAccept(
  server: TaskProcess,
  address: Listening,
  count: number,
): Promise<void> {
  Deno.kill(server.pid, "SIGSTOP");
  try {
    const reset = await new Deno.Command(PYTHON!, {
      args: ["-c", RESET, address.hostname, `${address.port}`, `${count}`],
    }).output();
    assertEquals(reset.code, 0, new TextDecoder().decode(reset.stderr));
  } finally {
    Deno.kill(server.pid, "SIGCONT");
  }
}

/** The lines of TEXT where a server says it could not accept a client. */
function failedAccepts(text: string): string[] {
  return text.split("\n").filter((line) =>
    /^(Cannot|Could not) accept/.test(line)
  );
}

function test(name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: PYTHON === null, fn });
}

test("tcp-server: clients reset before accept are passed over, the next greeted", async () => {
  await using server = TaskProcess.start("tcp-server", ["--port", "0"]);
  const address = await server.listening();
  await resetBeforeAccept(server, address, 5);
  const client = await runTask("tcp-listener", ["--port", `${address.port}`]);
  assertEquals([client.code, client.stderr], [0, ""]);
  assertMatch(client.stdout, /^\d+\. Hi new friend!$/);
  const stopped = await server.stop();
  assertEquals(failedAccepts(stopped.stdout), []);
  assertEquals(stopped.stderr, "");
});

test("fragment-server: clients reset before accept are passed over, the next served", async () => {
  await using server = TaskProcess.start("fragment-server", [
    "--port",
    "0",
    "--size",
    "100",
  ]);
  const address = await server.listening();
  await resetBeforeAccept(server, address, 5);
  const received = await readAll(address);
  assertEquals(received.length, "Length: 100\n".length + 100);
  const stopped = await server.stop();
  assertEquals(failedAccepts(stopped.stdout), []);
  assertEquals(stopped.stderr, "");
});

test("json-server: clients reset before accept are passed over, the next echoed", async () => {
  await using server = TaskProcess.start("json-server", ["--port", "0"]);
  const address = await server.listening();
  await resetBeforeAccept(server, address, 5);
  const client = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals([client.code, client.stderr], [0, ""]);
  assertEquals(client.stdout, '{"name": "Johanna", "female": true}');
  const stopped = await server.stop();
  assertEquals(failedAccepts(stopped.stdout), []);
  assertEquals(stopped.stderr, "");
});

test("chat server: clients reset before accept are passed over, the next one chats", async () => {
  await using server = TaskProcess.start(
    "chat",
    ["server", "--username", "alice", "--port", "0"],
    { stdin: true },
  );
  const address = await server.listening();
  await resetBeforeAccept(server, address, 5);
  await server.write("hi bob\n", true);
  const bob = await runTask(
    "chat",
    ["client", "--username", "bob", "--port", `${address.port}`],
    { stdin: "hello alice\n" },
  );
  assertEquals([bob.code, bob.stderr], [0, ""]);
  assertMatch(bob.stdout, /^bob: hello alice$/m);
  assertMatch(bob.stdout, /^alice: hi bob$/m);
  const stopped = await server.stop();
  assertEquals(failedAccepts(stopped.stderr), []);
});
