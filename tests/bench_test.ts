/**
 * The benchmark runs end to end (`deno task bench --quick --json`): every
 * part reports our server's figure and none fails. No speed is asserted:
 * --quick's loads are too small to mean anything, and the machine is shared.
 */
import { assert, assertEquals } from "@std/assert";
import { runTask } from "./_helpers.ts";

Deno.test("bench --quick runs every part end to end", async () => {
  const result = await runTask("bench", ["--quick", "--json"], {
    timeoutMs: 120_000,
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  const failed = report.skipped.filter((line: string) =>
    line.includes("it failed")
  );
  assertEquals(failed, [], result.stderr);

  const keys = report.figures.map((figure: { key: string }) => figure.key);
  const expected = ["fragmented", "memory-json-idle", "memory-tcp", "launch"];
  expected.push("chat");
  // The load generator needs gcc; without it those parts say so and skip.
  const gccMissing = report.skipped.some((line: string) =>
    line.startsWith("gcc")
  );
  if (!gccMissing) {
    expected.push("greetings-1", "greetings-8", "greetings-64", "echo");
    expected.push("udp-1", "udp-8");
  }
  for (const key of expected) assert(keys.includes(key), `no figure ${key}`);

  // Each figure has a line for our server (or ours as a receiver) with a
  // number in it.
  for (const figure of report.figures) {
    const ours = figure.entries.find((entry: { server: string }) =>
      entry.server.startsWith("ours")
    );
    assert(ours, `${figure.key}: no line for ours`);
    assert(Number.isFinite(ours.value.median), `${figure.key}: no number`);
  }
});
