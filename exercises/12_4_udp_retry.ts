/**
 * Exercise: a UDP client that tries again (section 12.4)
 *
 * UDP promises nothing: a datagram may be lost on the way, and nobody
 * tells the sender. The check's server drops the first two datagrams it
 * gets, as a lossy network would, and answers the third. This client, like
 * the book's, sends once and waits (here 2 s, then gives up).
 *
 * Your task: when no answer has come within 250 ms, send the datagram
 * again; 5 datagrams at most. Print the answer as soon as it comes, and
 * send nothing more. After 5 unanswered tries, say so and exit with 1.
 *
 *   Check it:  deno task exercise udp-retry
 *   By hand:   deno task udp-server                  (terminal 1)
 *              deno run --unstable-net --allow-net=127.0.0.1 exercises/12_4_udp_retry.ts
 *              Response for 127.0.0.1                (terminal 2)
 *
 * The check runs it with --host 127.0.0.1 --port P and watches the
 * datagrams arrive at its server: when, how many, and after the answer.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "25000" },
});
const server = {
  transport: "udp" as const,
  hostname: flags.host,
  port: Number(flags.port),
};
const socket = Deno.listenDatagram({
  transport: "udp",
  hostname: "127.0.0.1",
  port: 0,
});
const message = new TextEncoder().encode("Hi, I'm sending this message.");

// TODO: no answer within 250 ms? Send again, 5 datagrams at most.
await socket.send(message, server);
setTimeout(() => {
  console.error("error: no answer within 2 s");
  Deno.exit(1);
}, 2000);
const [answer] = await socket.receive();
console.log(new TextDecoder().decode(answer));
Deno.exit(0);
