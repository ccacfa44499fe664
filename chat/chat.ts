/**
 * Activity 12.1: a chat for two over TCP (section 12.7, the hands-on activity)
 *
 * One program, server or client. The server waits for one client; then the
 * two take turns, the client first, and each message shows on both sides.
 *
 *   $ printf 'hi bob\n' | deno task chat server --username alice
 *   Listening on 127.0.0.1:10002
 *   Waiting for someone to join: deno task chat client --username NAME
 *   bob joined the chat from 127.0.0.1:52814; bob writes first.
 *   bob: hello alice
 *   alice: hi bob
 *   bob left the chat
 *   Waiting for someone to join: deno task chat client --username NAME
 *
 *   $ printf 'hello alice\n' | deno task chat client --username bob
 *   Joined alice's chat at 127.0.0.1:10002; you write first.
 *   bob: hello alice
 *   alice: hi bob
 *   bob left the chat
 *
 * At a terminal you type after a prompt; /quit or Ctrl-D leaves at your
 * turn, Ctrl-C at once. Read on: conversation.ts, protocol.ts, terminal.ts.
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import * as screen from "./terminal.ts";
import * as conversation from "./conversation.ts";
import { close, type Frame, HELLO_TIMEOUT_MS, USERNAME } from "./protocol.ts";

const HELP =
  `Usage: deno task chat server|client [--username NAME] [--host HOST] [--port PORT]
  server|client    which side to be (asked at a terminal if not given)
  --username NAME  1 to 32 letters, digits, "_", "." or "-" (asked if not given)
  --host HOST      server: the address to listen on; client: the server's
                   (default 127.0.0.1; ::1 for IPv6, 0.0.0.0 for the network)
  --port PORT      the server's port (default 10002; server: 0 = any free port)
Through a pipe, each input line is one message. Protocol: chat/README.md`;

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else screen.warn(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["username", "host", "port"],
  default: { host: "127.0.0.1", port: "10002" },
  // The role is the one word without "--"; anything else is a mistake.
  unknown: (arg: string) =>
    /^(server|client)$/.test(arg) ||
    usage(`unknown argument ${JSON.stringify(arg)}`),
});
// --host takes a name or an address, [::1] meaning ::1. Zones such as
// fe80::1%eth0 are not supported: use an address without one.
const hostname = flags.host.replace(/^\[(.*)\]$/, "$1");
const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
if (!/^[\w.:-]+$/.test(hostname)) usage("--host must be a name or an address");
if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
if (flags._.length > 1) usage(`give one role, "server" or "client"`);
const nameRule = `1 to 32 letters, digits, "_", "." or "-"`;
if (flags.username !== undefined && !USERNAME.test(flags.username)) {
  usage(`--username must be ${nameRule}`);
}
// What is missing is asked for at a terminal; without one (a script, a pipe)
// it is a mistake in the command line.
const missing = flags._.length === 0 || flags.username === undefined;
if (missing && !Deno.stdin.isTerminal()) {
  usage("give the role and --username NAME (there is no terminal to ask)");
}

/** Asks at the terminal until the answer fits `rule`; Ctrl-D gives up. */
function ask(question: string, rule: RegExp): string {
  while (true) {
    const answer = prompt(question)?.trim(); // null at Ctrl-D
    if (answer === undefined) Deno.exit(0);
    if (rule.test(answer)) return answer;
  }
}
const role = flags._[0] ??
  ask("Be the server or the client?", /^(server|client)$/);
const me = flags.username ?? ask(`Your username (${nameRule}):`, USERNAME);
if (role === "client" && port === 0) usage("a client's --port cannot be 0");

// Ctrl-C (SIGINT), `kill` (SIGTERM) and closing the terminal (SIGHUP) make
// us leave at once; the line printed names the signal. A second abort does
// nothing (one Ctrl-C may arrive twice: see ../README.md).
const { stop } = conversation;
const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const; // Windows: SIGINT
for (const signal of signals.slice(0, Deno.build.os === "windows" ? 1 : 3)) {
  Deno.addSignalListener(signal, () => stop.abort(signal));
}
/** `127.0.0.1:10002`, or `[::1]:10002` for IPv6, as in URLs. */
const address = (host: string, port: number) =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
const where = address(hostname, port);
// 0.0.0.0 (or ::) means "all of this computer's addresses", IPv4 (or all).
const everywhere = /^(0\.0\.0\.0|::)$/.test(hostname);

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused): start the server first (deno task chat server --username NAME).`;
  } else if (error instanceof Deno.errors.NotCapable) {
    // The task allows this computer only. 0.0.0.0: see waitingLine below.
    const sys = everywhere ? " --allow-sys=networkInterfaces" : "";
    return `Deno was not allowed to use ${where}: run deno run --allow-net=${where}${sys} chat/chat.ts with the same arguments.`;
  } else if (/^(ConnectionReset|NotConnected|BrokenPipe):/.test(`${error}`)) {
    return `${where} closed the connection abruptly (connection reset) before the chat began.`;
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${hostname}" (the name does not resolve).`;
  } else if (error instanceof Deno.errors.AddrInUse) {
    return `Port ${port} on ${hostname} is in use by another program.`;
  } else if (error instanceof DOMException && error.name === "TimeoutError") {
    return `${where} did not answer within ${HELLO_TIMEOUT_MS / 1000} s.`;
  }
  return `${where}: ${error}`;
}

// ---------------------------------------------------------------------------
// The server: one chat at a time, then wait for the next client

async function serve(): Promise<void> {
  let listener: Deno.TcpListener;
  try {
    // The book binds to gethostname(), an address other computers may reach;
    // 127.0.0.1 is this computer only, until you choose --host 0.0.0.0.
    listener = Deno.listen({ hostname, port });
  } catch (error) {
    exit(1, explain(error));
  }
  const { port: realPort } = listener.addr; // --port 0: the one we got
  console.log(`Listening on ${address(listener.addr.hostname, realPort)}`);
  // While we wait for a client, `handOver` gives it to us (null: stop).
  let handOver: ((conn: Deno.TcpConn | null) => void) | undefined;
  stop.signal.addEventListener("abort", () => {
    listener.close(); // stop accepting at once
    handOver?.(null);
  });

  // Accepting goes on during a chat, so that a third party is told the
  // server is busy instead of waiting in the system's queue.
  async function acceptAll() {
    let wait = 0; // after a failed accept, ms to wait: 5, 10, 20 ... 1000
    while (true) {
      let conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stop.signal.aborted) return; // we closed the listener: stop
        // A client gone before we took it (it reset): take the next at once.
        if (error instanceof Deno.errors.NotConnected) continue;
        // Accepting fails when the program runs out of file descriptors
        // ("Too many open files", in a flood of connections). A classic bug
        // lets that end the server. We say so once a burst, wait (longer
        // each time, as Go's net/http does) and accept again: it works again
        // as connections close.
        const reason = (error as Error).message;
        if (wait === 0) screen.warn(`Could not accept a connection: ${reason}`);
        wait = Math.min(Math.max(2 * wait, 5), 1000);
        await new Promise((go) => setTimeout(go, wait));
        continue;
      }
      wait = 0;
      if (handOver === undefined) turnAway(conn);
      else handOver(conn);
      handOver = undefined;
    }
  }
  acceptAll();

  screen.hint("Ctrl-C stops the server. What you type now waits for a turn.");
  while (!stop.signal.aborted) {
    screen.say(`Waiting for someone to join: ${waitingLine(realPort)}`);
    const conn = await new Promise<Deno.TcpConn | null>((resolve) =>
      handOver = resolve
    );
    if (conn === null) break;
    const chat = conversation.newChat(conn, me);
    let outcome = await conversation.greetClient(chat);
    if (outcome === null) {
      const { peer } = chat;
      const from = `from ${chat.wire.address}`;
      screen.say(`${peer} joined the chat ${from}; ${peer} writes first.`);
      outcome = await conversation.talk(chat, false);
    }
    if (outcome.ending === "i-left") return;
    if (outcome.ending === "failed") screen.warn(outcome.reason);
  }
  screen.say(`Server stopped (${stop.signal.reason}).`);
}

// A client that comes during a chat is told so in one frame and hung up on
// politely. This must cost little: a flood of thousands of connections must
// fill neither the screen nor the memory. So no line for each, only a count
// printed at most once a second; and while more than 50 are waiting to hang
// up (a second at most), the others are hung up on at once.
let turnedAway = 0; // since the count was last printed
let closing = 0; // turned away, and not closed yet
const message = "The server is busy with another chat; try again later.";
const busy: Frame = { type: "error", code: "busy", message };
async function turnAway(conn: Deno.TcpConn): Promise<void> {
  if (turnedAway++ === 0) setTimeout(printTurnedAway, 1000);
  closing++;
  await close(conn, busy, closing > 50 ? 0 : 1000);
  closing--;
}
function printTurnedAway(): void {
  const s = turnedAway === 1 ? "" : "s";
  screen.aside(
    `Turned away ${turnedAway} connection${s}: the server is busy with this chat.`,
  );
  turnedAway = 0;
}

/** The command that joins this server, for the "Waiting" line. */
function waitingLine(realPort: number): string {
  const portFlag = realPort === 10002 ? "" : ` --port ${realPort}`;
  if (/^(127\.0\.0\.1|::1|localhost)$/.test(hostname)) {
    const host = hostname === "127.0.0.1" ? "" : ` --host ${hostname}`;
    return `deno task chat client --username NAME${host}${portFlag}`;
  }
  // From another computer: the task allows only this one, so deno run. And
  // 0.0.0.0 (or ::) means "all of this computer's addresses": it is no
  // address to connect to. This computer's own addresses are.
  let hosts = hostname;
  if (everywhere) {
    const sys = { name: "sys", kind: "networkInterfaces" } as const;
    hosts = "one of this computer's (--allow-sys=networkInterfaces lists them)";
    if (Deno.permissions.querySync(sys).state === "granted") {
      hosts = Deno.networkInterfaces()
        .filter((i) => hostname === "::" || i.family === "IPv4")
        .map((i) => i.family === "IPv4" ? i.address : `[${i.address}]`)
        .filter((a) => !/^(127\.|\[::1\]|\[fe80)/.test(a)).join(" or ") ||
        "this computer's address (it has none but 127.0.0.1 now)";
    }
  }
  return `deno run --allow-net=ADDRESS:${realPort} chat/chat.ts client ` +
    `--username NAME --host ADDRESS${portFlag}, where ADDRESS is ${hosts}`;
}

// ---------------------------------------------------------------------------
// The client: one chat, then exit

async function join(): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    const timeout = AbortSignal.timeout(HELLO_TIMEOUT_MS);
    const signal = AbortSignal.any([stop.signal, timeout]);
    conn = await Deno.connect({ hostname, port, signal });
  } catch (error) {
    if (stop.signal.aborted) return; // Ctrl-C before the server answered
    exit(1, explain(error));
  }
  const chat = conversation.newChat(conn, me);
  let outcome = await conversation.greetServer(chat);
  if (outcome === null) {
    const at = `at ${chat.wire.address}`;
    screen.say(`Joined ${chat.peer}'s chat ${at}; you write first.`);
    outcome = await conversation.talk(chat, true);
  }
  if (outcome.ending === "failed") exit(1, outcome.reason);
}

// ---------------------------------------------------------------------------
// Off we go: from now on, every line typed waits for a turn.

screen.readKeyboard();
if (role === "server") await serve();
else await join();
Deno.exit(0);
