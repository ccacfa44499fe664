/**
 * UDP client: one datagram out, one back (section 12.4, the book's
 * udp_client.py)
 *
 * UDP has no connection to open: the client writes the server's address on
 * a datagram and sends it, then waits for the answer from that address.
 * Nothing promises that either one arrives, so it waits only so long.
 * (Deno.listenDatagram needs --unstable-net; the task passes it.)
 *
 *   Terminal 1                        Terminal 2
 *   $ deno task udp-server            $ deno task udp-client
 *   Listening on 127.0.0.1:25000      Response for 127.0.0.1
 *   From 127.0.0.1:36957: Hi, I'm sending this message.
 *
 * With no server running, or a datagram lost on the way:
 *   $ deno task udp-client
 *   error: No answer from 127.0.0.1:25000 within 2 s: the server may not be
 *   running (deno task udp-server), or a datagram was lost (UDP does not
 *   resend); try again, or wait longer with --timeout.
 *
 * The book's udp_server.py answers it too. --host ::1 uses IPv6;
 * --message '' sends an empty datagram.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const { host, port, seconds, message } = commandLine(); // flags: see the end
// IPv6 addresses go in brackets next to a port, as in URLs: [::1]:25000.
// (Deno takes an address in brackets too, and --allow-net wants them.)
const ipv6 = host.includes(":");
const url = ipv6 ? `[${host}]` : host;
// Deno has no socket that is not bound, so unlike Python we bind our own
// first, to port 0: any free port, which the book's sendto() picks for it
// silently. Its address: the server's own when that is this computer (then
// no other computer can send to us), else the "any" address of the
// server's family, which --allow-net must then name too.
const here = host === "127.0.0.1" || host === "::1";
const hostname = here ? url : (ipv6 ? "[::]" : "0.0.0.0");
let ignored = ""; // who sent the last datagram we ignored (see below)
try {
  // The book's recvfrom() waits for ever: with no server, or a datagram
  // lost on the way, the client hangs. We give up after --timeout seconds
  // (that bounds a slow name lookup too).
  const noAnswer = new Deno.errors.TimedOut();
  setTimeout(() => exit(1, explain(noAnswer)), seconds * 1000);
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  // The book's sendto(): the data, and the address it should go to.
  await socket.send(message, { transport: "udp", hostname: host, port });
  // Each turn of the loop waits for the next datagram: the book's
  // recvfrom(2048), which on Linux and macOS cuts a longer datagram without
  // a word (Windows raises an error). Deno's loop takes up to 65,507 bytes,
  // any datagram over IPv4. (Over IPv6 one may carry 65,527 bytes: the rest
  // would be cut. Our answers are short.)
  for await (const [data, sender] of socket) {
    const from = sender as Deno.NetAddr;
    // Anyone can send to our port: only a datagram from the server is the
    // answer (from its address; a name may stand for several, so for a
    // name we can check only the port). An address is compared as typed,
    // and as a URL writes it: 127.1 is 127.0.0.1, 0:0:0:0:0:0:0:1 is ::1.
    const isIP = ipv6 || /^[\d.]+$/.test(host); // an address, not a name
    const ip = isIP && new URL(`http://${url}`).hostname.replace(/[[\]]/g, "");
    const fromServer = from.hostname === host || from.hostname === ip;
    if (from.port === port && (!isIP || fromServer)) {
      exit(0, safe(new TextDecoder().decode(data)));
    }
    ignored = `${from.hostname} port ${from.port}`;
  }
} catch (error) {
  exit(1, explain(error));
}

/** One sentence for each thing that can go wrong, and what to do. */
function explain(error: unknown): string {
  // A server that answers from another socket (another port) is running:
  // "may not be running" would be false.
  if (error instanceof Deno.errors.TimedOut && ignored !== "") {
    return `No answer from ${url}:${port} within ${seconds} s, only from ` +
      `${ignored}, not where we sent to (does it answer from another socket?)`;
  } else if (error instanceof Deno.errors.TimedOut) {
    return `No answer from ${url}:${port} within ${seconds} s: the server ` +
      "may not be running (deno task udp-server), or a datagram was lost " +
      "(UDP does not resend); try again, or wait longer with --timeout.";
  } else if (error instanceof Deno.errors.NotCapable) {
    // Our own address too, when it is not the server's: 0.0.0.0 or [::].
    const allow = here ? url : url + "," + hostname;
    return `Deno was not allowed to reach ${url}:${port} (to allow it: deno ` +
      `run --unstable-net --allow-net=${allow} ` +
      `chapters/12_4_udp_client.ts --host ${host} --port ${port})`;
  } else if (String(error).includes("failed to lookup address")) {
    return `Could not find the address of "${host}" (the name does not ` +
      "resolve).";
  }
  return `${url}:${port}: ${error}`;
}

// ---- The command line and printing safely: as in every lesson ----

function commandLine() {
  const hello = "Hi, I'm sending this message."; // The book's message.
  const help = `Usage: deno task udp-client [FLAGS]
  --host H     the server's address (default 127.0.0.1; ::1 for IPv6)
  --port P     the server's port (default 25000)
  --message M  what to send (default "${hello}")
  --timeout S  seconds to wait for the answer (default 2; at most a day)`;
  const usage = (why: string) => exit(2, `${why} (run with --help for usage)`);
  if (Deno.args.includes("--help")) exit(0, help);
  // `--message ''` hands parseArgs an empty word, which it would report as a
  // stray argument. Without it, `--message` has no value: parseArgs then
  // gives the empty string, and we send an empty datagram, as asked.
  const flags = parseArgs(Deno.args.filter((arg) => arg !== ""), {
    string: ["host", "port", "message", "timeout"],
    default: { host: "127.0.0.1", port: "25000", message: hello, timeout: "2" },
    unknown: (arg: string) => usage(`unknown argument ${JSON.stringify(arg)}`),
  });
  // The book's gethostname('localhost') is an error: gethostname() takes no
  // argument and gives this computer's name. It meant gethostbyname(
  // 'localhost'), which gives 127.0.0.1; so does our --host localhost.
  // [::1] means ::1. Then letters, digits and _ . : - only: no control
  // character, no stray bracket, no zone (fe80::1%eth0: not supported).
  const given = flags.host.replace(/^\[(.*)\]$/, "$1");
  const host = given === "localhost" ? "127.0.0.1" : given;
  const port = /^[1-9]\d{0,4}$/.test(flags.port) ? Number(flags.port) : NaN;
  const time = /^\d+(\.\d+)?$/.test(flags.timeout) ? Number(flags.timeout) : 0;
  const message = new TextEncoder().encode(flags.message);
  if (!/^[\w.:-]+$/.test(host)) usage("--host must be a name or an address");
  // NaN <= 65535 is false: a --port that is not digits is turned away too.
  if (!(port <= 65535)) usage("--port must be a whole number from 1 to 65535");
  // A day at most: a timer over 2^31-1 ms (24.8 days) fires at once.
  if (!(time > 0 && time <= 86400)) {
    usage("--timeout must be a number of seconds above 0, at most 86400");
  }
  // One datagram carries at most 65,507 bytes over IPv4.
  if (message.length > 65507) usage("--message must be 65507 bytes at most");
  return { host, port, seconds: time, message };
}

/** Ends the program: code 0 prints MESSAGE (the help, or the answer) on
 * stdout; any other code prints it as one line `error: ...` on stderr. */
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
