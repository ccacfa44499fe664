/**
 * UDP server: answers each datagram (section 12.4, the book's udp_server.py)
 *
 * UDP has no connections: a server binds a port and receives datagrams,
 * whole messages with their sender's address. This one prints each one
 * and answers the sender. (Deno.listenDatagram needs --unstable-net.)
 *
 * Terminal 1:
 *   $ deno task udp-server
 *   Listening on 127.0.0.1:25000
 *   From 127.0.0.1:36957: Hi, I'm sending this message.
 *   From 127.0.0.1:43308: Hi, I'm sending this message.
 *   ^CServer stopped (SIGINT).
 * Terminal 2, meanwhile:
 *   $ deno task udp-client
 *   Response for 127.0.0.1
 *   $ python3 udp_client.py
 *   Response for 127.0.0.1
 *
 * That is the book's udp_client.py with its slip fixed: it calls
 * gethostname('localhost'), an error; it meant gethostbyname('localhost').
 * --host ::1 listens on IPv6; --port 0 picks a free port.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { hostname, port } = commandLine(); // flags: see the end
const stop = stopOnSignals(); // Ctrl-C, kill: see the end

// On Linux and macOS, the book's recvfrom(2048) silently throws away all
// but the first 2048 bytes of a longer datagram (Windows raises an error):
// UDP never splits one across two receives. A datagram carries up to 65,507
// bytes over IPv4, 65,527 over IPv6: this buffer, reused for each one,
// holds any of them whole.
const buffer = new Uint8Array(65527);
const encoder = new TextEncoder();
try {
  // The book's socket(AF_INET, SOCK_DGRAM) and bind() in one call. The book
  // binds to "", every address of the computer: anyone who can reach it can
  // send it datagrams. 127.0.0.1 is this computer only. To open it, run
  // deno run --unstable-net --allow-net chapters/12_4_udp_server.ts --host
  // 0.0.0.0 (--allow-net for every address: it answers whoever sends).
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port });
  console.log(`Listening on ${address(socket.addr as Deno.NetAddr)}`);
  // No grace period is needed to stop: each answer is one datagram, sent
  // whole at once, so nothing is left half done.
  stop.onabort = () => socket.close(); // That ends the loop below.
  while (!stop.aborted) {
    try {
      // The book's recvfrom(): the next datagram, and who sent it. (Deno's
      // `for await (const [data, from] of socket)` does this too, but into
      // a new 65,507-byte buffer each time, and it ends at the first error.)
      const [data, sender] = await socket.receive(buffer);
      const peer = sender as Deno.NetAddr;
      console.log(safe(`From ${address(peer)}${show(data)}`));
      // The book's sendto(): the answer goes to the address it came from.
      await socket.send(encoder.encode(`Response for ${peer.hostname}`), peer);
    } catch (error) {
      // The book's server dies when one answer fails. Ours logs one line and
      // goes on: one peer we cannot answer (or, on Windows, an earlier answer
      // that found no one) is no reason to stop serving everyone else. When
      // we closed the socket ourselves, we are stopping: nothing to log.
      if (!stop.aborted) console.error(`Could not answer: ${error}`);
    }
  }
} catch (error) {
  const inUse = `Port ${port} on ${hostname} is in use by another program.`;
  exit(1, error instanceof Deno.errors.AddrInUse ? inUse : `${error}`);
}
console.log(`Server stopped (${stop.reason}).`);

/** What a datagram says, for the log: its first 200 characters at most. */
function show(data: Uint8Array): string {
  // The book decodes 'ascii', which fails on the first byte above 127 (an
  // "é", say), and the server is gone. We decode UTF-8, and bytes that are
  // not UTF-8 become "�" instead of an error. The spread makes a list of
  // characters (code points): cutting it never cuts a character in two.
  const chars = [...new TextDecoder().decode(data)];
  // Zero bytes is a legal datagram too ("are you there?"); we answer it.
  if (chars.length === 0) return " (empty datagram)";
  if (chars.length <= 200) return `: ${chars.join("")}`;
  return ` (${data.length} bytes): ${chars.slice(0, 200).join("")}…`;
}

// ---- The command line, stopping, printing safely: as in every lesson ----

function commandLine(): { hostname: string; port: number } {
  const help = `Usage: deno task udp-server [--host HOST] [--port PORT]
  --host HOST  address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port PORT  port to listen on (default 25000; 0 = any free port)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port"],
    default: { host: "127.0.0.1", port: "25000" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
  return { hostname: host, port };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}

/** Aborted by Ctrl-C (SIGINT), kill (SIGTERM) or closing the terminal. */
function stopOnSignals(): AbortSignal {
  const stop = new AbortController();
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const; // Windows: SIGINT
  for (const signal of signals.slice(0, Deno.build.os === "windows" ? 1 : 3)) {
    // A second signal in the same moment does nothing (see README).
    Deno.addSignalListener(signal, () => stop.abort(signal));
  }
  return stop.signal;
}

/** `127.0.0.1:25000`, or `[::1]:25000` for IPv6, as in URLs. */
function address({ hostname, port }: Deno.NetAddr): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * Text from the network may hold control characters (ESC starts commands
 * to the terminal), invisible ones, or ones that turn text right-to-left:
 * we show each one as \u{HEX} instead of letting the terminal obey it. (The
 * book prints what a peer sent as it came: a line break and a fake log line
 * from a peer would look like ours.)
 */
function safe(text: string): string {
  const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
  return text.replace(unsafe, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
