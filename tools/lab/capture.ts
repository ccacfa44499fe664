/**
 * Lab: captures for Figures 12.1 and 12.2 (section 12.2).
 * `deno task lab capture DIR`
 *
 * Records real packets with tcpdump and writes them to DIR as files that
 * `deno task headers` decodes, header field by header field:
 *
 *   greeting.pcap          tcp-server on A, tcp-listener on B: the
 *                          three-way handshake, the greeting, the goodbye
 *   greeting.pcapng        the same packets in pcapng, Wireshark's format
 *   udp.pcap               udp-server on A, udp-client on B: two datagrams
 *   lossy.pcap             32 KiB from A to B while B's firewall drops
 *                          20% of the TCP packets reaching it, captured
 *                          on A: the same segment sent twice
 *   loopback-offload.pcap  the greeting on one computer's loopback (lo),
 *                          where checksum offload leaves TCP checksums
 *                          unfinished in the capture
 *
 * What to look for: the packet counts and checksums printed for each file;
 * then `deno task headers DIR/greeting.pcap` to see the headers. On the
 * cable the lab turns checksum offload off, so the captured checksums are
 * the ones on the wire; on lo it cannot, and the checksums captured there
 * are left for hardware that does not exist.
 *
 * @module
 */
import {
  type Computer,
  heading,
  type Lab,
  LabError,
  paragraph,
  plural,
  type Program,
  sleep,
} from "./kit.ts";
import { transfer } from "./loss.ts";
import {
  type Capture,
  checksumOk,
  packets,
  readPcap,
  toPcapng,
} from "./pcap.ts";
import { capture as tcpdump } from "./router.ts";

/** A capture file's bytes, as tcpdump wrote them, and what they hold. */
interface File {
  bytes: Uint8Array;
  capture: Capture;
}

/** Stops a capture after the last packets are in, and reads it. */
async function stopCapture(dump: Program): Promise<File> {
  await sleep(200);
  await dump.stop("SIGINT");
  return { bytes: dump.bytes, capture: readPcap(dump.bytes) };
}

/** "12 packets, checksums finished" for one capture. */
function summary(capture: Capture): string {
  const checks = capture.frames.map((frame) => checksumOk(frame));
  const bad = checks.filter((ok) => ok === false).length;
  const sums = bad === 0
    ? "every TCP/UDP checksum finished and right"
    : `${bad} of ${checks.length} checksums unfinished (offload)`;
  return `${plural(capture.frames.length, "packet")}, ${sums}`;
}

/** The greeting from `b` to `a` at `address` (tcp-server, tcp-listener). */
async function greeting(lab: Lab, a: Computer, b: Computer, address: string) {
  const host = address === "127.0.0.1" ? [] : ["--host", "0.0.0.0"];
  const server = lab.deno(
    a,
    [`--allow-net=${host.length ? "0.0.0.0" : address}:10001`],
    "chapters/12_4_tcp_server.ts",
    host,
  );
  await server.listening();
  const client = lab.deno(
    b,
    [`--allow-net=${address}:10001`],
    "chapters/12_4_tcp_listener.ts",
    ["--host", address],
  );
  await client.finish();
  await server.line(/Connection from/);
  await server.stop();
  if (!/Hi new friend!/.test(client.output)) {
    throw new LabError(`the greeting did not arrive: ${client.output}`);
  }
}

export async function captures(lab: Lab, dir: string): Promise<void> {
  console.log("Lab: captures for Figures 12.1 and 12.2 (section 12.2)");
  await Deno.mkdir(dir, { recursive: true });
  const a = await lab.computer("A");
  const b = await lab.computer("B");
  const [aDev, bDev] = await lab.cable(a, "10.77.0.1/24", b, "10.77.0.2/24");
  paragraph(
    `Computer A (10.77.0.1) and computer B (10.77.0.2), joined by a cable
    (Linux network namespaces and a veth pair); tcpdump records what
    crosses B's end of it, then A's. Checksum offload is off on the cable,
    so the captured checksums are the ones really sent.`,
  );
  const files: Record<string, File> = {};

  heading("1. greeting.pcap: the greeting, B to A (12.4)");
  let dump = await tcpdump(lab, b, bDev);
  await greeting(lab, a, b, "10.77.0.1");
  files["greeting.pcap"] = await stopCapture(dump);

  heading("2. udp.pcap: one datagram there, one back (12.4)");
  dump = await tcpdump(lab, b, bDev);
  const udpServer = lab.deno(
    a,
    ["--unstable-net", "--allow-net=0.0.0.0:25000,10.77.0.2"],
    "chapters/12_4_udp_server.ts",
    ["--host", "0.0.0.0"],
  );
  await udpServer.listening();
  const udpClient = lab.deno(
    b,
    ["--unstable-net", "--allow-net=10.77.0.1:25000,0.0.0.0"],
    "chapters/12_4_udp_client.ts",
    ["--host", "10.77.0.1"],
  );
  await udpClient.finish();
  await udpServer.stop();
  if (udpClient.ended?.code !== 0) {
    throw new LabError(`udp-client failed: ${udpClient.output}`);
  }
  files["udp.pcap"] = await stopCapture(dump);

  heading("3. lossy.pcap: 32 KiB from A to B; B's firewall drops 20%");
  paragraph(
    `(iptables on B drops 20% of the TCP packets that reach B, at random,
    first letting the SYN through. The capture is on A's end of the cable,
    so it shows each lost segment sent, and sent again; for packets lost
    between two computers, captured on both sides, see deno task lab loss.)`,
    "  ",
  );
  const random = ["-m", "statistic", "--mode", "random", "--probability"];
  await lab.exec(b, [
    ...["iptables", "-A", "INPUT", "-p", "tcp"],
    ...["--tcp-flags", "SYN", "SYN", "-j", "ACCEPT"],
  ], true);
  await lab.exec(
    b,
    ["iptables", "-A", "INPUT", "-p", "tcp", ...random, "0.2", "-j", "DROP"],
    true,
  );
  // A short transfer may, by chance, lose nothing: then try again (at
  // most 5 times), so that the capture shows TCP sending again.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const resent = (await lab.snmp(a))["Tcp.RetransSegs"];
    dump = await tcpdump(lab, a, aDev);
    await transfer(lab, a, b, "10.77.0.2", 32 * 1024, 60);
    const lossy = await stopCapture(dump);
    if ((await lab.snmp(a))["Tcp.RetransSegs"] > resent) {
      files["lossy.pcap"] = lossy;
      break;
    }
    paragraph("(nothing was lost this time: once more)", "  ");
  }
  if (!files["lossy.pcap"]) throw new LabError("5 transfers lost nothing");

  heading("4. loopback-offload.pcap: the greeting inside A, on lo");
  dump = await tcpdump(lab, a, "lo");
  await greeting(lab, a, a, "127.0.0.1");
  files["loopback-offload.pcap"] = await stopCapture(dump);

  heading(`Written to ${dir}`);
  const join = (name: string) => `${dir.replace(/\/+$/, "")}/${name}`;
  const pcapng = toPcapng(files["greeting.pcap"].capture);
  for (const [name, { bytes, capture }] of Object.entries(files)) {
    const ip = packets(capture);
    const frames = capture.frames.length;
    if (ip.length !== frames) {
      throw new LabError(`${name} holds ${frames - ip.length} non-IPv4 frames`);
    }
    await Deno.writeFile(join(name), bytes);
    console.log(`  ${name.padEnd(22)} ${summary(capture)}`);
  }
  await Deno.writeFile(join("greeting.pcapng"), pcapng);
  console.log(
    `  ${"greeting.pcapng".padEnd(22)} the greeting again, as pcapng`,
  );

  heading("What this showed");
  const resent = sentTwice(files["lossy.pcap"].capture);
  const lo = files["loopback-offload.pcap"].capture.frames;
  const unfinished = lo.filter((frame) => checksumOk(frame) === false);
  paragraph(
    `Real packets, written down: the greeting took
    ${files["greeting.pcap"].capture.frames.length} packets (handshake,
    greeting, goodbye), the UDP exchange
    ${files["udp.pcap"].capture.frames.length}; in the
    lossy transfer A sent ${plural(resent, "segment")} a second time. On
    the cable every checksum was finished; on lo,
    ${unfinished.length} of ${lo.length} were left to offload. Decode
    them: deno task headers ${join("greeting.pcap")}`,
  );
}

/** How many TCP data segments in a capture repeat an earlier one. */
export function sentTwice(capture: Capture): number {
  const seen = new Set<string>();
  let again = 0;
  for (const p of packets(capture)) {
    if (p.protocol !== "TCP" || p.payload === 0) continue;
    const key = `${p.source}:${p.sourcePort} ${p.sequence} ${p.payload}`;
    if (seen.has(key)) again++;
    seen.add(key);
  }
  return again;
}
