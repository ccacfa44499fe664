// Section 12.1: `deno task address` asks the system's resolver for a name's
// addresses, in its order, and takes each IPv4 and IPv6 address apart. IP
// addresses given as --name need no lookup (and no permission), which lets
// us check the hand-written conversions exactly.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { ROOT, runDeno, runTask } from "./_helpers.ts";

/** The lines that end every page. */
const COMPARE_LOOPBACK = [
  "  IPv6  ::1 (the loopback address, IPv6's 127.0.0.1)",
  "        full, 8 groups of 16 bits:  0000:0000:0000:0000:0000:0000:0000:0001",
  "        compressed (RFC 5952):      ::1",
];
const COMPARE_BOOK = [
  "  IPv6  20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001 (the book's example)",
  "        full, 8 groups of 16 bits:  20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001",
  "        compressed (RFC 5952):      20f1:db8:aab:12f1:110:1bde:bfd:1",
];
const SIZES_AND_BOOK_NOTE = [
  "",
  "How many addresses there can be:",
  "  IPv4: 2^32  = 4,294,967,296",
  "  IPv6: 2^128 = 340,282,366,920,938,463,463,374,607,431,768,211,456",
  "",
  "The book's 199.27.76.223 for www.python.org is out of date:",
  "addresses change, names stay (see deno task address --name www.python.org).",
];
const LOOPBACK_V4 = [
  "  IPv4  127.0.0.1",
  "        as one 32-bit number:       2130706433 (hex 7f000001)",
  "        its 32 bits, by byte:       01111111.00000000.00000000.00000001",
];
const LOOPBACK_V6 = ["  IPv6  ::1", COMPARE_LOOPBACK[1], COMPARE_LOOPBACK[2]];

Deno.test("address (localhost): each address as the resolver gave it, in its order, and the ping line", async () => {
  const result = await runTask("address");
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  // Whether localhost also has ::1, and which comes first, depends on the
  // machine's /etc/hosts and its resolver. Either way the page must say
  // exactly what the resolver gave, in its order.
  const lines = result.stdout.split("\n");
  const v6First = lines[2] === "  IPv6  ::1";
  const hasV6 = result.stdout.includes("\n  IPv6  ::1\n");
  const resolved = hasV6
    ? (v6First
      ? [...LOOPBACK_V6, ...LOOPBACK_V4]
      : [...LOOPBACK_V4, ...LOOPBACK_V6])
    : [
      ...LOOPBACK_V4,
      "  IPv6  none: the resolver gave no IPv6 address for localhost.",
    ];
  assertEquals(lines, [
    "What the resolver says localhost is, its preferred address first:",
    "",
    ...resolved,
    "",
    "ping localhost uses the first (ping -4 forces IPv4).",
    "",
    "IPv6 addresses to compare:",
    "",
    ...(hasV6 ? [] : COMPARE_LOOPBACK),
    ...COMPARE_BOOK,
    ...SIZES_AND_BOOK_NOTE,
  ]);
});

Deno.test("address --name 127.0.0.1 needs no lookup", async () => {
  const result = await runTask("address", ["--name", "127.0.0.1"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n"), [
    "127.0.0.1 is an IP address (nothing to look up):",
    "",
    ...LOOPBACK_V4,
    "",
    "IPv6 addresses to compare:",
    "",
    ...COMPARE_LOOPBACK,
    ...COMPARE_BOOK,
    ...SIZES_AND_BOOK_NOTE,
  ]);
});

for (const name of ["::1", "[::1]"]) {
  Deno.test(`address --name ${name} shows the IPv6 loopback once`, async () => {
    const result = await runTask("address", ["--name", name]);
    assertEquals(result.code, 0);
    assertEquals(result.stdout.split("\n"), [
      "::1 is an IP address (nothing to look up):",
      "",
      ...LOOPBACK_V6,
      "",
      "IPv6 addresses to compare:",
      "",
      ...COMPARE_BOOK,
      ...SIZES_AND_BOOK_NOTE,
    ]);
  });
}

Deno.test("address --name with the book's example, written short, is not shown twice", async () => {
  const result = await runTask("address", [
    "--name",
    "20f1:db8:aab:12f1:110:1bde:bfd:1",
  ]);
  assertEquals(result.code, 0);
  const lines = result.stdout.split("\n");
  assertEquals(lines.filter((line) => line.includes("book's example")), []);
  assertEquals(
    lines.filter((line) => line.includes("20f1:0db8:0aab:12f1")).length,
    1,
  );
});

Deno.test("address converts IPv4 addresses to 32-bit numbers and bits", async () => {
  const cases: [string, string, string][] = [
    [
      "255.255.255.255",
      "4294967295 (hex ffffffff)",
      "11111111.11111111.11111111.11111111",
    ],
    [
      "200.1.2.3", // 200 << 24 would be negative in JavaScript
      "3355509251 (hex c8010203)",
      "11001000.00000001.00000010.00000011",
    ],
    [
      "10.0.0.1",
      "167772161 (hex 0a000001)",
      "00001010.00000000.00000000.00000001",
    ],
    ["0.0.0.0", "0 (hex 00000000)", "00000000.00000000.00000000.00000000"],
  ];
  const results = await Promise.all(
    cases.map(([address]) => runTask("address", ["--name", address])),
  );
  for (const [i, [address, number, bits]] of cases.entries()) {
    const lines = results[i].stdout.split("\n");
    assertEquals(lines.slice(2, 5), [
      `  IPv4  ${address}`,
      `        as one 32-bit number:       ${number}`,
      `        its 32 bits, by byte:       ${bits}`,
    ]);
  }
});

Deno.test("address writes IPv6 in full and compressed (RFC 5952)", async () => {
  const cases: [string, string, string][] = [
    // The longest run of zero groups becomes "::"; on a tie, the first.
    [
      "2001:db8:0:0:1:0:0:1",
      "2001:0db8:0000:0000:0001:0000:0000:0001",
      "2001:db8::1:0:0:1",
    ],
    [
      "1:0:0:2:0:0:0:3",
      "0001:0000:0000:0002:0000:0000:0000:0003",
      "1:0:0:2::3",
    ],
    // A single zero group stays; capitals and leading zeros go.
    [
      "1:0:2:3:4:5:6:7",
      "0001:0000:0002:0003:0004:0005:0006:0007",
      "1:0:2:3:4:5:6:7",
    ],
    [
      "2001:DB8::0001",
      "2001:0db8:0000:0000:0000:0000:0000:0001",
      "2001:db8::1",
    ],
    ["0:0:0:0:0:0:0:0", "0000:0000:0000:0000:0000:0000:0000:0000", "::"],
    ["fe80::", "fe80:0000:0000:0000:0000:0000:0000:0000", "fe80::"],
    ["::2:3", "0000:0000:0000:0000:0000:0000:0002:0003", "::2:3"],
    // An IPv4-mapped address keeps its IPv4 tail.
    [
      "::ffff:192.0.2.1",
      "0000:0000:0000:0000:0000:ffff:c000:0201",
      "::ffff:192.0.2.1",
    ],
  ];
  const results = await Promise.all(
    cases.map(([address]) => runTask("address", ["--name", address])),
  );
  for (const [i, [address, full, compressed]] of cases.entries()) {
    assertEquals(results[i].code, 0, results[i].stderr);
    const lines = results[i].stdout.split("\n");
    assertEquals(lines.slice(0, 5), [
      `${address} is an IP address (nothing to look up):`,
      "",
      `  IPv6  ${address}`,
      `        full, 8 groups of 16 bits:  ${full}`,
      `        compressed (RFC 5952):      ${compressed}`,
    ]);
  }
});

Deno.test("address outside --allow-net gives the whole command, exit 1", async () => {
  const result = await runTask("address", ["--name", "example.invalid"]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  assertEquals(
    result.stderr,
    'error: Deno may not look up "example.invalid": run deno run ' +
      "--allow-net=example.invalid chapters/12_1_address.ts " +
      "--name example.invalid instead.",
  );
});

Deno.test("address: a name that does not resolve is one sentence, exit 1", async () => {
  // `.invalid` names never resolve (RFC 6761); this is the command the
  // sentence above tells the reader to run.
  const output = await runDeno([
    "run",
    "--no-prompt",
    "--allow-net=no-such-host.invalid",
    "chapters/12_1_address.ts",
    "--name",
    "no-such-host.invalid",
  ]);
  assertEquals(output.code, 1);
  assertEquals(output.stdout, "");
  assertEquals(
    output.stderr,
    'error: Could not find the address of "no-such-host.invalid" ' +
      "(the name does not resolve).",
  );
});

// The resolver's order, not IPv4 first: a name with both kinds of address,
// in a private copy of /etc/hosts (a mount namespace, so the machine's own
// file is untouched). getent asks the same resolver; its first address is
// the one ping uses. Needs root, unshare and getent, as on CI; skipped
// elsewhere.
const canUnshare = Deno.build.os === "linux" && Deno.uid() === 0 &&
  (await new Deno.Command("unshare", {
    args: ["-m", "sh", "-c", "getent ahosts localhost >/dev/null"],
  }).output().then((output) => output.success, () => false));
Deno.test({
  name: "address lists addresses in the resolver's order, as ping uses them",
  ignore: !canUnshare,
  fn: async () => {
    const hosts = await Deno.makeTempFile({ prefix: "hosts-" });
    try {
      await Deno.writeTextFile(
        hosts,
        "127.0.0.1 localhost\n127.0.0.1 twofold.test\n::1 twofold.test\n",
      );
      const script = `mount --bind "$1" /etc/hosts && getent ahosts ` +
        `twofold.test && echo --- && "$2" run --no-prompt ` +
        `--allow-net=twofold.test chapters/12_1_address.ts --name twofold.test`;
      const output = await new Deno.Command("unshare", {
        args: ["-m", "sh", "-c", script, "sh", hosts, Deno.execPath()],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }).output();
      const text = new TextDecoder().decode(output.stdout);
      assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
      const [getent, page] = text.split("---\n");
      // getent's order, one address per line (STREAM, DGRAM, RAW each).
      const order = [...new Set(getent.split("\n").map((l) => l.split(" ")[0]))]
        .filter((address) => address !== "");
      assertEquals(order.length, 2, getent);
      const listed = page.slice(0, page.indexOf("\nping "));
      const shown = listed.split("\n").filter((line) => /^ {2}IPv/.test(line))
        .map((line) => line.slice(8));
      assertEquals(shown, order);
      assertMatch(page, /\nping twofold\.test uses the first \(ping -4 /);
    } finally {
      await Deno.remove(hosts);
    }
  },
});

Deno.test("address --help prints usage and exits 0", async () => {
  const result = await runTask("address", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task address \[--name NAME\]\n/);
});

// --name is checked before anything is looked up: brackets that do not pair,
// control characters (never echoed) and zones are usage errors, exit 2.
for (
  const [args, message] of <[string[], string][]> [
    [["--colour"], 'unknown argument "--colour"'],
    [["localhost"], 'unknown argument "localhost"'],
    [["--name"], "--name must be a name or an address"],
    [["--name", "[]"], "--name must be a name or an address"],
    [["--name", "[::1"], "--name must be a name or an address"],
    [["--name", "::1]"], "--name must be a name or an address"],
    [["--name", "[]x"], "--name must be a name or an address"],
    [["--name", "fe80::1%eth0"], "--name must be a name or an address"],
    [["--name", "a b"], "--name must be a name or an address"],
    [["--name", "evil\x1b[2Jname"], "--name must be a name or an address"],
    [["--name", "evil\u009bname"], "--name must be a name or an address"],
  ]
) {
  Deno.test(`address ${JSON.stringify(args)}: one line, exit 2`, async () => {
    const result = await runTask("address", args);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
    assert(!result.stderr.includes("\x1b"), "ESC printed raw");
    assert(!result.stderr.includes("\u009b"), "CSI printed raw");
  });
}
