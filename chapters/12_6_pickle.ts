/**
 * Sending an object, safely (section 12.6, the book's pickle.py)
 *
 * The book sends a Person("Sarah", True) through the echo server with
 * pickle and rebuilds it from the bytes that come back. We send it as JSON
 * with a tag saying what it is, check every part of what comes back, and
 * only then rebuild the Person with `new Person(...)`.
 *
 *   Terminal 1                         Terminal 2
 *   $ deno task json-server            $ deno task pickle
 *   Listening on 127.0.0.1:12345       Sarah
 *   Connected: 127.0.0.1:56978         It is a Person: true
 *   127.0.0.1:56978 sent 44 bytes: {"type":"Person","name":"Sarah","male":true}
 *   Disconnected: 127.0.0.1:56978 (echoed 44 bytes)
 *
 * `Sarah` is the book's output; the second line shows that the copy is a
 * real Person, made by its constructor. A reply that is not exactly one is
 * refused in one sentence, exit status 1 (so is silence for --timeout S):
 *
 *   error: Refusing the reply from 127.0.0.1:12345: not a valid Person
 *   ("male" must be true or false).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { hostname, port, where, seconds } = commandLine(); // flags: see the end

/** The book's class: a person with a name, who is male or not. */
class Person {
  // `public` makes each parameter a field: the book's self.name = name.
  constructor(public name: string, public male: boolean) {}
}

// Why not pickle: a pickle is not data but a little program for Python to
// run, and any class may put "call this function" in it (__reduce__):
//     class Evil:
//         def __reduce__(self): return (os.system, ("rm -rf ~",))
// pickle.loads of pickle.dumps(Evil()) runs that command, with no Evil
// class needed on the receiving side. The book warns that unpickling "may
// execute arbitrary code", yet its program unpickles what the network sends
// back: whoever answers (or sits between) chooses what runs on our computer.
// JSON can only hold data: JSON.parse makes strings, numbers, true, false,
// null, arrays and plain objects, never a function or a class. So we write
// what the Person is, and rebuild it ourselves (the book's file is also
// called pickle.py, which hides Python's own pickle module from `import
// pickle`, and it imports `pickle_`, a typo: it cannot run as printed).

// The book's Person("Sarah", True), with a tag saying what it is:
// {"type":"Person","name":"Sarah","male":true}.
const tagged = { type: "Person", ...new Person("Sarah", true) };
const sent = new TextEncoder().encode(JSON.stringify(tagged)); // 44 bytes

// One deadline for all of it (a wrong address may never answer).
const late = `${where} did not echo and close in ${seconds} s (see --timeout).`;
const timer = setTimeout(() => exit(1, late), seconds * 1000);
const reply = new Uint8Array(sent.length);
let value: unknown, got = 0; // got: bytes of the echo so far
try {
  const conn = await Deno.connect({ hostname, port });
  for (let i = 0; i < sent.length;) i += await conn.write(sent.subarray(i));
  // "That is all": we close our sending half. An echo server, once it has
  // sent everything back, closes too; that is how we know the echo ended.
  await conn.closeWrite();
  // We read back as many bytes as we sent: the book's recv(1024) reads
  // once, and may get half the reply.
  while (got < sent.length) {
    const n = await conn.read(reply.subarray(got));
    if (n === null) exit(1, `${where} hung up after ${got} bytes of the echo.`);
    got += n;
  }
  // Then the server closes (read gives null). One byte more, and it is not
  // an echo: we say so. (The book's pickle.loads would ignore such bytes
  // after the end of its pickle.)
  const more = await conn.read(new Uint8Array(1));
  if (more !== null) exit(1, `${where} sent back more than we sent.`);
  conn.close();
  // Bytes that are not UTF-8 (fatal: true throws on them) cannot be JSON.
  value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(reply));
} catch (error) {
  exit(1, explain(error));
}
clearTimeout(timer);

// Then check that it is exactly how we write a Person, and nothing else.
// First its keys, exactly these three. Object(value) is the object itself
// (for null, a number or true, an empty object; for a text or an array, one
// key per character or element: never the right keys). Object.keys lists
// its own keys, "__proto__" too (JSON.parse makes that an ordinary key), so
// such a key gets no further than here. We do not print the keys: they are
// text from the network.
const keys = Object.keys(Object(value)).sort().join(", ");
if (keys !== "male, name, type") refuse("its keys must be type, name and male");
const { type, name, male } = value as Record<string, unknown>;
if (type !== "Person") refuse(`"type" must be "Person"`);
// A name: 1 to 100 characters (u: whole characters, not UTF-16 halves; we
// read back only as many bytes as we sent, so this limit matters only for
// a Person that comes from elsewhere), none of them a control character
// (which could send commands to the terminal when we print the name), an
// invisible one, or one that turns text right-to-left (which disguise it):
// [^...] means "none of these".
const goodName = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]{1,100}$/u;
if (typeof name !== "string" || !goodName.test(name)) {
  refuse(`"name" must be 1 to 100 characters, none of them unsafe to print`);
}
if (typeof male !== "boolean") refuse(`"male" must be true or false`);
// Only now, after every check, does a Person exist.
const copy = new Person(name, male);
console.log(`${copy.name}\nIt is a Person: ${copy instanceof Person}`);

function refuse(why: string): never {
  exit(1, `Refusing the reply from ${where}: not a valid Person (${why}).`);
}

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused): start ` +
      "the server first (deno task json-server).";
  } else if (error instanceof Deno.errors.NotCapable) {
    return `Deno was not allowed to reach ${where} (to allow it: deno run ` +
      `--allow-net=${where} chapters/12_6_pickle.ts and your flags)`;
  } else if (error instanceof SyntaxError || error instanceof TypeError) {
    return `${where} sent back something that is not JSON.`; // parse, decode
  } else if (/^(ConnectionReset|NotConnected|BrokenPipe):/.test(`${error}`)) {
    return `${where} reset the connection after ${got} bytes of the echo.`;
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${hostname}" (the name does not ` +
      "resolve).";
  }
  return `${where}: ${error}`;
}

// ---- The command line: as in every lesson ----

/** The flags, checked: a usage error ends the program (exit status 2). */
function commandLine() {
  const help = `Usage: deno task pickle [--host H] [--port P] [--timeout S]
  --host HOST  the echo server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT  the echo server's port (default 12345)
  --timeout S  give up after S seconds (default 5, at most 86400)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "timeout"],
    default: { host: "127.0.0.1", port: "12345", timeout: "5" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const host = flags.host.replace(/^\[(.*)\]$/, "$1");
  const port = /^[1-9]\d{0,4}$/.test(flags.port) ? Number(flags.port) : NaN;
  const time = /^\d+(\.\d+)?$/.test(flags.timeout) ? Number(flags.timeout) : 0;
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 1 to 65535");
  // A day at most: a timer over 2^31-1 ms (24.8 days) fires at once.
  if (!(time > 0 && time <= 86400)) {
    usage("--timeout must be a number of seconds above 0, at most 86400");
  }
  // `127.0.0.1:12345`, or `[::1]:12345` for IPv6, as in URLs.
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { hostname: host, port, where, seconds: time };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
