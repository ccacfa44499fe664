// The greeting server (deno task tcp-server) as a Node.js user would write
// it, for the benchmark: same command line, same protocol, same lines.
//   node tools/bench/peers/tcp_server.mjs [--host HOST] [--port PORT]
import net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "10001" },
  },
});

const address = (host, port) =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

let count = 0;
const server = net.createServer((socket) => {
  console.log(
    `Connection from: ${address(socket.remoteAddress, socket.remotePort)}`,
  );
  // end() writes the greeting, then shuts down our sending side.
  socket.end(`${count++}. Hi new friend!\n`);
  // Read and drop what the client sends until it hangs up (2 s at most),
  // so that closing never resets the connection under the greeting.
  socket.resume();
  socket.setTimeout(2000, () => socket.destroy());
  socket.on("error", () => {});
});

server.listen(Number(values.port), values.host, () => {
  const { address: host, port } = server.address();
  console.log(`Listening on ${address(host, port)}`);
});
