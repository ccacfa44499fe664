/**
 * Lab: a router that loses packets (section 12.2: TCP "guarantees that
 * sent data will arrive intact", its packages "re-transmitted until they
 * successfully arrive"; UDP promises nothing of the kind).
 * `deno task lab loss`
 *
 * Computer A sends to computer B through a router in the middle, which
 * drops a fraction (--loss, default 0.2: one in five, at random) of the
 * packets it passes on to B, as an overloaded or faulty router on the
 * Internet would. What to look for:
 *
 * 1. UDP: of 1,000 numbered datagrams, about 200 never arrive. The output
 *    lists which ones. tcpdump on both cables shows where: every one
 *    leaves A, the missing ones never reach B's cable, and the router's
 *    own counter (iptables) counts exactly as many drops. The sender was
 *    told nothing: every send() succeeded.
 * 2. TCP: the same 4 MiB as on a path without loss arrive whole (the same
 *    SHA-256 on both sides, both times). The price is time, and the work
 *    the kernel did: its own counter (RetransSegs) says how many segments
 *    it sent again. At high loss TCP may crawl, or give up ("unless the
 *    connection fails", the book says), but what it delivers is always
 *    exactly what was sent, in order.
 *
 * @module
 */
import { seededBytes, sha256 } from "./bytes.ts";
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
import { type Capture, readPcap } from "./pcap.ts";
import { capture, row } from "./router.ts";

export interface LossOptions {
  /** The fraction of packets the router drops, 0 to 0.9. */
  loss: number;
  /** How many UDP datagrams. */
  count: number;
  /** How many bytes the TCP transfer sends. */
  size: number;
}

const UDP_PORT = 25000;
const TCP_PORT = 10009;

/** How long the lab lets a TCP transfer run before it stops it. */
export const TRANSFER_SECONDS = 60;

/** What one run of tools/lab/tcp_bulk.ts showed. */
export interface Transfer {
  /** Bytes A set out to send. */
  size: number;
  /** Seconds: A's own figure if it finished, else until the lab stopped. */
  seconds: number;
  /** The SHA-256 of all the bytes A sends (the same for every transfer). */
  sent: string;
  /** How many bytes reached B's program, and their SHA-256. */
  got: number;
  received: string;
  /** Whether those are exactly the first `got` bytes A sent. */
  inOrder: boolean;
  /** Whether every byte arrived, and B said so to A. */
  finished: boolean;
  /** Why not, in A's own words ("" if it finished). */
  why: string;
  /** Whether the lab stopped it (it ran out of time). */
  timedOut: boolean;
}

/**
 * Sends `size` bytes from `a` to `b` (at `address`) with tcp_bulk.ts, and
 * stops it after `seconds` if it has not finished.
 */
export async function transfer(
  lab: Lab,
  a: Computer,
  b: Computer,
  address: string,
  size: number,
  seconds = TRANSFER_SECONDS,
): Promise<Transfer> {
  const receiver = lab.deno(
    b,
    [`--allow-net=0.0.0.0:${TCP_PORT}`],
    "tools/lab/tcp_bulk.ts",
    ["receive", "--port", `${TCP_PORT}`, "--timeout", `${seconds + 10}`],
  );
  await receiver.listening();
  const started = performance.now();
  const sender = lab.deno(
    a,
    [`--allow-net=${address}:${TCP_PORT}`],
    "tools/lab/tcp_bulk.ts",
    [
      ...["send", "--host", address, "--port", `${TCP_PORT}`],
      ...["--size", `${size}`, "--timeout", `${seconds}`],
    ],
  );
  const status = await sender.finish((seconds + 10) * 1000);
  // If A gave up, B is still waiting: Ctrl-C makes it say what it has.
  if (status.code === 0) await receiver.finish(10_000);
  else await receiver.stop("SIGINT");
  const elapsed = (performance.now() - started) / 1000;
  const sent = sender.output.match(/Sent \d+ bytes in ([\d.]+) s, SHA-256/);
  const received = receiver.output.match(/Received (\d+) bytes.*SHA-256 (\w+)/);
  if (!received) {
    throw new LabError(
      `B's receiver printed no result: ${JSON.stringify(receiver.output)}`,
    );
  }
  const bytes = seededBytes(size);
  const got = Number(received[1]);
  const inOrder = got <= size &&
    await sha256(bytes.slice(0, got)) === received[2];
  // "error: 10.77.0.130:10009: TimedOut: ..." -> "TimedOut: ..."
  const why = sender.stderr.join(" ").replace(/^error: (\S+:\d+: )?/, "");
  return {
    size,
    seconds: sent ? Number(sent[1]) : elapsed,
    sent: await sha256(bytes),
    got,
    received: received[2],
    inOrder,
    finished: status.code === 0 && got === size && inOrder,
    why,
    timedOut: /did not finish within/.test(why),
  };
}

/** What the numbered datagrams showed. */
export interface Datagrams {
  sent: number;
  arrived: number[];
  /** Every send() succeeded. */
  allSent: boolean;
  /** How many the kernels had not accounted for when the lab stopped. */
  unaccounted: number;
}

/**
 * Sends `n` numbered datagrams of `size` bytes from `a` to `b` with
 * udp_numbers.ts. `accounted` says how many datagrams the kernels have
 * accounted for so far (delivered or dropped); the receiver is stopped once
 * all are, or nothing changed for 3 s, or after 60 s.
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
  let now = await accounted();
  let changed = Date.now();
  for (const start = Date.now(); now < n && Date.now() - start < 60_000;) {
    if (Date.now() - changed >= 3000) break;
    await sleep(100);
    const next = await accounted();
    if (next !== now) changed = Date.now();
    now = next;
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
    now >= n
      ? `(the lab pressed Ctrl-C for B once the kernels had accounted for all
        ${count(n)} datagrams)`
      : `(the lab pressed Ctrl-C for B when the kernels had accounted for
        ${count(now)} of ${count(n)} datagrams and nothing more came)`,
    "  ",
  );
  console.log(`  ${lab.pad(b)} | Received ${line[1]} datagrams: ${list}`);
  return {
    sent: n,
    arrived: JSON.parse(line[2]),
    allSent: /every send\(\) succeeded/.test(sender.output),
    unaccounted: Math.max(0, n - now),
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

/** The datagram numbers in a capture (`datagram N of ...` in each). */
export function numbersIn(capture: Capture): Set<number> {
  const numbers = new Set<number>();
  const decoder = new TextDecoder();
  for (const { data } of capture.frames) {
    // Ethernet header (14 bytes), IPv4 header (IHL words), UDP header (8).
    const at = 14 + (data[14] & 0x0f) * 4 + 8;
    const text = decoder.decode(data.subarray(at, at + 40));
    const number = text.match(/^datagram (\d+) of/)?.[1];
    if (number !== undefined) numbers.add(Number(number));
  }
  return numbers;
}

/** How many packets tcpdump says it missed (its buffer overflowed). */
function missedBy(tcpdump: Program): number {
  const line = tcpdump.output.match(/(\d+) packets? dropped by kernel/);
  return line ? Number(line[1]) : 0;
}

/**
 * What A's kernel counted about sending segments again, between two
 * readings of its counters: `phrase` says it ("A's kernel sent 12
 * segments again (Tcp RetransSegs)"). Tcp RetransSegs counts tries; a try
 * can fail at once inside A's own kernel (a full queue on A: the slow
 * cable), which TcpExt TCPRetransFail counts.
 */
export function resends(
  before: Record<string, number>,
  after: Record<string, number>,
) {
  const tries = after["Tcp.RetransSegs"] - before["Tcp.RetransSegs"];
  const failed = after["TcpExt.TCPRetransFail"] -
    before["TcpExt.TCPRetransFail"];
  // Duplicate SACKs (RFC 2883): B's acknowledgements say which segments
  // came twice; A's kernel counts them (Linux 5.4 and later).
  const twice = after["TcpExt.TCPDSACKRecvSegs"] -
    before["TcpExt.TCPDSACKRecvSegs"];
  const phrase = failed > 0
    ? `A's TCP tried ${plural(tries, "time")} to send a segment again (Tcp
      RetransSegs; ${count(failed)} of those tries failed at once inside A's
      own kernel, TcpExt TCPRetransFail)`
    : `A's kernel sent ${plural(tries, "segment")} again (Tcp RetransSegs)`;
  /** The same in brackets' words: "Tcp RetransSegs counted 12 resends". */
  const tally = `Tcp RetransSegs counted ${plural(tries, "resend")}${
    failed > 0
      ? `, ${count(failed)} of which failed at once inside A, TcpExt
        TCPRetransFail`
      : ""
  }`;
  return { tries, failed, twice, phrase, tally };
}

/** A transfer's outcome, in a sentence or two, from its figures. */
function outcome(t: Transfer, good: Transfer): string {
  const share = `${count(t.got)} of ${count(t.size)} bytes`;
  const start = `exactly the first ${count(t.got)} bytes A sent (the same
    SHA-256): TCP hands bytes to the program only in order, never with a
    hole in them`;
  if (!t.inOrder) {
    return `B received ${share}, and they are NOT the bytes A sent.`;
  }
  if (t.finished) {
    return `The same SHA-256 on both sides, and the same as on the path
      without loss: yes, every byte arrived, in order.`;
  }
  if (t.timedOut) {
    return `After ${t.seconds.toFixed(0)} s the lab stopped the transfer: B
      had received ${share}, ${start}. (On the path without loss it took
      ${good.seconds.toFixed(2)} s.)`;
  }
  return `A's TCP gave up: "${t.why}". Sending the same segment again and
    again without an acknowledgement, its kernel declared the connection
    dead: the book's "unless the connection fails". B had received
    ${share}, ${start}.`;
}

export async function loss(lab: Lab, options: LossOptions): Promise<void> {
  const percent = `${+(options.loss * 100).toFixed(2)}%`;
  const p = `${options.loss}`;
  console.log(
    "Lab: a router that loses packets (section 12.2: what TCP and UDP promise)",
  );
  paragraph(
    `Computer A (10.77.0.2) sends to computer B (10.77.0.130) through a
    router in the middle (10.77.0.1 on A's side, 10.77.0.129 on B's), the
    way packets cross the Internet. Each computer is a Linux network
    namespace, each cable a veth pair; "A $ command" runs the command on
    A, with --no-prompt added to deno run.`,
  );
  const { left: a, router, right: b, leftDev, rightDev, toRight } = await row(
    lab,
    "A",
    "B",
    false,
  );

  heading(`1. TCP: ${mib(options.size)} from A to B, nothing lost yet`);
  const good = await transfer(lab, a, b, "10.77.0.130", options.size);
  if (!good.finished) {
    throw new LabError(
      `the transfer without loss did not finish: ${good.why || "no reason"}`,
    );
  }

  heading(
    `2. The router starts dropping ${percent} of the packets it passes to B`,
  );
  const rtoMax = "net.ipv4.tcp_rto_max_ms";
  const capped = await lab.exec(a, ["sysctl", "-w", `${rtoMax}=1000`], true)
    .then(() => true, () => false);
  const forward = ["iptables", "-A", "FORWARD", "-o", toRight];
  await lab.exec(
    router,
    [...forward, "-p", "tcp", "--syn", "-j", "ACCEPT"],
    true,
  );
  const random = ["-m", "statistic", "--mode", "random", "--probability", p];
  for (const protocol of ["udp", "tcp"]) {
    await lab.exec(router, [
      ...forward,
      "-p",
      protocol,
      ...random,
      "-j",
      "DROP",
    ], true);
  }
  paragraph(
    `FORWARD is the router's list of rules for the packets passing through
    it; -o ${toRight} picks those leaving on its cable to B (what B sends
    back to A passes untouched). Rule 1 lets every SYN through, the first
    packet of a TCP connection: a lost SYN is sent again only after 1 s
    (there is no round trip measured yet to time it by), which would add
    whole seconds to transfers of milliseconds and measure the handshake's
    luck, not how TCP repairs a stream. Rules 2 and 3 drop UDP and the rest
    of TCP, each packet with probability ${p}, and count what they drop.`,
    "  ",
  );
  paragraph(
    capped
      ? `The sysctl on A: TCP sends a lost segment again in one of two
        ways. Mostly at once: the segments after it reach B, whose
        acknowledgements keep naming the first byte still missing (and,
        with SACK, what came after it), so A sends it again within a round
        trip ("fast retransmit", RFC 5681). When nothing comes after it to
        tell (the last segment, say), A waits for its retransmission
        timeout (at least 0.2 s on Linux), doubled each time the same
        segment is lost again, up to 120 s: seconds, then minutes, of
        waiting. ${rtoMax} (Linux 6.15 and later) caps each wait at 1 s.`
      : `(This kernel has no ${rtoMax}, new in Linux 6.15: A's waits
        between resends double up to 120 s, uncapped.)`,
    "  ",
  );

  heading(
    `3. UDP: ${count(options.count)} numbered datagrams from A to B, ` +
      `captured on both cables`,
  );
  paragraph(
    `(Each says "datagram N of ${options.count}". A pauses 1 ms after every
    25, so that B's program keeps up: a full receive buffer loses datagrams
    too, and the lab counts those apart.)`,
    "  ",
  );
  const filter = `udp port ${UDP_PORT}`;
  const onA = await capture(lab, a, leftDev, filter);
  const onB = await capture(lab, b, rightDev, filter);
  const before = await lab.snmp(b);
  const drops = async () => {
    const [, udp] = await lab.ruleCounts(router, "FORWARD");
    const snmp = await lab.snmp(b);
    return {
      router: udp,
      buffer: snmp["Udp.RcvbufErrors"] - before["Udp.RcvbufErrors"],
      read: snmp["Udp.InDatagrams"] - before["Udp.InDatagrams"],
    };
  };
  const udp = await datagrams(
    lab,
    a,
    b,
    "10.77.0.130",
    options.count,
    100,
    25,
    async () => {
      const { router, buffer, read } = await drops();
      return router + buffer + read;
    },
  );
  await onA.stop("SIGINT");
  await onB.stop("SIGINT");
  const leftA = numbersIn(readPcap(onA.bytes));
  const reachedB = numbersIn(readPcap(onB.bytes));
  const missingOnB = [...leftA].filter((n) => !reachedB.has(n)).length;
  const missed = missedBy(onA) + missedBy(onB);
  const { router: dropped, buffer } = await drops();
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
  const sum = dropped + buffer;
  const saw = `tcpdump saw ${
    leftA.size === options.count
      ? `all ${count(options.count)}`
      : `${count(leftA.size)} of ${count(options.count)}`
  } leave A and ${count(reachedB.size)} reach B's end of the cable${
    missed > 0 ? ` (tcpdump itself missed ${count(missed)})` : ""
  }`;
  paragraph(
    lost.length === 0
      ? `None was lost: ${saw}; the router dropped none (its rule 2 counted
        ${count(dropped)}), B's receive buffer none (Udp RcvbufErrors in B's
        /proc/net/snmp: ${count(buffer)}).`
      : `Where they were lost: ${saw}${
        missingOnB === 0 ? "" : `; the ${count(missingOnB)} missing there
          went into the router and never came out (its rule 2 counted
          ${count(dropped)} drops)`
      }. B's full receive buffer dropped ${count(buffer)} more (Udp
        RcvbufErrors in B's /proc/net/snmp): ${count(dropped)} +
        ${count(buffer)} = ${count(sum)}${
        sum === lost.length ? ", every lost datagram" : ""
      }.`,
    "  ",
  );

  heading(
    `4. TCP: the same ${mib(options.size)}, the same bytes, through the ` +
      `router that drops ${percent}`,
  );
  if (options.loss >= 0.3) {
    paragraph(
      `(At this loss TCP may crawl: when the same segment is lost again
      and again, A waits longer after each loss in a row. The lab stops
      the transfer if it has not finished after ${TRANSFER_SECONDS} s.)`,
      "  ",
    );
  }
  const [, , tcpBefore] = await lab.ruleCounts(router, "FORWARD");
  const aBefore = await lab.snmp(a);
  const lossy = await transfer(lab, a, b, "10.77.0.130", options.size);
  const [, , tcpAfter] = await lab.ruleCounts(router, "FORWARD");
  const resent = resends(aBefore, await lab.snmp(a));
  const tcpDropped = tcpAfter - tcpBefore;
  paragraph(
    `${outcome(lossy, good)} The router dropped ${
      plural(tcpDropped, "TCP packet")
    } on their way to B (rule 3); ${resent.phrase}${
      resent.tries > tcpDropped && resent.twice > 0
        ? `, more than the router dropped: B's acknowledgements told A that
          ${plural(resent.twice, "segment")} had come twice (duplicate SACKs,
          TcpExt TCPDSACKRecvSegs)`
        : ""
    }.${lossy.finished ? ` It ${took(lossy, good)}.` : ""}`,
    "  ",
  );
  if (!lossy.inOrder) throw new LabError("TCP delivered bytes A never sent");

  heading("What this showed");
  const udpSaw = lost.length === 0
    ? `UDP lost no datagram this time (the router dropped none of them)`
    : `UDP lost ${plural(lost.length, "datagram")} of ${count(options.count)}
    and nobody was told: ${
      udp.allSent
        ? "every one of A's send() calls succeeded"
        : "some of A's send() calls failed, for other reasons"
    }, B just never saw ${lost.length === 1 ? "it" : "them"}, and only
    tcpdump and the kernels' counters knew (the router dropped
    ${count(dropped)}, B's receive buffer ${count(buffer)})`;
  const tcpSaw = lossy.finished
    ? `TCP delivered every byte of its ${mib(options.size)} through the same
      router, the very bytes it delivered without loss (the same SHA-256);
      ${
      resent.tries === 0
        ? "A's kernel had nothing to send again"
        : `A's kernel sent ${plural(resent.tries, "segment")} again`
    }, and the transfer ${took(lossy, good)}`
    : `TCP ${
      lossy.timedOut
        ? `had not finished its ${mib(options.size)} after
          ${lossy.seconds.toFixed(0)} s`
        : "gave up on the connection"
    }, but the ${count(lossy.got)} bytes it had delivered were exactly the
      start of what A sent: late, or not at all, but never wrong`;
  paragraph(`${udpSaw}. ${tcpSaw}.`);
}

/** "took 0.09 s instead of 0.02 s (4 times as long)", or "about as long". */
function took(lossy: Transfer, good: Transfer): string {
  const [now, then] = [lossy.seconds.toFixed(2), good.seconds.toFixed(2)];
  const times = lossy.seconds / Math.max(good.seconds, 0.001);
  return times >= 1.5
    ? `took ${now} s instead of ${then} s (${
      count(Math.round(times))
    } times as long)`
    : `took ${now} s, about as long as without loss (${then} s)`;
}

/** 4194304 -> "4 MiB", 65536 -> "64 KiB", 1000 -> "1,000 bytes". */
export function mib(bytes: number): string {
  if (bytes >= 1048576 && bytes % 1048576 === 0) {
    return `${bytes / 1048576} MiB`;
  }
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${count(bytes)} bytes`;
}
