/**
 * Lab: a lossy cable (section 12.2: "TCP guarantees that sent data will
 * arrive intact ... UDP" gives no such guarantee). `deno task lab loss`
 *
 * Computer A sends to computer B through a cable that drops a fraction of
 * the packets it carries to B (--loss, default 0.2: one in five, at
 * random). What to look for:
 *
 * 1. UDP: of 1,000 numbered datagrams, about 200 never arrive. The output
 *    lists which ones; the kernel's counters say where each was lost (the
 *    cable, or B's full receive buffer), and the two add up exactly. The
 *    sender was told nothing: every send() succeeded.
 * 2. TCP: 4 MiB through the same cable arrive whole (the same SHA-256 on
 *    both sides). The price is time, and the work the kernel did: its own
 *    counter (RetransSegs) says how many segments it sent again.
 *
 * @module
 */
import {
  type Computer,
  count,
  heading,
  type Lab,
  LabError,
  paragraph,
  plural,
  type Program,
  ranges,
  sleep,
} from "./kit.ts";

export interface LossOptions {
  /** The fraction of packets the cable drops, 0 to below 1. */
  loss: number;
  /** How many UDP datagrams. */
  count: number;
  /** How many bytes the TCP transfer sends. */
  size: number;
}

const UDP_PORT = 25000;
const TCP_PORT = 10009;

/** What one run of tools/lab/tcp_bulk.ts showed. */
export interface Transfer {
  seconds: number;
  sent: string;
  received: string;
}

/** Sends `size` bytes from `a` to `b` (at `address`) with tcp_bulk.ts. */
export async function transfer(
  lab: Lab,
  a: Computer,
  b: Computer,
  address: string,
  size: number,
  timeoutSeconds = 120,
): Promise<Transfer> {
  const receiver = lab.deno(
    b,
    [`--allow-net=0.0.0.0:${TCP_PORT}`],
    "tools/lab/tcp_bulk.ts",
    ["receive", "--port", `${TCP_PORT}`, "--timeout", `${timeoutSeconds}`],
  );
  await receiver.listening();
  const sender = lab.deno(
    a,
    [`--allow-net=${address}:${TCP_PORT}`],
    "tools/lab/tcp_bulk.ts",
    [
      ...["send", "--host", address, "--port", `${TCP_PORT}`],
      ...["--size", `${size}`, "--timeout", `${timeoutSeconds}`],
    ],
  );
  await sender.finish((timeoutSeconds + 10) * 1000);
  await receiver.finish(10_000);
  const sent = sender.output.match(
    /Sent \d+ bytes in ([\d.]+) s, SHA-256 (\w+)/,
  );
  const received = receiver.output.match(/Received (\d+) bytes.*SHA-256 (\w+)/);
  if (!sent || !received) {
    throw new LabError(
      `the TCP transfer failed: ${JSON.stringify(sender.output)}`,
    );
  }
  return { seconds: Number(sent[1]), sent: sent[2], received: received[2] };
}

/** What the numbered datagrams showed. */
export interface Datagrams {
  sent: number;
  arrived: number[];
  /** Every send() succeeded. */
  allSent: boolean;
}

/**
 * Sends `n` numbered datagrams of `size` bytes from `a` to `b` with
 * udp_numbers.ts. `accounted` says how many datagrams the kernels have
 * accounted for so far (delivered or dropped); the receiver is stopped once
 * all are, or nothing changed for 2 s.
 */
export async function datagrams(
  lab: Lab,
  a: Computer,
  b: Computer,
  address: string,
  n: number,
  size: number,
  burst: number,
  accounted: () => Promise<number>,
): Promise<Datagrams> {
  const receiver: Program = lab.deno(
    b,
    ["--unstable-net", `--allow-net=0.0.0.0:${UDP_PORT}`],
    "tools/lab/udp_numbers.ts",
    ["receive", "--port", `${UDP_PORT}`],
    { echo: false },
  );
  await receiver.listening();
  console.log(`  ${lab.pad(b)} | Listening on 0.0.0.0:${UDP_PORT}`);
  const sender = lab.deno(
    a,
    ["--unstable-net", `--allow-net=${address}:${UDP_PORT},0.0.0.0`],
    "tools/lab/udp_numbers.ts",
    [
      ...["send", "--host", address, "--port", `${UDP_PORT}`],
      ...["--count", `${n}`, "--size", `${size}`],
      ...(burst > 0 ? ["--burst", `${burst}`] : []),
    ],
  );
  await sender.finish(60_000);
  // Wait until the receiver has read every datagram that reached it.
  let last = -1;
  let still = 0;
  for (let i = 0; i < 200 && still < 20; i++) {
    const now = await accounted();
    if (now >= n) break;
    still = now === last ? still + 1 : 0;
    last = now;
    await sleep(100);
  }
  await receiver.stop("SIGINT");
  const line = receiver.output.match(/Received (\d+) datagrams: (\[.*\])/);
  if (!line) {
    throw new LabError(`the UDP receiver failed: ${receiver.output}`);
  }
  // The list of numbers is long: show its start and its end.
  const list = line[2].length <= 60
    ? line[2]
    : `${line[2].slice(0, 40).replace(/,\d*$/, "")},...${
      line[2].slice(-15).replace(/^\d*,/, ",")
    }`;
  paragraph(
    `(the lab pressed Ctrl-C for B once the kernels had accounted for all
    ${count(n)} datagrams)`,
    "  ",
  );
  console.log(`  ${lab.pad(b)} | Received ${line[1]} datagrams: ${list}`);
  return {
    sent: n,
    arrived: JSON.parse(line[2]),
    allSent: /every send\(\) succeeded/.test(sender.output),
  };
}

/** Which numbers from 0 to n-1 are missing, and how many came late. */
export function analyse(arrived: number[], n: number) {
  const seen = new Set(arrived);
  const lost = [...Array(n).keys()].filter((i) => !seen.has(i));
  let highest = -1;
  let late = 0;
  for (const number of arrived) {
    if (number < highest) late++;
    highest = Math.max(highest, number);
  }
  return { lost, late, duplicates: arrived.length - seen.size };
}

export async function loss(lab: Lab, options: LossOptions): Promise<void> {
  const percent = `${+(options.loss * 100).toFixed(2)}%`;
  console.log("Lab: a lossy cable (section 12.2: what TCP and UDP promise)");
  const a = await lab.computer("A");
  const b = await lab.computer("B");
  await lab.cable(a, "10.77.0.1/24", b, "10.77.0.2/24");
  paragraph(
    `Computer A (10.77.0.1) sends to computer B (10.77.0.2) through a cable
    (each computer is a Linux network namespace, the cable a veth pair; "A $
    command" runs the command on A, with --no-prompt added to deno run).`,
  );

  heading(`1. TCP: ${mib(options.size)} from A to B on a good cable`);
  const good = await transfer(lab, a, b, "10.77.0.2", options.size);

  heading(`2. The cable starts losing ${percent} of what it carries to B`);
  // A resends a lost segment after a timeout that doubles each time, up to
  // 2 minutes by default; capping it at 1 s keeps the run short. (Linux
  // 6.11 and later have this setting; older kernels go without it.)
  const rtoMax = "net.ipv4.tcp_rto_max_ms";
  const capped = await lab.exec(a, ["sysctl", "-w", `${rtoMax}=1000`], true)
    .then(() => true, () => false);
  if (!capped) paragraph(`(this kernel has no ${rtoMax}: no cap)`, "  ");
  const p = `${options.loss}`;
  const random = ["-m", "statistic", "--mode", "random", "--probability", p];
  // Rule 1 lets every SYN through: a lost SYN costs a 1 s wait before TCP
  // tries again, which would only blur the timings.
  await lab.exec(b, [
    ...["iptables", "-A", "INPUT", "-p", "tcp"],
    ...["--tcp-flags", "SYN", "SYN", "-j", "ACCEPT"],
  ], true);
  for (const protocol of ["udp", "tcp"]) {
    const rule = ["-A", "INPUT", "-p", protocol, ...random, "-j", "DROP"];
    await lab.exec(b, ["iptables", ...rule], true);
  }

  heading(`3. UDP: ${count(options.count)} numbered datagrams from A to B`);
  paragraph(
    `(Each says "datagram N of ${options.count}". A pauses 1 ms after every
    25, so that B's program keeps up: a full receive buffer loses datagrams
    too, and the lab counts those apart.)`,
    "  ",
  );
  const before = await lab.snmp(b);
  const drops = async () => {
    const [, udp] = await lab.ruleCounts(b);
    const snmp = await lab.snmp(b);
    return {
      cable: udp,
      buffer: snmp["Udp.RcvbufErrors"] - before["Udp.RcvbufErrors"],
      read: snmp["Udp.InDatagrams"] - before["Udp.InDatagrams"],
    };
  };
  const udp = await datagrams(
    lab,
    a,
    b,
    "10.77.0.2",
    options.count,
    100,
    25,
    async () => {
      const { cable, buffer, read } = await drops();
      return cable + buffer + read;
    },
  );
  const { cable, buffer } = await drops();
  const { lost, late, duplicates } = analyse(udp.arrived, options.count);
  const expected = options.count * options.loss;
  paragraph(
    `Arrived: ${count(udp.arrived.length)} of ${count(options.count)}.
    Lost: ${count(lost.length)} (${percent} would be ${
      count(Math.round(expected))
    }). Out of order: ${late === 0 ? "none" : count(late)}${
      duplicates ? `; twice: ${count(duplicates)}` : ""
    }.`,
    "  ",
  );
  if (lost.length > 0) paragraph(`The lost ones: ${ranges(lost)}.`, "  ");
  paragraph(
    `Where they were lost, by the kernel's own counters: the cable
    dropped ${count(cable)} (iptables), B's full receive buffer
    ${count(buffer)} (Udp RcvbufErrors in B's /proc/net/snmp): ${
      count(cable)
    } + ${count(buffer)} = ${count(cable + buffer)}${
      cable + buffer === lost.length ? ", every lost datagram." : "."
    }`,
    "  ",
  );

  heading(`4. TCP: the same ${mib(options.size)} through the lossy cable`);
  if (options.loss >= 0.4) {
    paragraph(
      `(At this loss TCP crawls: after each loss in a row it waits twice as
      long before sending again. At 0.5, 1 MiB took 32 s on the machine this
      lab was written on; a smaller --size keeps the wait short.)`,
      "  ",
    );
  }
  const [, , tcpBefore] = await lab.ruleCounts(b);
  const retransBefore = (await lab.snmp(a))["Tcp.RetransSegs"];
  const lossy = await transfer(lab, a, b, "10.77.0.2", options.size);
  const [, , tcpAfter] = await lab.ruleCounts(b);
  const resent = (await lab.snmp(a))["Tcp.RetransSegs"] - retransBefore;
  const intact = lossy.sent === lossy.received && good.sent === good.received;
  const times = lossy.seconds / Math.max(good.seconds, 0.001);
  paragraph(
    `The same SHA-256 on both sides: ${intact ? "yes" : "NO"}. The cable
    dropped ${plural(tcpAfter - tcpBefore, "TCP packet")}; A's kernel sent
    ${plural(resent, "segment")} again (Tcp RetransSegs in A's
    /proc/net/snmp)${
      resent > tcpAfter - tcpBefore
        ? ", more than were lost: when an acknowledgement is late, TCP sends again rather than wait"
        : ""
    }. It took ${lossy.seconds.toFixed(2)} s instead of
    ${good.seconds.toFixed(2)} s (${
      times >= 1.5 ? `${times.toFixed(0)} times as long` : "about as long"
    }).`,
    "  ",
  );
  if (!intact) throw new LabError("TCP did not deliver the same bytes");

  heading("What this showed");
  const udpSaw = lost.length === 0
    ? `UDP lost no datagram this time (the cable dropped nothing it carried)`
    : `UDP lost ${plural(lost.length, "datagram")} of ${count(options.count)}
    and nobody was told: ${
      udp.allSent ? "every one of A's send() calls succeeded" : "A's send() " +
        "calls failed for other reasons"
    }, B just never saw ${lost.length === 1 ? "it" : "them"}, and only the
    kernels' counters knew (the cable dropped ${count(cable)}, B's receive
    buffer ${count(buffer)})`;
  paragraph(
    `${udpSaw}. TCP delivered every byte of its
    ${mib(options.size)} through the same cable, with the same SHA-256 on
    both sides; the kernel sent ${plural(resent, "segment")} again, and the
    transfer took ${lossy.seconds.toFixed(2)} s instead of
    ${good.seconds.toFixed(2)} s.`,
  );
}

/** 4194304 -> "4 MiB", 65536 -> "64 KiB", 1000 -> "1,000 bytes". */
export function mib(bytes: number): string {
  if (bytes >= 1048576 && bytes % 1048576 === 0) {
    return `${bytes / 1048576} MiB`;
  }
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${count(bytes)} bytes`;
}
