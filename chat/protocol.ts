/**
 * The chat's frames on the wire, and how we read them without trusting the
 * other side. chat/README.md describes the same rules for someone writing a
 * compatible program in another language.
 *
 * TCP carries a stream of bytes, not messages: one write may arrive in
 * pieces, two writes may arrive in one read. So each frame is one JSON
 * object on one line, ended by a newline, which tells the reader where the
 * frame ends however the network cut the bytes up. JSON text may hold line
 * breaks between its parts, so a frame must be COMPACT JSON, as
 * JSON.stringify writes it: no line break anywhere (one inside a string is
 * written as the two characters `\n`).
 *
 * @module
 */

// The protocol's name and version, sent in every hello.
export const PROTOCOL = "deno-chat";
export const VERSION = 1;
// The longest line we accept, in bytes, not counting its "\n". A message of
// 4096 bytes, each a control character that JSON writes as "\u001b" (6
// bytes), takes 24 KiB: every frame fits, unless padded with whitespace.
export const MAX_LINE_BYTES = 32 * 1024;
export const MAX_TEXT_BYTES = 4096; // the longest text, in bytes of UTF-8
export const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;
export const HELLO_TIMEOUT_MS = 10_000; // how long each side waits for a hello

// The four frames. The codes of error frames are listed in chat/README.md.
export type Frame =
  | { type: "hello"; protocol: string; version: number; username: string }
  | { type: "message"; text: string }
  | { type: "bye" }
  | { type: "error"; code: string; message: string };

export function hello(username: string): Frame {
  return { type: "hello", protocol: PROTOCOL, version: VERSION, username };
}

/** The peer broke a rule. `detail` ends the sentence "You sent ...". */
export class ProtocolError extends Error {
  constructor(readonly code: string, readonly detail: string) {
    super(detail);
  }
}
const bad = (detail: string) => new ProtocolError("bad-frame", detail);

// The exact keys of each type of frame.
const KEYS: Record<string, string[]> = {
  hello: ["type", "protocol", "version", "username"],
  message: ["type", "text"],
  bye: ["type"],
  error: ["type", "code", "message"],
};

/** Reads one line as a frame, checking everything; else a ProtocolError. */
export function parseFrame(line: string): Frame {
  let value;
  try {
    // A line of 32768 bytes can nest 16384 lists ("[[[..."). JSON.parse reads
    // them without recursion; a reviver function would recurse into every
    // level and overflow the stack. So we check the values afterwards.
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError("not-json", "a line that is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("a frame that is not a JSON object");
  }
  // A number too large for JavaScript, such as 1e400, reads as Infinity
  // (and would be written back as null). A frame holds strings and numbers
  // only: a value that is an object or a list is refused below.
  if (Object.values(value).some((v) => v === Infinity || v === -Infinity)) {
    throw bad("a number too large for JavaScript");
  }
  const type = value.type;
  if (typeof type !== "string") throw bad('a frame without a "type"');
  if (!Object.hasOwn(KEYS, type)) {
    throw bad(`a frame of unknown type ${quote(type)}`);
  }
  // A hello for another protocol, or another version, may have other keys:
  // say what it is before checking the keys. JSON has one kind of number:
  // 1.0 and 1e0 are the number one. "1" and true are no numbers at all.
  const { protocol, version } = value;
  const otherProtocol = typeof protocol === "string" && protocol !== PROTOCOL;
  const otherVersion = typeof version === "number" && version !== VERSION;
  if (type === "hello" && (otherProtocol || otherVersion)) {
    const got = `protocol ${quote(protocol)} version ${quote(version)}`;
    const speak = `this program speaks ${PROTOCOL} version ${VERSION}`;
    throw new ProtocolError("wrong-protocol", `a hello for ${got} (${speak})`);
  }
  const keys = Object.keys(value);
  const known = keys.every((key) => KEYS[type].includes(key));
  if (!known || keys.length !== KEYS[type].length) {
    const list = KEYS[type].map((key) => `"${key}"`).join(", ");
    throw bad(`a "${type}" frame whose keys are not exactly ${list}`);
  }
  if (type === "hello" && (protocol !== PROTOCOL || version !== VERSION)) {
    throw bad('a hello whose "protocol" is no string or "version" no number');
  }
  const { username, code } = value;
  const named = typeof username === "string" && USERNAME.test(username);
  if (type === "hello" && !named) {
    const rule = `1 to 32 letters, digits, "_", "." or "-"`;
    throw bad(`the username ${quote(username)}, which is not ${rule}`);
  }
  if (type === "message") checkText(value.text, "message text");
  if (type === "error") {
    if (!(typeof code === "string" && /^[a-z0-9-]{1,32}$/.test(code))) {
      throw bad('an error frame whose "code" is not 1 to 32 of a-z, 0-9 and -');
    }
    checkText(value.message, "error message");
  }
  // JSON.parse keeps only the last of repeated keys: {"text":"a","text":"b"}
  // reads as {"text":"b"}. So count the keys in the line itself: each is a
  // string followed by a colon. (The values are no objects: checked above.)
  const strings = line.match(/"(?:[^"\\]|\\.)*"\s*:?/g) ?? [];
  const written = strings.filter((string) => string.endsWith(":")).length;
  if (written !== keys.length) throw bad("a frame with a repeated key");
  return value;
}

/** A text: a string of 1 to MAX_TEXT_BYTES bytes, all whole characters. */
function checkText(text: unknown, what: string): void {
  if (typeof text !== "string") throw bad(`a ${what} that is not a string`);
  if (text === "") throw bad(`an empty ${what}`);
  // JSON can spell half of an emoji ("\ud83d") alone: that is not text.
  if (!text.isWellFormed()) throw bad(`a ${what} with a lone surrogate`);
  // A string's length counts UTF-16 units, not bytes: "é" is 1 unit, 2 bytes.
  const bytes = encoder.encode(text).length;
  if (bytes > MAX_TEXT_BYTES) {
    throw bad(`a ${what} of ${bytes} bytes (the limit is ${MAX_TEXT_BYTES})`);
  }
}

/** A peer's value in a sentence: as JSON, at most 40 characters. */
function quote(value: unknown): string {
  // Cut by characters (code points), never inside one: slice() counts UTF-16
  // units and could keep half of an emoji, a lone surrogate.
  const characters = [...JSON.stringify(value) ?? "nothing"];
  if (characters.length <= 40) return characters.join("");
  return `${characters.slice(0, 37).join("")}...`;
}

// ---------------------------------------------------------------------------
// Reading and writing frames

/** A connection to the peer, and the bytes read but not used yet. */
export interface Wire {
  conn: Deno.TcpConn;
  address: string; // the peer's, as 127.0.0.1:51234 or [::1]:51234
  buffer: Uint8Array; // room for one line and its "\n"
  filled: number; // how many bytes at the start of buffer hold data
}

export function openWire(conn: Deno.TcpConn): Wire {
  const { hostname, port } = conn.remoteAddr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const buffer = new Uint8Array(MAX_LINE_BYTES + 1);
  return { conn, address: `${host}:${port}`, buffer, filled: 0 };
}

// `fatal` makes bytes that are not UTF-8 an error instead of "\ufffd";
// `ignoreBOM` keeps a byte-order mark, which JSON then refuses.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * The next line from the peer (without its "\n"), or null when the peer has
 * closed. The book's clients (all but fragmented.py) call recv(1024) once
 * and take what comes as one whole message; a read returns whatever has
 * arrived, so we read until the newline. A line longer than MAX_LINE_BYTES
 * is refused as soon as the buffer is full: a peer that sends 10 MB without
 * a newline costs us 32 KiB.
 */
async function readLine(wire: Wire): Promise<string | null> {
  let end = wire.buffer.subarray(0, wire.filled).indexOf(0x0a);
  while (end === -1) {
    const full = wire.filled === wire.buffer.length; // 32769 bytes, no "\n"
    if (full) {
      throw new ProtocolError("too-long", "a line longer than 32768 bytes");
    }
    const count = await wire.conn.read(wire.buffer.subarray(wire.filled));
    if (count === null) return null;
    const read = wire.buffer.subarray(wire.filled, wire.filled + count);
    if (read.indexOf(0x0a) !== -1) end = wire.filled + read.indexOf(0x0a);
    wire.filled += count;
  }
  const line = wire.buffer.slice(0, end);
  wire.buffer.copyWithin(0, end + 1, wire.filled); // keep what follows
  wire.filled -= end + 1;
  try {
    return decoder.decode(line);
  } catch {
    throw new ProtocolError("bad-utf8", "a line that is not valid UTF-8");
  }
}

/** What the peer did: a frame, a broken rule, closed, or the network failed. */
export type Received =
  | { kind: "frame"; frame: Frame }
  | { kind: "invalid"; error: ProtocolError }
  | { kind: "ended" }
  | { kind: "lost"; error: unknown };

/** Waits for the next frame from the peer. Never throws. */
export async function receive(wire: Wire): Promise<Received> {
  try {
    while (true) {
      const line = await readLine(wire);
      if (line === null) return { kind: "ended" };
      // A line of only JSON whitespace (such as the "\r" of "\r\n") is skipped.
      if (!/^[ \t\r]*$/.test(line)) {
        return { kind: "frame", frame: parseFrame(line) };
      }
    }
  } catch (error) {
    if (error instanceof ProtocolError) return { kind: "invalid", error };
    return { kind: "lost", error };
  }
}

/** The book's sendall(): conn.write may write only part of the bytes. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let sent = 0; sent < bytes.length;) {
    sent += await conn.write(bytes.subarray(sent));
  }
}

/**
 * Sends one frame as a line of compact JSON (JSON.stringify without spaces).
 * A failure is ignored: the next receive reports the broken connection.
 */
export async function send(conn: Deno.Conn, frame: Frame): Promise<void> {
  try {
    await writeAll(conn, encoder.encode(JSON.stringify(frame) + "\n"));
  } catch {
    // Reset or closed: see above.
  }
}

function tryClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

const discard = new Uint8Array(16 * 1024); // shared: what goes here is dropped

/**
 * Sends `last` (a bye or an error frame), then closes politely: our sending
 * side first (the peer reads end-of-file after our last frame), then we read
 * and drop what the peer still sends until it closes too. Closing with
 * unread bytes would make the system reset the connection, which can destroy
 * our last frame before the peer reads it. Whatever the peer does, the
 * connection is closed after `ms` milliseconds at most; with `ms` 0, as soon
 * as our frame is out, without waiting for the peer.
 */
export async function close(conn: Deno.Conn, last?: Frame, ms = 2000) {
  const timer = ms > 0 ? setTimeout(() => tryClose(conn), ms) : undefined;
  try {
    if (last !== undefined) await send(conn, last);
    await conn.closeWrite();
    while (ms > 0 && (await conn.read(discard)) !== null) {
      // Dropped: the chat is over.
    }
  } catch {
    // Reset by the peer, or closed by the timer.
  }
  clearTimeout(timer);
  tryClose(conn);
}
