/**
 * Lab: a slow cable (section 12.2: TCP "controls the flow"; UDP sends and
 * forgets). `deno task lab slow`
 *
 * Computer A sends to computer B through a cable that carries at most
 * --rate (default 1mbit: one million bits a second) from A, with a short
 * queue in front of it (tc's token bucket filter). What to look for:
 *
 * 1. TCP paces itself to the cable: 256 KiB take about 2 s at 1 Mbit/s,
 *    and arrive whole (the same SHA-256 on both sides).
 * 2. UDP does not: the sender "sends" 2,000 datagrams of 1,000 bytes in a
 *    few milliseconds and every send() succeeds, but only the few that fit
 *    the queue arrive (about 45). The queue's counter (tc -s qdisc) and
 *    the sender's own kernel (Udp SndbufErrors) know; the sender is never
 *    told.
 *
 * @module
 */
import {
  count,
  heading,
  type Lab,
  LabError,
  paragraph,
  plural,
} from "./kit.ts";
import { analyse, datagrams, mib, transfer } from "./loss.ts";

export interface SlowOptions {
  /** The cable's speed, as tc writes it: 1mbit, 500kbit, ... */
  rate: string;
  /** How many UDP datagrams. */
  count: number;
  /** How many bytes the TCP transfer sends. */
  size: number;
}

/** "1mbit" -> 1000000 bits a second. */
export function bitsPerSecond(rate: string): number {
  const [, number, unit] = rate.match(/^(\d+(?:\.\d+)?)(\w*)$/) ?? [];
  const scale: Record<string, number> = {
    bit: 1,
    kbit: 1e3,
    mbit: 1e6,
    gbit: 1e9,
  };
  return Number(number) * (scale[unit] ?? NaN);
}

export async function slow(lab: Lab, options: SlowOptions): Promise<void> {
  console.log(
    "Lab: a slow cable (section 12.2: TCP paces itself, UDP does not)",
  );
  const a = await lab.computer("A");
  const b = await lab.computer("B");
  const [aDev] = await lab.cable(a, "10.77.0.1/24", b, "10.77.0.2/24");
  paragraph(
    `Computer A (10.77.0.1) sends to computer B (10.77.0.2) through a cable
    (each computer is a Linux network namespace, the cable a veth pair; "A $
    command" runs the command on A, with --no-prompt added to deno run).
    A's end of the cable now sends at most ${options.rate}/s, with a queue
    of 32 KB in front of it; what does not fit the queue is dropped:`,
  );
  await lab.exec(a, [
    ...["tc", "qdisc", "add", "dev", aDev, "root", "tbf"],
    ...["rate", options.rate, "burst", "16kb", "limit", "32kb"],
  ], true);
  const queueDrops = async () => {
    const stats = await lab.exec(a, ["tc", "-s", "qdisc", "show", "dev", aDev]);
    return Number(stats.match(/dropped (\d+)/)?.[1] ?? NaN);
  };

  heading(`1. TCP: ${mib(options.size)} from A to B`);
  const resentBefore = (await lab.snmp(a))["Tcp.RetransSegs"];
  const tcpDropsBefore = await queueDrops();
  const tcp = await transfer(lab, a, b, "10.77.0.2", options.size);
  const resent = (await lab.snmp(a))["Tcp.RetransSegs"] - resentBefore;
  const tcpDrops = (await queueDrops()) - tcpDropsBefore;
  const intact = tcp.sent === tcp.received;
  const rate = (options.size * 8) / tcp.seconds / 1e6;
  paragraph(
    `${mib(options.size)} in ${tcp.seconds.toFixed(2)} s: ${
      rate.toFixed(2)
    } Mbit/s on a cable of ${
      (bitsPerSecond(options.rate) / 1e6).toFixed(2)
    } Mbit/s. The same SHA-256 on both sides: ${intact ? "yes" : "NO"}.
    TCP found the cable's pace by trying: the queue dropped ${
      plural(tcpDrops, "packet")
    } that came too fast, and A's kernel sent ${
      plural(resent, "segment")
    } again (Tcp RetransSegs) and slowed down.`,
    "  ",
  );
  if (!intact) throw new LabError("TCP did not deliver the same bytes");

  heading(
    `2. UDP: ${count(options.count)} datagrams of 1,000 bytes from A to B`,
  );
  const dropsBefore = await queueDrops();
  const aBefore = await lab.snmp(a);
  const bBefore = await lab.snmp(b);
  const udp = await datagrams(
    lab,
    a,
    b,
    "10.77.0.2",
    options.count,
    1000,
    0,
    async () => {
      const snmp = await lab.snmp(b);
      return (await queueDrops()) - dropsBefore +
        snmp["Udp.InDatagrams"] - bBefore["Udp.InDatagrams"] +
        snmp["Udp.RcvbufErrors"] - bBefore["Udp.RcvbufErrors"];
    },
  );
  const queue = (await queueDrops()) - dropsBefore;
  const aAfter = await lab.snmp(a);
  const bAfter = await lab.snmp(b);
  const told = aAfter["Udp.SndbufErrors"] - aBefore["Udp.SndbufErrors"];
  const buffer = bAfter["Udp.RcvbufErrors"] - bBefore["Udp.RcvbufErrors"];
  const { lost } = analyse(udp.arrived, options.count);
  paragraph(
    `Arrived: ${count(udp.arrived.length)} of ${count(options.count)}.
    The queue dropped ${count(queue)} (tc -s qdisc), B's receive buffer
    ${count(buffer)}: ${count(queue)} + ${count(buffer)} = ${
      count(queue + buffer)
    }${
      queue + buffer === lost.length ? ", every lost datagram" : ""
    }. A's kernel counted ${count(told)} in Udp SndbufErrors and still
    reported success to the program.`,
    "  ",
  );

  heading("What this showed");
  paragraph(
    `TCP paced itself to the cable: ${mib(options.size)} in
    ${tcp.seconds.toFixed(2)} s, every byte, the same SHA-256 on both sides.
    UDP did not: A "sent" ${count(options.count)} datagrams ${
      udp.allSent ? "and every send() succeeded" : ""
    }, but only ${count(udp.arrived.length)} arrived; the queue dropped
    ${count(queue)} and nobody told the sender (its kernel only counted
    them).`,
  );
}
