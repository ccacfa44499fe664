// Section 12.3: `deno task create-socket` opens TCP and UDP sockets on IPv4
// and IPv6, shows each with the book's family/type pair, and closes them.

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "@std/assert";
import { ROOT, runDeno, runTask } from "./_helpers.ts";

const PORT = String.raw`(\d{1,5})`;

/** The five socket lines, in order: TCP4, TCP6, client, UDP4, UDP6. */
const SOCKET_LINES = [
  `^  TCP listener AF_INET  SOCK_STREAM 127\\.0\\.0\\.1:${PORT}$`,
  `^  TCP listener AF_INET6 SOCK_STREAM \\[::1\\]:${PORT}$`,
  `^  TCP client   AF_INET  SOCK_STREAM 127\\.0\\.0\\.1:${PORT} -> ` +
  `127\\.0\\.0\\.1:${PORT}$`,
  `^  UDP socket   AF_INET  SOCK_DGRAM  127\\.0\\.0\\.1:${PORT}$`,
  `^  UDP socket   AF_INET6 SOCK_DGRAM  \\[::1\\]:${PORT}$`,
].map((pattern) => new RegExp(pattern));

const BOOK_AND_CALLS = [
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
  "Sockets on this computer, each on a port the system chose:",
  "",
];

Deno.test("create-socket shows five real sockets and closes them", async () => {
  const result = await runTask("create-socket");
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  const lines = result.stdout.split("\n");
  assertEquals(lines.slice(0, 15), BOOK_AND_CALLS);
  const sockets = lines.slice(15, 20);
  const ports = sockets.map((line, i) => {
    assertMatch(line, SOCKET_LINES[i]);
    return line.match(SOCKET_LINES[i])!.slice(1).map(Number);
  });
  // Every port is one the system chose: none is 0, all are real ports.
  for (const port of ports.flat()) assert(port > 0 && port < 65536);
  // The client is connected to the first listener, from a port of its own.
  const [[listener4], , [clientOwn, clientRemote]] = ports;
  assertEquals(clientRemote, listener4);
  assertNotEquals(clientOwn, listener4);
  assertEquals(lines.slice(20), ["", "Closed all 5 sockets."]);
});

// A computer with IPv6 switched off: a private network namespace (unshare)
// with loopback up and IPv6 disabled. Needs root, as on CI; skipped elsewhere.
const canUnshare = Deno.build.os === "linux" && Deno.uid() === 0 &&
  (await new Deno.Command("unshare", { args: ["-n", "true"] }).output()
    .then((output) => output.success, () => false));
Deno.test({
  name: "create-socket without IPv6: the IPv4 sockets and one line saying so",
  ignore: !canUnshare,
  fn: async () => {
    const script = "ip link set lo up && " +
      "sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && " +
      `"$1" run --no-prompt --unstable-net --allow-net=127.0.0.1,[::1] ` +
      "chapters/12_3_create_socket.ts";
    const output = await new Deno.Command("unshare", {
      args: ["-n", "sh", "-c", script, "sh", Deno.execPath()],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    const lines = stdout.trimEnd().split("\n");
    assertEquals(lines.slice(0, 15), BOOK_AND_CALLS);
    assertMatch(lines[15], SOCKET_LINES[0]);
    assertEquals(
      lines[16],
      "  (none on IPv6: ::1 is not an address of this computer)",
    );
    assertMatch(lines[17], SOCKET_LINES[2]);
    assertMatch(lines[18], SOCKET_LINES[3]);
    assertEquals(lines.slice(19), ["", "Closed all 3 sockets."]);
  },
});

Deno.test("create-socket without --unstable-net says which flag it needs", async () => {
  const output = await runDeno([
    "run",
    "--no-prompt",
    "--allow-net=127.0.0.1,[::1]",
    "chapters/12_3_create_socket.ts",
  ]);
  assertEquals(output.code, 1);
  assertEquals(output.stdout, "");
  assertEquals(
    output.stderr,
    "error: UDP needs Deno's --unstable-net flag: deno task create-socket " +
      "passes it.",
  );
});

Deno.test("create-socket --help prints usage and exits 0", async () => {
  const result = await runTask("create-socket", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task create-socket\n/);
});

for (
  const [args, message] of <[string[], string][]> [
    [["--port", "0"], 'unknown argument "--port"'],
    [["--colour"], 'unknown argument "--colour"'],
    [["socket"], 'unknown argument "socket"'],
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
