/**
 * The chat's wire protocol: what travels on the TCP connection, and how we
 * read it without trusting the other side. `chat/README.md` describes the
 * same rules for someone writing a compatible program in another language;
 * this file is the reference the README was written from.
 *
 * A TCP connection carries a stream of bytes, not messages: one `write` may
 * arrive in pieces, and two writes may arrive in one `read`. So every frame
 * is one JSON object on one line, ended by a newline ("\n"). JSON never
 * contains a raw newline (inside strings it is written `\n`), so the newline
 * tells the reader exactly where each frame ends.
 *
 * Reading is done in three steps, each with its own limit or check:
 *
 *   bytes  --(readLines: at most 32 KiB a line, strict UTF-8)-->  lines
 *   lines  --(std's JsonParseStream)-->                           JSON values
 *   values --(parseFrame: exact keys, types and sizes)-->         frames
 *
 * @module
 */

import { JsonParseStream, JsonStringifyStream } from "@std/json";
import type { JsonValue } from "@std/json";
import { concat } from "@std/bytes/concat";
import { formatAddress } from "../chapters/_shared/plumbing.ts";

// ---------------------------------------------------------------------------
// The rules, as numbers

/** The protocol's name and version, sent in every hello. */
export const PROTOCOL = "deno-chat";
export const VERSION = 1;

/** The longest line we accept, in bytes, not counting its "\n". */
export const MAX_LINE_BYTES = 32 * 1024;

/** The longest message text, in bytes of UTF-8. */
export const MAX_TEXT_BYTES = 4096;

/** A username: 1 to 32 ASCII letters, digits, "_", "." or "-". */
export const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;

/** How long each side waits for the other's hello, in milliseconds. */
export const HELLO_TIMEOUT_MS = 10_000;

// A message text of 4096 bytes, each a control character that JSON writes
// as "\u001b" (6 bytes), takes 24 KiB on the wire: every valid frame fits
// in a 32 KiB line.

// ---------------------------------------------------------------------------
// The frames

/** The four kinds of frame. Each is one JSON object on one line. */
export type Frame =
  | { type: "hello"; protocol: string; version: number; username: string }
  | { type: "message"; text: string }
  | { type: "bye" }
  | { type: "error"; code: ErrorCode; message: string };

/** Why a side gave up on the other; sent in error frames. */
export type ErrorCode =
  | "busy" // the server is already chatting with someone
  | "not-json" // a line that is not JSON
  | "bad-utf8" // bytes that are not UTF-8
  | "too-long" // a line longer than MAX_LINE_BYTES
  | "bad-frame" // a JSON value that is not a valid frame
  | "wrong-protocol" // a hello for another protocol or version
  | "unexpected" // a frame at the wrong moment (message before hello...)
  | "out-of-turn" // a message while it was the other side's turn
  | "name-taken" // the client chose the server's own username
  | "timeout"; // no hello in time

/** The hello each side sends first. */
export function hello(username: string): Frame {
  return { type: "hello", protocol: PROTOCOL, version: VERSION, username };
}

/**
 * Something the peer did wrong. `detail` completes the sentence "the peer
 * sent ...", as in "a line that is not JSON".
 */
export class ProtocolError extends Error {
  constructor(readonly code: ErrorCode, readonly detail: string) {
    super(`sent ${detail}`);
    this.name = "ProtocolError";
  }
}

/** The exact keys of each frame type, in the order the README lists them. */
const KEYS: Record<Frame["type"], string[]> = {
  hello: ["type", "protocol", "version", "username"],
  message: ["type", "text"],
  bye: ["type"],
  error: ["type", "code", "message"],
};

const encoder = new TextEncoder();

/**
 * Checks that a JSON value is exactly one of the four frames: an object
 * with exactly the right keys, each of the right type and size. Anything
 * else throws a ProtocolError that says what was wrong.
 */
export function parseFrame(value: JsonValue): Frame {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("bad-frame", "a frame that is not a JSON object");
  }
  const type = value.type;
  if (typeof type !== "string") {
    throw new ProtocolError("bad-frame", 'a frame without a "type"');
  }
  if (!Object.hasOwn(KEYS, type)) {
    throw new ProtocolError(
      "bad-frame",
      `a frame of unknown type ${quote(type)}`,
    );
  }
  // A hello for another protocol, or a later version of this one, may
  // have other keys: say what it is before checking the keys.
  if (
    type === "hello" &&
    (value.protocol !== PROTOCOL || value.version !== VERSION)
  ) {
    throw new ProtocolError(
      "wrong-protocol",
      `a hello for protocol ${quote(value.protocol)} version ` +
        `${quote(value.version)} (this program speaks ${PROTOCOL} version ` +
        `${VERSION})`,
    );
  }
  const expected = KEYS[type as Frame["type"]];
  const keys = Object.keys(value);
  if (
    keys.length !== expected.length ||
    !keys.every((key) => expected.includes(key))
  ) {
    const list = expected.map((key) => `"${key}"`).join(", ");
    throw new ProtocolError(
      "bad-frame",
      `a "${type}" frame whose keys are not exactly ${list}`,
    );
  }

  if (type === "hello") {
    const { username } = value;
    if (typeof username !== "string" || !USERNAME.test(username)) {
      throw new ProtocolError(
        "bad-frame",
        `the username ${quote(username)}, which is not 1 to 32 letters, ` +
          `digits, "_", "." or "-"`,
      );
    }
    return hello(username);
  }
  if (type === "message") {
    return { type, text: checkText(value.text, "message text") };
  }
  if (type === "error") {
    const { code } = value;
    if (typeof code !== "string" || !/^[a-z-]{1,32}$/.test(code)) {
      throw new ProtocolError(
        "bad-frame",
        'an error frame whose "code" is not 1 to 32 of a-z and "-"',
      );
    }
    return {
      type,
      code: code as ErrorCode,
      message: checkText(value.message, "error message"),
    };
  }
  return { type: "bye" };
}

/** A text field: a string of 1 to MAX_TEXT_BYTES bytes of proper Unicode. */
function checkText(text: JsonValue | undefined, what: string): string {
  if (typeof text !== "string") {
    throw new ProtocolError("bad-frame", `a ${what} that is not a string`);
  }
  if (text === "") {
    throw new ProtocolError("bad-frame", `an empty ${what}`);
  }
  // JSON can spell half of an emoji ("\ud83d") alone; such a string is not
  // text and cannot be shown or sent on as UTF-8.
  if (!text.isWellFormed()) {
    throw new ProtocolError("bad-frame", `a ${what} with a lone surrogate`);
  }
  // A string's .length counts UTF-16 units, not bytes: "é" is 1 unit but 2
  // bytes. The limit is in bytes, like the line limit.
  const bytes = text.length <= MAX_TEXT_BYTES / 3
    ? text.length // cannot be too long: at most 3 bytes a unit
    : encoder.encode(text).length;
  if (bytes > MAX_TEXT_BYTES) {
    throw new ProtocolError(
      "bad-frame",
      `a ${what} of ${bytes} bytes (the limit is ${MAX_TEXT_BYTES})`,
    );
  }
  return text;
}

/** A short, printable rendering of a peer's value, for error messages. */
function quote(value: JsonValue | undefined): string {
  const text = JSON.stringify(value) ?? "nothing";
  // JSON.stringify escapes control characters but not C1 or bidi ones.
  const safe = text.replace(/[\u0080-\u009f\u061c\u2000-\u206f]/g, "?");
  return safe.length > 40 ? `${safe.slice(0, 37)}...` : safe;
}

// ---------------------------------------------------------------------------
// Reading lines, with a limit

/**
 * Splits the bytes of `conn` into lines (without their "\n") and decodes
 * each one as UTF-8. Stops with a ProtocolError as soon as a line grows
 * past `maxBytes`, so a peer that sends 10 MB without a newline costs us
 * `maxBytes` of memory, not 10 MB. Ends when the peer closes.
 */
export async function* readLines(
  conn: Deno.Conn,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<string> {
  // `fatal: true` makes invalid UTF-8 an error instead of quietly turning
  // it into "\ufffd"; `ignoreBOM` keeps a byte-order mark, so that JSON
  // rejects it rather than us silently dropping it.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const buffer = new Uint8Array(64 * 1024);
  // The start of a line whose end has not arrived yet, in pieces.
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) return; // The peer closed its side.
    const chunk = buffer.subarray(0, count);
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (pendingBytes + (end - start) > maxBytes) {
        throw new ProtocolError(
          "too-long",
          `a line longer than ${maxBytes} bytes`,
        );
      }
      if (newline === -1) {
        // `buffer` is reused by the next read: keep a copy.
        pending.push(chunk.slice(start));
        pendingBytes += chunk.length - start;
        break;
      }
      const piece = chunk.subarray(start, newline);
      const line = pending.length === 0 ? piece : concat([...pending, piece]);
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      let text: string;
      try {
        text = decoder.decode(line);
      } catch {
        throw new ProtocolError("bad-utf8", "a line that is not valid UTF-8");
      }
      yield text;
    }
  }
}

// ---------------------------------------------------------------------------
// A connection that speaks frames

/** What `Wire.receive` found: a frame, or why there is none. */
export type Received =
  | { kind: "frame"; frame: Frame }
  /** The peer broke the rules; we should tell it and hang up. */
  | { kind: "invalid"; error: ProtocolError }
  /** The peer closed the connection (it sent nothing more). */
  | { kind: "ended" }
  /** The connection failed (reset, ...). */
  | { kind: "lost"; error: unknown };

/**
 * A TCP connection that sends and receives frames. Nothing here throws:
 * `receive` reports problems as values, and `send` never fails (if the
 * connection is gone, the next `receive` says so).
 */
export class Wire {
  readonly conn: Deno.TcpConn;
  /** The peer's address, like `127.0.0.1:51234`, for messages. */
  readonly address: string;
  #frames: ReadableStreamDefaultReader<JsonValue> | undefined;
  #writer: WritableStreamDefaultWriter<Frame>;
  #sent: Promise<void>;
  #closing: Promise<void> | undefined;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.address = formatAddress(conn.remoteAddr);
    // Sending: frames -> JSON text + "\n" -> UTF-8 bytes -> the socket.
    // `preventClose` leaves closing the connection to `close` below.
    const frames = new JsonStringifyStream();
    this.#sent = frames.readable
      .pipeThrough(new TextEncoderStream())
      .pipeTo(conn.writable, { preventClose: true })
      .catch(() => {}); // A failed write shows up as a failed read.
    this.#writer = frames.writable.getWriter();
  }

  /** Sends one frame (queued in order; does not wait for the network). */
  send(frame: Frame): void {
    this.#writer.write(frame).catch(() => {});
  }

  /** Waits for the next frame from the peer, or for why none will come. */
  async receive(): Promise<Received> {
    // Started on first use, so that a connection we only refuse (busy)
    // is never read by anything but `close`.
    this.#frames ??= ReadableStream.from(readLines(this.conn))
      .pipeThrough(new JsonParseStream())
      .getReader();
    let value: JsonValue;
    try {
      const result = await this.#frames.read();
      if (result.done) return { kind: "ended" };
      value = result.value;
    } catch (error) {
      if (error instanceof ProtocolError) return { kind: "invalid", error };
      if (error instanceof SyntaxError) {
        const problem = new ProtocolError(
          "not-json",
          "a line that is not JSON",
        );
        return { kind: "invalid", error: problem };
      }
      return { kind: "lost", error };
    }
    try {
      return { kind: "frame", frame: parseFrame(value) };
    } catch (error) {
      if (error instanceof ProtocolError) return { kind: "invalid", error };
      throw error;
    }
  }

  /**
   * Sends `last` (a bye or an error), then closes the connection politely:
   * our side first (the peer reads end-of-file after our last frame), then
   * we read and drop what the peer still sends until it closes too. Closing
   * with unread bytes would make the operating system reset the connection,
   * which can destroy our last frame before the peer reads it. Takes at most
   * about two seconds, whatever the peer does.
   */
  close(last?: Frame): Promise<void> {
    this.#closing ??= this.#close(last);
    return this.#closing;
  }

  async #close(last: Frame | undefined): Promise<void> {
    if (last !== undefined) this.send(last);
    this.#writer.close().catch(() => {});
    await within(this.#sent, 1500);
    try {
      await this.conn.closeWrite();
      await within(this.#drain().catch(() => {}), 500);
    } catch {
      // Already closed or reset by the peer: nothing left to be polite to.
    }
    try {
      this.conn.close(); // Also ends a read still waiting in `receive`.
    } catch {
      // Already closed.
    }
  }

  /** Reads and drops up to 1 MiB, until the peer closes. */
  async #drain(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    for (let total = 0; total < 1024 * 1024;) {
      const count = await this.conn.read(buffer);
      if (count === null) return;
      total += count;
    }
  }
}

/** Waits for `promise`, but no longer than `ms` milliseconds. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
