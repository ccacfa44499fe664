/**
 * One conversation, once the two sides are connected: the hellos, then the
 * turns. Server and client run the same code; only the hellos differ (the
 * server says hello first, the client writes the first message). Whatever
 * the peer does, a conversation ends with an Outcome, never an exception.
 *
 * @module
 */

import * as protocol from "./protocol.ts";
import { ProtocolError, type Received } from "./protocol.ts";
import * as screen from "./terminal.ts";

/** One side of a conversation. */
export interface Chat {
  wire: protocol.Wire;
  me: string;
  peer: string; // the peer's name once it said hello, its address before
  greeted: boolean; // have both hellos been exchanged?
  hint: string; // added to what went wrong before the hellos
}

export function newChat(conn: Deno.TcpConn, me: string): Chat {
  const wire = protocol.openWire(conn);
  return { wire, me, peer: wire.address, greeted: false, hint: "" };
}

// Aborted when our person stops the program (Ctrl-C, see chat.ts): then we
// leave at once, whatever we were waiting for.
export const stop = new AbortController();
const stopped = new Promise<{ kind: "stop" }>((resolve) =>
  stop.signal.addEventListener("abort", () => resolve({ kind: "stop" }))
);

/** How it ended: our person left, the peer left, or what went wrong. */
export type Outcome =
  | { ending: "i-left" | "peer-left" }
  | { ending: "failed"; reason: string };
const failed = (reason: string): Outcome => ({ ending: "failed", reason });

/** What can happen while we wait for the peer. */
type Event = Received | { kind: "stop" } | { kind: "timeout" };

/** The next thing the peer does; or a signal; or, with `ms`, time is up. */
async function next(chat: Chat, ms?: number): Promise<Event> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Event>((resolve) => {
    if (ms) timer = setTimeout(() => resolve({ kind: "timeout" }), ms);
  });
  const peer = protocol.receive(chat.wire);
  const event = await Promise.race([peer, stopped, timeout]);
  clearTimeout(timer);
  return event;
}

/** Resolves after a turn of the event loop: reads of bytes already here end. */
const aTurnOfTheEventLoop = () => new Promise((go) => setTimeout(go));

/** Server: says hello, then waits for the client's. Null: both done. */
export async function greetClient(chat: Chat): Promise<Outcome | null> {
  await protocol.send(chat.wire.conn, protocol.hello(chat.me));
  const event = await next(chat, protocol.HELLO_TIMEOUT_MS);
  if (event.kind !== "frame" || event.frame.type !== "hello") {
    return await ended(chat, event);
  }
  if (event.frame.username === chat.me) {
    const taken = `the username "${chat.me}", which is the server's own`;
    const problem = new ProtocolError("name-taken", taken);
    return await reject(chat, problem, " Choose another with --username.");
  }
  chat.peer = event.frame.username;
  chat.greeted = true;
  return null;
}

/** Client: waits for the server's hello (or "busy"), then says hello. */
export async function greetServer(chat: Chat): Promise<Outcome | null> {
  chat.hint = " Is it a chat server (deno task chat server)?";
  const event = await next(chat, protocol.HELLO_TIMEOUT_MS);
  if (event.kind === "frame" && event.frame.type === "error") {
    if (event.frame.code === "busy") {
      await protocol.close(chat.wire.conn);
      const busy = `The chat server at ${chat.wire.address} is busy`;
      return failed(`${busy} with another chat; try again later.`);
    }
  }
  if (event.kind !== "frame" || event.frame.type !== "hello") {
    return await ended(chat, event);
  }
  await protocol.send(chat.wire.conn, protocol.hello(chat.me));
  chat.greeted = true;
  chat.peer = event.frame.username;
  chat.hint = "";
  // The server refuses its own name (name-taken): wait for it to say so.
  if (chat.peer === chat.me) {
    const event = await next(chat, protocol.HELLO_TIMEOUT_MS);
    if (event.kind !== "timeout") return await ended(chat, event);
    // It said hello, so "no hello" (timeout) would be false: it broke the
    // rule of names instead. We leave, and say so.
    await protocol.close(chat.wire.conn);
    return failed(
      `The chat server at ${chat.wire.address} is also called ${chat.me} ` +
        `and did not refuse us (name-taken). Choose another with --username.`,
    );
  }
  return null;
}

/** Turns, until someone leaves or something goes wrong. */
export async function talk(chat: Chat, myTurn: boolean): Promise<Outcome> {
  const { me, peer } = chat;
  screen.hint(
    `Type a message and press Enter; /quit or Ctrl-D leaves. During ` +
      `${peer}'s turn, what you type waits for yours.`,
  );
  // We wait for the peer even during our turn: a bye or a broken connection
  // must show at once, not after we next write.
  let fromPeer = next(chat);
  while (true) {
    if (!myTurn) {
      // Short, so that a line typed ahead fits after it: "(bob's turn) hi".
      screen.status(`(${peer}'s turn) `);
      const event = await fromPeer;
      if (event.kind !== "frame" || event.frame.type !== "message") {
        return await ended(chat, event);
      }
      screen.message(peer, event.frame.text);
      myTurn = true;
      fromPeer = next(chat);
      continue;
    }

    // Our turn. A line typed ahead is sent at once, and printed, since nobody
    // saw it typed here. Else we show the prompt, and the line typed after it
    // is already on screen (`alice: hi bob`) as the message line.
    // But a message the peer sent during our turn is out of turn, not a reply
    // to a line typed ahead (rule 3 in README.md): a frame already here is
    // read first (we give it a turn of the event loop), then the line.
    const typedAhead = screen.lineWaiting();
    if (typedAhead) await Promise.race([fromPeer, aTurnOfTheEventLoop()]);
    else screen.prompt(me);
    const event = await Promise.race([fromPeer, screen.lineTyped()]);
    if (event.kind !== "typed") return await ended(chat, event);
    const line = screen.takeLine();
    if (line !== null && !typedAhead && /^\s*(\/quit)?\s*$/.test(line)) {
      screen.eraseTypedLine(); // an empty line, or /quit, is not a message
    }
    if (line === null || line.trim() === "/quit") return await leave(chat);
    if (line.trim() === "") continue; // nothing to send; still our turn
    const bytes = new TextEncoder().encode(line).length;
    if (bytes > protocol.MAX_TEXT_BYTES) {
      screen.warn(
        `Not sent: that message is ${bytes} bytes long, and the limit is ` +
          `${protocol.MAX_TEXT_BYTES}. Split it in parts.`,
      );
      continue;
    }
    await protocol.send(chat.wire.conn, { type: "message", text: line });
    if (typedAhead || !screen.interactive) screen.message(me, line);
    myTurn = false;
  }
}

/** Our person leaves: we say so on both ends, and hang up. */
async function leave(chat: Chat): Promise<Outcome> {
  // Stopped by a signal: we name it, "alice left the chat (SIGTERM)".
  const signal = stop.signal.aborted ? ` (${stop.signal.reason})` : "";
  screen.say(`${chat.me} left the chat${signal}`);
  await protocol.close(chat.wire.conn, { type: "bye" });
  return { ending: "i-left" };
}

/** Everything else that ends a conversation, in one sentence. */
async function ended(chat: Chat, event: Event): Promise<Outcome> {
  const { wire, peer, me } = chat;
  if (event.kind === "stop") return await leave(chat);
  if (event.kind === "invalid") return await reject(chat, event.error);
  if (event.kind === "timeout") {
    const late = `no hello within ${protocol.HELLO_TIMEOUT_MS / 1000} seconds`;
    return await reject(chat, new ProtocolError("timeout", late));
  }
  if (event.kind === "frame") {
    const { frame } = event;
    if (frame.type === "bye") {
      screen.say(`${peer} left the chat`);
      await protocol.close(wire.conn);
      return { ending: "peer-left" };
    }
    if (frame.type === "error") {
      // Never answer an error with an error: show it, and hang up.
      await protocol.close(wire.conn);
      const error = `${frame.message} (${frame.code})`;
      return failed(`${peer} ended the chat with an error: ${error}`);
    }
    if (frame.type === "message" && chat.greeted) {
      const turn = `a message out of turn (it was ${me}'s turn)`;
      return await reject(chat, new ProtocolError("out-of-turn", turn));
    }
    const what = frame.type === "hello"
      ? "a second hello"
      : `a "${frame.type}" frame before hello`;
    return await reject(chat, new ProtocolError("unexpected", what));
  }
  await protocol.close(wire.conn);
  if (event.kind === "ended") {
    return failed(
      `${peer} closed the connection without saying goodbye (its program ` +
        `may have stopped or crashed).${chat.hint}`,
    );
  }
  // The network failed: most often the peer's system reset the connection.
  const why = event.error instanceof Deno.errors.ConnectionReset
    ? " closed the connection abruptly (connection reset)"
    : `: ${event.error}`;
  // Before its hello the peer has no name but its address: said once.
  const lost = peer === wire.address ? "" : `Lost ${peer}: `;
  return failed(`${lost}${wire.address}${why}.`);
}

// What we tell a peer that never said a proper hello: it may be another
// program altogether (netcat, a web browser, the json-client of 12.5).
const STRANGER =
  "This program speaks deno-chat version 1, one JSON object a line; see chat/README.md.";

/** The peer broke a rule: tell it which in an error frame, and hang up. */
async function reject(
  chat: Chat,
  problem: ProtocolError,
  advice = chat.greeted ? "" : ` ${STRANGER}`,
): Promise<Outcome> {
  const message = `You sent ${problem.detail}.${advice}`;
  const { code } = problem;
  await protocol.close(chat.wire.conn, { type: "error", code, message });
  const told = `${chat.peer} sent ${problem.detail}; told it so and hung up.`;
  return failed(told + chat.hint);
}
