// Section 12.2: `deno task ports` prints Table 12.1 and the port ranges,
// and answers for one port whether TCP and UDP could take it here, by
// trying, and what that does not show.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { PYTHON, ROOT, runTask } from "./_helpers.ts";

/** The two range lines the script prints for `port`, not in Table 12.1. */
function rangeLines(port: number): string[] {
  const range = port <= 1023
    ? "well-known range (0-1023; RFC 6335: System Ports)"
    : port <= 49151
    ? "registered range (1024-49151; RFC 6335: User Ports)"
    : "dynamic/private range (49152-65535; RFC 6335: Dynamic and/or Private " +
      "Ports)";
  return [`Port ${port} is in the ${range}:`, "not in Table 12.1."];
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
const FREE = "is free: no program has it now, so one could.";
const IN_USE = "is in use: a program or old connections have it (ss -tunap).";
const ADMIN = "needs administrator rights here; use a port from 1024 up.";
/** What a free port does not show, after the answers for TCP and UDP. */
const NOTE = (host: string) => [
  `Tried on ${host} only, by a program that sets SO_REUSEADDR,`,
  "as Deno does. Closed connections wait out TIME_WAIT (a minute on Linux;",
  "ss -tan lists them); SO_REUSEADDR listens past them if their server set it",
  "too. The book's server does not: it cannot, and we cannot past its own.",
];

/** The answer lines for `port` on 127.0.0.1: TCP, UDP, the note. */
function answers(port: number, tcp: string, udp: string): string[] {
  return [
    `TCP 127.0.0.1:${port} ${tcp}`,
    `UDP 127.0.0.1:${port} ${udp}`,
    ...NOTE("127.0.0.1"),
  ];
}

Deno.test("ports prints Table 12.1, the ranges, low ports and port 0", async () => {
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
    "A port is a 16-bit number: 65,536 TCP ports, as many UDP ports (TCP",
    "port 53 and UDP port 53 are two), in three ranges (the book's names",
    "first, then RFC 6335's):",
    "",
    "  well-known          0 - 1023    1,024 ports  System Ports",
    "  registered       1024 - 49151  48,128 ports  User Ports",
    "  dynamic/private 49152 - 65535  16,384 ports  Dynamic and/or Private Ports",
    "",
    "Ports below 1024: Linux lets only administrators listen on them (unless",
    "net.ipv4.ip_unprivileged_port_start is lowered, as Docker does); macOS",
    "lets anyone on 0.0.0.0 since 10.14; Windows lets anyone.",
    "",
    "Listening on port 0 asks the system for any free port:",
    lines[29],
    ...SYSTEM_RANGES,
  ]);
  const chosen = /^it gave us 127\.0\.0\.1:(\d+), in the (\S+) range\.$/;
  assertMatch(lines[29], chosen);
  const [, port, range] = lines[29].match(chosen)!;
  assert(Number(port) > 0);
  assertEquals(range, rangeName(Number(port)));
});

Deno.test("ports --port 443: well-known, HTTPS in Table 12.1", async () => {
  const result = await runTask("ports", ["--port", "443"]);
  assertEquals(result.code, 0);
  const lines = result.stdout.split("\n");
  assertEquals(lines.slice(0, 2), [
    "Port 443 is in the well-known range (0-1023; RFC 6335: System Ports):",
    "HTTPS (Web) in Table 12.1.",
  ]);
  // Free when run as root, needs administrator rights otherwise, in use if
  // this machine runs a web server: all are answers, none is an error.
  for (const [i, name] of [[2, "TCP"], [3, "UDP"]] as const) {
    const possible = [FREE, IN_USE, ADMIN].map((answer) =>
      `${name} 127.0.0.1:443 ${answer}`
    );
    assert(possible.includes(lines[i]), lines[i]);
  }
  assertEquals(lines.slice(4), NOTE("127.0.0.1"));
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
          "--unstable-net",
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
      const answer = 443 < start ? ADMIN : FREE;
      assertEquals(lines.slice(2, 4), [
        `TCP 127.0.0.1:443 ${answer}`,
        `UDP 127.0.0.1:443 ${answer}`,
      ]);
    } finally {
      await Deno.remove(denoDir, { recursive: true });
    }
  },
});

Deno.test("ports --port 50000 is in the dynamic/private range", async () => {
  const result = await runTask("ports", ["--port", "50000"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n").slice(0, 2), rangeLines(50000));
});

/** Whether nothing holds `port` on 127.0.0.1 for `transport`: tried. */
function freeFor(port: number, transport: "tcp" | "udp"): boolean {
  try {
    if (transport === "tcp") {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } else {Deno.listenDatagram({ hostname: "127.0.0.1", port, transport })
        .close();}
    return true;
  } catch {
    return false;
  }
}

/**
 * A port taken by `take` (on 127.0.0.1) whose twin of the other transport
 * nothing holds: on a busy machine a port the system picks for one may be
 * in use for the other, so that is tried, and another port taken if so.
 */
function takenWithFreeTwin<T extends { close(): void }>(
  take: () => T,
  portOf: (taken: T) => number,
  twin: "tcp" | "udp",
): T {
  for (let tries = 0; tries < 50; tries++) {
    const taken = take();
    if (freeFor(portOf(taken), twin)) return taken;
    taken.close();
  }
  throw new Error(`no port with a free ${twin} twin in 50 tries`);
}

const tcpPort = (listener: Deno.TcpListener) => listener.addr.port;
const udpPort = (conn: Deno.DatagramConn) => (conn.addr as Deno.NetAddr).port;

Deno.test("ports says a TCP port another program listens on is in use", async () => {
  const taken = takenWithFreeTwin(
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    tcpPort,
    "udp",
  );
  try {
    const port = taken.addr.port;
    const result = await runTask("ports", ["--port", `${port}`]);
    assertEquals(result, {
      code: 0,
      signal: null,
      stdout: [...rangeLines(port), ...answers(port, IN_USE, FREE)]
        .join("\n"),
      stderr: "",
    });
  } finally {
    taken.close();
  }
});

Deno.test("ports says a TCP port held by one end of a connection is in use", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await listener.accept();
  try {
    const port = (client.localAddr as Deno.NetAddr).port;
    const result = await runTask("ports", ["--port", `${port}`]);
    assertEquals(
      result.stdout.split("\n")[2],
      `TCP 127.0.0.1:${port} ${IN_USE}`,
    );
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("ports says a UDP port another program has is in use, its TCP twin free", async () => {
  const taken = takenWithFreeTwin(
    () =>
      Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" }),
    udpPort,
    "tcp",
  );
  try {
    const port = udpPort(taken);
    const result = await runTask("ports", ["--port", `${port}`]);
    assertEquals(result.code, 0);
    assertEquals(
      result.stdout.split("\n"),
      [...rangeLines(port), ...answers(port, FREE, IN_USE)],
    );
  } finally {
    taken.close();
  }
});

Deno.test("ports says a port nobody listens on is free", async () => {
  const unused = takenWithFreeTwin(
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    tcpPort,
    "udp",
  );
  const port = tcpPort(unused);
  unused.close(); // now nothing holds it, for TCP or UDP
  const result = await runTask("ports", ["--port", `${port}`]);
  assertEquals(result.code, 0);
  assertEquals(
    result.stdout.split("\n"),
    [...rangeLines(port), ...answers(port, FREE, FREE)],
  );
});

// What the note says, shown: a port whose last connection waits out
// TIME_WAIT is "free" to Deno (SO_REUSEADDR), and the book's way, Python's
// bind() and listen() without SO_REUSEADDR, fails on it.
Deno.test({
  name: "ports: TIME_WAIT is free to Deno, not to the book's Python server",
  ignore: Deno.build.os !== "linux" || PYTHON === null,
  fn: async () => {
    // The server's end closes first, so it is the one left in TIME_WAIT.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    const server = await listener.accept();
    server.close();
    assertEquals(await client.read(new Uint8Array(1)), null);
    client.close();
    listener.close();
    const result = await runTask("ports", ["--port", `${port}`]);
    assertEquals(result.stdout.split("\n")[2], `TCP 127.0.0.1:${port} ${FREE}`);
    const book = await new Deno.Command(PYTHON!, {
      args: [
        "-c",
        "import socket, sys\ns = socket.socket()\n" +
        "try:\n s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(1)\n" +
        "except OSError as e: print(e.strerror)",
        `${port}`,
      ],
    }).output();
    assertEquals(
      new TextDecoder().decode(book.stdout).trim(),
      "Address already in use",
    );
  },
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
    assertEquals(inUse.stdout.split("\n").slice(2), [
      `TCP [::1]:${port} ${IN_USE}`,
      `UDP [::1]:${port} ${FREE}`,
      ...NOTE("[::1]"),
    ]);
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
  assertEquals(lines.slice(0, 4), [
    ...rangeLines(0),
    "",
    "Listening on port 0 asks the system for any free port:",
  ]);
  assertMatch(lines[4], /^it gave us 127\.0\.0\.1:\d+, in the \S+ range\.$/);
  assertEquals(lines.slice(5), SYSTEM_RANGES);
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
        "--unstable-net --allow-net=127.0.0.2 chapters/12_2_ports.ts with " +
        "the same flags.",
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
