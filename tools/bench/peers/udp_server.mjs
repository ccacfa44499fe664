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

/** What a datagram says, for the log: its first 200 characters at most. */
function show(data) {
  const chars = [...data.toString("utf8")];
  if (chars.length === 0) return " (empty datagram)";
  if (chars.length <= 200) return `: ${chars.join("")}`;
  return ` (${data.length} bytes): ${chars.slice(0, 200).join("")}…`;
}

const socket = dgram.createSocket(values.host.includes(":") ? "udp6" : "udp4");
socket.on("message", (data, peer) => {
  const line = `From ${address(peer.address, peer.port)}${show(data)}`;
  console.log(line.replace(unsafe, escape));
  socket.send(`Response for ${peer.address}`, peer.port, peer.address);
});
socket.on("error", (error) => console.error(`Skipped one: ${error}`));
socket.bind(Number(values.port), values.host, () => {
  const { address: host, port } = socket.address();
  console.log(`Listening on ${address(host, port)}`);
});
