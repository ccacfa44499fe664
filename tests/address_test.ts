// Section 12.1: `deno task address` looks a name up and takes its IPv4 and
// IPv6 addresses apart. IP addresses given as --name need no lookup (and no
// permission), which lets us check the hand-written conversions exactly.

import { assertEquals, assertMatch } from "@std/assert";
import { runTask } from "./_helpers.ts";

/** The lines that end every page. */
const COMPARE_BOOK = [
  "  IPv6  20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001 (the book's example)",
  "        full, 8 groups of 16 bits:  20f1:0db8:0aab:12f1:0110:1bde:0bfd:0001",
  "        compressed (RFC 5952):      20f1:db8:aab:12f1:110:1bde:bfd:1",
];
const COMPARE_LOOPBACK = [
  "  IPv6  ::1 (the loopback address, IPv6's 127.0.0.1)",
  "        full, 8 groups of 16 bits:  0000:0000:0000:0000:0000:0000:0000:0001",
  "        compressed (RFC 5952):      ::1",
];
const SIZES_AND_BOOK_NOTE = [
  "",
  "How many addresses there can be:",
  "  IPv4: 2^32  = 4,294,967,296",
  "  IPv6: 2^128 = 340,282,366,920,938,463,463,374,607,431,768,211,456",
  "",
  "The book gives 199.27.76.223 for www.python.org. That is out of",
  "date: addresses change, names stay, which is why programs use",
  "names. Today's answer: deno task address --name www.python.org",
];
const LOOPBACK_V4 = [
  "  IPv4  127.0.0.1",
  "        as one 32-bit number:       2130706433 (hex 7f000001)",
  "        its 32 bits, by byte:       01111111.00000000.00000000.00000001",
];

Deno.test("address (localhost) shows 127.0.0.1 as a number and bits, and IPv6 honestly", async () => {
  const result = await runTask("address");
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  // Whether localhost also has ::1 depends on the machine's /etc/hosts.
  // Either way the page must say exactly what the resolver gave.
  const hasIPv6 = result.stdout.includes("\n  IPv6  ::1\n");
  const resolved = hasIPv6
    ? [
      ...LOOPBACK_V4,
      "",
      "  IPv6  ::1",
      COMPARE_LOOPBACK[1],
      COMPARE_LOOPBACK[2],
    ]
    : [
      ...LOOPBACK_V4,
      "",
      "  IPv6  none: the resolver gave no IPv6 address for localhost.",
    ];
  assertEquals(result.stdout.split("\n"), [
    "What this computer's resolver says localhost is (what ping uses):",
    "",
    ...resolved,
    "",
    "IPv6 addresses to compare:",
    "",
    ...(hasIPv6 ? [] : COMPARE_LOOPBACK),
    ...COMPARE_BOOK,
    ...SIZES_AND_BOOK_NOTE,
  ]);
});

Deno.test("address --name 127.0.0.1 needs no lookup", async () => {
  const result = await runTask("address", ["--name", "127.0.0.1"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout.split("\n"), [
    "127.0.0.1 is already an IP address (nothing to look up):",
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
      "::1 is already an IP address (nothing to look up):",
      "",
      "  IPv6  ::1",
      COMPARE_LOOPBACK[1],
      COMPARE_LOOPBACK[2],
      "",
      "IPv6 addresses to compare:",
      "",
      ...COMPARE_BOOK,
      ...SIZES_AND_BOOK_NOTE,
    ]);
  });
}

Deno.test("address converts IPv4 addresses to 32-bit numbers and bits", async () => {
  const cases: [string, string, string][] = [
    [
      "255.255.255.255",
      "4294967295 (hex ffffffff)",
      "11111111.11111111.11111111.11111111",
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
      `${address} is already an IP address (nothing to look up):`,
      "",
      `  IPv6  ${address}`,
      `        full, 8 groups of 16 bits:  ${full}`,
      `        compressed (RFC 5952):      ${compressed}`,
    ]);
  }
});

Deno.test("address outside --allow-net names the flag to add, exit 1", async () => {
  const result = await runTask("address", ["--name", "example.invalid"]);
  assertEquals(result.code, 1);
  assertEquals(result.stdout, "");
  assertEquals(
    result.stderr,
    'error: Deno was not given permission to look up "example.invalid"; ' +
      "run deno run --allow-net=example.invalid chapters/12_1_address.ts " +
      "--name example.invalid",
  );
});

Deno.test("address --help prints usage and exits 0", async () => {
  const result = await runTask("address", ["--help"]);
  assertEquals(result.code, 0);
  assertMatch(result.stdout, /^Usage: deno task address \[--name NAME\]\n/);
});

for (
  const [args, message] of <[string[], string][]> [
    [["--colour"], 'unknown flag "--colour"'],
    [["localhost"], 'unexpected argument "localhost"'],
    [["--name"], "--name needs a value"],
    [["--name", "[]"], '--name must be a host name or an IP address, not "[]"'],
  ]
) {
  Deno.test(`address ${args.join(" ")}: one line, exit 2`, async () => {
    const result = await runTask("address", args);
    assertEquals(result.code, 2);
    assertEquals(result.stdout, "");
    assertEquals(
      result.stderr,
      `error: ${message} (run with --help for usage)`,
    );
  });
}
