/**
 * lab-loss (12.2, TCP and UDP): predict, then measure. The student writes
 * down, before running the experiment, how many of 1,000 UDP datagrams
 * cross a router that drops 20 % of them, how many bytes of a TCP transfer
 * arrive, and why TCP's transfer takes longer. The check refuses to run
 * the experiment until all three are there, then runs `deno task lab
 * loss` (the lab's own experiment, real packets in network namespaces)
 * and compares.
 *
 * The lab is being changed by others: this reads only its closing
 * figures, several ways, and says so plainly if it cannot. Where the lab
 * cannot run (not Linux, no root nor user namespaces) it exits 77 with a
 * sentence; so does this check, with the lab's sentence.
 *
 * The tolerance: the number that arrive is binomial, n = 1,000 tries of
 * p = 0.8, so its standard deviation is sqrt(n p (1 - p)), about 12.6. A
 * prediction within 4 of those (at least 30) of the measured count passes:
 * a sound prediction (800) fails by chance about once in 15,000 runs,
 * while the wrong models (200 lost taken for arrived, 640 for a loss
 * on the way back too, 1,000 for a UDP that resends) are 160 or more away.
 *
 * @module
 */
import { taskArgs } from "../../task_process.ts";
import {
  CannotRun,
  type Context,
  count,
  type Exercise,
  Fail,
  Program,
  quote,
  ROOT,
} from "../kit.ts";

const CITES = {
  udpPromisesNothing: {
    file: "chapters/12_4_udp_client.ts",
    snippet:
      "Nothing promises that either one arrives, so it waits only so long.",
  },
  tcpResends: {
    file: "chapters/12_2_headers.ts",
    snippet: "TCP fixes them by sending again.",
  },
};

/** The letter of the right explanation in the starter's list. */
const RIGHT = "B";
// deno-fmt-ignore
const WRONG_WHY: Record<string, string> = {
  A: "A segment of 1,448 bytes crosses this path no slower than a small one, and the router drops big and small alike. Size is not what costs the time.",
  C: "Each program computes one SHA-256 of the whole transfer, at its end, on a good path as on a lossy one. That is not what the loss slows down.",
  D: "A TCP receiver acknowledges as data comes in (every segment or two), not at the end: the acknowledgments are what lets the sender go on, and tell it what was lost.",
};

interface Prediction {
  udpArrived: number;
  tcpBytesArrived: number;
  why: string;
}

/** Reads the student's predictions: the JSON line their file prints. */
async function predictions(context: Context): Promise<Prediction> {
  const program = context.start([]);
  await program.ended(5000);
  const line = program.stdout.filter((l) => l.trim().startsWith("{")).at(-1);
  let value: Record<string, unknown> = {};
  try {
    value = JSON.parse(line ?? "");
  } catch {
    for (const l of program.report()) context.say(l);
    throw new Fail(
      `Your file did not print its predictions. Keep its last line as it is: it prints them as one line of JSON, which the check reads.`,
    );
  }
  const number = (v: unknown) => typeof v === "number" ? v : NaN;
  return {
    udpArrived: number(value.udpArrived),
    tcpBytesArrived: number(value.tcpBytesArrived),
    why: typeof value.why === "string" ? value.why.trim().toUpperCase() : "",
  };
}

/** What the lab measured, read from its closing lines, several ways. */
interface Measured {
  sent: number;
  arrived: number;
  loss: number;
  tcpBytes: number;
  intact: boolean;
  resent: number | null;
  seconds: [lossy: number, good: number] | null;
  summary: string[];
}

const num = (text: string) => Number(text.replaceAll(",", ""));

function read(output: string): Measured | null {
  let sent = NaN, arrived = NaN;
  const both = output.match(/Arrived: ([\d,]+) of ([\d,]+)/);
  const lost = output.match(/UDP lost ([\d,]+) datagrams? of ([\d,]+)/);
  if (both) [arrived, sent] = [num(both[1]), num(both[2])];
  else if (lost) [sent, arrived] = [num(lost[2]), num(lost[2]) - num(lost[1])];
  else {
    const received = output.match(/Received ([\d,]+) datagrams/);
    const numbered = output.match(/([\d,]+) numbered datagrams/);
    if (received && numbered) {
      [arrived, sent] = [num(received[1]), num(numbered[1])];
    }
  }
  if (!(sent > 0 && arrived >= 0)) return null;
  const percent = output.match(/los(?:ing|es|s of) ([\d.]+) ?%/);
  const loss = percent ? Number(percent[1]) / 100 : 0.2;
  const received = [...output.matchAll(/Received (\d+) bytes/g)].at(-1);
  const mib = output.match(/every byte of its ([\d.]+) MiB/);
  const tcpBytes = received
    ? num(received[1])
    : mib
    ? Number(mib[1]) * 1048576
    : 4194304;
  const intact = /same SHA-256 on both sides: yes|delivered every byte/.test(
    output,
  );
  const again = output.match(/sent ([\d,]+) segments? again/);
  const took = output.match(/took ([\d.]+) s\s+instead of\s+([\d.]+) s/);
  const tail = output.split(/\nWhat this showed\n/)[1] ?? "";
  const summary = tail.split("\n\n")[0].split("\n").filter((l) =>
    l.trim() !== ""
  );
  return {
    sent,
    arrived,
    loss,
    tcpBytes,
    intact,
    resent: again ? num(again[1]) : null,
    seconds: took ? [Number(took[1]), Number(took[2])] : null,
    summary,
  };
}

async function check(context: Context): Promise<void> {
  const { say } = context;
  const guess = await predictions(context);
  say(
    `Your predictions: ${
      Number.isNaN(guess.udpArrived) ? "?" : count(guess.udpArrived)
    } of 1,000 datagrams arrive; ${
      Number.isNaN(guess.tcpBytesArrived) ? "?" : count(guess.tcpBytesArrived)
    } bytes of TCP arrive; TCP takes longer for reason ${guess.why || "?"}.`,
  );
  const missing = [
    Number.isNaN(guess.udpArrived) ? "udpArrived" : "",
    Number.isNaN(guess.tcpBytesArrived) ? "tcpBytesArrived" : "",
    /^[A-D]$/.test(guess.why) ? "" : "why (one letter, A to D)",
  ].filter((name) => name !== "");
  if (missing.length > 0) {
    throw new Fail(
      `Predict first: fill in ${
        missing.join(", ")
      }, before you run the experiment. A prediction written down before the measurement is what shows you whether your model of UDP and TCP was right; one written after shows nothing.`,
      CITES.udpPromisesNothing,
    );
  }

  // The experiment the starter describes, with its figures (the lab's
  // defaults) said explicitly: the predictions are about exactly these.
  const experiment = "loss --loss 0.2 --count 1000 --size 4194304";
  say(`Now the experiment: deno task lab ${experiment} (a few seconds)...`);
  const lab = new Program(
    [Deno.execPath(), ...taskArgs("lab"), ...experiment.split(" ")],
    ROOT,
  );
  if (!(await lab.ended(90_000))) {
    await lab.stop();
    throw new Error(`deno task lab ${experiment} did not finish within 90 s`);
  }
  const output = lab.stdout.join("\n");
  if (lab.status?.code === 77) {
    // Its sentence is its last `error:` line (Deno may say more before).
    const said = lab.stderr.filter((l) => l.startsWith("error: ")).at(-1);
    const why = (said ?? lab.stderr.join(" ")).replace(/^error: /, "").trim();
    throw new CannotRun(
      `The lab cannot run on this computer, so there is nothing to compare your predictions with. The lab says: ${why}`,
    );
  }
  if (lab.status?.code !== 0) {
    const why = lab.stderr.filter((l) => l.trim()).at(-1) ?? "no reason given";
    throw new Error(
      `the experiment failed (deno task lab loss: ${quote(why)})`,
    );
  }
  const measured = read(output);
  if (measured === null) {
    const last = lab.stdout.filter((l) => l.trim()).slice(-3).join(" ");
    throw new Error(
      `the lab ran, but its closing lines no longer say how many datagrams arrived (its wording changed?); they were: ${
        quote(last, 240)
      }`,
    );
  }
  const { sent, arrived, loss } = measured;
  say(
    `The lab sent ${count(sent)} datagrams through a path losing ${+(loss * 100)
      .toFixed(2)}%: ${count(arrived)} arrived.`,
  );
  const seconds = measured.seconds
    ? `; the transfer took ${measured.seconds[0]} s instead of ${
      measured.seconds[1]
    } s on the good path`
    : "";
  const resent = measured.resent === null
    ? ""
    : `, the sender's kernel sent ${plural(measured.resent)} again`;
  say(
    `TCP delivered ${count(measured.tcpBytes)} bytes${
      measured.intact ? ", every byte (the same SHA-256 on both sides)" : ""
    }${resent}${seconds}.`,
  );
  if (measured.summary.length) {
    say("The lab's own words:");
    for (const line of measured.summary) say(`  ${line}`);
  }

  const sigma = Math.sqrt(sent * loss * (1 - loss));
  const tolerance = Math.max(30, Math.ceil(4 * sigma));
  const off = Math.abs(guess.udpArrived - arrived);
  if (off > tolerance) {
    const near = (n: number) => Math.abs(guess.udpArrived - n) <= tolerance;
    const expected = Math.round(sent * (1 - loss));
    const why = near(sent * loss)
      ? `That is about how many were LOST (${
        count(sent - arrived)
      }): the question is how many arrive.`
      : near(sent)
      ? `UDP sends each datagram once: nobody resends the ones the router drops, and nobody is told they were lost.`
      : near(sent * (1 - loss) ** 2)
      ? `Only the datagrams themselves cross the lossy path, once each: UDP sends no acknowledgments back, so each datagram risks the loss once, not twice.`
      : `Each datagram is dropped with probability ${loss}, on its own: about ${
        count(sent)
      } × ${1 - loss} = ${
        count(expected)
      } arrive, give or take a standard deviation of sqrt(n p (1 - p)) = ${
        sigma.toFixed(1)
      }.`;
    throw new Fail(
      `You predicted ${count(guess.udpArrived)} datagrams; ${
        count(arrived)
      } arrived (a prediction within ${tolerance} passes). ${why}`,
      CITES.udpPromisesNothing,
    );
  }
  if (guess.tcpBytesArrived !== measured.tcpBytes) {
    throw new Fail(
      `You predicted ${count(guess.tcpBytesArrived)} bytes of TCP; all ${
        count(measured.tcpBytes)
      } arrived. TCP numbers every byte; the receiver acknowledges what it has, and the sender sends again whatever was not acknowledged. Unless the connection fails altogether, every byte arrives, in order: loss costs time, not data.`,
      CITES.tcpResends,
    );
  }
  if (guess.why !== RIGHT) {
    throw new Fail(
      `Your numbers were right; your reason (${guess.why}) is not. ${
        WRONG_WHY[guess.why] ?? ""
      } Think about what the sender must do when a segment is lost, and when it can know.`,
      CITES.tcpResends,
    );
  }
}

const plural = (n: number) => `${count(n)} segment${n === 1 ? "" : "s"}`;

export const labLoss: Exercise = {
  name: "lab-loss",
  section: "12.2",
  title: "Predict, then measure: UDP and TCP on a lossy path (the lab)",
  file: "12_2_lab_loss.ts",
  permissions: [],
  anyLanguage: false,
  cites: CITES,
  check,
};
