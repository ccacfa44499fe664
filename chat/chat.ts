/**
 * The chat: Activity 12.1, the program that ends the chapter
 *
 * One program that can be the server or the client of a two-person chat.
 * The server waits for one client; the client connects; then the two take
 * turns: the client writes first, and after you send a message you wait
 * for the other's reply before you can send again. Every message shows on
 * both screens as `USERNAME: TEXT`.
 *
 * Terminal 1 (alice):
 *
 *   $ deno task chat server --username alice
 *   Listening on 127.0.0.1:10002
 *   Waiting for someone to join: deno task chat client --username NAME
 *   bob joined the chat from 127.0.0.1:52814; bob writes first.
 *   bob: hello alice
 *   alice: hi bob                 (typed after the prompt "alice: ")
 *   bob: how are you?
 *   alice: fine
 *   bob left the chat
 *   Waiting for someone to join: deno task chat client --username NAME
 *
 * Terminal 2 (bob):
 *
 *   $ deno task chat client --username bob
 *   Joined alice's chat at 127.0.0.1:10002; you write first.
 *   bob: hello alice
 *   alice: hi bob
 *   bob: how are you?
 *   alice: fine
 *   bob left the chat             (bob typed /quit)
 *
 * On a terminal, your turn shows a prompt, `alice: `, so the line you type
 * is the message line; during the other's turn a status line says whose
 * turn it is, and what you type waits for your turn. Dimmed hints, not
 * shown above, say how to leave and that typing ahead waits. With no role
 * or username on the command line, the chat asks for them.
 *
 * Leaving: `/quit` or end of input (Ctrl-D), both at your turn, or Ctrl-C
 * at any time. The other side sees `NAME left the chat`. A server whose
 * client left waits for the next one; a server whose own user left stops.
 * A second client that connects during a chat is told the server is busy.
 *
 * It works through pipes too, one message per input line, which is how the
 * tests and scripts drive it (no prompts then, only the lines above):
 *
 *   printf 'hi bob\nfine\n' | deno task chat server --username alice
 *   printf 'hello alice\nhow are you?\n' | deno task chat client --username bob
 *
 * Flags: --username NAME (1 to 32 letters, digits, "_", "." or "-"),
 * --host (default 127.0.0.1; ::1 for IPv6), --port (default 10002; the
 * server takes --port 0 to pick a free port, printed on the first line).
 *
 * The frames on the wire, and the limits, are in chat/README.md. The code
 * is in four files, read in this order: this one (the two roles),
 * conversation.ts (the hellos and the turns), protocol.ts (the frames on
 * the wire), terminal.ts (the person's side: input, screen).
 *
 * What we do differently from the book, and why:
 *
 * - The book's programs call `recv(1024)` once and take what comes back as
 *   one whole message. TCP delivers a stream of bytes, not messages: a
 *   message may arrive in pieces, or glued to the next one. Each frame here
 *   is one JSON object on one line, and we read up to the newline.
 * - The book trusts the other side. Here the peer may be any program: every
 *   line is limited in size, strictly decoded and checked, and its text is
 *   shown with control characters made visible, so that a peer cannot send
 *   escape sequences that clear your screen or rename your window.
 * - The book binds to `socket.gethostname()`; we bind to 127.0.0.1 until
 *   you choose otherwise with --host (see README.md).
 *
 * @module
 */

import {
  acceptConnections,
  describeNetworkError,
  exitWithError,
  formatAddress,
  onCtrlC,
  parseFlags,
  parseHost,
  parsePort,
  printListening,
  usageError,
} from "../chapters/_shared/plumbing.ts";
import { Conversation, type Outcome } from "./conversation.ts";
import { type Frame, USERNAME, Wire } from "./protocol.ts";
import { InputLines, sanitize, Screen } from "./terminal.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task chat server|client --username NAME [--host HOST] [--port PORT]

A chat for two: one side is the server and waits, the other is the client
and connects. The client writes first, then you take turns. Every message
shows on both sides as "NAME: TEXT". Leave with /quit, Ctrl-D or Ctrl-C.

  server | client    which side to be (asked for on a terminal if missing)
  --username NAME    your name: 1 to 32 letters, digits, "_", "." or "-"
                     (asked for on a terminal if missing)
  --host HOST        server: address to listen on; client: the server's
                     address (default 127.0.0.1; ::1 for IPv6)
  --port PORT        the server's port (default 10002; for the server,
                     0 = any free port)

Without a terminal (stdin a pipe), one message per input line; the role and
--username must then be given. The protocol is in chat/README.md.`,
  string: ["username", "host", "port"],
  defaults: { host: "127.0.0.1", port: "10002" },
  positionals: 1,
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);

// ---------------------------------------------------------------------------
// Who we are: from the command line, or asked for on the terminal

const ROLES = ["server", "client"];
const USERNAME_RULE = `1 to 32 letters, digits, "_", "." or "-"`;

/** Asks `question` on the terminal until `check` finds no problem. */
function ask(question: string, check: (answer: string) => string): string {
  while (true) {
    // `prompt` prints the question and reads one line of the terminal;
    // it returns null at end of input (Ctrl-D): the person gave up.
    const answer = prompt(question);
    if (answer === null) {
      console.log();
      Deno.exit(0);
    }
    const problem = check(answer.trim());
    if (problem === "") return answer.trim();
    console.log(problem);
  }
}

const checkRole = (role: string) =>
  ROLES.includes(role)
    ? ""
    : `The role must be "server" or "client", not "${sanitize(role)}".`;
const checkUsername = (name: string) =>
  USERNAME.test(name)
    ? ""
    : `A username is ${USERNAME_RULE}, not "${sanitize(name)}".`;

// Asking needs a person at a terminal. Without one (a script, a pipe), a
// missing role or name is a mistake in the command, not a question.
const canAsk = Deno.stdin.isTerminal();
const givenRole = flags._[0];
if (givenRole !== undefined && checkRole(givenRole) !== "") {
  usageError(
    `the role must be "server" or "client", not "${sanitize(givenRole)}"`,
  );
}
if (flags.username !== undefined && checkUsername(flags.username) !== "") {
  usageError(
    `--username must be ${USERNAME_RULE}, not "${sanitize(flags.username)}"`,
  );
}
if (!canAsk && givenRole === undefined) {
  usageError(
    `give the role, "server" or "client" (there is no terminal to ask for it)`,
  );
}
if (!canAsk && flags.username === undefined) {
  usageError("give --username NAME (there is no terminal to ask for it)");
}
const role = givenRole ??
  ask("Be the server or the client (server/client)?", checkRole);
const me = flags.username ?? ask("Your username:", checkUsername);

// ---------------------------------------------------------------------------
// The person's side: what they type, and the screen

// Prompts and status lines only make sense when a person reads the screen
// and types on the keyboard; scripts get the plain lines.
const screen = new Screen(Deno.stdin.isTerminal() && Deno.stdout.isTerminal());
// From now on every line typed is queued for a turn, even while we wait
// for a peer. When one arrives, the person pressed Enter.
const input = new InputLines(Deno.stdin.readable, () => screen.lineEnded());

// Ctrl-C leaves at once, whatever we are waiting for. Our own listener
// runs first and only tidies the terminal's "^C" away, once.
const { promise: stop, resolve: pressCtrlC } = Promise.withResolvers<void>();
const tidy = () => {
  Deno.removeSignalListener("SIGINT", tidy);
  screen.interrupted();
};
Deno.addSignalListener("SIGINT", tidy);

if (role === "server") {
  await serve();
} else {
  await join();
}

// ---------------------------------------------------------------------------
// The server: one chat at a time

async function serve(): Promise<never> {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (error) {
    exitWithError(describeNetworkError(error, { hostname, port }));
  }
  printListening(listener.addr);
  onCtrlC(() => {
    pressCtrlC();
    listener.close();
  });

  // Accepting goes on during a chat, so that a third party can be told
  // the server is busy instead of waiting in the operating system's queue.
  // `handOver` is set while the server waits for a client.
  let handOver: ((conn: Deno.TcpConn) => void) | undefined;
  (async () => {
    for await (const conn of acceptConnections(listener)) {
      if (handOver !== undefined) {
        handOver(conn);
        handOver = undefined;
      } else {
        refuseBusy(conn);
      }
    }
  })();

  const command = "deno task chat client --username NAME" +
    (hostname === "127.0.0.1" ? "" : ` --host ${hostname}`) +
    (listener.addr.port === 10002 ? "" : ` --port ${listener.addr.port}`);
  let first = true;
  while (true) {
    screen.say(`Waiting for someone to join: ${command}`);
    if (first) {
      screen.hint(
        "Ctrl-C stops the server. What you type now waits for " +
          "your first turn.",
      );
      first = false;
    }
    const next = new Promise<Deno.TcpConn>((resolve) => handOver = resolve);
    const conn = await Promise.race([next, stop.then(() => null)]);
    if (conn === null) break; // Ctrl-C

    const wire = new Wire(conn);
    const conversation = new Conversation({ wire, me, input, screen, stop });
    const peer = await conversation.greetClient();
    let outcome: Outcome;
    if (typeof peer === "string") {
      screen.say(
        `${peer} joined the chat from ${wire.address}; ${peer} writes first.`,
      );
      outcome = await conversation.talk(false);
    } else {
      outcome = peer;
    }
    if (outcome.ending === "i-left") break;
    // The client left, vanished or misbehaved: one line, and wait for the
    // next one.
    if (outcome.ending === "failed") screen.warn(outcome.reason);
  }
  try {
    listener.close();
  } catch {
    // Already closed by Ctrl-C.
  }
  Deno.exit(0);
}

/** Tells a client that came while a chat is going on to try later. */
function refuseBusy(conn: Deno.TcpConn): void {
  const busy: Frame = {
    type: "error",
    code: "busy",
    message: "The server is busy with another chat; try again later.",
  };
  screen.aside(
    `${formatAddress(conn.remoteAddr)} tried to join during the chat; ` +
      `told it the server is busy.`,
  );
  // Not awaited: the chat in progress goes on meanwhile.
  new Wire(conn).close(busy);
}

// ---------------------------------------------------------------------------
// The client: one chat, then exit

async function join(): Promise<never> {
  onCtrlC(pressCtrlC);
  const place = {
    hostname,
    port,
    server: "deno task chat server --username NAME",
  };
  let conn: Deno.TcpConn | null;
  try {
    conn = await Promise.race([
      Deno.connect({ hostname, port }),
      stop.then(() => null),
    ]);
  } catch (error) {
    exitWithError(describeNetworkError(error, place));
  }
  if (conn === null) Deno.exit(0); // Ctrl-C before the server answered.

  const wire = new Wire(conn);
  const conversation = new Conversation({ wire, me, input, screen, stop });
  const peer = await conversation.greetServer();
  let outcome: Outcome;
  if (typeof peer === "string") {
    screen.say(`Joined ${peer}'s chat at ${wire.address}; you write first.`);
    outcome = await conversation.talk(true);
  } else {
    outcome = peer;
  }
  if (outcome.ending === "failed") exitWithError(outcome.reason);
  Deno.exit(0);
}
