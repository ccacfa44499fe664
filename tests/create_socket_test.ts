// Section 12.3: `deno task create-socket` opens TCP and UDP sockets on IPv4
// and IPv6, shows each with the book's family/type pair, and closes them.

import { assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { ROOT, runTask } from "./_helpers.ts";

const PORT = String.raw`(\d{1,5})`;

Deno.test("create-socket shows five real sockets and closes them", async () => {
  const result = await runTask("create-socket");
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  const lines = result.stdout.split("\n");
  assertEquals(lines.slice(0, 15), [
    "The book's create_socket.py makes a socket with no address:",
    "",
    "  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    "  print(s)",
    "  <socket.socket fd=3, family=AddressFamily.AF_INET,",
    "  type=SocketKind.SOCK_STREAM, proto=0, laddr=('0.0.0.0', 0)>",
    "",
    "In Deno a socket is born with its address, by one of three calls:",
    "",
    "  Deno.listen          = socket + bind + listen   (TCP)",
    "  Deno.connect         = socket + connect         (TCP)",
    "  Deno.listenDatagram  = socket + bind            (UDP)",
    "",
    "Five sockets on this computer, each on a port the system chose:",
    "",
  ]);
  const sockets = lines.slice(15, 20);
  const patterns = [
    `^  TCP listener AF_INET  SOCK_STREAM tcp  127\\.0\\.0\\.1:${PORT}$`,
    `^  TCP listener AF_INET6 SOCK_STREAM tcp  \\[::1\\]:${PORT}$`,
    `^  TCP client   AF_INET  SOCK_STREAM tcp  127\\.0\\.0\\.1:${PORT} -> ` +
    `127\\.0\\.0\\.1:${PORT}$`,
    `^  UDP socket   AF_INET  SOCK_DGRAM  udp  127\\.0\\.0\\.1:${PORT}$`,
    `^  UDP socket   AF_INET6 SOCK_DGRAM  udp  \\[::1\\]:${PORT}$`,
  ].map((pattern) => new RegExp(pattern));
  const ports = sockets.map((line, i) => {
    assertMatch(line, patterns[i]);
    return line.match(patterns[i])!.slice(1).map(Number);
  });
  // Every port is one the system chose: none is 0, all are real ports.
  for (const port of ports.flat()) assertEquals(port > 0 && port < 65536, true);
  // The client is connected to the first listener, from a port of its own.
  const [[listener4], , [clientOwn, clientRemote]] = ports;
  assertEquals(clientRemote, listener4);
  assertNotEquals(clientOwn, listener4);
  assertEquals(lines.slice(20), ["", "Closed all five sockets."]);
});

Deno.test("create-socket without --unstable-net says which flag it needs", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,[::1]",
      "chapters/12_3_create_socket.ts",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  assertEquals(output.code, 1);
  assertEquals(new TextDecoder().decode(output.stdout), "");
  assertEquals(
    new TextDecoder().decode(output.stderr),
    "error: Deno.listenDatagram (UDP) is unstable and needs the " +
      "--unstable-net flag: run deno task create-socket, which passes it.\n",
  );
});

Deno.test("create-socket --help prints usage and exits 0", async () => {
  const result = await runTask("create-socket", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task create-socket\n/);
});

for (
  const [args, message] of <[string[], string][]> [
    [["--port", "0"], 'unknown flag "--port"'],
    [["--colour"], 'unknown flag "--colour"'],
    [["socket"], 'unexpected argument "socket"'],
  ]
) {
  Deno.test(`create-socket ${args.join(" ")}: one line, exit 2`, async () => {
    const result = await runTask("create-socket", args);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
  });
}
