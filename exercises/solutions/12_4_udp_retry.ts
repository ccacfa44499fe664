/**
 * Solution: a UDP client that tries again (section 12.4). For teachers.
 *
 * One receive() waits for the next datagram; it stays pending across the
 * tries, so an answer to any of them is taken. Each try waits for that,
 * or for its 250 ms to run out, whichever comes first. Only a datagram
 * from the server's address and port is the answer.
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
const timeUp = (ms: number) =>
  new Promise<null>((resolve) => setTimeout(() => resolve(null), ms));

let next = socket.receive();
for (let tries = 1; tries <= 5; tries++) {
  await socket.send(message, server);
  const deadline = Date.now() + 250;
  while (Date.now() < deadline) {
    const got = await Promise.race([next, timeUp(deadline - Date.now())]);
    if (got === null) break; // 250 ms and no answer: send again
    next = socket.receive();
    const [data, sender] = got;
    const from = sender as Deno.NetAddr;
    if (from.hostname !== server.hostname || from.port !== server.port) {
      continue; // someone else's datagram: not the answer
    }
    console.log(new TextDecoder().decode(data));
    Deno.exit(0);
  }
}
console.error("error: no answer to 5 datagrams: is the server running?");
Deno.exit(1);
