// Load and fault tests across the servers (issue "Measured and hardened"):
// many clients at once, and a seeded fuzz pass of random bytes at every
// server. All loopback, all bounded in count and time.

import { assert, assertEquals, assertMatch } from "@std/assert";
import { readAll, runTask, TaskProcess } from "./_helpers.ts";

Deno.test("tcp-server: 500 concurrent clients get greetings numbered exactly 0..499", async () => {
  await using server = TaskProcess.start("tcp-server", ["--port", "0"]);
  const address = await server.listening();
  const replies = await Promise.all(
    Array.from({ length: 500 }, () => readAll(address)),
  );
  const numbers = replies.map((bytes) => {
    const text = new TextDecoder().decode(bytes);
    assertMatch(text, /^\d+\. Hi new friend!\n$/);
    return parseInt(text);
  }).sort((a, b) => a - b);
  assertEquals(numbers, Array.from({ length: 500 }, (_, i) => i));
  const stopped = await server.stop();
  assertEquals(stopped.code, 0);
  assertEquals(
    stopped.stdout.split("\n").filter((l) => l.startsWith("Connection from"))
      .length,
    500,
  );
});

// --- Fuzz ---------------------------------------------------------------------

/** A small seeded random generator (mulberry32): the same seed, the same bytes. */
function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` random byte strings, from `seed`. Some are pure noise, some are
 * noise that starts like JSON or like a chat frame, some are empty, some
 * contain newlines: the shapes that reach different parts of a server.
 */
function fuzzInputs(seed: number, count: number): Uint8Array[] {
  const random = randomGenerator(seed);
  const prefixes = ["", "{", '{"type":"hello",', "[", '"', "\n", "\x1b["];
  return Array.from({ length: count }, () => {
    const prefix = new TextEncoder().encode(
      prefixes[Math.floor(random() * prefixes.length)],
    );
    const length = Math.floor(random() ** 3 * 4000);
    const bytes = new Uint8Array(prefix.length + length);
    bytes.set(prefix);
    for (let i = prefix.length; i < bytes.length; i++) {
      bytes[i] = random() < 0.05 ? 10 : Math.floor(random() * 256);
    }
    return bytes;
  });
}

/**
 * Sends each input on its own connection, `parallel` at a time. Most
 * connections half-close and read what the server says until it closes
 * (at most 3 s); every fifth one hangs up at once without reading.
 */
async function fuzzTcp(
  address: { hostname: string; port: number },
  inputs: Uint8Array[],
  parallel: number,
): Promise<void> {
  let next = 0;
  const buffer = new Uint8Array(64 * 1024);
  async function worker() {
    while (next < inputs.length) {
      const index = next++;
      const conn = await Deno.connect(address);
      try {
        await conn.write(inputs[index]).catch(() => 0);
        if (index % 5 === 4) continue;
        await conn.closeWrite().catch(() => {});
        const deadline = Date.now() + 3000;
        const timer = setTimeout(() => conn.close(), 3000);
        try {
          while (Date.now() < deadline) {
            if ((await conn.read(buffer)) === null) break;
          }
        } catch {
          // Reset or closed by the timer: both fine for a fuzz input.
        } finally {
          clearTimeout(timer);
        }
      } finally {
        try {
          conn.close();
        } catch {
          // Already closed by the timer.
        }
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** No stack trace, no "Uncaught", in anything a server printed. */
function assertNoCrash(server: TaskProcess): void {
  const all = [...server.stdoutLines, ...server.stderrLines].join("\n");
  assert(!/Uncaught|^\s+at /m.test(all), server.transcript());
}

Deno.test("fuzz: tcp-server survives 1,000 random byte strings", async () => {
  await using server = TaskProcess.start("tcp-server", ["--port", "0"]);
  const address = await server.listening();
  await fuzzTcp(address, fuzzInputs(1, 1000), 16);
  const greeting = new TextDecoder().decode(await readAll(address));
  assertEquals(greeting, "1000. Hi new friend!\n");
  assertEquals((await server.stop()).code, 0);
  assertNoCrash(server);
});

Deno.test("fuzz: fragment-server survives 1,000 random byte strings", async () => {
  await using server = TaskProcess.start("fragment-server", [
    "--port",
    "0",
    "--size",
    "5000",
  ]);
  const address = await server.listening();
  await fuzzTcp(address, fuzzInputs(2, 1000), 16);
  // After the fuzz, a good client still gets the whole message: the Length
  // line and the 5,000 bytes it announces.
  const text = new TextDecoder().decode(await readAll(address));
  assertEquals(text.split("\n")[0], "Length: 5000");
  assertEquals(text.length, "Length: 5000\n".length + 5000);
  assertEquals((await server.stop()).code, 0);
  assertNoCrash(server);
});

Deno.test("fuzz: json-server survives 1,000 random byte strings and still echoes", async () => {
  await using server = TaskProcess.start("json-server", ["--port", "0"]);
  const address = await server.listening();
  await fuzzTcp(address, fuzzInputs(3, 1000), 16);
  const client = await runTask("json-client", ["--port", `${address.port}`]);
  assertEquals(client.code, 0, client.stderr);
  assertMatch(client.stdout, /Johanna/);
  assertEquals((await server.stop()).code, 0);
  assertNoCrash(server);
});

Deno.test("fuzz: chat server survives 1,000 random byte strings, then chats", async () => {
  await using server = TaskProcess.start("chat", [
    "server",
    "--username",
    "alice",
    "--port",
    "0",
  ], { stdin: true });
  const address = await server.listening();
  // One peer at a time: the chat server talks to one client only.
  await fuzzTcp(address, fuzzInputs(4, 1000), 1);
  await server.write("hi bob\n");
  const client = await runTask("chat", [
    "client",
    "--username",
    "bob",
    "--port",
    `${address.port}`,
  ], { stdin: "hello alice\n" });
  assertEquals(client.code, 0, client.stderr);
  assertMatch(client.stdout, /^alice: hi bob$/m);
  assertEquals((await server.stop()).code, 0);
  assertNoCrash(server);
});

Deno.test("fuzz: udp-server survives 2,000 random datagrams and still answers", async () => {
  await using server = TaskProcess.start("udp-server", ["--port", "0"]);
  const address = await server.listening();
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  // A lost reply would leave `receive` waiting: give up after 10 seconds.
  const watchdog = setTimeout(() => socket.close(), 10_000);
  try {
    const target: Deno.NetAddr = { transport: "udp", ...address };
    const inputs = fuzzInputs(5, 2000);
    // In batches of 20, waiting for the replies in between, so that the
    // server's receive buffer never overflows (UDP would drop, silently).
    for (let start = 0; start < inputs.length; start += 20) {
      const batch = inputs.slice(start, start + 20);
      for (const datagram of batch) await socket.send(datagram, target);
      for (let i = 0; i < batch.length; i++) await socket.receive();
    }
  } finally {
    clearTimeout(watchdog);
    try {
      socket.close();
    } catch {
      // The watchdog closed it: the test fails on the receive above.
    }
  }
  const client = await runTask("udp-client", ["--port", `${address.port}`]);
  assertEquals(client.stdout, "Response for 127.0.0.1");
  assertEquals((await server.stop()).code, 0);
  assertNoCrash(server);
});
