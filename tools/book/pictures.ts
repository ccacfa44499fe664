/**
 * The book's pictures, drawn as SVG by our own code from real packets and
 * real runs (no browser draws them), each with a text alternative:
 *
 * - the TCP greeting, packet by packet, from chapters/captures/greeting.pcap
 *   (handshake, data, the two FINs), and the UDP exchange from udp.pcap;
 * - the JSON echo and a chat, frame by frame, as the recorder's relay saw
 *   them in the recorded runs (tools/book/transcripts/json.json, chat.json);
 * - Figures 12.1 and 12.2, the boxes of the TCP and UDP headers, with the
 *   values `deno task headers --figure` printed for a real packet (read
 *   from the recorded output, so the picture is what the lesson says);
 * - Figure 12.3, the greeting through a router, with each packet's TTL on
 *   both cables, from the recorded run of `deno task lab router`;
 * - the lossy cable: which of the numbered datagrams arrived (the recorded
 *   `deno task lab loss`) and when TCP sent a segment again
 *   (chapters/captures/lossy.pcap).
 *
 * Captures are read with the lab's small pcap reader (tools/lab/pcap.ts).
 *
 * @module
 */
import { type Frame, ipv4, readPcap } from "../lab/pcap.ts";
import {
  type Arrow,
  type Sequence,
  sequenceSvg,
  visible,
} from "../sequence.ts";
import { ROOT } from "./pages.ts";
import type { Transcript } from "./transcript.ts";

export interface Picture {
  id: string;
  /** The tasks whose pages show it. */
  tasks: string[];
  /** The SVG to put in the page (with its own <title> and <desc>). */
  svg: string;
  /** The same picture as a file of its own. */
  standalone: string;
  /** A sentence under it (HTML). */
  caption: string;
  /** What it was drawn from, for the page. */
  source: string;
}

const xml = (text: string) =>
  visible(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/** Colours that follow the page's text colour, as tools/sequence.ts does. */
function style(name: string): string {
  return [
    "<style>",
    `.${name}{color:#1b1b1b}`,
    `@media (prefers-color-scheme:dark){.${name}{color:#e8e8e8}}`,
    `.${name} text{fill:currentColor;font:13px ui-monospace,Menlo,Consolas,monospace}`,
    `.${name} .line{stroke:currentColor;stroke-width:1.5;fill:none}`,
    `.${name} .thin{stroke:currentColor;stroke-width:1.5;fill:none;opacity:.8}`,
    // The acknowledgments' line: a colour of its own, 3:1 or more on both
    // backgrounds (the page's links' blue).
    `.${name} .ack{stroke:#0b57d0;stroke-width:2;fill:none}`,
    `@media (prefers-color-scheme:dark){.${name} .ack{stroke:#79b8ff}}`,
    `.${name} .box{stroke:currentColor;stroke-width:1.2;fill:none}`,
    `.${name} .fill{fill:currentColor}`,
    `.${name} .bad{stroke:#d32f2f;fill:none;stroke-width:2}`,
    `.${name} .bold{font-weight:bold}`,
    `.${name} .small{font-size:11px}`,
    `.${name} .faint{opacity:.75}`,
    "</style>",
  ].join("\n");
}

/** An SVG with a title and a description, sized to its view box. */
function svg(
  id: string,
  name: string,
  size: { width: number; height: number },
  title: string,
  description: string,
  body: string[],
): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size.width} ` +
    `${size.height}" width="${size.width}" height="${size.height}" ` +
    `role="img" aria-labelledby="${id}-title ${id}-desc" class="${name}">`,
    `<title id="${id}-title">${xml(title)}</title>`,
    `<desc id="${id}-desc">${xml(description)}</desc>`,
    style(name),
    ...body,
    "</svg>",
  ].join("\n") + "\n";
}

/** A sequence diagram, and the same as a file (with the XML prolog). */
function sequencePicture(
  id: string,
  sequence: Sequence,
  fields: Omit<Picture, "id" | "svg" | "standalone">,
): Picture {
  const drawing = sequenceSvg(sequence, {
    id,
    maxLabel: 48,
    // A long label loses its middle, not its end: the chat's two hellos
    // differ only in their last field, the username.
    cut: "middle",
    notes: "under",
    timeUnit: "ms",
  });
  return { id, svg: drawing, standalone: drawing, ...fields };
}

// --------------------------------------------------------------------
// Captures

interface Segment {
  ms: number;
  from: string;
  to: string;
  flags: string;
  seq: number;
  ack: number;
  data: Uint8Array;
  protocol: string;
}

/** The TCP and UDP packets of a capture, with their data. */
async function capture(path: string): Promise<Segment[]> {
  const bytes = await Deno.readFile(new URL(path, ROOT));
  const file = readPcap(bytes);
  const first = file.frames[0];
  const time = (frame: Frame) =>
    (frame.seconds - first.seconds) * 1000 +
    (frame.fraction - first.fraction) / (file.nanoseconds ? 1e6 : 1e3);
  const out: Segment[] = [];
  for (const frame of file.frames) {
    const packet = ipv4(frame, file.linkType);
    if (!packet || packet.sourcePort === undefined) continue;
    // The data: the last `payload` bytes of the IP packet.
    const ipLength = (frame.data[16] << 8) | frame.data[17];
    const data = frame.data.subarray(
      14 + ipLength - packet.payload,
      14 + ipLength,
    );
    out.push({
      ms: time(frame),
      from: `${packet.source}:${packet.sourcePort}`,
      to: `${packet.destination}:${packet.destinationPort}`,
      flags: packet.flags ?? "",
      seq: packet.sequence ?? 0,
      ack: packet.acknowledgement ?? 0,
      data,
      protocol: packet.protocol,
    });
  }
  return out;
}

const text = (data: Uint8Array) => new TextDecoder().decode(data);

/**
 * Data in quotes, its control characters shown as every picture and
 * lesson shows them (`\u{a}`, by tools/sequence.ts's `visible`).
 */
const quoted = (data: Uint8Array) => `"${text(data)}"`;

/** The greeting's packets as arrows: handshake, data, the two FINs. */
async function tcpGreeting(): Promise<Picture> {
  const path = "chapters/captures/greeting.pcap";
  const packets = await capture(path);
  const client = packets.find((p) => p.flags === "SYN")!.from;
  const server = packets.find((p) => p.from !== client)!.from;
  const first = new Map<string, number>();
  for (const p of packets) if (!first.has(p.from)) first.set(p.from, p.seq);
  const fin = new Set<string>();
  const arrows: Arrow[] = packets.map((p) => {
    const other = p.from === client ? server : client;
    const seq = (p.seq - first.get(p.from)! + 2 ** 32) % 2 ** 32;
    const ack = (p.ack - (first.get(other) ?? 0) + 2 ** 32) % 2 ** 32;
    const flags = p.flags.split(" ");
    const parts = [`[${flags.join(", ")}]`, `seq=${seq}`];
    if (flags.includes("ACK")) parts.push(`ack=${ack}`);
    if (p.data.length > 0) parts.push(quoted(p.data));
    const who = p.from === client ? "client" : "server";
    let note = "";
    if (flags.includes("SYN")) {
      note = flags.includes("ACK")
        ? "handshake 2: the server agrees"
        : "handshake 1: the client asks";
    } else if (flags.includes("FIN")) {
      note = `${who}: no more data (FIN)`;
      fin.add(who);
    } else if (p.data.length > 0) {
      note = `${p.data.length} bytes of data`;
    } else if (fin.size === 0 && seq === 1 && ack === 1) {
      note = "handshake 3: connected";
    } else {
      note = fin.size === 2 ? "the last acknowledgment" : "got it";
    }
    return {
      from: p.from === client ? "left" : "right",
      label: parts.join(" "),
      note,
      ms: p.ms,
    };
  });
  const sequence: Sequence = {
    left: `client ${client}`,
    right: `server ${server}`,
    title: `The greeting, packet by packet (${path})`,
    arrows,
    end: "both sides closed",
  };
  return sequencePicture("tcp-greeting", sequence, {
    tasks: ["tcp-server", "tcp-listener", "headers", "lab capture"],
    caption:
      "The greeting over TCP: the three-way handshake, the 18 bytes of " +
      "<code>0. Hi new friend!</code>, and a FIN from each side. Sequence " +
      "numbers count bytes, from 0 for each side (the real ones start at a " +
      "number each side picks at random). " +
      betweenComputers("tcp-server", "tcp-listener", server, client),
    source: `the packets in ${path}, captured by deno task lab capture`,
  });
}

/**
 * Where a capture of chapters/captures/ comes from, for its caption: not
 * this computer's loopback (where the runs on the page went) but two of
 * the lab's "computers", as tools/lab/capture.ts runs them: the server on
 * A, the client on B, captured on B's end of the cable.
 */
function betweenComputers(
  serverTask: string,
  clientTask: string,
  server: string,
  client: string,
): string {
  const host = (address: string) => address.replace(/:\d+$/, "");
  return `It was captured between two of the lab's computers (Linux ` +
    `network namespaces joined by a cable, <code>deno task lab capture</code>):` +
    ` <code>${serverTask}</code> on A (${host(server)}), ` +
    `<code>${clientTask}</code> on B (${host(client)}). Hence these ` +
    `addresses, not the 127.0.0.1 of a run on one computer.`;
}

/** The UDP exchange: one datagram there, one back. */
async function udpExchange(): Promise<Picture> {
  const path = "chapters/captures/udp.pcap";
  const packets = await capture(path);
  const client = packets[0].from;
  const server = packets[0].to;
  const arrows: Arrow[] = packets.map((p) => ({
    from: p.from === client ? "left" : "right",
    label: `UDP ${quoted(p.data)}`,
    note: `${p.data.length} bytes`,
    ms: p.ms,
  }));
  return sequencePicture("udp-exchange", {
    left: `client ${client}`,
    right: `server ${server}`,
    title: `One datagram there, one back (${path})`,
    arrows,
    end: "no handshake, no goodbye: two datagrams in all",
  }, {
    tasks: ["udp-server", "udp-client", "headers", "lab capture"],
    caption:
      "UDP has no connection: two datagrams in all, each a whole message. " +
      betweenComputers("udp-server", "udp-client", server, client),
    source: `the packets in ${path}, captured by deno task lab capture`,
  });
}

// --------------------------------------------------------------------
// Recorded runs

function wirePicture(
  id: string,
  transcript: Transcript | undefined,
  fields: { title: string; caption: string; tasks: string[]; end: string },
): Picture | null {
  const wire = transcript?.wire;
  if (!transcript || !wire) return null;
  const arrows: Arrow[] = [
    { from: "left", label: "(connects: TCP's handshake)" },
    ...wire.frames.map((frame) => ({
      from: frame.from,
      label: frame.text,
      note: `${new TextEncoder().encode(frame.text).length} bytes`,
    })),
  ];
  return sequencePicture(id, {
    left: wire.left,
    right: wire.right,
    title: fields.title,
    arrows,
    end: fields.end,
  }, {
    tasks: fields.tasks,
    caption: fields.caption,
    source:
      `the recorded run in tools/book/transcripts/${transcript.name}.json ` +
      `(what the recorder's relay passed on, each way)`,
  });
}

/** The box of one header field: bits from..to, its lines of text. */
interface Box {
  from: number;
  to: number;
  lines: string[];
}

/**
 * Figure 12.1 or 12.2 from what `deno task headers --figure` printed: the
 * ASCII boxes, 2 characters a bit, read back into fields.
 */
function headerFigure(
  id: string,
  printed: string[],
  figure: string,
): Picture | null {
  const start = printed.findIndex((line) =>
    line.startsWith(`Figure ${figure}`)
  );
  if (start < 0) return null;
  const title = printed[start];
  const rows: Box[][] = [];
  let block: string[] = [];
  for (const line of printed.slice(start + 1)) {
    if (line.startsWith("+")) {
      if (block.length > 0) rows.push(boxes(block));
      block = [];
    } else if (line.startsWith("|")) block.push(line);
    else if (!/^ [\d ]+$/.test(line)) break;
  }
  if (rows.length === 0) return null;
  const bit = 22, lineHeight = 17, left = 10, top = 44;
  const width = left * 2 + 32 * bit;
  const parts: string[] = [];
  for (let b = 0; b < 32; b++) {
    const x = left + b * bit + bit / 2;
    parts.push(
      `<text class="small faint" x="${x}" y="${top - 8}" ` +
        `text-anchor="middle">${b}</text>`,
    );
  }
  parts.push(
    `<text class="small faint" x="${left}" y="${top - 26}">bits</text>`,
  );
  let y = top;
  const described: string[] = [];
  for (const row of rows) {
    const height = Math.max(...row.map((box) => box.lines.length)) *
        lineHeight + 10;
    for (const box of row) {
      const x = left + box.from * bit;
      const w = (box.to - box.from) * bit;
      parts.push(
        `<rect class="box" x="${x}" y="${y}" width="${w}" height="${height}"/>`,
      );
      const narrow = box.to - box.from === 1;
      const named = box.lines.findIndex((line) => line !== "");
      box.lines.forEach((line, i) => {
        const bold = i === named && !narrow ? " bold" : "";
        parts.push(
          `<text class="${narrow ? "small" : ""}${bold}" x="${x + w / 2}" ` +
            `y="${y + 17 + i * lineHeight}" text-anchor="middle">${xml(line)}` +
            `</text>`,
        );
      });
      const words = box.lines.filter((line) => line !== "");
      if (narrow) {
        const name = words.slice(0, -1).join("");
        described.push(`${name} flag: ${words.at(-1)}`);
      } else if (words.length > 0) {
        described.push(
          `${words[0]}${
            words.length > 1 ? `: ${words.slice(1).join(" ")}` : ""
          }`,
        );
      }
    }
    y += height;
  }
  const height = y + 10;
  const drawing = svg(
    id,
    "figure",
    { width, height },
    title,
    `${title}. Fields, in order: ${described.join("; ")}.`,
    parts,
  );
  return {
    id,
    svg: drawing,
    standalone: drawing,
    tasks: ["headers"],
    caption: `${xml(title)}: the book's figure, with a real packet's ` +
      `values in the boxes. Each column is one bit; a row is 32 bits.`,
    source: "what deno task headers --figure printed in the recorded run " +
      "(tools/book/transcripts/headers.json)",
  };
}

/** One row of ASCII boxes: the `|` that stand in every line divide it. */
function boxes(lines: string[]): Box[] {
  const bars = [...lines[0]].map((c, i) => c === "|" ? i : -1)
    .filter((i) => i >= 0 && lines.every((line) => line[i] === "|"));
  const out: Box[] = [];
  for (let i = 0; i + 1 < bars.length; i++) {
    out.push({
      from: bars[i] / 2,
      to: bars[i + 1] / 2,
      lines: lines.map((line) => line.slice(bars[i] + 1, bars[i + 1]).trim()),
    });
  }
  // Trailing empty lines of a box are not drawn.
  for (const box of out) {
    while (box.lines.length > 1 && box.lines.at(-1) === "") box.lines.pop();
  }
  return out;
}

/** What a command printed in a transcript. */
function printed(
  transcript: Transcript | undefined,
  command: string,
): string[] {
  if (!transcript) return [];
  for (const terminal of transcript.terminals) {
    const at = terminal.entries.findIndex((e) => e.command === command);
    if (at < 0) continue;
    const lines: string[] = [];
    for (const entry of terminal.entries.slice(at + 1)) {
      if (entry.command !== undefined) break;
      if (entry.out !== undefined) lines.push(entry.out);
    }
    return lines;
  }
  return [];
}

/** Figure 12.3: client, router, server, and each packet's TTL. */
function routerFigure(transcript: Transcript | undefined): Picture | null {
  const lines = printed(transcript, "deno task lab router");
  const joined = lines.join(" ");
  const where = joined.match(
    /client (\S+) -- (\S+) router (\S+) -- (\S+) server/,
  );
  const rows = lines.map((line) =>
    line.match(/^ {2}(\S+) > (\S+) \[([^\]]+)\][^T]*TTL (\d+)\s+TTL (\d+)/)
  ).filter((m) => m !== null);
  if (!where || rows.length === 0) return null;
  const [, clientIp, routerLeft, routerRight, serverIp] = where;
  const xs = [120, 400, 680];
  const top = 96, step = 30;
  const height = top + rows.length * step + 24;
  const width = 800;
  const parts: string[] = [];
  const names = [
    ["client", clientIp],
    ["router", `${routerLeft} | ${routerRight}`],
    ["server", serverIp],
  ];
  names.forEach(([name, address], i) => {
    parts.push(
      `<rect class="box" x="${
        xs[i] - 95
      }" y="8" width="190" height="44" rx="6"/>`,
      `<text class="bold" x="${
        xs[i]
      }" y="27" text-anchor="middle">${name}</text>`,
      `<text class="small" x="${xs[i]}" y="44" text-anchor="middle">` +
        `${xml(address)}</text>`,
      `<line class="thin" x1="${xs[i]}" y1="52" x2="${xs[i]}" y2="${
        height - 12
      }"/>`,
    );
  });
  parts.push(
    `<text class="small faint" x="${(xs[0] + xs[1]) / 2}" y="76" ` +
      `text-anchor="middle">client's cable</text>`,
    `<text class="small faint" x="${(xs[1] + xs[2]) / 2}" y="76" ` +
      `text-anchor="middle">server's cable</text>`,
  );
  const described: string[] = [];
  rows.forEach((row, i) => {
    const [, from, , flags, near, far] = row;
    const toServer = from.startsWith(`${clientIp}:`);
    const y = top + i * step;
    const [a, b, c] = toServer ? xs : [...xs].reverse();
    const dir = Math.sign(c - a);
    const ttlFirst = toServer ? near : far;
    const ttlSecond = toServer ? far : near;
    parts.push(
      `<line class="line" x1="${a}" y1="${y}" x2="${c - dir * 2}" y2="${y}"/>`,
      `<path class="fill" d="M${c - dir * 2} ${y}l${-dir * 9} -5v10z"/>`,
      `<circle class="fill" cx="${b}" cy="${y}" r="3"/>`,
      `<text class="small" x="${(a + b) / 2}" y="${y - 5}" ` +
        `text-anchor="middle">[${xml(flags)}] TTL ${ttlFirst}</text>`,
      `<text class="small" x="${(b + c) / 2}" y="${y - 5}" ` +
        `text-anchor="middle">TTL ${ttlSecond}</text>`,
    );
    described.push(
      `${i + 1}. ${toServer ? "client to server" : "server to client"} ` +
        `[${flags}]: TTL ${ttlFirst} before the router, ${ttlSecond} after`,
    );
  });
  const title = "Figure 12.3: the greeting through a router, with each " +
    "packet's TTL on both cables";
  const drawing = svg(
    "figure-12-3",
    "figure",
    { width, height },
    title,
    `${title}. ${described.join("; ")}.`,
    parts,
  );
  return {
    id: "figure-12-3",
    svg: drawing,
    standalone: drawing,
    tasks: ["lab router"],
    caption: "The book's Figure 12.3, from a real run: every packet leaves " +
      "with TTL 64 and crosses the router one lower, in both directions.",
    source: "the TTLs tcpdump saw on both cables in the recorded run of " +
      "deno task lab router (tools/book/transcripts/lab-router.json)",
  };
}

/** Which numbered datagrams crossed the lossy cable. */
function lossyDatagrams(transcript: Transcript | undefined): Picture | null {
  const run = transcript?.terminals[0].entries[0].command ?? "";
  const lines = printed(transcript, run);
  const joined = lines.map((line) => line.trim()).join(" ");
  const total = joined.match(/UDP: ([\d,]+) numbered datagrams/);
  const lost = joined.match(/The lost ones: ([\d,\s-]+)\./);
  if (!total) return null;
  const count = Number(total[1].replaceAll(",", ""));
  const missing = new Set<number>();
  for (const range of (lost?.[1] ?? "").split(/,\s*/)) {
    const [a, b] = range.split("-").map(Number);
    if (Number.isNaN(a)) continue;
    for (let n = a; n <= (b ?? a); n++) missing.add(n);
  }
  // The lab lists at most 25 runs of lost ones ("and 3 more ranges"):
  // after the last one listed, the picture cannot say.
  const listedUpTo = /more ranges/.test(joined) ? Math.max(...missing) : count;
  const columns = count <= 200 ? 25 : 50;
  const size = count <= 200 ? 22 : 13, left = 44, top = 34;
  const rowsCount = Math.ceil(count / columns);
  const width = left + columns * size + 16;
  const height = top + rowsCount * size + 40;
  const parts: string[] = [];
  for (let n = 0; n < count; n++) {
    const x = left + (n % columns) * size;
    const y = top + Math.floor(n / columns) * size;
    parts.push(
      missing.has(n)
        ? `<path class="bad" d="M${x + 3} ${y + 3}l${size - 8} ${size - 8}m0 ${
          8 - size
        }l${8 - size} ${size - 8}"/>`
        : n > listedUpTo
        ? `<rect class="box" x="${x + 1.5}" y="${y + 1.5}" width="${
          size - 4
        }" height="${size - 4}"/>`
        : `<rect class="fill" x="${x + 1}" y="${y + 1}" width="${size - 3}" ` +
          `height="${size - 3}" opacity=".55"/>`,
    );
    if (n % columns === 0) {
      parts.push(
        `<text class="small faint" x="${left - 6}" y="${y + size - 6}" ` +
          `text-anchor="end">${n}</text>`,
      );
    }
  }
  const arrived = count - missing.size;
  parts.push(
    `<text x="${left}" y="20">${
      listedUpTo < count
        ? `up to ${listedUpTo}, ${missing.size} lost (crossed out); ` +
          `the rest not listed (hollow)`
        : `${arrived} of ${count} arrived; ${missing.size} lost (crossed out)`
    }</text>`,
  );
  const title = `Which of ${count} numbered UDP datagrams crossed a cable ` +
    `that loses one packet in five`;
  const drawing = svg(
    "lossy-udp",
    "figure",
    { width, height },
    title,
    `${title}: ${arrived} arrived; lost: ${[...missing].join(", ") || "none"}.`,
    parts,
  );
  return {
    id: "lossy-udp",
    svg: drawing,
    standalone: drawing,
    tasks: ["lab loss"],
    caption: "Each square is one datagram, numbered in the order A sent " +
      "them. A crossed-out one never arrived, and nobody was " +
      "told: A's send() succeeded every time.",
    source: "the recorded run of deno task lab loss " +
      '(tools/book/transcripts/lab-loss.json: "The lost ones")',
  };
}

/** When TCP sent each segment through the lossy cable, and sent again. */
async function lossySegments(): Promise<Picture | null> {
  const path = "chapters/captures/lossy.pcap";
  const packets = await capture(path);
  const syn = packets.find((p) => p.flags === "SYN");
  if (!syn) return null;
  const sender = syn.from;
  const isn = syn.seq;
  const data = packets.filter((p) => p.from === sender && p.data.length > 0);
  const acks = packets.filter((p) =>
    p.from !== sender && p.flags.includes("ACK")
  );
  const top = Math.max(...data.map((p) => (p.seq - isn) + p.data.length));
  // Up to the acknowledgment of the last byte, and a little more.
  const done = acks.find((p) => (p.ack - isn - 1 + 2 ** 32) % 2 ** 32 >= top);
  const last = 1.05 * (done?.ms ?? Math.max(...data.map((p) => p.ms)));
  const left = 70, bottom = 40, plotW = 620, plotH = 300;
  const width = left + plotW + 30, height = plotH + bottom + 50;
  // From a little before the first data segment (the handshake and the
  // programs' start come first).
  const first = Math.max(0, data[0].ms - 0.05 * (last - data[0].ms));
  const x = (ms: number) => left + ((ms - first) / (last - first)) * plotW;
  const y = (offset: number) => 20 + plotH - (offset / top) * plotH;
  const parts: string[] = [];
  parts.push(
    `<line class="thin" x1="${left}" y1="${y(0)}" x2="${left + plotW}" y2="${
      y(0)
    }"/>`,
    `<line class="thin" x1="${left}" y1="${y(0)}" x2="${left}" y2="${
      y(top)
    }"/>`,
    `<text class="small faint" x="${left + plotW / 2}" y="${y(0) + 32}" ` +
      `text-anchor="middle">time (ms since the first packet, the SYN)</text>`,
    `<text class="small faint" x="12" y="${y(top) - 6}">KiB sent</text>`,
  );
  for (let k = 0; k <= top / 1024; k += 8) {
    parts.push(
      `<text class="small faint" x="${left - 6}" y="${y(k * 1024) + 4}" ` +
        `text-anchor="end">${k}</text>`,
    );
  }
  const ticks = 4;
  for (let i = 0; i <= ticks; i++) {
    const ms = first + ((last - first) * i) / ticks;
    parts.push(
      `<text class="small faint" x="${x(ms)}" y="${y(0) + 16}" ` +
        `text-anchor="middle">${ms.toFixed(1)}</text>`,
    );
  }
  // The receiver's acknowledgments: how far it had everything, over time.
  let path2 = "";
  let acked = 0;
  for (const p of acks) {
    const offset = (p.ack - isn - 1 + 2 ** 32) % 2 ** 32;
    if (offset < acked || offset > top || p.ms > last || p.ms < first) {
      continue;
    }
    path2 +=
      `${path2 ? "L" : "M"}${x(p.ms).toFixed(1)} ${y(acked).toFixed(1)}` +
      `L${x(p.ms).toFixed(1)} ${y(offset).toFixed(1)}`;
    acked = offset;
  }
  if (path2) parts.push(`<path class="ack" d="${path2}"/>`);
  const seen = new Set<number>();
  const resent: number[] = [];
  for (const p of data) {
    const offset = (p.seq - isn - 1 + 2 ** 32) % 2 ** 32;
    const again = seen.has(offset);
    seen.add(offset);
    const cx = x(p.ms).toFixed(1),
      cy = y(offset + p.data.length / 2).toFixed(1);
    if (again) {
      resent.push(offset);
      parts.push(
        `<rect class="bad" x="${Number(cx) - 5}" y="${Number(cy) - 5}" ` +
          `width="10" height="10"/>`,
      );
    } else {
      parts.push(`<circle class="fill" cx="${cx}" cy="${cy}" r="3"/>`);
    }
  }
  parts.push(
    `<circle class="fill" cx="${left + 10}" cy="${height - 14}" r="3"/>`,
    `<text class="small" x="${left + 20}" y="${height - 10}">sent</text>`,
    `<rect class="bad" x="${left + 70}" y="${
      height - 19
    }" width="10" height="10"/>`,
    `<text class="small" x="${left + 86}" y="${height - 10}">sent again</text>`,
    `<line class="ack" x1="${left + 190}" y1="${height - 14}" x2="${
      left + 215
    }" ` +
      `y2="${height - 14}"/>`,
    `<text class="small" x="${left + 222}" y="${height - 10}">` +
      `acknowledged by B (everything up to there)</text>`,
  );
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const title = `TCP through the lossy cable: ${data.length} data segments ` +
    `sent for ${kib(top)}, ${resent.length} of them again`;
  const drawing = svg(
    "lossy-tcp",
    "figure",
    { width, height },
    title,
    `${title}. Sent again, by their place in the stream: ${
      resent.map(kib).join(", ")
    }. Every byte arrived.`,
    parts,
  );
  return {
    id: "lossy-tcp",
    svg: drawing,
    standalone: drawing,
    tasks: ["lab loss", "lab capture"],
    caption: "Each dot is a segment A sent, placed by when it left and " +
      "where its bytes sit in the stream; each red square a segment sent " +
      "again because the first copy was lost. The blue line is B's " +
      "acknowledgments: it climbs once the gaps are filled. (This " +
      "transfer is <code>deno task lab capture</code>'s: 32 KiB from A to " +
      "B, whose firewall dropped 20% of the TCP packets reaching it.)",
    source: `the packets in ${path}, captured on A's end of the cable by ` +
      "deno task lab capture",
  };
}

/** Every picture of the book. */
export async function pictures(transcripts: Transcript[]): Promise<Picture[]> {
  const named = (name: string) => transcripts.find((t) => t.name === name);
  const headers = named("headers");
  const all = [
    await tcpGreeting(),
    await udpExchange(),
    wirePicture("json-echo", named("json"), {
      title: "JSON through the echo server: every byte comes back",
      caption: "The client sends the book's JSON text; the echo server " +
        "sends the same bytes back.",
      tasks: ["json-server", "json-client"],
      end: "the client has its echo and hangs up; so does the server",
    }),
    wirePicture("chat", named("chat"), {
      title: "A chat, frame by frame",
      caption: "Each arrow is one frame of the chat's protocol: a line of " +
        "JSON. The server says hello first, the client writes first, then " +
        "they take turns.",
      tasks: ["chat"],
      end: "bob's input ended: he said bye and left",
    }),
    headerFigure(
      "figure-12-1",
      printed(headers, "deno task headers --figure"),
      "12.1",
    ),
    headerFigure(
      "figure-12-2",
      printed(headers, "deno task headers chapters/captures/udp.pcap --figure"),
      "12.2",
    ),
    routerFigure(named("lab-router")),
    lossyDatagrams(named("lab-loss")),
    await lossySegments(),
  ];
  return all.filter((picture) => picture !== null).map((picture) => ({
    ...picture,
    standalone: standalone(picture.standalone),
  }));
}

/**
 * A picture as a file of its own: an XML document with a background of
 * its own, light or dark as the reader's system is (prefers-color-scheme).
 * In a page the picture has none: the page's shows through.
 */
function standalone(svg: string): string {
  const [, width, height] = svg.match(/viewBox="0 0 ([\d.]+) ([\d.]+)"/)!;
  const paper = [
    "<style>",
    // The rectangle for any viewer; the root's colour for a browser's
    // window around the picture.
    ":root{background-color:#fdfdfb}.paper{fill:#fdfdfb}",
    "@media (prefers-color-scheme:dark){",
    ":root{background-color:#0d1117}.paper{fill:#0d1117}}",
    "</style>",
    `<rect class="paper" x="0" y="0" width="${width}" height="${height}"/>`,
  ].join("\n");
  // After the title, the description and the picture's own style.
  const at = svg.indexOf("</style>") + "</style>".length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${svg.slice(0, at)}\n` +
    `${paper}${svg.slice(at)}`;
}
