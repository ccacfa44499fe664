/**
 * The deno-chat frames, as the checker reads them: written again from
 * chat/README.md (the protocol page), not imported from chat/protocol.ts,
 * so that the checker judges our own chat as independently as anyone's.
 *
 * @module
 */

export const PROTOCOL = "deno-chat";
export const MAX_LINE_BYTES = 32 * 1024; // not counting the "\n"
export const MAX_TEXT_BYTES = 4096;
export const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;
export const ERROR_CODE = /^[a-z0-9-]{1,32}$/;
export const HELLO_TIMEOUT_MS = 10_000;

/** A frame as a JSON object; what the checker sends and reads. */
export type Frame = Record<string, unknown> & { type: string };

export const hello = (username: string): Frame => ({
  type: "hello",
  protocol: PROTOCOL,
  version: 1,
  username,
});
export const message = (text: string): Frame => ({ type: "message", text });
export const bye = (): Frame => ({ type: "bye" });
export const error = (code: string, message: string): Frame => ({
  type: "error",
  code,
  message,
});

/** The line that carries `frame`: compact JSON and "\n". */
export const line = (frame: Frame) => JSON.stringify(frame) + "\n";

const KEYS: Record<string, string[]> = {
  hello: ["type", "protocol", "version", "username"],
  message: ["type", "text"],
  bye: ["type"],
  error: ["type", "code", "message"],
};

const encoder = new TextEncoder();

/** A string's length in bytes of UTF-8. */
export const byteLength = (text: string) => encoder.encode(text).length;

/**
 * What one line the program sent is, for the checker: a frame whose type
 * we know and whose keys all follow the rules (`problem` undefined), or
 * what is wrong with it, in the words of the protocol page.
 */
export interface Parsed {
  /** The JSON value, when the line is JSON. */
  value?: unknown;
  /** An object with a string "type": the frame, even when it breaks rules. */
  frame?: Frame;
  /** What breaks the rules ("its version is the string "1", not 1"). */
  problem?: string;
}

export function parseLine(text: string): Parsed {
  let value: unknown;
  let tooLarge = false;
  try {
    value = JSON.parse(text, (_key, value) => {
      if (typeof value === "number" && !Number.isFinite(value)) tooLarge = true;
      return value;
    });
  } catch {
    return { problem: "it is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { value, problem: "it is JSON, but not an object {...}" };
  }
  const object = value as Record<string, unknown>;
  if (typeof object.type !== "string") {
    return { value, problem: 'it has no "type" (a string)' };
  }
  const frame = object as Frame;
  const found = (problem: string): Parsed => ({ value, frame, problem });
  if (tooLarge) return found("it holds a number too large for a double");
  const keys = KEYS[frame.type];
  if (keys === undefined) {
    return found(`its type "${frame.type}" is not a deno-chat frame`);
  }
  const extra = Object.keys(object).filter((key) => !keys.includes(key));
  const missing = keys.filter((key) => !Object.hasOwn(object, key));
  if (missing.length > 0) {
    return found(`it has no ${missing.map((k) => `"${k}"`).join(" or ")}`);
  }
  if (extra.length > 0) {
    return found(`it has a key too many: ${extra.map((k) => `"${k}"`)}`);
  }
  if (repeatedKey(text)) return found("a key is written twice in it");
  const problem = frame.type === "hello"
    ? helloProblem(frame)
    : frame.type === "message"
    ? textProblem(frame.text, "text")
    : frame.type === "error"
    ? (typeof frame.code === "string" && ERROR_CODE.test(frame.code)
      ? textProblem(frame.message, "message")
      : 'its "code" is not 1 to 32 of a-z, 0-9 and "-"')
    : undefined;
  return problem ? found(problem) : { value, frame };
}

function helloProblem(frame: Frame): string | undefined {
  const { protocol, version, username } = frame;
  if (protocol !== PROTOCOL) {
    return `its "protocol" is ${show(protocol)}, not "${PROTOCOL}"`;
  }
  if (typeof version !== "number") {
    return `its "version" is ${show(version)}, not the number 1`;
  }
  if (version !== 1) return `its "version" is ${version}, not 1`;
  if (typeof username !== "string" || !USERNAME.test(username)) {
    return `its "username" ${
      show(username)
    } is not 1 to 32 of A-Z a-z 0-9 _ . -`;
  }
}

function textProblem(text: unknown, key: string): string | undefined {
  if (typeof text !== "string") return `its "${key}" is not a string`;
  if (text === "") return `its "${key}" is empty`;
  if (!text.isWellFormed()) return `its "${key}" holds half of a character`;
  const bytes = byteLength(text);
  if (bytes > MAX_TEXT_BYTES) {
    return `its "${key}" is ${bytes} bytes long (at most ${MAX_TEXT_BYTES})`;
  }
}

/**
 * Is a key written twice? JSON.parse keeps the last one silently. Valid
 * frames are flat, so every string followed by ":" is a key: count them.
 */
function repeatedKey(text: string): boolean {
  const keys = (text.match(/"(?:[^"\\]|\\.)*"\s*:/g) ?? [])
    .map((key) => JSON.parse(key.replace(/\s*:$/, "")) as string);
  return new Set(keys).size !== keys.length;
}

/** A value from a frame, as JSON, cut to 40 characters. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? "nothing";
  const characters = [...text];
  return characters.length <= 40
    ? text
    : `${characters.slice(0, 37).join("")}...`;
}
