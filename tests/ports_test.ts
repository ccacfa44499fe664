// Section 12.2: `deno task ports` prints Table 12.1 and the port ranges,
// and answers for one port whether it is free, by trying to listen on it.

import { assertEquals, assertMatch } from "@std/assert";
import { freePort, runTask } from "./_helpers.ts";

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

Deno.test("ports prints Table 12.1, the ranges, (host, port) and port 0", async () => {
  const result = await runTask("ports");
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  const lines = result.stdout.split("\n");
  assertEquals(lines.slice(0, 31), [
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
    "  dynamic/private 49152 - 65535  16,384 ports  handed out by the OS",
    "",
    "TCP and UDP have a set of 65,536 ports each: TCP port 53 and UDP",
    "port 53 are two different ports.",
    "",
    "A program on a network is found by (host, port). The book's Python",
    'tuple ("www.yahoo.es", 80) is, in Deno, the object',
    '{ hostname: "www.yahoo.es", port: 80 }.',
    "",
    "Listening on port 0 asks the operating system for any free port:",
    lines[30],
  ]);
  const chosen = /^it gave us 127\.0\.0\.1:(\d+), in the (\S+) range\.$/;
  assertMatch(lines[30], chosen);
  const [, port, range] = lines[30].match(chosen)!;
  assertEquals(range, rangeName(Number(port)));
  if (Deno.build.os === "linux") {
    assertEquals(lines.slice(31), [
      "(Linux's default is 32768-60999: it begins in the registered range.)",
    ]);
  }
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
  const answers = [
    "is free: no program listens there, so one could.",
    "is in use: another program is listening there.",
    "needs administrator rights: ports below 1024 are reserved for them " +
    "here; use a port from 1024 up.",
  ];
  assertEquals(
    answers.map((answer) => `127.0.0.1:443 ${answer}`).includes(lines[1]),
    true,
    lines[1],
  );
  assertEquals(lines.length, 2);
});

Deno.test("ports --port 50000 is in the dynamic/private range", async () => {
  const result = await runTask("ports", ["--port", "50000"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n")[0], rangeLine(50000));
});

Deno.test("ports says a port another program listens on is in use", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const result = await runTask("ports", ["--port", `${port}`]);
  assertEquals(result, {
    code: 0,
    signal: null,
    stdout: `${rangeLine(port)}\n` +
      `127.0.0.1:${port} is in use: another program is listening there.`,
    stderr: "",
  });
});

Deno.test("ports says a port nobody listens on is free", async () => {
  const port = freePort();
  const result = await runTask("ports", ["--port", `${port}`]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n"), [
    rangeLine(port),
    `127.0.0.1:${port} is free: no program listens there, so one could.`,
  ]);
});

Deno.test("ports --host ::1 tries IPv6", async () => {
  using taken = Deno.listen({ hostname: "::1", port: 0 });
  const port = taken.addr.port;
  const [inUse, page] = await Promise.all([
    runTask("ports", ["--host", "[::1]", "--port", `${port}`]),
    runTask("ports", ["--host", "::1"]),
  ]);
  assertEquals(inUse.code, 0);
  assertEquals(
    inUse.stdout.split("\n")[1],
    `[::1]:${port} is in use: another program is listening there.`,
  );
  assertEquals(page.code, 0);
  assertMatch(page.stdout, /\nit gave us \[::1\]:\d+, in the \S+ range\.\n/);
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
});

Deno.test("ports --host outside --allow-net names the flag to add", async () => {
  const result = await runTask("ports", ["--host", "127.0.0.2", "--port", "5"]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  assertEquals(
    result.stderr,
    "error: Deno was not given permission to use the network at " +
      "127.0.0.2:5. The deno.json tasks allow only this computer " +
      "(127.0.0.1, [::1], localhost); to go further, run the script with " +
      "deno run --allow-net=127.0.0.2 (see README.md).",
  );
});

Deno.test("ports --help prints usage and exits 0", async () => {
  const result = await runTask("ports", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task ports \[--port PORT\]/);
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
    [["--port"], "--port needs a value"],
    [["--colour"], 'unknown flag "--colour"'],
    [["443"], 'unexpected argument "443"'],
  ]
) {
  Deno.test(`ports ${args.join(" ")}: one line, exit 2`, async () => {
    const result = await runTask("ports", args);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
  });
}
