/**
 * Sequence diagrams of a conversation between two programs, as text (for a
 * terminal) and as SVG (for the rendered book): two lifelines, one arrow per
 * frame, packet or datagram, in the order they went. The chat checker draws
 * what went each way with it; the book draws the TCP greeting, the UDP
 * exchange and the lab's lossy cable with it. Not a lesson: lessons import
 * nothing of ours.
 *
 * @module
 */

/** One thing that went from one side to the other. */
export interface Arrow {
  /** Who sent it: the left side or the right one. */
  from: "left" | "right";
  /** What went: a frame, `SYN seq=0`, `"0. Hi new friend!\n"`, ... */
  label: string;
  /** A remark beside the arrow, e.g. "the server speaks first". */
  note?: string;
  /** Milliseconds since the start, shown in the margin when given. */
  ms?: number;
  /** Sent but never arrived (a lost datagram): drawn as a broken arrow. */
  lost?: boolean;
  /**
   * Not sent at all: something that happened on the `from` side only (a
   * line typed into a program, a line it printed). Drawn beside that
   * lifeline, without an arrow.
   */
  local?: boolean;
}

/** A whole conversation. */
export interface Sequence {
  /** What the left lifeline is, e.g. "client" or "A 10.77.0.1". */
  left: string;
  /** What the right lifeline is. */
  right: string;
  /** One line that says what the picture shows (its title). */
  title: string;
  arrows: Arrow[];
  /** The last line under the lifelines, e.g. "both closed". */
  end?: string;
}

/** Control and format characters, shown as \u{HEX}: never obeyed. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** `text` with its control and format characters made visible. */
export function visible(text: string): string {
  return text.replace(
    UNSAFE,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}

/** `text` cut to `max` characters (whole characters), with … when cut. */
export function cut(text: string, max: number): string {
  const characters = [...text];
  if (characters.length <= max) return text;
  return characters.slice(0, Math.max(1, max - 1)).join("") + "…";
}

/**
 * `text` cut to `max` characters by leaving out its middle, marked …: whole
 * comma-separated pieces where it has them (the fields of a JSON frame:
 * `{"type":"hello",…,"username":"bob"}`), else characters from both ends.
 * For labels that differ at their end.
 */
export function cutMiddle(text: string, max: number): string {
  const characters = [...text];
  if (characters.length <= max) return text;
  const length = (piece: string) => [...piece].length;
  const pieces = text.split(/(?<=,)/);
  let best = "";
  for (let head = 1; head < pieces.length - 1; head++) {
    for (let tail = 1; head + tail < pieces.length; tail++) {
      const kept = pieces.slice(0, head).join("") + "…," +
        pieces.slice(pieces.length - tail).join("");
      if (length(kept) <= max && length(kept) > length(best)) best = kept;
    }
  }
  if (best) return best;
  const tail = Math.floor((max - 1) / 2);
  return characters.slice(0, max - 1 - tail).join("") + "…" +
    characters.slice(characters.length - tail).join("");
}

/** Width of the arrow column in the text diagram, in characters. */
const TEXT_ARROW = 52;

/**
 * The conversation as lines of text, e.g.
 *
 *     client                                                server
 *       | <-- {"type":"hello",...} ---------------------------- |  first
 *       | --- {"type":"hello",...} ---------------------------> |
 */
export function sequenceText(
  sequence: Sequence,
  options: { cut?: "end" | "middle" } = {},
): string {
  const shorten = options.cut === "middle" ? cutMiddle : cut;
  const margin = sequence.arrows.some((arrow) => arrow.ms !== undefined)
    ? 9
    : 0;
  const pad = " ".repeat(margin);
  const lines = [
    `${pad}${sequence.left.padEnd(TEXT_ARROW + 2)}${sequence.right}`,
  ];
  for (const arrow of sequence.arrows) {
    const room = TEXT_ARROW - 10;
    const label = ` ${shorten(visible(arrow.label), room)} `;
    const dashes = "-".repeat(Math.max(1, TEXT_ARROW - 8 - [...label].length));
    // A local event: `(typed "hi")` beside its own lifeline, no arrow.
    const event = `(${cut(visible(arrow.label), room)})`;
    const spaces = " ".repeat(Math.max(1, TEXT_ARROW - 3 - [...event].length));
    const body = arrow.local
      ? arrow.from === "left" ? `  ${event}${spaces}` : `${spaces}${event}  `
      : arrow.from === "left"
      ? ` ---${label}${dashes}${arrow.lost ? "X  " : "-> "}`
      : `${arrow.lost ? "  X-" : " <--"}${label}${dashes}-- `;
    const time = arrow.ms === undefined
      ? pad
      : `${(arrow.ms / 1000).toFixed(3)} s`.padStart(margin - 1) + " ";
    const note = arrow.note ? `  ${visible(arrow.note)}` : "";
    lines.push(`${time}  |${body}|${note}`);
  }
  if (sequence.end) lines.push(`${pad}  ${visible(sequence.end)}`);
  return lines.join("\n");
}

/** Text made safe inside SVG: &, < and > escaped, controls visible. */
function xml(text: string): string {
  return visible(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A short description of every arrow, the picture's text alternative. */
export function sequenceDescription(sequence: Sequence): string {
  const steps = sequence.arrows.map((arrow, index) => {
    const [from, to] = arrow.from === "left"
      ? [sequence.left, sequence.right]
      : [sequence.right, sequence.left];
    const what = arrow.lost ? "sends, and it is lost," : "sends";
    const note = arrow.note ? ` (${arrow.note})` : "";
    if (arrow.local) return `${index + 1}. At ${from}: ${arrow.label}${note}.`;
    return `${index + 1}. ${from} ${what} ${to}: ${arrow.label}${note}.`;
  });
  const end = sequence.end ? ` ${sequence.end}.` : "";
  return `${sequence.title}. ${steps.join(" ")}${end}`;
}

/** Options for the SVG. */
export interface SvgOptions {
  /** An id unique in the page that shows it (for aria-labelledby). */
  id?: string;
  /** Longest label drawn, in characters (longer ones are cut with …). */
  maxLabel?: number;
  /**
   * Where a label too long is cut: at its "end" (the default), or in the
   * "middle" (see `cutMiddle`), which keeps the end of each label.
   */
  cut?: "end" | "middle";
  /**
   * Where the notes go: "beside" the right lifeline (the default), or
   * "under" each arrow, which keeps the picture narrow (for a phone).
   */
  notes?: "beside" | "under";
  /** The times in the margin in seconds (the default) or milliseconds. */
  timeUnit?: "s" | "ms";
}

/**
 * The conversation as an SVG picture, with a <title> and a <desc> (the text
 * alternative, every arrow in words) and role="img". Colours follow the
 * text colour of the page (currentColor), so it reads in dark mode too;
 * standing alone it picks its colours from prefers-color-scheme.
 */
export function sequenceSvg(
  sequence: Sequence,
  options: SvgOptions = {},
): string {
  const id = options.id ?? "sequence";
  const maxLabel = options.maxLabel ?? 60;
  const char = 7.9; // width of one character at 13px in a monospace font
  const shorten = options.cut === "middle" ? cutMiddle : cut;
  const labels = sequence.arrows.map((a) =>
    shorten(visible(a.label), maxLabel)
  );
  const longest = Math.max(16, ...labels.map((label) => [...label].length));
  const notes = sequence.arrows.map((a) => a.note ? visible(a.note) : "");
  const longestNote = Math.max(0, ...notes.map((note) => [...note].length));
  const timed = sequence.arrows.some((arrow) => arrow.ms !== undefined);
  const under = options.notes === "under";
  const widthOf = (text: string) => [...visible(text)].length * char;
  // The names above the lifelines and the last line are centred: room for
  // half of each on its side.
  const leftX = Math.ceil(
    Math.max(timed ? 90 : 20, widthOf(sequence.left) / 2 + 8),
  );
  const span = Math.ceil(Math.max(
    220,
    longest * char + 40,
    under ? longestNote * char + 40 : 0,
    sequence.end ? widthOf(sequence.end) - 2 * leftX + 16 : 0,
  ));
  const rightX = leftX + span;
  const noteX = rightX + 16;
  const width = Math.ceil(Math.max(
    under ? rightX + 20 : noteX + longestNote * char + 20,
    rightX + widthOf(sequence.right) / 2 + 8,
    (leftX + rightX) / 2 + (sequence.end ? widthOf(sequence.end) / 2 : 0) +
      8,
  ));
  const top = 44, step = under ? 48 : 34;
  const bottom = top + step * sequence.arrows.length + 16;
  const height = bottom + (sequence.end ? 34 : 14);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}"` +
      ` width="${width}" height="${height}" role="img"` +
      ` aria-labelledby="${id}-title ${id}-desc" class="sequence">`,
    `<title id="${id}-title">${xml(sequence.title)}</title>`,
    `<desc id="${id}-desc">${xml(sequenceDescription(sequence))}</desc>`,
    "<style>",
    ".sequence{color:#1b1b1b}",
    "@media (prefers-color-scheme:dark){.sequence{color:#e8e8e8}}",
    ".sequence text{fill:currentColor;font:13px ui-monospace,Menlo,Consolas," +
      "monospace}",
    ".sequence .who{font-weight:bold}",
    ".sequence .life{stroke:currentColor;stroke-width:1.5}",
    ".sequence .arrow{stroke:currentColor;stroke-width:1.5;fill:none}",
    ".sequence .lost{stroke:#d32f2f;stroke-dasharray:5 4}",
    ".sequence .head{fill:currentColor}",
    ".sequence .note,.sequence .time{opacity:.75}",
    ".sequence .local{font-style:italic;opacity:.85}",
    ".sequence .cross{stroke:#d32f2f;stroke-width:2.5}",
    "</style>",
  );
  const who = (x: number, text: string) =>
    `<text class="who" x="${x}" y="22" text-anchor="middle">${xml(text)}` +
    `</text>`;
  parts.push(who(leftX, sequence.left), who(rightX, sequence.right));
  for (const x of [leftX, rightX]) {
    parts.push(
      `<line class="life" x1="${x}" y1="30" x2="${x}" y2="${bottom}"/>`,
    );
  }
  sequence.arrows.forEach((arrow, index) => {
    const y = top + step * index + 20;
    const [from, to] = arrow.from === "left"
      ? [leftX, rightX]
      : [rightX, leftX];
    const direction = Math.sign(to - from);
    if (arrow.local) {
      // Beside its own lifeline, in italics, without an arrow.
      parts.push(
        `<text class="local" x="${from + direction * 8}" y="${y - 3}"` +
          ` text-anchor="${direction > 0 ? "start" : "end"}">` +
          `${xml(labels[index])}</text>`,
      );
    } else {
      // A lost arrow stops at two thirds of the way, with a cross.
      const end = arrow.lost ? from + (to - from) * 2 / 3 : to - direction * 2;
      const lost = arrow.lost ? " lost" : "";
      parts.push(
        `<text x="${(leftX + rightX) / 2}" y="${y - 7}"` +
          ` text-anchor="middle">${xml(labels[index])}</text>`,
        `<line class="arrow${lost}" x1="${from}" y1="${y}" x2="${end}"` +
          ` y2="${y}"/>`,
      );
      if (arrow.lost) {
        parts.push(
          `<path class="cross" d="M${end - 6} ${y - 6}l12 12m0 -12l-12 12"/>`,
        );
      } else {
        const back = end - direction * 9;
        parts.push(
          `<path class="head" d="M${end} ${y}L${back} ${y - 5}L${back} ` +
            `${y + 5}Z"/>`,
        );
      }
    }
    if (notes[index] && under) {
      parts.push(
        `<text class="note" x="${(leftX + rightX) / 2}" y="${y + 17}"` +
          ` text-anchor="middle">${xml(notes[index])}</text>`,
      );
    } else if (notes[index]) {
      parts.push(
        `<text class="note" x="${noteX}" y="${y + 4}">${xml(notes[index])}` +
          `</text>`,
      );
    }
    if (arrow.ms !== undefined) {
      parts.push(
        `<text class="time" x="${leftX - 10}" y="${y + 4}"` +
          ` text-anchor="end">${
            options.timeUnit === "ms"
              ? `${arrow.ms.toFixed(3)} ms`
              : `${(arrow.ms / 1000).toFixed(3)} s`
          }</text>`,
      );
    }
  });
  if (sequence.end) {
    parts.push(
      `<text class="note" x="${(leftX + rightX) / 2}" y="${bottom + 22}"` +
        ` text-anchor="middle">${xml(sequence.end)}</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
