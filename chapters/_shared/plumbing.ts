/**
 * The plumbing every lesson shares and none of them teaches: reading flags,
 * checking their values, printing addresses, and turning errors into one
 * clear sentence instead of a stack trace. Read the lessons first; come here
 * only if you are curious how the flags work.
 *
 * Exit statuses, the same in every script:
 *   0  it worked (or --help was asked for)
 *   1  it ran, but something went wrong (no server, no reply, ...)
 *   2  it was called wrongly (unknown flag, port "abc", ...)
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";

// ---------------------------------------------------------------------------
// Ending the script with a message

/** Prints `error: MESSAGE` on stderr and exits with `status`. */
export function exitWithError(message: string, status = 1): never {
  console.error(`error: ${message}`);
  Deno.exit(status);
}

/** A mistake in how the script was called: one line, then exit status 2. */
export function usageError(message: string): never {
  exitWithError(`${message} (run with --help for usage)`, 2);
}

// Any error a lesson did not expect still ends as one line, never as a stack
// trace. Lessons catch the errors they expect themselves, with a sentence
// that says what to do; this is only the safety net under them.
function explainUncaught(event: ErrorEvent | PromiseRejectionEvent): void {
  event.preventDefault();
  const error = event instanceof ErrorEvent ? event.error : event.reason;
  exitWithError(describeNetworkError(error));
}
globalThis.addEventListener("error", explainUncaught);
globalThis.addEventListener("unhandledrejection", explainUncaught);

// ---------------------------------------------------------------------------
// Flags

/** What a script accepts on its command line. */
export interface FlagSpec<S extends string, B extends string, D extends S> {
  /** What `--help` prints: usage line, what it does, each flag. */
  help: string;
  /** Flags that take a value, like `--port 10001`. */
  string?: readonly S[];
  /** Flags that are on or off, like `--json`. */
  boolean?: readonly B[];
  /** The value of a string flag when it is not given. */
  defaults?: Record<D, string>;
  /** The words allowed that are not flags (like `server` in `chat server`). */
  positionals?: number;
}

/** The flags as given: strings, booleans, and `_` for the other words. */
export type Flags<S extends string, B extends string, D extends S> =
  & { [K in D]: string }
  & { [K in Exclude<S, D>]?: string }
  & { [K in B]: boolean }
  & { _: string[] };

/**
 * Reads `args` (usually `Deno.args`) with std's `parseArgs`. `--help` or
 * `-h` prints the help and exits 0; an unknown flag, a flag with no value or
 * a stray word exits 2 with one line saying which.
 */
export function parseFlags<
  S extends string = never,
  B extends string = never,
  D extends S = never,
>(args: string[], spec: FlagSpec<S, B, D>): Flags<S, B, D> {
  const strings: string[] = [...(spec.string ?? [])];
  const booleans: string[] = [...(spec.boolean ?? []), "help"];
  const known = new Set([...strings, ...booleans, "h"]);
  // parseArgs reads "-1" in `--port -1` as a flag of its own, and an empty
  // value (`--message ""`) as a stray word. Join such a value to its flag
  // (`--port=-1`, `--message=`) so that it is read as the flag's value.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    const takesValue = args[i].startsWith("--") &&
      strings.includes(args[i].slice(2));
    if (
      takesValue && next !== undefined && (next === "" || /^-\d/.test(next))
    ) {
      joined.push(`${args[i]}=${next}`);
      i += 1;
    } else {
      joined.push(args[i]);
    }
  }
  const parsed = parseArgs(joined, {
    string: strings,
    boolean: booleans,
    alias: { h: "help" },
    default: spec.defaults ?? {},
    unknown: (arg, key) => {
      if (key !== undefined && !known.has(key)) {
        usageError(`unknown flag "${arg}"`);
      }
      return true;
    },
  });
  if (parsed.help) {
    console.log(spec.help.trim());
    Deno.exit(0);
  }
  for (const name of strings) {
    // `--port` at the very end, or straight before another flag, parses
    // as "". (An empty value given on purpose, `--message ""`, is allowed.)
    const missing = args.some((arg, i) =>
      arg === `--${name}` &&
      (i === args.length - 1 || args[i + 1].startsWith("--"))
    );
    if (parsed[name] === "" && missing) {
      usageError(`--${name} needs a value`);
    }
  }
  const words = parsed._.map(String);
  if (words.length > (spec.positionals ?? 0)) {
    usageError(`unexpected argument "${words[spec.positionals ?? 0]}"`);
  }
  return { ...parsed, _: words } as unknown as Flags<S, B, D>;
}

/** A port number: a whole number from 0 to 65535 (0 = "any free port"). */
export function parsePort(text: string, flag = "--port"): number {
  return parseWholeNumber(text, flag, 0, 65535);
}

/** A whole number between `min` and `max`, or a usage error naming `flag`. */
export function parseWholeNumber(
  text: string,
  flag: string,
  min: number,
  max: number,
): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    usageError(
      `${flag} must be a whole number from ${min} to ${max}, not "${text}"`,
    );
  }
  return value;
}

/** A duration in seconds, like `2` or `0.5`; more than 0. */
export function parseSeconds(text: string, flag: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= 3600)) {
    usageError(`${flag} must be a number of seconds above 0, not "${text}"`);
  }
  return value;
}

/**
 * A host name or IP address. IPv6 addresses may come in brackets, as in
 * URLs (`[::1]`); Deno wants them bare (`::1`).
 */
export function parseHost(text: string, flag = "--host"): string {
  const host = text.startsWith("[") && text.endsWith("]")
    ? text.slice(1, -1)
    : text;
  if (host === "" || /\s/.test(host)) {
    usageError(`${flag} must be a host name or an IP address, not "${text}"`);
  }
  return host;
}

// ---------------------------------------------------------------------------
// Addresses

/** `127.0.0.1:10001`, or `[::1]:10001` for IPv6, as in URLs. */
export function formatAddress(
  address: { hostname: string; port: number },
): string {
  const host = address.hostname.includes(":")
    ? `[${address.hostname}]`
    : address.hostname;
  return `${host}:${address.port}`;
}

/** The first line of every server: `Listening on 127.0.0.1:10001`. */
export function printListening(address: Deno.Addr): void {
  console.log(`Listening on ${formatAddress(address as Deno.NetAddr)}`);
}

/**
 * Accepts connections, like `for await (const conn of listener)`, with one
 * difference that matters for a server: when accepting one connection fails
 * (most often "too many open files", when thousands are connected at once),
 * the plain loop throws and the whole server dies. Here the failure is
 * logged and accepting goes on a moment later. The loop ends when the
 * listener is closed (by Ctrl-C, see `onCtrlC`).
 */
export async function* acceptConnections<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
): AsyncGenerator<C> {
  let lastLogged = 0;
  while (true) {
    try {
      yield await listener.accept();
    } catch (error) {
      if (
        error instanceof Deno.errors.BadResource ||
        error instanceof Deno.errors.Interrupted
      ) {
        return; // The listener was closed: we are shutting down.
      }
      if (Date.now() - lastLogged > 1000) {
        lastLogged = Date.now();
        console.error(`Could not accept a connection (${error}); retrying.`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Runs `stop` when the user presses Ctrl-C (or the process is asked to end
 * with SIGTERM). Pressing Ctrl-C again, a second or more later, ends the
 * script at once, in case stopping hangs. (A repeat within the second is
 * ignored: when a script runs under `deno task`, the one Ctrl-C can reach
 * it twice, from the terminal and from the task runner.)
 */
export function onCtrlC(stop: () => void): void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  let firstAt = 0;
  const handler = () => {
    if (firstAt === 0) {
      firstAt = Date.now();
      console.error("Stopping (Ctrl-C).");
      stop();
    } else if (Date.now() - firstAt > 1000) {
      exitWithError("stopped at once (Ctrl-C twice).", 130);
    }
  };
  // A signal listener does not keep the script running by itself, so it
  // can stay in place until the script ends.
  for (const signal of signals) Deno.addSignalListener(signal, handler);
}

// ---------------------------------------------------------------------------
// Errors

/** Where we were trying to connect to or listen on, for the message. */
export interface Place {
  hostname: string;
  port?: number;
  /** The command that starts the server we wanted, e.g. `deno task tcp-server`. */
  server?: string;
}

/**
 * One sentence for a network error: what happened and what to do.
 * Deno's own messages ("Connection refused (os error 111)") say neither
 * where nor what next.
 */
export function describeNetworkError(error: unknown, place?: Place): string {
  const where = place === undefined
    ? "the other side"
    : place.port === undefined
    ? place.hostname
    : formatAddress({ hostname: place.hostname, port: place.port });
  const flagHost = place === undefined
    ? "HOST"
    : place.hostname.includes(":")
    ? `[${place.hostname}]`
    : place.hostname;
  const message = error instanceof Error ? error.message : String(error);

  if (error instanceof Deno.errors.NotCapable) {
    return `Deno was not given permission to use the network at ${where}. ` +
      `The deno.json tasks allow only this computer (127.0.0.1, [::1], ` +
      `localhost); to go further, run the script with deno run ` +
      `--allow-net=${flagHost} (see README.md).`;
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Nothing is listening on ${where} (connection refused). ` +
      (place?.server
        ? `Start the server first (${place.server}) and check the host ` +
          `and port.`
        : "Start the server first and check the host and port.");
  }
  if (error instanceof Deno.errors.AddrInUse) {
    return `Port ${place?.port ?? ""} on ${place?.hostname ?? "this host"} ` +
      `is already in use by another program. Stop that program, or choose ` +
      `another port with --port (--port 0 picks a free one).`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${place?.hostname ?? "That address"} is not an address of this ` +
      `computer, so nothing can listen there. Use 127.0.0.1 (this computer ` +
      `only) or 0.0.0.0 (every network) with --host.`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `The operating system refused to let this program use ${where}: ` +
      `ports below 1024 need administrator rights. Use a port from 1024 up.`;
  }
  if (error instanceof Deno.errors.TimedOut) {
    return `${where} did not answer in time (timed out). Check the address, ` +
      `and that no firewall is in the way.`;
  }
  if (
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof
  ) {
    return `${where} closed the connection abruptly (connection reset) ` +
      `before the conversation was over.`;
  }
  if (error instanceof Deno.errors.BrokenPipe) {
    return `${where} closed the connection while we were still sending ` +
      `(broken pipe).`;
  }
  if (
    error instanceof Deno.errors.NotFound ||
    /failed to lookup address|Name or service not known|ENOTFOUND|EAI_/i
      .test(message)
  ) {
    return `Could not find the address of "${place?.hostname ?? "the host"}"` +
      ` (the name does not resolve). Check the spelling, or use an IP ` +
      `address such as 127.0.0.1.`;
  }
  if (/network is unreachable|no route to host/i.test(message)) {
    return `${where} cannot be reached from this computer (no route). ` +
      `Check the address and your network connection.`;
  }
  const name = error instanceof Error ? error.name : "Error";
  return place === undefined
    ? `${name}: ${message}`
    : `${where}: ${name}: ${message}`;
}
