/**
 * Lab: a router in between (section 12.4, Figure 12.3: "the connection
 * passes through several machines"). `deno task lab router`
 *
 * Three computers in a row: client, router, server. The client and the
 * server are on different networks (10.77.0.0/25 and 10.77.0.128/25); the
 * router has a cable to each and passes packets from one to the other.
 * tcpdump captures both cables while the greeting (tcp-server and
 * tcp-listener) goes through. What to look for:
 *
 * - The greeting arrives as if the two were side by side: the client
 *   dials the server's address; it does not need to know the router.
 * - Every packet leaves with a TTL ("time to live") of 64 and crosses the
 *   router one lower, 63: each router takes one off and throws away a
 *   packet whose TTL reaches 0, so a packet caught in a loop dies.
 * - Packets also go back from the server to the client the same way.
 *
 * @module
 */
import {
  type Computer,
  heading,
  type Lab,
  LabError,
  paragraph,
} from "./kit.ts";
import { type Packet, packets, readPcap } from "./pcap.ts";

/**
 * Starts tcpdump on device `dev` in `c`. It writes each packet (-U) as soon
 * as it sees it (--immediate-mode) to its standard output (-w -), which
 * the lab reads; `filter` (e.g. "udp port 25000") keeps only some.
 */
export async function capture(
  lab: Lab,
  c: Computer,
  dev: string,
  filter = "",
) {
  const argv = ["tcpdump", "-i", dev, "-U", "--immediate-mode", "-w", "-"];
  if (filter) argv.push(...filter.split(" "));
  const tcpdump = lab.start(c, argv, {
    show: argv.join(" "),
    root: true,
    raw: true,
    echo: false,
  });
  await tcpdump.line(/listening on/);
  return tcpdump;
}

/** One line per packet: who to whom, TCP flags, bytes of data. */
export function describe(packet: Packet): string {
  const flags = packet.flags ? ` [${packet.flags}]` : "";
  const data = packet.payload > 0 ? ` ${packet.payload} bytes` : "";
  return `${packet.source}:${packet.sourcePort} > ${packet.destination}:${packet.destinationPort}${flags}${data}`;
}

/** Three computers in a row, and the router's two cables. */
export interface Row {
  left: Computer;
  router: Computer;
  right: Computer;
  /** The left computer's cable, and the right one's (each has one). */
  leftDev: string;
  rightDev: string;
  /** The router's cable to the left computer, and to the right one. */
  toLeft: string;
  toRight: string;
}

/**
 * Builds LEFT 10.77.0.2 -- 10.77.0.1 router 10.77.0.129 -- 10.77.0.130
 * RIGHT: two networks, 10.77.0.0/25 and 10.77.0.128/25, with a route from
 * each side to the other through the router, which forwards packets.
 * `show` prints the commands that make the routes.
 */
export async function row(
  lab: Lab,
  leftLabel: string,
  rightLabel: string,
  show: boolean,
): Promise<Row> {
  const left = await lab.computer(leftLabel);
  const router = await lab.computer("router");
  const right = await lab.computer(rightLabel);
  const [leftDev, toLeft] = await lab.cable(
    left,
    "10.77.0.2/25",
    router,
    "10.77.0.1/25",
  );
  const [toRight, rightDev] = await lab.cable(
    router,
    "10.77.0.129/25",
    right,
    "10.77.0.130/25",
  );
  const via = (c: Computer, gateway: string) =>
    lab.exec(c, ["ip", "route", "add", "default", "via", gateway], show);
  await via(left, "10.77.0.1");
  await via(right, "10.77.0.129");
  await lab.exec(router, ["sysctl", "-w", "net.ipv4.ip_forward=1"], show);
  return { left, router, right, leftDev, rightDev, toLeft, toRight };
}

export async function router(lab: Lab): Promise<void> {
  console.log(
    "Lab: a router in between (section 12.4, Figure 12.3: several machines)",
  );
  paragraph(
    `Three computers in a row (each a Linux network namespace, each cable a
    veth pair): client 10.77.0.2 -- 10.77.0.1 router 10.77.0.129 --
    10.77.0.130 server. The client's network is 10.77.0.0/25
    (10.77.0.0-127), the server's 10.77.0.128/25 (128-255): neither can
    reach the other directly. Each is told to send what is not on its own
    network to the router, and the router to pass packets on:`,
  );
  const {
    left: client,
    right: server,
    leftDev: clientDev,
    rightDev: serverDev,
  } = await row(lab, "client", "server", true);

  heading("1. Capture both cables, then the greeting from client to server");
  const near = await capture(lab, client, clientDev);
  const far = await capture(lab, server, serverDev);
  const greeter = lab.deno(
    server,
    ["--allow-net=0.0.0.0:10001"],
    "chapters/12_4_tcp_server.ts",
    ["--host", "0.0.0.0"],
  );
  await greeter.listening();
  const listener = lab.deno(
    client,
    ["--allow-net=10.77.0.130:10001"],
    "chapters/12_4_tcp_listener.ts",
    ["--host", "10.77.0.130"],
  );
  await listener.finish();
  await greeter.line(/10\.77\.0\.2/);
  await greeter.stop();
  if (!/Hi new friend!/.test(listener.output)) {
    throw new LabError(`the greeting did not arrive: ${listener.output}`);
  }
  await near.stop("SIGINT");
  await far.stop("SIGINT");
  const nearPackets = packets(readPcap(near.bytes));
  const farPackets = packets(readPcap(far.bytes));

  heading("2. The same packets on both cables, with their TTL (time to live)");
  // A packet is the same one on both cables if everything but the TTL
  // (and so the header checksum) is equal.
  const key = (p: Packet) =>
    `${describe(p)} ${p.id} ${p.sequence} ${p.acknowledgement}`;
  const farTtl = new Map(farPackets.map((p) => [key(p), p.ttl]));
  const width = Math.max(...nearPackets.map((p) => describe(p).length));
  console.log(
    `  ${"packet".padEnd(width)}  client's cable  server's cable`,
  );
  let down = 0;
  let up = 0;
  for (const packet of nearPackets) {
    const there = farTtl.get(key(packet));
    const toServer = packet.destination === "10.77.0.130";
    if (toServer && packet.ttl === 64 && there === 63) down++;
    if (!toServer && packet.ttl === 63 && there === 64) up++;
    console.log(
      `  ${describe(packet).padEnd(width)}  TTL ${
        String(packet.ttl).padEnd(10)
      }  ${there === undefined ? "(not seen)" : `TTL ${there}`}`,
    );
  }
  const total = nearPackets.length;
  if (total === 0 || down + up !== total || farPackets.length !== total) {
    throw new LabError(
      `expected every packet on both cables with TTL 64 -> 63; got ${down} ` +
        `client-to-server and ${up} server-to-client of ${total} packets`,
    );
  }

  heading("What this showed");
  paragraph(
    `The greeting passed through a machine in between: the client dialled
    10.77.0.130, the server saw the client's own address 10.77.0.2, and
    neither program knew about the router. All ${total} packets crossed
    it, and each came out with its TTL one lower: the client's ${down}
    left with TTL 64 and reached the server with 63; the server's ${up}
    left with 64 and reached the client with 63.`,
  );
}
