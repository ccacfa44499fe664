/**
 * dual-stack (12.3): one server, two address families. The student's
 * server must listen on 127.0.0.1 (AF_INET) and on ::1 (AF_INET6), on the
 * same port, and greet clients of both at once. The check connects twice
 * over each family, at the same time.
 *
 * @module
 */
import {
  address,
  CannotRun,
  close,
  connect,
  type Context,
  type Exercise,
  Fail,
  LISTENING_CITE,
  quote,
  quoteBytes,
  readUntilHangUp,
} from "../kit.ts";

const CITES = {
  ipv6Socket: {
    file: "chapters/12_3_create_socket.ts",
    snippet: 'const tcp6 = Deno.listen({ hostname: "::1", port: 0 });',
  },
  realPort: {
    file: "chapters/12_4_tcp_server.ts",
    snippet: "// listener.addr is the real address: with --port 0",
  },
  loopForever: {
    file: "chapters/12_4_tcp_server.ts",
    snippet: "// The book's accept(): wait for the next client.",
  },
};

const LISTENING = /^Listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+)\s*$/;

async function check({ start, say }: Context): Promise<void> {
  try {
    close(Deno.listen({ hostname: "::1", port: 0 }));
  } catch {
    throw new CannotRun(
      "This computer has no IPv6 loopback address (::1), and this exercise needs one.",
    );
  }
  const program = start(["--port", "0"]);
  // The first line within 5 s of starting; the second within 2 s more.
  const first = await program.line(LISTENING, 5000);
  const found = () =>
    program.stdout.flatMap((line) => {
      const match = line.match(LISTENING);
      return match ? [{ hostname: match[1] ?? match[2], port: +match[3] }] : [];
    });
  if (first !== null) {
    const deadline = Date.now() + 2000;
    await program.line(/^Listening on 127\.0\.0\.1:\d+\s*$/, 2000);
    await program.line(/^Listening on \[::1\]:\d+\s*$/, deadline - Date.now());
  }
  const v4 = found().find((a) => a.hostname === "127.0.0.1");
  const v6 = found().find((a) => a.hostname === "::1");
  if (!v4 || !v6) {
    for (const line of program.report("Your server")) say(line);
    throw new Fail(
      `Your server must print two lines, "Listening on 127.0.0.1:PORT" and "Listening on [::1]:PORT": one socket for each address family (AF_INET and AF_INET6). ${
        v4 ? "The IPv6 one is missing." : v6 ? "The IPv4 one is missing." : ""
      }`,
      v4 ? CITES.ipv6Socket : LISTENING_CITE,
    );
  }
  say(
    `Your server printed: Listening on 127.0.0.1:${v4.port}, and on [::1]:${v6.port}.`,
  );
  if (v4.port !== v6.port) {
    throw new Fail(
      `Your two sockets have two ports, ${v4.port} and ${v6.port}. With --port 0 the system picks any free port for each socket it makes, so ask for the first one's port (listener.addr.port) when you make the second: a client that knows the server's port must find it over either family.`,
      CITES.realPort,
    );
  }
  const port = v4.port;
  // Two clients over each family, all four at once.
  const families = ["127.0.0.1", "127.0.0.1", "::1", "::1"];
  const results = await Promise.all(families.map(async (hostname) => {
    const conn = await connect(hostname, port);
    if (typeof conn === "string") return { hostname, error: conn };
    const local = address(conn.localAddr);
    const answer = await readUntilHangUp(conn, 2500, 4096);
    close(conn);
    return { hostname, local, ...answer };
  }));
  for (const result of results) {
    const family = result.hostname.includes(":") ? "IPv6" : "IPv4";
    const where = address({
      hostname: result.hostname,
      port,
      transport: "tcp",
    });
    if ("error" in result) {
      throw new Fail(
        `A client over ${family} could not connect: ${result.error}, though your server printed that it listens there.`,
        CITES.ipv6Socket,
      );
    }
    const { local, bytes, hungUp } = result;
    const expected = `Hello ${local}, you came over ${family}`;
    const text = new TextDecoder().decode(bytes).trimEnd();
    say(
      `A client over ${family}, from ${local} to ${where}, got ${
        bytes.length ? quoteBytes(bytes) : "nothing"
      }${
        hungUp
          ? ", then your server hung up."
          : " in 2.5 s, and the connection was still open."
      }`,
    );
    if (bytes.length === 0 && !hungUp) {
      throw new Fail(
        `Your server never greeted a client over ${family}. Its connection was made all the same: the system accepts connections on a listening socket and queues them until the program takes them. So your program never took it: is the loop over this socket waiting behind the other one's? A for-await loop over a listener never ends, so code after it never runs; run both loops at once (Promise.all).`,
        CITES.loopForever,
      );
    }
    if (text !== expected || !hungUp) {
      throw new Fail(
        `A client over ${family} expected ${
          quote(expected)
        }, then a hang-up. greet() in the starter says it so: keep it, and greet every client, of either family, with it.`,
      );
    }
  }
}

export const dualStack: Exercise = {
  name: "dual-stack",
  section: "12.3",
  title: "One server, two address families: IPv4 and IPv6",
  file: "12_3_dual_stack.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
