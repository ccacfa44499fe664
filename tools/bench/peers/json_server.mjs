// The JSON echo server (deno task json-server) as a Node.js user would
// write it, for the benchmark: same command line, same protocol (every
// byte echoed back), same lines.
//   node tools/bench/peers/json_server.mjs [--host H] [--port P] [--timeout S]
import net from "node:net";
import { StringDecoder } from "node:string_decoder";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "12345" },
    timeout: { type: "string", default: "60" },
  },
});

const address = (host, port) =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

// Control, format and separator characters are shown as \u{HEX}, as the
// lesson does, so that a client cannot write on our terminal.
const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const escape = (c) => `\\u{${c.codePointAt(0).toString(16)}}`;

const server = net.createServer((socket) => {
  const client = address(socket.remoteAddress, socket.remotePort);
  console.log(`Connected: ${client}`);
  const decoder = new StringDecoder("utf8");
  let echoed = 0;
  let reads = 0;
  // The log: the text of each piece as it came, 20 pieces per client.
  socket.on("data", (piece) => {
    echoed += piece.length;
    if (++reads <= 20) {
      const text = decoder.write(piece);
      const shown = text.match(/^.{0,200}/su)[0].replace(unsafe, escape);
      console.log(`${client} sent ${piece.length} bytes: ${shown}`);
    } else if (reads === 21) console.log(`${client}: (no more logged)`);
  });
  // The echo: pipe() writes every piece back, pauses reading while the
  // client is slow to read, and ends our side when the client ends its.
  socket.pipe(socket);
  socket.setTimeout(Number(values.timeout) * 1000, () => socket.destroy());
  socket.on("error", () => {});
  socket.on("close", () => {
    console.log(`Disconnected: ${client} (echoed ${echoed} bytes)`);
  });
});
server.maxConnections = 1024;

server.listen(Number(values.port), values.host, () => {
  const { address: host, port } = server.address();
  console.log(`Listening on ${address(host, port)}`);
});
