/**
 * Lab: a slow cable. `deno task lab slow`
 *
 * Section 12.2 says what TCP promises, that "sent data will arrive
 * intact", and that UDP sends "without establishing a connection"; it
 * says nothing of how fast either sends. This lab shows what it leaves
 * out: TCP paces itself to the path (its congestion control); UDP sends as
 * fast as the program asks, whatever becomes of the datagrams.
 *
 * Computer A sends to computer B through a cable that carries at most
 * --rate (default 1mbit: one million bits a second) from A, with a short
 * queue in front of it (tc's token bucket filter). What to look for, with
 * the defaults:
 *
 * 1. TCP paces itself to the cable: 256 KiB take about 2 s at 1 Mbit/s,
 *    and arrive whole (the same SHA-256 on both sides).
 * 2. UDP does not: the sender "sends" 2,000 datagrams of 1,000 bytes in a
 *    few milliseconds and every send() succeeds, but only the few that fit
 *    the queue arrive (about 45). The queue's counter (tc -s qdisc) and
 *    the sender's own kernel (Udp SndbufErrors) know; the sender's program
 *    is never told.
 *
 * With other flags the figures change (at 10gbit nothing waits in the
 * queue; at 100kbit 256 KiB take 21 s), and so does what the lab says:
 * every sentence it prints follows the figures it measured.
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
import {
  analyse,
  datagrams,
  mib,
  resends,
  transfer,
  TRANSFER_SECONDS,
} from "./loss.ts";

export interface SlowOptions {
  /** The cable's speed, as tc writes it: 1mbit, 500kbit, ... */
  rate: string;
  /** How many UDP datagrams. */
  count: number;
  /** How many bytes the TCP transfer sends. */
  size: number;
}

/** tc's token bucket: the bytes that may pass at once ("burst 16kb"). */
const BURST = 16 * 1024;

/** "1mbit" -> 1000000 bits a second (NaN if tc would not read it so). */
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

/** 1e6 -> "1 Mbit/s", 2.5e9 -> "2.5 Gbit/s", 8000 -> "8 kbit/s". */
function speed(bits: number): string {
  const [scale, unit] = bits >= 1e9
    ? [1e9, "Gbit/s"]
    : bits >= 1e6
    ? [1e6, "Mbit/s"]
    : [1e3, "kbit/s"];
  return `${+(bits / scale).toPrecision(3)} ${unit}`;
}

/** 0 -> "none", 46 -> "only 46". */
const only = (n: number) => n === 0 ? "none" : `only ${count(n)}`;

export async function slow(lab: Lab, options: SlowOptions): Promise<void> {
  const cable = bitsPerSecond(options.rate);
  console.log("Lab: a slow cable (how fast TCP and UDP send)");
  const a = await lab.computer("A");
  const b = await lab.computer("B");
  const [aDev] = await lab.cable(a, "10.77.0.1/24", b, "10.77.0.2/24");
  paragraph(
    `Computer A (10.77.0.1) sends to computer B (10.77.0.2) through a cable
    (each computer is a Linux network namespace, the cable a veth pair; "A $
    command" runs the command on A, with --no-prompt added to deno run).
    A's end of the cable now sends at most ${speed(cable)}, with a queue
    of 32 KB in front of it; what does not fit the queue is dropped:`,
  );
  await lab.exec(a, [
    ...["tc", "qdisc", "add", "dev", aDev, "root", "tbf"],
    ...["rate", options.rate, "burst", "16kb", "limit", "32kb"],
  ], true);
  const queueStats = async () => {
    const stats = await lab.exec(a, ["tc", "-s", "qdisc", "show", "dev", aDev]);
    return {
      dropped: Number(stats.match(/dropped (\d+)/)?.[1] ?? NaN),
      waiting: Number(stats.match(/backlog \S+ (\d+)p/)?.[1] ?? 0),
    };
  };

  heading(`1. TCP: ${mib(options.size)} from A to B`);
  // At the cable's speed the bytes need at least this long (the first
  // BURST bytes pass at once).
  const least = Math.max(0, options.size - BURST) * 8 / cable;
  if (least > TRANSFER_SECONDS * 0.8) {
    paragraph(
      `(At ${speed(cable)}, sending ${mib(options.size)} takes at least
      ${least.toFixed(0)} s; the lab stops the transfer after
      ${TRANSFER_SECONDS} s.)`,
      "  ",
    );
  }
  const tcpBefore = await lab.snmp(a);
  const tcpDropsBefore = (await queueStats()).dropped;
  const tcp = await transfer(lab, a, b, "10.77.0.2", options.size);
  const resent = resends(tcpBefore, await lab.snmp(a));
  const tcpDrops = (await queueStats()).dropped - tcpDropsBefore;
  const achieved = tcp.got * 8 / tcp.seconds;
  const paced = achieved >= 0.5 * cable;
  let tcpSays: string;
  if (!tcp.inOrder) {
    tcpSays = `B received ${count(tcp.got)} bytes that are NOT the first
      ${count(tcp.got)} A sent.`;
  } else if (!tcp.finished) {
    tcpSays = `${
      tcp.timedOut
        ? `After ${tcp.seconds.toFixed(0)} s the lab stopped the transfer`
        : `A's TCP gave up ("${tcp.why}")`
    }: B had received ${count(tcp.got)} of ${count(options.size)} bytes
      (${speed(achieved)} on a cable of ${speed(cable)}), exactly the
      first ${count(tcp.got)} bytes A sent (the same SHA-256).`;
  } else {
    tcpSays = `${mib(options.size)} in ${tcp.seconds.toFixed(2)} s:
      ${speed(achieved)} on a cable of ${speed(cable)}. The same SHA-256 on
      both sides: yes.`;
  }
  if (tcpDrops > 0) {
    // A failed send to the queue on A is an error TCP sees at once: it
    // shrinks its window (Linux: tcp_enter_cwr) and tries again later.
    tcpSays += ` The queue in front of the cable overflowed: it dropped
      ${plural(tcpDrops, "packet")} that came faster than they could leave.
      The queue is on A itself, so A's TCP learned of each drop at once,
      slowed down, and tried those segments again later${
      resent.tries > 0 ? ` (${resent.tally})` : ""
    }.`;
  } else if (resent.tries > 0) {
    tcpSays += ` The queue dropped nothing, yet ${resent.phrase}: segments
      whose acknowledgement it had waited for too long.`;
  } else {
    tcpSays += ` The queue dropped nothing, and A's kernel sent nothing
      again (Tcp RetransSegs).`;
  }
  if (tcp.finished && achieved > 1.05 * cable) {
    tcpSays += ` That is more than the cable's rate: the first 16 KB pass at
      once (tc's "burst"), which counts in a short transfer.`;
  } else if (tcp.finished && !paced) {
    tcpSays += ` That is far below the cable's rate: something else set the
      pace (TCP's cautious start in a short transfer, or how fast this
      computer moves packets through A, the cable and B).`;
  }
  paragraph(tcpSays, "  ");
  if (!tcp.inOrder) throw new LabError("TCP delivered bytes A never sent");

  heading(
    `2. UDP: ${count(options.count)} datagrams of 1,000 bytes from A to B`,
  );
  if ((await queueStats()).waiting > 0) {
    // The TCP transfer was stopped with packets still waiting: empty the
    // queue, or they would go before the datagrams, slowly.
    paragraph(
      `(The stopped transfer left packets in the queue; a new queue in its
      place starts empty:)`,
      "  ",
    );
    await lab.exec(a, [
      ...["tc", "qdisc", "replace", "dev", aDev, "root", "tbf"],
      ...["rate", options.rate, "burst", "16kb", "limit", "32kb"],
    ], true);
  }
  const dropsBefore = (await queueStats()).dropped;
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
      return (await queueStats()).dropped - dropsBefore +
        snmp["Udp.InDatagrams"] - bBefore["Udp.InDatagrams"] +
        snmp["Udp.RcvbufErrors"] - bBefore["Udp.RcvbufErrors"];
    },
  );
  const queue = (await queueStats()).dropped - dropsBefore;
  const aAfter = await lab.snmp(a);
  const bAfter = await lab.snmp(b);
  const told = aAfter["Udp.SndbufErrors"] - aBefore["Udp.SndbufErrors"];
  const buffer = bAfter["Udp.RcvbufErrors"] - bBefore["Udp.RcvbufErrors"];
  const { lost } = analyse(udp.arrived, options.count);
  let udpSays = `Arrived: ${count(udp.arrived.length)} of
    ${count(options.count)}.`;
  if (queue + buffer > 0) {
    udpSays += ` The queue dropped ${count(queue)} (tc -s qdisc), B's
      receive buffer ${count(buffer)} (Udp RcvbufErrors): ${count(queue)} +
      ${count(buffer)} = ${count(queue + buffer)}${
      queue + buffer === lost.length ? ", every lost datagram" : ""
    }.`;
  } else {
    udpSays += ` Neither the queue (tc -s qdisc) nor B's receive buffer (Udp
      RcvbufErrors) dropped any.`;
  }
  if (udp.unaccounted > 0) {
    udpSays += ` ${count(udp.unaccounted)} were still on their way (in the
      queue) when the lab stopped waiting.`;
  }
  if (told > 0) {
    udpSays += ` A's kernel knew of the queue's drops: it counted
      ${count(told)} in Udp SndbufErrors, and still told the program that
      ${
      udp.allSent ? "every" : "its"
    } send() had succeeded (Linux reports that error only to a program that
      asks for it, with the socket option IP_RECVERR).`;
  }
  paragraph(udpSays, "  ");

  heading("What this showed");
  const tcpSaw = !tcp.finished
    ? `TCP did not finish ${mib(options.size)} in ${
      tcp.seconds.toFixed(0)
    } s at ${speed(cable)}, but all it delivered was exactly what A sent`
    : paced
    ? `TCP paced itself to the cable: ${mib(options.size)} in
      ${tcp.seconds.toFixed(2)} s at ${speed(achieved)}, every byte, the
      same SHA-256 on both sides`
    : `TCP delivered ${mib(options.size)} in ${tcp.seconds.toFixed(2)} s,
      every byte, the same SHA-256 on both sides; at ${speed(achieved)} it
      stayed far below the cable's ${speed(cable)}, so this time the cable
      did not set its pace`;
  const sent = `A "sent" ${count(options.count)} datagrams${
    udp.allSent ? " and every send() succeeded" : ""
  }`;
  const udpSaw = udp.arrived.length === options.count
    ? `UDP lost nothing this time: ${sent}, and all of them arrived, as
      the queue and B's receive buffer had room for every one`
    : queue + buffer === 0
    ? `UDP did not pace itself: ${sent}, and ${
      only(udp.arrived.length)
    } had arrived when the lab stopped waiting; the rest were still in the
      cable's queue`
    : queue >= buffer
    ? `UDP did not pace itself: ${sent}, but ${
      only(udp.arrived.length)
    } arrived; the queue dropped
      ${count(queue)}${
      buffer > 0 ? ` and B's receive buffer ${count(buffer)}` : ""
    }, and nobody told the sender's program`
    : `UDP did not pace itself: ${sent}, and the cable kept up, but B's
      program did not: ${only(udp.arrived.length)} arrived, its full
      receive buffer dropped ${count(buffer)}${
      queue > 0 ? ` and the queue ${count(queue)}` : ""
    }, and nobody told the sender's program`;
  paragraph(`${tcpSaw}. ${udpSaw}.`);
}
