/**
 * One conversation of the checker with the student's program: the program
 * started afresh, our side of the TCP connection (the checker plays the
 * other end, the client or the server), everything that went each way in
 * the order it went, and the expectations a case checks, each with its
 * own deadline. A broken expectation throws a `Fail` that says what was
 * expected and what happened, in the protocol's words.
 *
 * @module
 */

import type { Arrow } from "../sequence.ts";
import { type Frame, type Parsed, parseLine } from "./frames.ts";
import { delay, NotStarted, Program } from "./program.ts";

export type Role = "server" | "client";

/** The names in every conversation: the server is alice, the client bob. */
export const SERVER_NAME = "alice";
export const CLIENT_NAME = "bob";

// How long each kind of wait lasts before it is reported as a timeout.
export const START_MS = 10_000; // to listen, or to connect
export const REPLY_MS = 3_000; // for a frame or a line we expect
export const QUIET_MS = 1_000; // "nothing for 1 s": a measured observation

/** An expectation that did not hold. */
export class Fail extends Error {
  /** The id of the earlier step whose rule failed here, if it is not ours. */
  needs?: string;
  /** What this failure usually means, when the case's hint does not fit. */
  hint?: string;
  constructor(
    readonly expected: string,
    public happened: string,
  ) {
    super(`${expected} / ${happened}`);
  }
}

/** What the program did next, as the checker saw it on the connection. */
export type Received =
  | { kind: "line"; text: string; parsed: Parsed; ms: number }
  | { kind: "eof"; ms: number }
  | { kind: "reset"; ms: number }
  | { kind: "flood"; ms: number }
  | { kind: "timeout"; ms: number };

/**
 * Frames of ours that the program has not answered go at least this far
 * apart, so that its reads get them one by one: only the cases that glue
 * frames on purpose (framing, out-of-turn) test a program's framing. The
 * program reads our frame within microseconds of its arrival, but on a
 * busy machine it may wait for the processor: 150 ms, or half the time it
 * took to start, if longer (a Python program that took 1.4 s to start, on
 * a loaded machine, was seen not to have read a frame 223 ms later), at
 * most 1 s. (Asking Linux whether it has read it, in /proc/net/tcp, was
 * tried: a reading costs 6 to 20 ms with the thousand sockets a class run
 * leaves, and doubled the system time of a class.)
 */
const GAP_MS = 150;
const MAX_GAP_MS = 1_000;
/** Between the pieces of a line sent in several writes (sendPieces). */
const PIECE_GAP_MS = 20;
const MAX_LINE_READ = 64 * 1024; // longer without "\n": the program floods
const MAX_BYTES_READ = 4 * 1024 * 1024;
const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Our side of one TCP connection with the program. */
class Peer {
  #conn: Deno.TcpConn;
  #items: Received[] = [];
  #wake = () => {};
  #closed = false;
  #lastSend = -Infinity;
  #heardSince = true; // has the program done anything since our last send?
  readonly localPort: number;

  constructor(
    conn: Deno.TcpConn,
    readonly record: (arrow: Omit<Arrow, "ms">) => number,
    readonly side: "left" | "right",
    readonly now: () => number,
    readonly tag = "",
  ) {
    this.#conn = conn;
    conn.setNoDelay(true); // each write its own packet, for split frames
    this.localPort = conn.localAddr.port;
    this.#read();
  }

  get #theirs(): "left" | "right" {
    return this.side === "left" ? "right" : "left";
  }

  #push(item: Received) {
    this.#heardSince = true;
    this.#items.push(item);
    this.#wake();
  }

  async #read() {
    let buffer = new Uint8Array(0);
    let total = 0;
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const count = await this.#conn.read(chunk);
        if (count === null) break;
        total += count;
        const joined = new Uint8Array(buffer.length + count);
        joined.set(buffer);
        joined.set(chunk.subarray(0, count), buffer.length);
        let start = 0;
        for (let end; (end = joined.indexOf(0x0a, start)) !== -1;) {
          this.#line(joined.subarray(start, end));
          start = end + 1;
        }
        buffer = joined.slice(start);
        if (buffer.length > MAX_LINE_READ || total > MAX_BYTES_READ) {
          this.record({
            from: this.#theirs,
            label: "(more bytes than a chat)",
          });
          this.#push({ kind: "flood", ms: this.now() });
          this.close();
          return;
        }
      }
      if (buffer.length > 0) this.#line(buffer, false);
      this.#push({ kind: "eof", ms: this.now() });
      this.record({ from: this.#theirs, label: "(end of file: closed)" });
    } catch {
      if (this.#closed) return; // we closed it ourselves
      this.#push({ kind: "reset", ms: this.now() });
      this.record({ from: this.#theirs, label: "(connection reset)" });
    }
  }

  /** One line from the program (without its "\n"). */
  #line(bytes: Uint8Array, ended = true) {
    let text: string;
    let parsed: Parsed;
    try {
      text = strict.decode(bytes).replace(/\r$/, "");
      parsed = parseLine(text);
    } catch {
      text = new TextDecoder().decode(bytes);
      parsed = { problem: "it is not valid UTF-8" };
    }
    if (ended && /^[ \t]*$/.test(text)) return; // a blank line is skipped
    if (!ended) parsed = { ...parsed, problem: "it has no newline at its end" };
    this.record({ from: this.#theirs, label: text, note: this.tag });
    this.#push({ kind: "line", text, parsed, ms: this.now() });
  }

  /** The next thing the program did, or a timeout after `ms`. */
  async next(ms: number): Promise<Received> {
    const deadline = performance.now() + ms;
    while (this.#items.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) return { kind: "timeout", ms: this.now() };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#items.shift()!;
  }

  /** Writes bytes as one write; false if the connection is broken. */
  async write(bytes: Uint8Array): Promise<boolean> {
    try {
      for (let sent = 0; sent < bytes.length;) {
        sent += await this.#conn.write(bytes.subarray(sent));
      }
      return true;
    } catch {
      return false;
    }
  }

  /** How far apart our frames go: GAP_MS, or more for a slow program. */
  gapMs = GAP_MS;

  /** Gives the program gapMs to read our last frame, if it has not acted. */
  async settle() {
    const wait = this.#lastSend + this.gapMs - performance.now();
    if (!this.#heardSince && wait > 0) await delay(wait);
  }

  /**
   * Sends bytes, drawn as `label`. A program that does not read could block
   * a large write for ever: after REPLY_MS we go on, and it goes on alone.
   */
  async send(bytes: Uint8Array, label: string, note?: string) {
    await this.sendPieces([bytes], label, note);
  }

  /**
   * Sends pieces, one write each, drawn as one arrow: PIECE_GAP_MS apart,
   * and gapMs before the last, so that the program reads that one alone.
   */
  async sendPieces(pieces: Uint8Array[], label: string, note?: string) {
    await this.settle();
    this.#lastSend = performance.now();
    this.#heardSince = false;
    this.record({ from: this.side, label, note: note ?? this.tag });
    const sent = (async () => {
      for (const [index, piece] of pieces.entries()) {
        if (index > 0) {
          await delay(index < pieces.length - 1 ? PIECE_GAP_MS : this.gapMs);
        }
        if (!(await this.write(piece))) return false;
      }
      return true;
    })();
    const outcome = await Promise.race([sent, delay(REPLY_MS).then(() => 0)]);
    if (outcome === false) {
      this.record({ from: this.side, label: "(could not send: reset)" });
    } else if (outcome === 0) {
      this.record({ from: this.side, label: "(not all sent: nobody reads)" });
    }
  }

  async closeWrite() {
    await this.#conn.closeWrite().catch(() => {});
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** Ports for servers: below Linux's range for outgoing connections. */
const portsTaken = new Set<number>();
function pickPort(): number {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (portsTaken.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // in use
    }
    portsTaken.add(port);
    return port;
  }
  throw new Error("no free port between 20000 and 32000");
}

/** The student's program, how to start it and where. */
export interface Subject {
  command: string[];
  cwd: string;
  /**
   * Files the command names in the student's folder (cwd), if known (with
   * --class: each argument {}/PATH): one missing is said by its name.
   */
  files?: string[];
}

export class Case {
  readonly arrows: Arrow[] = [];
  /** Lines we type, frames that go, lines it prints: what the picture shows. */
  readonly you: string;
  readonly me: string;
  /** "your server" or "your client". */
  readonly yours: string;
  program?: Program;
  peer?: Peer;
  port = 0;
  /**
   * The program, a server, has not said hello within REPLY_MS of the
   * connection: the checker went on without it, and skips its hello when
   * it comes (step 2 alone judges when it comes).
   */
  helloLate = false;
  #t0 = performance.now();
  #others: Peer[] = [];
  #missing: { test: (text: string) => boolean; after: number }[] = [];

  constructor(readonly role: Role, readonly subject: Subject) {
    this.you = role === "server" ? SERVER_NAME : CLIENT_NAME;
    this.me = role === "server" ? CLIENT_NAME : SERVER_NAME;
    this.yours = `your ${role}`;
  }

  /** Milliseconds since this conversation began. */
  now = () => performance.now() - this.#t0;

  /** The program's side in the picture: the client left, the server right. */
  get programSide(): "left" | "right" {
    return this.role === "server" ? "right" : "left";
  }
  get mySide(): "left" | "right" {
    return this.role === "server" ? "left" : "right";
  }

  record = (arrow: Omit<Arrow, "ms">): number =>
    this.arrows.push({ ...arrow, ms: Math.round(this.now()) });

  // -------------------------------------------------------------------------
  // Starting the program and the connection

  /**
   * Starts the program in its role and connects to it (it is the server) or
   * waits for it to connect (it is the client). `typed` is typed into it at
   * once, before any connection.
   */
  async open(options: { typed?: string[] } = {}): Promise<void> {
    for (let attempt = 1;; attempt++) {
      const listener = this.role === "client"
        ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
        : undefined;
      this.port = listener ? listener.addr.port : pickPort();
      const args = [
        this.role,
        "--host",
        "127.0.0.1",
        "--port",
        `${this.port}`,
        "--username",
        this.you,
      ];
      try {
        this.program = new Program(
          [...this.subject.command, ...args],
          this.subject.cwd,
          this.#t0,
        );
      } catch (error) {
        listener?.close();
        if (error instanceof NotStarted) throw new Fail("", error.message);
        throw error;
      }
      this.#followOutput();
      for (const line of options.typed ?? []) await this.type(line);
      if (listener) {
        this.peer = await this.#accept(listener);
        this.peer.gapMs = this.#gap();
        return;
      }
      const peer = await this.#connect(attempt < 3);
      if (peer) {
        this.peer = peer;
        this.peer.gapMs = this.#gap();
        return;
      }
      await this.program.stop(); // its port was taken meanwhile: again
    }
  }

  /** GAP_MS, or half the time the program took to start (at most 1 s). */
  #gap(): number {
    return Math.min(MAX_GAP_MS, Math.max(GAP_MS, this.now() / 2));
  }

  /** Shows what the program prints in the picture, as it prints it. */
  async #followOutput() {
    const program = this.program!;
    let seen = 0;
    while (seen < 40) {
      const line = await program.waitForLine(() => true, 60_000, seen);
      if (typeof line === "string") return;
      seen = program.stdout.indexOf(line) + 1;
      this.record({
        from: this.programSide,
        label: `prints: ${line.text}`,
        local: true,
      });
    }
  }

  /** Connects to the program's server, retrying while it is refused. */
  async #connect(retryBusyPort: boolean): Promise<Peer | undefined> {
    const deadline = performance.now() + START_MS;
    const address = `127.0.0.1:${this.port}`;
    let wait = 10;
    while (true) {
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.port,
        });
        this.record({ from: this.mySide, label: "(connects)" });
        return new Peer(conn, this.record, this.mySide, this.now);
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
      }
      const program = this.program!;
      if (program.status) {
        const busy = program.stderr.some((line) =>
          /in use|EADDRINUSE|already/i.test(line.text)
        );
        if (busy && retryBusyPort) return undefined;
        throw new Fail(
          `your program, started as a server, listens on ${address}`,
          `it ended before listening there (${await this.#ending()})`,
        );
      }
      if (performance.now() > deadline) {
        throw new Fail(
          `your program, started as a server, listens on ${address} within ${
            START_MS / 1000
          } s`,
          `nothing accepted connections there for ${START_MS / 1000} s`,
        );
      }
      // Event-driven enough: retry soon, sooner if it prints or ends.
      await Promise.race([
        delay(wait),
        program.ended,
        program.waitForLine(() => true, wait, program.stdout.length),
      ]);
      wait = Math.min(wait * 2, 50);
    }
  }

  /** Waits for the program, started as a client, to connect to us. */
  async #accept(listener: Deno.TcpListener): Promise<Peer> {
    const address = `127.0.0.1:${this.port}`;
    const timeout = delay(START_MS).then(() => "timeout" as const);
    const ended = this.program!.ended.then(() => "ended" as const);
    const accepted = listener.accept().catch(() => "ended" as const);
    const result = await Promise.race([accepted, ended, timeout]);
    listener.close();
    if (typeof result === "string") {
      accepted.then((conn) => typeof conn !== "string" && conn.close());
      throw new Fail(
        `your program, started as a client, connects to ${address}`,
        result === "timeout"
          ? `no connection came for ${START_MS / 1000} s`
          : `it ended without connecting (${await this.#ending()})`,
      );
    }
    this.record({ from: this.programSide, label: "(connects)" });
    return new Peer(result, this.record, this.mySide, this.now);
  }

  /**
   * A second client, as carol, while the first chat goes on (the program is
   * the server): its frames are drawn with the note "carol".
   */
  async connectAgain(): Promise<Peer> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
      throw new Fail(
        `${this.yours} still listens during its chat, to answer newcomers`,
        `carol's connection was refused: ${this.yours} stopped listening ` +
          "when its chat began",
      );
    }
    this.record({
      from: this.mySide,
      label: "(carol connects)",
      note: "carol",
    });
    const peer = new Peer(conn, this.record, this.mySide, this.now, "carol");
    peer.gapMs = this.peer!.gapMs;
    this.#others.push(peer);
    return peer;
  }

  /** How the program ended: exit code and the end of its stderr. */
  async #ending(): Promise<string> {
    const program = this.program!;
    await Promise.race([program.ended, delay(500)]);
    if (!program.status) return "it is still running";
    const absent = (this.subject.files ?? []).find((path) => {
      try {
        Deno.statSync(path);
        return false;
      } catch {
        return true;
      }
    });
    if (absent !== undefined) {
      const folder = this.subject.cwd.replace(/\/*$/, "/");
      const name = absent.startsWith(folder)
        ? absent.slice(folder.length)
        : absent;
      return `there is no file ${name} in ${this.subject.cwd}`;
    }
    const { code, signal } = program.status;
    let text = signal ? `stopped by ${signal}` : `exit code ${code}`;
    const missing = /No such file or directory/i.test(
      program.stderr.map((line) => line.text).join("\n"),
    );
    if (code === 127 && missing) {
      return `the command ${this.subject.command[0]} was not found`;
    }
    if (program.problem) text = `stopped by the checker: it ${program.problem}`;
    const last = program.stderr.map((l) => l.text).filter((t) => t.trim())
      .slice(-3).map((t) => clip(t, 100));
    if (last.length > 0) text += `; the end of its stderr: ${last.join(" | ")}`;
    return text;
  }

  // -------------------------------------------------------------------------
  // What the checker does

  /** Types a line into the program (as a person would, Enter included). */
  async type(line: string) {
    await this.peer?.settle(); // our last frame read first, then the line
    this.record({
      from: this.programSide,
      label: `typed: ${line}`,
      local: true,
    });
    await this.program!.type(line + "\n");
  }

  /** Ends the program's input, as Ctrl-D at a terminal. */
  async endInput() {
    this.record({
      from: this.programSide,
      label: "input ends (Ctrl-D)",
      local: true,
    });
    await this.program!.endInput();
  }

  /** Sends a frame (one write), by default on the main connection. */
  async send(frame: Frame, peer = this.peer!) {
    const text = JSON.stringify(frame);
    await peer.send(encoder.encode(text + "\n"), text);
  }

  /**
   * Sends bytes in pieces of `size`, one write each, the last one apart
   * (see Peer.sendPieces), drawn as `label`.
   */
  async sendInPieces(data: string, size: number, label: string) {
    const bytes = encoder.encode(data);
    const pieces = [];
    for (let at = 0; at < bytes.length; at += size) {
      pieces.push(bytes.subarray(at, at + size));
    }
    await this.peer!.sendPieces(pieces, label, `in ${pieces.length} writes`);
  }

  /** Sends bytes as they are, in one write, drawn as `label`. */
  async sendRaw(data: string | Uint8Array, label?: string) {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    await this.peer!.send(
      bytes,
      label ?? (typeof data === "string" ? data.replace(/\n$/, "") : ""),
    );
  }

  /**
   * Sends bytes one per write, each in its own packet, with a pause of
   * 100 ms in the middle: a program that takes what one read returns as
   * a whole frame gets the first half alone.
   */
  async sendSplit(data: string, label: string) {
    const bytes = encoder.encode(data);
    this.record({ from: this.mySide, label, note: "one byte per packet" });
    const middle = bytes.length >> 1;
    for (let i = 0; i < bytes.length; i++) {
      if (!(await this.peer!.write(bytes.subarray(i, i + 1)))) return;
      await delay(i === middle ? 100 : 1);
    }
  }

  // -------------------------------------------------------------------------
  // What the checker expects

  /**
   * The next thing the program does on the connection (a late hello of
   * the program's skipped: see helloLate).
   */
  async receive(ms = REPLY_MS, peer = this.peer!): Promise<Received> {
    const deadline = performance.now() + ms;
    while (true) {
      const item = await peer.next(deadline - performance.now());
      const late = this.helloLate && peer === this.peer &&
        item.kind === "line" && item.parsed.frame?.type === "hello";
      if (!late) return item;
      this.helloLate = false;
    }
  }

  /** The next thing the program does, timed from now (for describe). */
  next(ms = REPLY_MS, peer = this.peer!): Promise<Received> {
    this.#since = this.now();
    return this.receive(ms, peer);
  }

  /** A sentence for what the program did (for "Happened: ..."). */
  async describe(item: Received): Promise<string> {
    const who = this.yours;
    switch (item.kind) {
      case "line": {
        const what = item.parsed.frame && !item.parsed.problem
          ? `${who} sent ${clip(item.text, 120)}`
          : `${who} sent ${
            clip(item.text, 120)
          }, which is not a valid frame: ${item.parsed.problem}`;
        return what;
      }
      case "timeout":
        return `${who} sent nothing for ${seconds(item.ms - this.#since)}`;
      case "flood":
        return `${who} sent over 64 KiB without a newline`;
      case "reset":
        return `the connection was reset (${who} closed it with unread ` +
          `data, or crashed)${await this.#endedNote()}`;
      case "eof":
        return `${who} closed the connection${await this.#endedNote()}`;
    }
  }

  #since = 0;

  async #endedNote(): Promise<string> {
    await Promise.race([this.program!.ended, delay(300)]);
    return this.program!.status ? `; ${await this.#ending()}` : "";
  }

  /**
   * The next frame must be a valid one of `type` (and pass `check`);
   * returns it.
   */
  async expectFrame(
    type: string,
    expected: string,
    check: (frame: Frame) => boolean = () => true,
    ms = REPLY_MS,
    peer = this.peer!,
  ): Promise<Frame> {
    return await this.frameOf(await this.next(ms, peer), type, expected, check);
  }

  /** `item` must be a valid frame of `type` that passes `check`. */
  async frameOf(
    item: Received,
    type: string,
    expected: string,
    check: (frame: Frame) => boolean = () => true,
  ): Promise<Frame> {
    if (item.kind === "line") {
      const { frame, problem } = item.parsed;
      if (frame && frame.type === type && !problem && check(frame)) {
        return frame;
      }
    }
    throw new Fail(expected, await this.describe(item));
  }

  /**
   * The program's hello, leniently: any object whose "type" is "hello"
   * (step 2 alone judges the rest of it).
   */
  async expectHello(expected: string): Promise<void> {
    const item = await this.next();
    if (item.kind !== "line" || item.parsed.frame?.type !== "hello") {
      throw new Fail(expected, await this.describe(item));
    }
  }

  /**
   * The program's hello, leniently, if it comes within REPLY_MS: true. When
   * nothing came, false, and its hello is skipped whenever it comes (it
   * may be waiting for ours: step 2 says so). Anything else fails.
   */
  async awaitHello(expected: string): Promise<boolean> {
    const item = await this.next();
    if (item.kind === "timeout") {
      this.helloLate = true;
      return false;
    }
    if (item.kind !== "line" || item.parsed.frame?.type !== "hello") {
      throw new Fail(expected, await this.describe(item));
    }
    return true;
  }

  async expectMessage(text: string, expected: string) {
    await this.expectFrame("message", expected, (f) => f.text === text);
  }

  async expectError(code: string, expected: string, peer = this.peer!) {
    const frame = await this.expectFrame(
      "error",
      expected,
      (f) => f.code === code,
      REPLY_MS,
      peer,
    );
    return frame;
  }

  /** Nothing at all may come for `ms` (a measured observation). */
  async expectQuiet(expected: string, ms = QUIET_MS) {
    const item = await this.next(ms);
    if (item.kind !== "timeout") {
      throw new Fail(
        expected,
        `after ${seconds(item.ms - this.#since)}, ${await this.describe(item)}`,
      );
    }
  }

  /** The program closes the connection now: end of file, no reset. */
  async expectClosed(expected: string, peer = this.peer!) {
    const item = await this.next(REPLY_MS, peer);
    if (item.kind !== "eof") {
      throw new Fail(expected, await this.describe(item));
    }
  }

  /**
   * The program prints a line that passes `test` (within REPLY_MS, and
   * after the lines it had printed when `since` was taken, if given).
   */
  async expectShown(
    test: string | ((text: string) => boolean),
    expected: string,
    from = 0,
  ) {
    const check = typeof test === "string"
      ? (text: string) => text === test
      : test;
    // "bob:hi" or "bob : hi" for "bob: hi": right but for the spaces
    // around the colon (a name holds none).
    const near = (text: string) =>
      typeof test === "string" &&
      text.replace(/^([\w.-]+)\s*:\s*/, "$1: ") === test;
    const line = await this.program!.waitForLine(
      (text) => check(text) || near(text),
      REPLY_MS,
      from,
    );
    if (typeof line !== "string" && check(line.text)) return line.text;
    if (typeof line !== "string") {
      throw new Fail(
        expected,
        `${this.yours} printed ${JSON.stringify(line.text)}: nearly, but ` +
          `the line is NAME, a colon, exactly one space, then TEXT`,
      );
    }
    this.#missing.push({ test: check, after: this.program!.stdout.length });
    const printed = this.program!.stdout.slice(from).map((l) => l.text)
      .slice(-3);
    const so = printed.length === 0
      ? "it printed nothing"
      : `the last it printed: ${printed.map((t) => clip(t, 60)).join(" | ")}`;
    throw new Fail(
      expected,
      line === "timeout"
        ? `no such line in ${this.yours}'s output for ${
          seconds(REPLY_MS)
        } (${so})`
        : `${this.yours} ended without printing it (${so}; ${await this
          .#ending()})`,
    );
  }

  /** How many lines the program has printed so far (for `from`). */
  get printed(): number {
    return this.program?.stdout.length ?? 0;
  }

  // -------------------------------------------------------------------------
  // The end

  /**
   * Ends the conversation: our connections closed, the program stopped.
   * Returns a sentence when a line that was missing came only at the end
   * (its output was buffered), to add to the failure.
   */
  async finish(): Promise<string | undefined> {
    await this.stop();
    const late = this.#missing.some(({ test, after }) =>
      this.program!.stdout.slice(after).some((line) => test(line.text))
    );
    if (late) {
      return "It did print it, but only when it ended: its output is probably " +
        "buffered. Flush after each line (Python: print(..., flush=True); " +
        "C: fflush(stdout); Java: System.out.flush()).";
    }
  }

  /** Closes our connections and stops the program (once). */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.peer?.close();
      for (const other of this.#others) other.close();
      await this.program?.stop();
    })();
    return this.#stopping;
  }
  #stopping: Promise<void> | undefined;

  get problem(): string | undefined {
    return this.program?.problem;
  }
}

/** `text` cut to `max` characters, control characters made visible. */
export function clip(text: string, max: number): string {
  const safe = text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
  const characters = [...safe];
  return characters.length <= max
    ? safe
    : `${characters.slice(0, max - 3).join("")}...`;
}

export const seconds = (ms: number) =>
  `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
