// The sequence diagrams of tools/sequence.ts, drawn by the chat checker and
// the rendered book: every arrow drawn in its direction, text shown safely,
// and a text alternative that says every arrow in words.

import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  cutMiddle,
  type Sequence,
  sequenceSvg,
  sequenceText,
} from "../tools/sequence.ts";

const greeting: Sequence = {
  left: "client",
  right: "server",
  title: "The greeting",
  arrows: [
    { from: "left", label: "SYN", ms: 0 },
    { from: "right", label: "0. Hi new friend!\n", note: "the greeting" },
    { from: "left", label: "<script>&", lost: true },
  ],
  end: "both closed",
};

Deno.test("sequenceText: one line per arrow, in its direction, shown safely", () => {
  const lines = sequenceText(greeting).split("\n");
  assertEquals(lines.length, 1 + 3 + 1);
  assertMatch(lines[1], /^ 0\.000 s +\| --- SYN -+-> \|$/);
  assertMatch(
    lines[2],
    /\| <-- 0\. Hi new friend!\\u\{a\} -+ \| {2}the greeting$/,
  );
  assertMatch(lines[3], / {9} {2}\| --- <script>& -+X {2}\|$/);
  // Both lifelines stand in the same columns on every arrow's line.
  const columns = lines.slice(1, 4).map((line) => [
    line.indexOf("|"),
    line.lastIndexOf("|"),
  ]);
  for (const pair of columns) assertEquals(pair, columns[0]);
  assert(!/\p{Cc}/u.test(sequenceText(greeting).replaceAll("\n", "")));
});

Deno.test("sequenceSvg: a titled picture, every arrow described, XML escaped", () => {
  const svg = sequenceSvg(greeting, { id: "greet" });
  assertMatch(
    svg,
    /^<svg [^>]*role="img"[^>]*aria-labelledby="greet-title greet-desc"/,
  );
  assertMatch(svg, /<title id="greet-title">The greeting<\/title>/);
  const desc = svg.match(/<desc id="greet-desc">([^<]*)<\/desc>/)?.[1] ?? "";
  assertMatch(desc, /1\. client sends server: SYN\./);
  assertMatch(
    desc,
    /3\. client sends, and it is lost, server: &lt;script&gt;&amp;\./,
  );
  assert(!svg.includes("<script>"), "label text must be escaped");
  assertEquals(svg.match(/class="arrow/g)?.length, 3);
  assertEquals(svg.match(/class="head"/g)?.length, 2, "lost has no head");
  assertEquals(svg.match(/class="cross"/g)?.length, 1);
});

Deno.test("sequenceSvg, cut in the middle: two labels that differ at their end stay different", () => {
  const hello = (name: string) =>
    `{"type":"hello","protocol":"deno-chat","version":1,"username":"${name}"}\n`;
  const svg = sequenceSvg({
    left: "bob",
    right: "alice",
    title: "Hellos",
    arrows: [
      { from: "right", label: hello("alice") },
      { from: "left", label: hello("bob") },
    ],
  }, { maxLabel: 48, cut: "middle" });
  const labels = [
    ...svg.matchAll(
      /<text x="[^"]*" y="[^"]*" text-anchor="middle">([^<]*)<\/text>/g,
    ),
  ]
    .map((m) => m[1]);
  assertEquals(labels, [
    "{&quot;type&quot;:&quot;hello&quot;,…,&quot;username&quot;:&quot;alice&quot;}\\u{a}",
    "{&quot;type&quot;:&quot;hello&quot;,…,&quot;username&quot;:&quot;bob&quot;}\\u{a}",
  ]);
  // Without commas: characters from both ends, never more than asked.
  assertEquals(cutMiddle("abcdefghij", 5), "ab…ij");
  assertEquals(cutMiddle("short", 5), "short");
});
