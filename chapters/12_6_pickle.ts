/**
 * Sending an object, safely (section 12.6, the book's `pickle.py`)
 *
 * The book sends a whole Python object, a `Person("Sarah", True)`, through
 * the echo server with `pickle`, and rebuilds it from the bytes that come
 * back. This lesson does the same with a format that can carry data but
 * never code: JSON, with a tag saying what kind of object it is. Then it
 * rebuilds the `Person` itself, after checking every part of what came back.
 *
 * Terminal 1 (the server):             Terminal 2 (this script):
 *
 *   $ deno task json-server              $ deno task pickle
 *   Listening on 127.0.0.1:12345         Sarah
 *   Connected: 127.0.0.1:50320           It is a Person: true
 *   127.0.0.1:50320 sent JSON: {"type":"Person","name":"Sarah","male":true}
 *   Disconnected: 127.0.0.1:50320 (echoed 45 bytes)
 *
 * `Sarah` is the book's output. The second line shows that what we rebuilt
 * is a real `Person` (made by its constructor, with its methods), not just
 * an object that looks like one. The line on the wire is
 * `{"type":"Person","name":"Sarah","male":true}` and a newline.
 *
 * When the reply is not a valid Person, nothing is rebuilt; one sentence
 * says why, and the exit status is 1:
 *
 *   error: Refusing the reply from 127.0.0.1:12345: it is not a valid
 *   Person ("male" must be true or false, not "yes").
 *
 * Flags: --host (default 127.0.0.1), --port (default 12345), --timeout
 * (seconds to wait for the reply, default 5).
 *
 * Why unpickling bytes from the network is dangerous in Python:
 *
 *   A pickle is not data but a little program: instructions for the
 *   `pickle` module's machine that rebuilds the object. One instruction
 *   means "call this function with these arguments", and any class can ask
 *   for it through its `__reduce__` method. So whoever makes the bytes
 *   chooses what runs on your computer during `pickle.loads`:
 *
 *     class Payload:
 *         def __reduce__(self):
 *             return (os.system, ("echo any command at all",))
 *
 *   `pickle.dumps(Payload())` gives bytes that need neither the class nor
 *   anything else on the receiving side: `pickle.loads` of them runs the
 *   command. The book says in one sentence that unpickling "may execute
 *   arbitrary code", then unpickles whatever the network sends back. Any
 *   server (or anyone between us and it) could send such bytes.
 *
 * What JSON can carry, and why we rebuild the Person ourselves:
 *
 *   `JSON.parse` only ever makes strings, numbers, booleans, null, arrays
 *   and plain objects. JSON has no way to write a function, a class, a
 *   prototype, a Date, a Map, a cycle, undefined or a BigInt, so reading
 *   it never runs code. The price: it cannot give us back a `Person`
 *   either, only a plain object with some keys. So `Person.fromJSON` builds
 *   the `Person` with `new Person(...)`, and first checks that the object
 *   is exactly what a Person is written as: the keys "type", "name" and
 *   "male" and no others (which also turns away the `"__proto__"` trick),
 *   "type" equal to "Person", "name" a string of 1 to 100 characters with
 *   no control characters (which could send commands to your terminal when
 *   printed), and "male" true or false. Anything else is refused.
 *
 * What we do differently from the book, and why:
 *
 * - JSON with a type tag instead of pickle, and a strict `fromJSON`
 *   instead of `pickle.loads`: see above.
 * - The book reads once, `s.recv(1024)`, and assumes the whole reply is in
 *   it; a reply that comes in pieces breaks `pickle.loads`. We read until
 *   one whole JSON value has come back, with a time limit (--timeout) and
 *   a size limit (64 KiB; a Person is far smaller).
 * - The book writes `import pickle_`, a typo (there is no such module),
 *   and names its own file `pickle.py`, which would hide Python's `pickle`
 *   module from `import pickle` (Python looks in the script's folder
 *   first). Our file is `12_6_pickle.ts`, and the task is `pickle`.
 * - The book connects to `socket.gethostname()`; our server listens on
 *   127.0.0.1, so that is where we connect.
 *
 * This script also works against the book's own `json_server.py` (with
 * `socket.gethostname()` changed to "127.0.0.1"): an echo server does not
 * care what the bytes are.
 *
 * @module
 */

import { ConcatenatedJsonParseStream } from "@std/json";
import {
  describeNetworkError,
  exitWithError,
  formatAddress,
  parseFlags,
  parseHost,
  parsePort,
  parseSeconds,
} from "./_shared/plumbing.ts";

const flags = parseFlags(Deno.args, {
  help: `
Usage: deno task pickle [--host HOST] [--port PORT] [--timeout SECONDS]

Sends Person("Sarah", true) as tagged JSON through the JSON echo server,
checks what comes back, rebuilds the Person and prints its name.

  --host HOST        server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT        server's port (default 12345)
  --timeout SECONDS  how long to wait for the reply (default 5)`,
  string: ["host", "port", "timeout"],
  defaults: { host: "127.0.0.1", port: "12345", timeout: "5" },
});
const hostname = parseHost(flags.host);
const port = parsePort(flags.port);
const timeout = parseSeconds(flags.timeout, "--timeout");
const server = { hostname, port, server: "deno task json-server" };
const where = formatAddress(server);

/** The longest reply we accept: a Person is well under 1 KiB. */
const MAX_REPLY = 64 * 1024;

/** The longest name a Person may have, in characters. */
const MAX_NAME = 100;

// ---------------------------------------------------------------------------
// The class, and how it is written as JSON and read back

/** How a Person is written in JSON: its fields, and a tag saying what it is. */
interface PersonJson {
  type: "Person";
  name: string;
  male: boolean;
}

/** The keys of a Person in JSON: these, and no others. */
const PERSON_KEYS = ["type", "name", "male"];

/** Why a value is not a valid Person, in a few words. */
class NotAPerson extends Error {}

/** The book's class: a person with a name, who is male or not. */
class Person {
  constructor(public name: string, public male: boolean) {}

  /** `JSON.stringify(person)` calls this and writes what it returns. */
  toJSON(): PersonJson {
    return { type: "Person", name: this.name, male: this.male };
  }

  /**
   * Rebuilds a Person from a value that `JSON.parse` made. Refuses (throws
   * NotAPerson) anything that is not exactly a Person written by `toJSON`.
   */
  static fromJSON(value: unknown): Person {
    // An object, and a plain one: not null, not an array, nothing with a
    // prototype of its own.
    if (
      typeof value !== "object" || value === null || Array.isArray(value) ||
      Object.getPrototypeOf(value) !== Object.prototype
    ) {
      throw new NotAPerson(`it is ${show(value)}, not an object`);
    }
    // Exactly our keys. `Reflect.ownKeys` lists every key the object has
    // itself, including "__proto__": JSON.parse makes `{"__proto__": ...}`
    // an ordinary key, which must not get any further than here.
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key !== "string" || !PERSON_KEYS.includes(key)) {
        throw new NotAPerson(`unexpected key ${show(String(key))}`);
      }
    }
    for (const key of PERSON_KEYS) {
      if (!Object.hasOwn(value, key)) {
        throw new NotAPerson(`missing key "${key}"`);
      }
    }
    const { type, name, male } = value as Record<string, unknown>;
    if (type !== "Person") {
      throw new NotAPerson(`"type" must be "Person", not ${show(type)}`);
    }
    if (typeof name !== "string") {
      throw new NotAPerson(`"name" must be a string, not ${show(name)}`);
    }
    if (name.trim() === "") {
      throw new NotAPerson(`"name" must not be empty`);
    }
    // `[...name]` counts characters; `name.length` would count an emoji
    // as two (JavaScript strings are made of UTF-16 units).
    const length = [...name].length;
    if (length > MAX_NAME) {
      throw new NotAPerson(
        `"name" must be at most ${MAX_NAME} characters long, not ${length}`,
      );
    }
    // Control characters (\p{Cc}: newline, escape, ...) printed on a
    // terminal can move the cursor, change colours, or worse.
    if (/\p{Cc}/u.test(name)) {
      throw new NotAPerson(`"name" must not contain control characters`);
    }
    if (typeof male !== "boolean") {
      throw new NotAPerson(`"male" must be true or false, not ${show(male)}`);
    }
    return new Person(name, male);
  }
}

/** A short JSON view of a value, for messages. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

// ---------------------------------------------------------------------------
// Through the echo server and back

const person = new Person("Sarah", true);
// `{"type":"Person","name":"Sarah","male":true}`, as one line.
const message = JSON.stringify(person) + "\n";

// The whole conversation must be over within --timeout seconds.
const timer = setTimeout(() => {
  exitWithError(
    `${where} sent back no whole JSON value within ${timeout} ` +
      `${timeout === 1 ? "second" : "seconds"}; ` +
      `check that it is the JSON echo server, or wait longer with --timeout.`,
  );
}, timeout * 1000);

let conn: Deno.TcpConn;
try {
  conn = await Deno.connect({ hostname, port });
} catch (error) {
  exitWithError(describeNetworkError(error, server));
}

// Like Python's `sendall`: write until every byte is out.
try {
  const bytes = new TextEncoder().encode(message);
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
} catch (error) {
  exitWithError(describeNetworkError(error, server));
}

// Read the reply as a chain of streams, each step handing its output to
// the next as soon as it has some:
//   bytes from the server -> at most MAX_REPLY of them -> text (UTF-8;
//   `fatal` refuses bytes that are not) -> JSON values.
// std's ConcatenatedJsonParseStream finds where each JSON value ends, however
// the bytes were cut into pieces on the way (json-client does the same by
// hand). It suits us here because the reply we want is an object, which
// ends at its last "}".
class ReplyTooLong extends Error {}
let received = 0;
const atMostMaxReply = new TransformStream<Uint8Array, Uint8Array>({
  transform(chunk, controller) {
    received += chunk.length;
    if (received > MAX_REPLY) throw new ReplyTooLong();
    controller.enqueue(chunk);
  },
});
const values = conn.readable
  .pipeThrough(atMostMaxReply)
  .pipeThrough(new TextDecoderStream("utf-8", { fatal: true }))
  .pipeThrough(new ConcatenatedJsonParseStream());
const reader = values.getReader();

let reply: unknown;
try {
  const first = await reader.read();
  if (first.done) {
    exitWithError(
      `${where} closed the connection before a whole JSON value came back.`,
    );
  }
  reply = first.value;
} catch (error) {
  if (error instanceof ReplyTooLong) {
    exitWithError(
      `${where} sent back more than ${MAX_REPLY / 1024} KiB, far more than ` +
        `a Person; that is not the echo of what we sent.`,
    );
  }
  if (error instanceof SyntaxError || error instanceof TypeError) {
    // SyntaxError from JSON.parse, TypeError from the UTF-8 decoder.
    exitWithError(
      `${where} sent back something that is not JSON, or closed the ` +
        `connection in the middle of a value.`,
    );
  }
  exitWithError(describeNetworkError(error, server));
}
clearTimeout(timer);
// We have what we came for. Cancelling the reader closes the connection
// too (the whole chain, down to the socket).
await reader.cancel();

// Only now, after every check, does a Person exist.
let copy: Person;
try {
  copy = Person.fromJSON(reply);
} catch (error) {
  if (!(error instanceof NotAPerson)) throw error;
  exitWithError(
    `Refusing the reply from ${where}: it is not a valid Person ` +
      `(${error.message}).`,
  );
}

console.log(copy.name);
console.log("It is a Person:", copy instanceof Person);
