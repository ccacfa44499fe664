/**
 * udp-retry (12.4): a UDP client that tries again. The check's server
 * drops the first two datagrams it gets, as a lossy network would, and
 * answers every one after. The client must wait for an answer before it
 * sends again (250 ms; the check accepts 200 ms and more), send 5
 * datagrams at most, print the answer, and stop sending once it came.
 * Then a second run against a server that answers nothing: the client
 * must send 5 datagrams, no more, then give up with a sentence and a
 * status other than 0.
 *
 * @module
 */
import {
  address,
  close,
  type Context,
  type Exercise,
  Fail,
  plural,
  quoteBytes,
} from "../kit.ts";

const CLIENT = "chapters/12_4_udp_client.ts";
const CITES = {
  send: {
    file: CLIENT,
    snippet:
      'await socket.send(message, { transport: "udp", hostname: host, port });',
  },
  waitsForEver: {
    file: CLIENT,
    snippet: "// The book's recvfrom() waits for ever",
  },
  giveUp: {
    file: CLIENT,
    snippet: "setTimeout(() => exit(1, explain(noAnswer)), seconds * 1000);",
  },
};

/** Below this gap between two datagrams, the client did not wait. */
const LEAST_GAP_MS = 200;

async function check(context: Context): Promise<void> {
  await answeredOnThirdTry(context);
  await neverAnswered(context);
}

/** Receives datagrams on 127.0.0.1, answering from the `answerFrom`th on. */
function udpServer(answerFrom: number) {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const arrivals: { at: number; from: Deno.NetAddr; data: Uint8Array }[] = [];
  let answeredAt = 0;
  const serving = (async () => {
    try {
      while (true) {
        const [data, sender] = await socket.receive();
        const from = sender as Deno.NetAddr;
        arrivals.push({ at: Date.now(), from, data });
        if (arrivals.length < answerFrom) continue; // dropped, as a lossy cable would
        const answer = new TextEncoder().encode(
          `Response for ${from.hostname}`,
        );
        await socket.send(answer, from);
        answeredAt ||= Date.now();
      }
    } catch {
      // The socket was closed: the check is over.
    }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    arrivals,
    answeredAt: () => answeredAt,
    stop: async () => {
      close(socket);
      await serving;
    },
  };
}

/** Fails if two of the first 5 datagrams came less than 200 ms apart. */
function checkGaps(arrivals: { at: number }[]) {
  for (let i = 1; i < Math.min(arrivals.length, 5); i++) {
    const gap = arrivals[i].at - arrivals[i - 1].at;
    if (gap < LEAST_GAP_MS) {
      throw new Fail(
        `Your client sent datagram ${
          i + 1
        } only ${gap} ms after datagram ${i}. Sending again is right, but only once the answer is late: wait 250 ms for it first. A client that sends without waiting floods a server that may be slow, not gone.`,
        CITES.giveUp,
      );
    }
  }
}

async function answeredOnThirdTry({ start, say }: Context): Promise<void> {
  const server = udpServer(3);
  const { port, arrivals } = server;
  const program = start(["--host", "127.0.0.1", "--port", `${port}`]);
  const started = Date.now();
  await program.ended(5000);
  await server.stop();
  const answeredAt = server.answeredAt();

  const first = arrivals[0]?.at ?? started;
  say(
    `The server listened on 127.0.0.1:${port}, dropping the first 2 datagrams and answering the rest. It received:`,
  );
  for (const [i, { at, from, data }] of arrivals.slice(0, 8).entries()) {
    const fate = i < 2
      ? "dropped it"
      : `answered "Response for ${from.hostname}"`;
    say(
      `  at ${at - first} ms, from ${address(from)}: ${
        quoteBytes(data, 40)
      }; it ${fate}`,
    );
  }
  if (arrivals.length > 8) say(`  ... and ${arrivals.length - 8} more`);
  if (arrivals.length === 0) say("  nothing.");
  for (const line of program.report("Your client")) say(line);

  const printed = program.stdout.map((line) => line.trim());
  const answered = printed.includes("Response for 127.0.0.1");
  if (program.status === null) {
    throw new Fail(
      `Your client was still running 5 s after it started. 5 tries of 250 ms take little more than a second: give up after the fifth, with a sentence and status 1.`,
      CITES.giveUp,
    );
  }
  if (arrivals.length === 0) {
    throw new Fail(
      `No datagram reached the server. The check runs your client with --host 127.0.0.1 --port ${port}: send to that address.`,
      CITES.send,
    );
  }
  checkGaps(arrivals);
  if (arrivals.length > 5) {
    throw new Fail(
      `Your client sent ${
        plural(arrivals.length, "datagram")
      }: 5 at most. A server that answered none of 5 is likely down, or out of reach: say so and stop.`,
      CITES.giveUp,
    );
  }
  const late = arrivals.filter((a) => answeredAt && a.at > answeredAt + 100);
  if (late.length > 0) {
    throw new Fail(
      `Your client sent ${
        plural(late.length, "datagram")
      } more after the server had answered: once the answer has come, stop sending.`,
      CITES.giveUp,
    );
  }
  if (!answered && arrivals.length < 3) {
    throw new Fail(
      `The server got ${
        plural(arrivals.length, "datagram")
      } from your client and dropped ${
        arrivals.length === 1 ? "it" : "both"
      }, as a lossy network does. Nobody told your client: UDP does not resend, and says nothing of a datagram lost. Your client must: when no answer has come within 250 ms, send again (5 datagrams at most).`,
      CITES.waitsForEver,
    );
  }
  if (!answered) {
    throw new Fail(
      `The server answered your client's third datagram with "Response for 127.0.0.1", but your client did not print it. Print the answer on a line of its own.`,
    );
  }
  if (program.status.code !== 0) {
    throw new Fail(
      `Your client printed the answer, then ended with status ${program.status.code}: end with 0 when the answer came.`,
    );
  }
}

/** A server that answers nothing: 5 datagrams, then the client gives up. */
async function neverAnswered({ start, say }: Context): Promise<void> {
  const server = udpServer(Infinity);
  const { port, arrivals } = server;
  const program = start(["--host", "127.0.0.1", "--port", `${port}`]);
  await program.ended(5000);
  await server.stop();
  const first = arrivals[0]?.at ?? 0;
  say("");
  say(
    `Then the check ran your client again, against a server on 127.0.0.1:${port} that answers nothing (a server down, or a cable that loses everything). It received ${
      plural(arrivals.length, "datagram")
    }${
      arrivals.length
        ? `, at ${arrivals.slice(0, 8).map((a) => a.at - first).join(", ")}${
          arrivals.length > 8 ? ", ..." : ""
        } ms`
        : ""
    }.`,
  );
  for (const line of program.report("Your client")) say(line);
  if (program.status === null) {
    throw new Fail(
      `With no answer at all, your client was still running 5 s after it started. 5 tries of 250 ms take little more than a second: give up after the fifth, with a sentence and status 1.`,
      CITES.giveUp,
    );
  }
  checkGaps(arrivals);
  if (arrivals.length !== 5) {
    throw new Fail(
      `With no answer at all, your client sent ${
        plural(arrivals.length, "datagram")
      }: send 5, each 250 ms after the one before, then give up. ${
        arrivals.length > 5
          ? "A server that answered none of 5 is likely down, or out of reach."
          : "A network may lose 2 or 3 in a row; 5 tries make it very likely one gets through."
      }`,
      CITES.giveUp,
    );
  }
  const said = [...program.stdout, ...program.stderr].some((l) => l.trim());
  if (program.status.code === 0 || !said) {
    throw new Fail(
      `With no answer to 5 datagrams, your client ${
        program.status.code === 0
          ? "ended with status 0, as if all went well"
          : "said nothing"
      }. Say in a sentence that no answer came, and end with status 1: a script that runs your client can then tell.`,
      CITES.giveUp,
    );
  }
}

export const udpRetry: Exercise = {
  name: "udp-retry",
  section: "12.4",
  title: "A UDP client that tries again",
  file: "12_4_udp_retry.ts",
  permissions: ["--unstable-net", "--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
