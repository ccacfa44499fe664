/**
 * One conversation between the two sides, once they are connected: the
 * hellos, then turns. The server and the client run the same code; only
 * the greeting differs (the server says hello first, the client writes
 * the first message).
 *
 * Whatever the peer does, a conversation ends with one of three outcomes,
 * and never with an exception:
 *
 *   "i-left"     our person left (/quit, end of input, Ctrl-C);
 *   "peer-left"  the other person left and said so (a bye frame);
 *   "failed"     anything else: the peer vanished, broke the rules or sent
 *                an error. `reason` says what happened, in one sentence.
 *
 * @module
 */

import { describeNetworkError } from "../chapters/_shared/plumbing.ts";
import {
  type Frame,
  hello,
  HELLO_TIMEOUT_MS,
  MAX_TEXT_BYTES,
  PROTOCOL,
  ProtocolError,
  type Received,
  VERSION,
  type Wire,
  within,
} from "./protocol.ts";
import { type InputLines, sanitize, type Screen } from "./terminal.ts";

/** How a conversation ended. */
export type Outcome =
  | { ending: "i-left" }
  | { ending: "peer-left" }
  | { ending: "failed"; reason: string };

/** Everything one side of a conversation needs. */
export interface Side {
  /** The connection to the peer. */
  wire: Wire;
  /** Our username. */
  me: string;
  /** The lines our person types, one per turn. */
  input: InputLines;
  screen: Screen;
  /** Resolves when our person presses Ctrl-C. */
  stop: Promise<void>;
}

/** What can happen while we wait: the peer did something, or Ctrl-C. */
type PeerEvent = Received | { kind: "stop" } | { kind: "timeout" };

const encoder = new TextEncoder();

export class Conversation {
  #side: Side;
  /** Who the peer is: its address until its hello tells us its name. */
  #peer: string;
  /** Have both hellos been exchanged? */
  #greeted = false;
  /** Before the hellos: a hint about which program the peer should be. */
  #expected = "";
  #stopped: Promise<{ kind: "stop" }>;

  constructor(side: Side) {
    this.#side = side;
    this.#peer = side.wire.address;
    this.#stopped = side.stop.then(() => ({ kind: "stop" }));
  }

  // -------------------------------------------------------------------------
  // The hellos

  /**
   * Server: says hello, then waits for the client's hello. Returns the
   * client's name, or how the attempt ended.
   */
  async greetClient(): Promise<string | Outcome> {
    const { wire, me } = this.#side;
    wire.send(hello(me));
    const event = await this.#next(HELLO_TIMEOUT_MS);
    if (event.kind !== "frame") return await this.#failed(event);
    const { frame } = event;
    if (frame.type !== "hello") return await this.#wrongFirstFrame(frame);
    if (frame.username === me) {
      return await this.#reject(
        new ProtocolError(
          "name-taken",
          `the username "${me}", which is the server's own`,
        ),
        "Choose another username with --username.",
      );
    }
    this.#peer = frame.username;
    this.#greeted = true;
    return frame.username;
  }

  /**
   * Client: waits for the server's hello (or its "busy"), then says hello.
   * Returns the server's name, or how the attempt ended.
   */
  async greetServer(): Promise<string | Outcome> {
    const { wire, me } = this.#side;
    this.#expected = " Is it a chat server (deno task chat server)?";
    const event = await this.#next(HELLO_TIMEOUT_MS);
    if (event.kind !== "frame") return await this.#failed(event);
    const { frame } = event;
    if (frame.type === "error" && frame.code === "busy") {
      await wire.close();
      return failed(
        `The chat server at ${wire.address} is busy with another chat; ` +
          `try again later.`,
      );
    }
    if (frame.type !== "hello") return await this.#wrongFirstFrame(frame);
    if (frame.username === me) {
      // The server would refuse our hello; say why before it has to.
      await wire.close();
      return failed(
        `The server's user is also called "${me}"; two people in one chat ` +
          `need two names. Choose another with --username.`,
      );
    }
    wire.send(hello(me));
    this.#peer = frame.username;
    this.#expected = "";
    this.#greeted = true;
    return frame.username;
  }

  // -------------------------------------------------------------------------
  // The turns

  /**
   * Takes turns until someone leaves or something goes wrong. `myTurn` says
   * who writes first: the client.
   */
  async talk(myTurn: boolean): Promise<Outcome> {
    const { wire, me, input, screen } = this.#side;
    const peer = this.#peer;
    screen.hint(
      `Type a message and press Enter; /quit or Ctrl-D leaves. During ` +
        `${peer}'s turn, what you type waits for yours.`,
    );
    // We always wait for the peer, even during our own turn: a bye or a
    // broken connection must show at once, not after we next write.
    let fromPeer = this.#next();
    while (true) {
      if (!myTurn) {
        // Short, so that a line typed ahead fits after it: "(bob's turn) hi".
        screen.status(`(${peer}'s turn) `);
        const event = await fromPeer;
        if (event.kind !== "frame" || event.frame.type !== "message") {
          return await this.#ended(event);
        }
        screen.say(`${peer}: ${sanitize(event.frame.text)}`);
        myTurn = true;
        fromPeer = this.#next();
        continue;
      }

      // Our turn. A line typed ahead is sent at once, and printed, since
      // nobody saw it typed here. Otherwise we show the prompt, and the line
      // typed after it is already on screen (`alice: hi bob`) as typed.
      const typedAhead = input.ready;
      if (!typedAhead) screen.prompt(me);
      const typed = input.whenReady().then(() => ({ kind: "input" as const }));
      const event = await Promise.race([fromPeer, typed]);
      if (event.kind !== "input") {
        // The peer may not write now; it may only leave.
        if (event.kind === "frame" && event.frame.type === "message") {
          return await this.#reject(
            new ProtocolError(
              "out-of-turn",
              `a message out of turn (it was ${me}'s turn)`,
            ),
          );
        }
        return await this.#ended(event);
      }

      const line = input.take();
      if (line === null || line.trim() === "/quit") {
        if (line !== null && !typedAhead) screen.eraseTypedLine();
        return await this.#leave();
      }
      if (line.trim() === "") {
        if (!typedAhead) screen.eraseTypedLine();
        continue; // Nothing to send; still our turn.
      }
      const bytes = encoder.encode(line).length;
      if (bytes > MAX_TEXT_BYTES) {
        screen.warn(
          `Not sent: that message is ${bytes} bytes long, and the limit is ` +
            `${MAX_TEXT_BYTES}. Split it in parts.`,
        );
        continue;
      }
      wire.send({ type: "message", text: line });
      if (typedAhead || !screen.interactive) {
        screen.say(`${me}: ${sanitize(line)}`);
      }
      myTurn = false;
    }
  }

  /** What ended the peer's turn, if not a message: a bye, Ctrl-C, ... */
  async #ended(event: PeerEvent): Promise<Outcome> {
    if (event.kind === "stop") return await this.#leave();
    if (event.kind === "frame" && event.frame.type === "bye") {
      this.#side.screen.say(`${this.#peer} left the chat`);
      await this.#side.wire.close();
      return { ending: "peer-left" };
    }
    if (event.kind === "frame" && event.frame.type === "hello") {
      return await this.#reject(
        new ProtocolError("unexpected", "a second hello"),
      );
    }
    return await this.#failed(event);
  }

  /** Our person leaves: we say so on both ends, and hang up. */
  async #leave(): Promise<Outcome> {
    this.#side.screen.say(`${this.#side.me} left the chat`);
    await this.#side.wire.close({ type: "bye" });
    return { ending: "i-left" };
  }

  // -------------------------------------------------------------------------
  // Waiting, and what can go wrong

  /**
   * The next thing the peer does, or Ctrl-C, or (with `timeoutMs`) the
   * time running out. Never throws.
   */
  async #next(timeoutMs?: number): Promise<PeerEvent> {
    const received = this.#side.wire.receive();
    const event = timeoutMs === undefined
      ? received
      : within(received, timeoutMs).then((result) =>
        result === "timeout" ? { kind: "timeout" as const } : result
      );
    return await Promise.race([this.#stopped, event]);
  }

  /** The first frame was not the hello it should have been. */
  #wrongFirstFrame(frame: Frame): Promise<Outcome> {
    if (frame.type === "error") return this.#failed({ kind: "frame", frame });
    return this.#reject(
      new ProtocolError("unexpected", `a "${frame.type}" frame before hello`),
    );
  }

  /** Every way of waiting for the peer that did not bring a good frame. */
  async #failed(event: PeerEvent): Promise<Outcome> {
    const { wire } = this.#side;
    const peer = this.#peer;
    switch (event.kind) {
      case "stop":
        await wire.close();
        return { ending: "i-left" };
      case "invalid":
        return await this.#reject(event.error);
      case "timeout":
        return await this.#reject(
          new ProtocolError(
            "timeout",
            `no hello within ${HELLO_TIMEOUT_MS / 1000} seconds`,
          ),
        );
      case "ended":
        await wire.close();
        return failed(
          `${peer} closed the connection without saying goodbye (its ` +
            `program may have stopped or crashed).${this.#expected}`,
        );
      case "lost":
        await wire.close();
        return failed(
          `Lost ${peer}: ` +
            describeNetworkError(event.error, wire.conn.remoteAddr),
        );
      case "frame":
        // Only an error frame gets here. Never answer an error with one.
        await wire.close();
        if (event.frame.type === "error") {
          return failed(
            `${peer} ended the chat with an error: ` +
              `${sanitize(event.frame.message)} (${event.frame.code})`,
          );
        }
        return failed(`${peer} sent an unexpected "${event.frame.type}".`);
    }
  }

  /**
   * The peer broke a rule: tell it which in an error frame, hang up, and
   * say what happened in one sentence.
   */
  async #reject(problem: ProtocolError, advice?: string): Promise<Outcome> {
    // A stranger that never said a proper hello may be another program
    // altogether (netcat, a web browser, ...): tell it what we speak.
    const pointer = advice ?? (this.#greeted ? "" : STRANGER_ADVICE);
    const frame: Frame = {
      type: "error",
      code: problem.code,
      message: `You sent ${problem.detail}. ${pointer}`.trim(),
    };
    await this.#side.wire.close(frame);
    return failed(
      `${this.#peer} sent ${problem.detail}; told it so and hung ` +
        `up.${this.#expected}`,
    );
  }
}

const STRANGER_ADVICE = `This program speaks ${PROTOCOL} version ${VERSION}, ` +
  `one JSON object a line; see chat/README.md.`;

function failed(reason: string): Outcome {
  return { ending: "failed", reason };
}
