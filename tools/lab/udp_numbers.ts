/**
 * Numbered UDP datagrams, for the lab's lossy and slow cables (not a
 * lesson: `deno task lab loss` and `lab slow` run it inside their
 * "computers").
 *
 *   B $ deno run --unstable-net --allow-net=0.0.0.0:25000 \
 *         tools/lab/udp_numbers.ts receive --port 25000
 *   Listening on 0.0.0.0:25000
 *   A $ deno run --unstable-net --allow-net=10.77.0.2:25000,0.0.0.0 \
 *         tools/lab/udp_numbers.ts send --host 10.77.0.2 --port 25000
 *   Sent 1000 datagrams of 100 bytes in 21 ms; every send() succeeded.
 *   (Ctrl-C on B)
 *   Received 815 datagrams: [0,1,2,3,5,...]
 *
 * Each datagram says `datagram N of COUNT` (padded to --size bytes), so the
 * receiver can tell which ones are missing and whether they came in order.
 * The sender sends as fast as it can (or in bursts of --burst with a 1 ms
 * pause between) and counts the send() calls that failed: with UDP there
 * are none even when the datagrams are lost, which is the point.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const HELP =
  `Usage: udp_numbers.ts receive|send [--host HOST] [--port PORT] [--count N]
                       [--size BYTES] [--burst N]
  receive      print the numbers of the datagrams that came, at Ctrl-C
  send         send datagrams 0 to N-1 to HOST:PORT, as fast as possible
  --host HOST  receive: address to listen on (default 0.0.0.0);
               send: the receiver's address (default 127.0.0.1)
  --port PORT  the receiver's port (default 25000)
  --count N    send: how many datagrams (default 1000)
  --size BYTES send: bytes in each datagram, 20 to 65507 (default 100)
  --burst N    send: pause 1 ms after every N datagrams (default 0: never)`;

function exit(code: number, message: string): never {
  if (code === 0) console.log(message);
  else console.error(`error: ${message}`);
  Deno.exit(code);
}
const usage = (text: string) => exit(2, `${text} (run with --help for usage)`);

if (Deno.args.includes("--help")) exit(0, HELP);
const flags = parseArgs(Deno.args, {
  string: ["host", "port", "count", "size", "burst"],
  default: { port: "25000", count: "1000", size: "100", burst: "0" },
  unknown: (arg: string) =>
    arg === "receive" || arg === "send" ||
    usage(`unknown argument ${JSON.stringify(arg)}`),
});
const role = String(flags._[0] ?? "");
if (flags._.length !== 1 || !["receive", "send"].includes(role)) {
  usage(`say receive or send`);
}
const whole = (text: string) => /^\d{1,9}$/.test(text) ? Number(text) : NaN;
const port = whole(flags.port);
const count = whole(flags.count);
const size = whole(flags.size);
const burst = whole(flags.burst);
const hostname = flags.host ?? (role === "receive" ? "0.0.0.0" : "127.0.0.1");
if (!/^[\w.:-]+$/.test(hostname)) usage("--host must be a name or an address");
if (!(port <= 65535)) usage("--port must be a whole number from 0 to 65535");
if (!(count >= 1 && count <= 1_000_000)) usage("--count must be 1 to 1000000");
if (!(size >= 20 && size <= 65507)) usage("--size must be 20 to 65507");
if (!(burst >= 0)) usage("--burst must be a whole number");

if (role === "receive") {
  const socket = Deno.listenDatagram({ transport: "udp", hostname, port });
  const { port: bound } = socket.addr as Deno.NetAddr;
  console.log(`Listening on ${hostname}:${bound}`);
  // Ctrl-C (or SIGTERM) closes the socket, which ends the loop below.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => socket.close());
  }
  const numbers: number[] = [];
  const buffer = new Uint8Array(65536);
  const decoder = new TextDecoder();
  try {
    while (numbers.length < 10_000_000) {
      const [data] = await socket.receive(buffer);
      const number = decoder.decode(data.subarray(0, 40))
        .match(/^datagram (\d+) of/)?.[1];
      if (number !== undefined) numbers.push(Number(number));
    }
  } catch {
    // The socket was closed: time to report.
  }
  console.log(
    `Received ${numbers.length} datagrams: ${JSON.stringify(numbers)}`,
  );
  Deno.exit(0);
}

// The sender binds to "any address, any port" of its family, as Python's
// sendto() does on a socket that was never bound.
const socket = Deno.listenDatagram({
  transport: "udp",
  hostname: hostname.includes(":") ? "::" : "0.0.0.0",
  port: 0,
});
const datagram = new Uint8Array(size).fill(46); // "." as padding
const encoder = new TextEncoder();
let failed = 0;
let firstError = "";
const started = performance.now();
for (let number = 0; number < count; number++) {
  datagram.fill(46);
  encoder.encodeInto(`datagram ${number} of ${count} `, datagram);
  try {
    await socket.send(datagram, { transport: "udp", hostname, port });
  } catch (error) {
    failed++;
    firstError ||= String(error);
  }
  // A short pause now and then lets a slow receiver catch up, so that
  // what is lost is lost on the cable, not in its full receive buffer.
  if (burst > 0 && number % burst === burst - 1) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
const ms = Math.round(performance.now() - started);
socket.close();
const sends = failed === 0
  ? "every send() succeeded."
  : `${failed} send() calls failed (the first: ${firstError}).`;
console.log(`Sent ${count} datagrams of ${size} bytes in ${ms} ms; ${sends}`);
