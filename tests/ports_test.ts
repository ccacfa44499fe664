// Section 12.2: `deno task ports` prints Table 12.1 and the port ranges,
// and answers for one port whether it is free, by trying to listen on it.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { freePort, ROOT, runTask } from "./_helpers.ts";

/** The range line the script prints for `port`. */
function rangeLine(port: number): string {
  const range = port <= 1023
    ? "well-known range (0-1023)"
    : port <= 49151
    ? "registered range (1024-49151)"
    : "dynamic/private range (49152-65535)";
  return `Port ${port} is in the ${range}: not in Table 12.1.`;
}

/** The range name of `port`, as in "in the registered range". */
function rangeName(port: number): string {
  return port <= 1023
    ? "well-known"
    : port <= 49151
    ? "registered"
    : "dynamic/private";
}

const SYSTEM_RANGES = [
  "Linux picks from 32768-60999, which begins in the registered range;",
  "macOS and Windows pick from 49152-65535.",
];
const FREE = "is free: no program listens there, so one could.";
const IN_USE = "is in use: another program is listening there.";
const ADMIN = "needs administrator rights here; use a port from 1024 up.";

Deno.test("ports prints Table 12.1, the ranges, low ports, (host, port) and port 0", async () => {
  const result = await runTask("ports");
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  const lines = result.stdout.split("\n");
  assertEquals(lines, [
    "Table 12.1: Some preset ports",
    "",
    "  Port  Description",
    "    21  FTP CONTROL",
    "    22  SSH",
    "    23  Telnet",
    "    25  SMTP (email)",
    "    37  Time",
    "    42  Host Name Server (Nameserv)",
    "    53  Domain Name System (DNS)",
    "    80  HTTP (Web)",
    "   110  POP3 (email)",
    "   118  SQL Services",
    "   119  NNTP (News)",
    "   443  HTTPS (Web)",
    "",
    "A port is a 16-bit number: 2^16 = 65,536 ports, in three ranges:",
    "",
    "  well-known          0 - 1023    1,024 ports  services (IANA)",
    "  registered       1024 - 49151  48,128 ports  programs (IANA)",
    "  dynamic/private 49152 - 65535  16,384 ports  never assigned",
    "",
    "Ports below 1024: Linux lets only administrators listen on them (unless",
    "net.ipv4.ip_unprivileged_port_start is lowered, as Docker does); macOS",
    "lets anyone on 0.0.0.0 since 10.14; Windows lets anyone.",
    "",
    "TCP and UDP have a set of 65,536 ports each: TCP port 53 and UDP",
    "port 53 are two different ports.",
    "",
    "A program on a network is found by (host, port). The book's Python",
    'tuple ("www.yahoo.es", 80) is, in Deno, the object',
    '{ hostname: "www.yahoo.es", port: 80 }.',
    "",
    "Listening on port 0 asks the operating system for any free port:",
    lines[34],
    ...SYSTEM_RANGES,
  ]);
  const chosen = /^it gave us 127\.0\.0\.1:(\d+), in the (\S+) range\.$/;
  assertMatch(lines[34], chosen);
  const [, port, range] = lines[34].match(chosen)!;
  assert(Number(port) > 0);
  assertEquals(range, rangeName(Number(port)));
});

Deno.test("ports --port 443: well-known, HTTPS in Table 12.1", async () => {
  const result = await runTask("ports", ["--port", "443"]);
  assertEquals(result.code, 0);
  const lines = result.stdout.split("\n");
  assertEquals(
    lines[0],
    "Port 443 is in the well-known range (0-1023): HTTPS (Web) in Table 12.1.",
  );
  // Free when run as root, needs administrator rights otherwise, in use if
  // this machine runs a web server: all are answers, none is an error.
  const answers = [FREE, IN_USE, ADMIN].map((answer) =>
    `127.0.0.1:443 ${answer}`
  );
  assert(answers.includes(lines[1]), lines[1]);
  assertEquals(lines.length, 2);
});

// CI runs as root, who may listen anywhere. The answer an ordinary user gets
// on Linux is checked by running the lesson as user `nobody` (setpriv), with
// a copy of Deno's npm cache it may read (root's own is in /root).
const asNobody = Deno.build.os === "linux" && Deno.uid() === 0 &&
  (await new Deno.Command("setpriv", { args: ["--version"] }).output()
    .then((output) => output.success, () => false));
Deno.test({
  name:
    "ports --port 443 as an ordinary user on Linux: needs administrator rights",
  ignore: !asNobody,
  fn: async () => {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
    }).output();
    const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout));
    const denoDir = await Deno.makeTempDir({ prefix: "deno-dir-" });
    try {
      const copy = await new Deno.Command("cp", {
        args: ["-r", npmCache, `${denoDir}/npm`],
      }).output();
      assert(copy.success);
      await new Deno.Command("chmod", { args: ["-R", "a+rwX", denoDir] })
        .output();
      const output = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "run",
          "--no-prompt",
          "--cached-only",
          "--allow-net=127.0.0.1",
          "chapters/12_2_ports.ts",
          "--port",
          "443",
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", DENO_DIR: denoDir, HOME: denoDir },
        clearEnv: true,
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 0, stderr);
      assertEquals(stderr, "");
      const lines = new TextDecoder().decode(output.stdout).trimEnd()
        .split("\n");
      // The limit is net.ipv4.ip_unprivileged_port_start: 1024 unless
      // lowered (Docker sets 0 in its containers).
      const start = Number(
        await Deno.readTextFile(
          "/proc/sys/net/ipv4/ip_unprivileged_port_start",
        ),
      );
      assertEquals(lines[1], `127.0.0.1:443 ${443 < start ? ADMIN : FREE}`);
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  },
});

Deno.test("ports --port 50000 is in the dynamic/private range", async () => {
  const result = await runTask("ports", ["--port", "50000"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n")[0], rangeLine(50000));
});

Deno.test("ports says a port another program listens on is in use", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = taken.addr.port;
    const result = await runTask("ports", ["--port", `${port}`]);
    assertEquals(result, {
      code: 0,
      signal: null,
      stdout: `${rangeLine(port)}\n127.0.0.1:${port} ${IN_USE}`,
      stderr: "",
    });
  } finally {
    taken.close();
  }
});

Deno.test("ports says a port nobody listens on is free", async () => {
  const port = freePort();
  const result = await runTask("ports", ["--port", `${port}`]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n"), [
    rangeLine(port),
    `127.0.0.1:${port} ${FREE}`,
  ]);
});

Deno.test("ports --host ::1 tries IPv6", async () => {
  const taken = Deno.listen({ hostname: "::1", port: 0 });
  try {
    const port = taken.addr.port;
    const [inUse, page] = await Promise.all([
      runTask("ports", ["--host", "[::1]", "--port", `${port}`]),
      runTask("ports", ["--host", "::1"]),
    ]);
    assertEquals(inUse.code, 0);
    assertEquals(inUse.stdout.split("\n")[1], `[::1]:${port} ${IN_USE}`);
    assertEquals(page.code, 0);
    assertMatch(page.stdout, /\nit gave us \[::1\]:\d+, in the \S+ range\.\n/);
  } finally {
    taken.close();
  }
});

Deno.test("ports --port 0 explains that the system picks", async () => {
  const result = await runTask("ports", ["--port", "0"]);
  assertEquals(result.code, 0);
  const lines = result.stdout.split("\n");
  assertEquals(lines.slice(0, 2), [
    rangeLine(0),
    "Listening on port 0 asks the operating system for any free port:",
  ]);
  assertMatch(lines[2], /^it gave us 127\.0\.0\.1:\d+, in the \S+ range\.$/);
  assertEquals(lines.slice(3), SYSTEM_RANGES);
});

// A host outside the task's --allow-net: one line naming the flag, and
// nothing printed before it (the page is not half printed), page or --port.
for (const args of [["--port", "5"], []]) {
  Deno.test(`ports --host 127.0.0.2 ${args.join(" ")}: names the flag, exit 1`, async () => {
    const result = await runTask("ports", ["--host", "127.0.0.2", ...args]);
    assertEquals(result.code, 1);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      "error: Deno may not listen on 127.0.0.2: run deno run " +
        "--allow-net=127.0.0.2 chapters/12_2_ports.ts with the same flags.",
    );
  });
}

Deno.test("ports --help prints usage and exits 0", async () => {
  const result = await runTask("ports", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task ports \[--port PORT\]/);
});

// Mistakes in the flags: one line, exit 2, nothing on stdout, and the
// reader's text is never echoed raw (a control character stays unprinted).
const PORT = "--port must be a whole number from 0 to 65535";
const HOST = "--host must be a name or an address";
for (
  const [args, message] of <[string[], string][]> [
    [["--port", "abc"], PORT],
    [["--port", "70000"], PORT],
    [["--port", "123456"], PORT],
    [["--port", "1.5"], PORT],
    [["--port", "-1"], 'unknown argument "-1"'],
    [["--port"], PORT],
    [["--colour"], 'unknown argument "--colour"'],
    [["443"], 'unknown argument "443"'],
    [["--host", "[::1"], HOST],
    [["--host", "::1]"], HOST],
    [["--host", "[]x"], HOST],
    [["--host", "fe80::1%eth0"], HOST],
    [["--host", "\x1b[2J"], HOST],
    [["--host", ""], 'unknown argument ""'],
  ]
) {
  Deno.test(`ports ${JSON.stringify(args)}: one line, exit 2`, async () => {
    const result = await runTask("ports", args);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
  });
}
