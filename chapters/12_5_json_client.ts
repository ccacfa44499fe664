/**
 * JSON client (section 12.5, the book's json_client.py)
 *
 * JSON writes data (objects, arrays, strings, numbers, true, false, null)
 * as text that any language can read back. This client sends JSON text to
 * the echo server, reads the echo, checks that it is JSON, and prints it.
 *
 *   Terminal 1                         Terminal 2
 *   $ deno task json-server            $ deno task json-client
 *   Listening on 127.0.0.1:12345       {"name": "Johanna", "female": true}
 *
 *   $ deno task json-client --data '[12345678901234567890, 1e400]'
 *   [12345678901234567890, 1e400]
 *   Parsed and written back: [12345678901234567000,null]
 *
 * We send the book's bytes exactly (Python's json.dumps of its dictionary)
 * and print the text that came back; the book prints what json.loads made
 * of it, in Python's spelling: {'name': 'Johanna', 'female': True}. The
 * second line above appears only when JavaScript's JSON.parse changes the
 * value (why: see the comment above the code that prints it).
 *
 * --data JSON sends yours; --timeout S gives up after S s (default 5).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

// --host, --port, --data (the JSON text), --timeout: see the end of this file
const { hostname, port, where, data, seconds } = commandLine();

// One deadline for all of it: a wrong address may not answer, and a server
// that is not an echo server may never send back as much as we sent.
const late = `${where} did not echo it all in ${seconds} s (see --timeout).`;
const timer = setTimeout(() => exit(1, late), seconds * 1000);
// We send the text as given, so the bytes are exactly yours: the book's
// json.dumps() makes the same 35 bytes. (No newline: an echo needs none.)
const sent = new TextEncoder().encode(data);
const reply = new Uint8Array(sent.length); // an echo is exactly that long
let got = 0; // how much of it came back so far
try {
  const conn = await Deno.connect({ hostname, port });
  // The book's sendall(): write() may take only part, so we loop.
  for (let i = 0; i < sent.length;) i += await conn.write(sent.subarray(i));
  // The book reads once, recv(1024), and hands that to json.loads. But TCP
  // carries a stream, not messages: a read returns what has arrived so far,
  // perhaps half the value (and anything over 1024 bytes never fits), and
  // json.loads fails on half a value. We read until all of it is back.
  while (got < sent.length) {
    const n = await conn.read(reply.subarray(got));
    if (n === null) exit(1, `${where} hung up after ${got} bytes of the echo.`);
    got += n;
  }
  conn.close();
} catch (error) {
  exit(1, explain(error));
}
clearTimeout(timer);

// Bytes that are not UTF-8 (fatal: true throws on them) cannot be JSON.
let text = "", value: unknown;
try {
  text = new TextDecoder("utf-8", { fatal: true }).decode(reply);
  value = JSON.parse(text);
} catch {
  const hint = "is it the echo server (deno task json-server)?";
  exit(1, `${where} sent back something that is not JSON; ${hint}`);
}
// We print the text that came back, made safe (see the end of this file).
// JSON.stringify would not do: it leaves U+009B (CSI: one character, two
// bytes in UTF-8, that some terminals obey as "ESC [") and U+202E (which
// turns text right-to-left) as they are.
console.log(safe(text));

// Why we print the text and not JSON.stringify(JSON.parse(text)): a
// JavaScript number is a double (IEEE 754): 53 bits of digits, about 16
// significant digits. 12345678901234567890 becomes 12345678901234567000, and
// 1e400 is too big: Infinity, which JSON.stringify writes as null. When an
// object has a key twice, {"a":1,"a":2}, the last one wins: {"a":2}. We
// say so when it happens: the text without its spaces (outside strings)
// differs from JSON.stringify's.
const compact = text.replace(/("(?:[^"\\]|\\.)*")|\s+/g, "$1");
const again = JSON.stringify(value);
if (again !== compact) console.log(`Parsed and written back: ${safe(again)}`);

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused): start ` +
      "the server first (deno task json-server).";
  } else if (error instanceof Deno.errors.NotCapable) {
    return `Deno was not allowed to reach ${where} (to allow it: deno run ` +
      `--allow-net=${where} chapters/12_5_json_client.ts and your flags)`;
  } else if (/^(ConnectionReset|NotConnected|BrokenPipe):/.test(`${error}`)) {
    return `${where} reset the connection after ${got} bytes of the echo.`;
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${hostname}" (the name does not ` +
      "resolve).";
  }
  return `${where}: ${error}`;
}

// ---- The command line and printing safely: as in every lesson ----

/** The flags, checked: a usage error ends the program (exit status 2). */
function commandLine() {
  // The book's json.dumps({"name": "Johanna", "female": True}), exactly.
  const book = '{"name": "Johanna", "female": true}';
  const help =
    `Usage: deno task json-client [--host H] [--port P] [--data J] [--timeout S]
  --host HOST  the server's address (default 127.0.0.1; ::1 for IPv6)
  --port PORT  the server's port (default 12345)
  --data JSON  the JSON text to send (default ${book})
  --timeout S  give up after S seconds (default 5, at most 86400)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  const flags = parseArgs(Deno.args, {
    string: ["host", "port", "data", "timeout"],
    default: { host: "127.0.0.1", port: "12345", data: book, timeout: "5" },
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
  // Sending text that is not JSON would be a mistake in how we were called.
  try {
    JSON.parse(flags.data);
  } catch {
    usage(`--data must be JSON, like '{"name": "Ann"}' or 42`);
  }
  // `127.0.0.1:12345`, or `[::1]:12345` for IPv6, as in URLs.
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { hostname: host, port, where, data: flags.data, seconds: time };
}

/** Ends the program: with the help (code 0), or with one line on stderr. */
function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}

/**
 * Text from the network may hold control characters (ESC starts commands
 * to the terminal), invisible ones, or ones that turn text right-to-left:
 * we show each one as \u{HEX} instead of letting the terminal obey it.
 */
function safe(text: string): string {
  const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
  return text.replace(unsafe, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
