/**
 * time-server (12.2): Table 12.1's port 37, the Time protocol (RFC 868),
 * as a server. The check connects twice at once and reads what comes
 * until the server hangs up: exactly 4 bytes, the seconds since 1900,
 * big-endian, within a second or two of the check's own clock.
 *
 * @module
 */
import {
  address,
  close,
  connect,
  type Context,
  count,
  type Exercise,
  Fail,
  hexBytes,
  quoteBytes,
  readUntilHangUp,
  startServer,
} from "../kit.ts";

const CITES = {
  table: { file: "chapters/12_2_ports.ts", snippet: '[37, "Time"],' },
  bigEndian: {
    file: "chapters/12_2_headers.ts",
    snippet: "const seq = t.getUint32(4), ack = t.getUint32(8)",
  },
  hangUp: {
    file: "chapters/12_4_tcp_server.ts",
    snippet: 'await conn.closeWrite(); // "That was all"',
  },
  writeAll: {
    file: "chapters/12_4_tcp_server.ts",
    snippet: "sent += await conn.write(greeting.subarray(sent));",
  },
};

/** Seconds from 1900-01-01 to 1970-01-01: 70 years, 17 of them leap. */
const FROM_1900 = 2_208_988_800;

/** A count of seconds since 1900 as a date, for the reader. */
const date = (seconds: number) =>
  new Date((seconds - FROM_1900) * 1000).toISOString().replace(".000Z", " UTC")
    .replace("T", " ");

async function check(context: Context): Promise<void> {
  const { say } = context;
  const { program, hostname, port } = await startServer(context, [
    "--port",
    "0",
  ]);
  const where = address({ hostname, port, transport: "tcp" });
  // Two clients at once: a server serves more than one.
  const before = Date.now() / 1000;
  const answers = await Promise.all([0, 1].map(async () => {
    const conn = await connect(hostname, port);
    if (typeof conn === "string") return conn;
    const answer = await readUntilHangUp(conn, 3000, 1024);
    close(conn);
    return answer;
  }));
  const after = Date.now() / 1000;
  say(
    `The check connected to ${where} twice, at once, and read each time until your server hung up.`,
  );
  for (const answer of answers) {
    if (typeof answer === "string") {
      throw new Fail(`The check could not reach your server: ${answer}.`);
    }
  }
  for (const [i, answer] of answers.entries()) {
    const { bytes, hungUp } = answer as Exclude<typeof answer, string>;
    const got = `${bytes.length} bytes${
      bytes.length ? `: ${hexBytes(bytes)}` : ""
    }`;
    say(
      `Client ${i + 1} got ${got}${
        hungUp
          ? ", then your server hung up."
          : ", and your server had not hung up 3 s later."
      }`,
    );
    if (bytes.length === 0 && hungUp) {
      throw new Fail(
        `Your server hung up without sending anything. RFC 868 sends 4 bytes: the seconds since 1900 as one 32-bit number, most significant byte first.`,
        CITES.writeAll,
      );
    }
    if (bytes.length !== 4) {
      const text = /^[\x20-\x7e\r\n]+$/.test(new TextDecoder().decode(bytes));
      throw new Fail(
        text
          ? `Your server sent text, ${
            quoteBytes(bytes)
          }. RFC 868 sends no text: the number itself, as 4 bytes (32 bits), most significant byte first, as a TCP header carries its 32-bit numbers.`
          : `Your server sent ${bytes.length} bytes. RFC 868 sends exactly 4: one 32-bit number, most significant byte first, as a TCP header carries its 32-bit numbers.`,
        CITES.bigEndian,
      );
    }
    const view = new DataView(bytes.buffer);
    const value = view.getUint32(0), swapped = view.getUint32(0, true);
    say(
      `  Read most significant byte first, they say ${count(value)}: ${
        date(value)
      }.`,
    );
    // Within 2 s of the check's clock, counted modulo 2^32: the 32 bits
    // run out in February 2036, and the count starts again from 0.
    const near = (n: number) => {
      const ahead = (n - Math.floor(before) - FROM_1900) % 2 ** 32;
      const span = Math.ceil(after) - Math.floor(before) + 2;
      return (ahead + 2 ** 32 + 2) % 2 ** 32 <= span + 2;
    };
    if (!hungUp) {
      throw new Fail(
        `Your server sent 4 bytes, then kept the connection open. A Time client reads until the server hangs up: hang up once the 4 bytes are out.`,
        CITES.hangUp,
      );
    }
    if (near(value)) continue;
    const now = Math.round(after) + FROM_1900;
    if (near(value + FROM_1900)) {
      throw new Fail(
        `Your server's time is ${count(FROM_1900)} seconds (70 years) early: ${
          date(value)
        }. Date.now() counts from 1 January 1970; RFC 868, port 37 of Table 12.1, counts from 1 January 1900. Add the 70 years between (17 of them leap years): ${
          count(FROM_1900)
        } s.`,
        CITES.table,
      );
    }
    if (near(swapped) || near(swapped + FROM_1900)) {
      const early = near(swapped)
        ? ""
        : ` And it counts from 1970 (Date.now()), not from 1900 as RFC 868 does: add the ${
          count(FROM_1900)
        } s between.`;
      throw new Fail(
        `Your server wrote its number with the bytes the wrong way round (least significant first). The network sends the most significant byte first (big-endian), as a TCP header carries its 32-bit numbers; DataView's setUint32 does so unless told otherwise.${early}`,
        CITES.bigEndian,
      );
    }
    throw new Fail(
      `Your server's 4 bytes say ${count(value)} seconds since 1900, which is ${
        date(value)
      }; the check's clock says ${count(now)}, ${
        date(now)
      }. Send whole seconds (Date.now() counts milliseconds), counted from 1900, most significant byte first.`,
      CITES.table,
    );
  }
  void program;
}

export const timeServer: Exercise = {
  name: "time-server",
  section: "12.2",
  title: "A Time server (port 37 of Table 12.1, RFC 868)",
  file: "12_2_time_server.ts",
  permissions: ["--allow-net=127.0.0.1,[::1]"],
  anyLanguage: true,
  cites: CITES,
  check,
};
