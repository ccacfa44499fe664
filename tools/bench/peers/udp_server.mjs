// The UDP server (deno task udp-server) as a Node.js user would write it,
// for the benchmark: same command line, same protocol, same lines.
//   node tools/bench/peers/udp_server.mjs [--host HOST] [--port PORT]
import dgram from "node:dgram";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "25000" },
  },
});

const address = (host, port) =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

// Control, format and separator characters are shown as \u{HEX}, as the
// lesson does, so that a peer cannot write on our terminal.
const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const escape = (c) => `\\u{${c.codePointAt(0).toString(16)}}`;

function show(data) {
  const chars = [...data.toString("utf8")];
  const safe = chars.slice(0, 200).join("").replace(unsafe, escape);
  if (chars.length > 200) {
    return ` (${data.length} bytes, first 200 shown): ${safe}…`;
  }
  return data.length > 0 ? `: ${safe}` : " (empty datagram)";
}

const socket = dgram.createSocket(values.host.includes(":") ? "udp6" : "udp4");
socket.on("message", (data, peer) => {
  console.log(`From ${address(peer.address, peer.port)}${show(data)}`);
  socket.send(`Response for ${peer.address}`, peer.port, peer.address);
});
socket.on("error", (error) => console.error(`Skipped one: ${error}`));
socket.bind(Number(values.port), values.host, () => {
  const { address: host, port } = socket.address();
  console.log(`Listening on ${address(host, port)}`);
});
