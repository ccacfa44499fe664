/**
 * Solution: rebuild only what you expect (section 12.6). For teachers.
 *
 * Parse (a line that is not JSON is refused, not thrown), then check the
 * shape: an object (not null, not an array), a type among our own names
 * (compared one by one: no lookup in a table whose inherited keys,
 * "constructor" and "toString", would match too), exactly its keys, and
 * each field's kind. Only then call the constructor.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { TextLineStream } from "@std/streams/text-line-stream";

class Person {
  constructor(public name: string, public male: boolean) {}
}
class Point {
  constructor(public x: number, public y: number) {}
}

// No control character, nothing invisible, nothing that turns text around.
const SAFE_NAME = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]{1,100}$/u;

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "10007" },
});
const hostname = flags.host, port = Number(flags.port);
const conn = await Deno.connect({ hostname, port });
const lines = conn.readable.pipeThrough(new TextDecoderStream())
  .pipeThrough(new TextLineStream());
let number = 0;
for await (const line of lines) {
  number += 1;
  const object = rebuild(line);
  if (object instanceof Person) {
    console.log(`Person ${object.name} (male: ${object.male})`);
  } else if (object instanceof Point) {
    console.log(`Point (${object.x}, ${object.y})`);
  } else console.log(`Refused line ${number}: ${object}`);
}

/** A Person or a Point, made by its constructor; or why not, as text. */
function rebuild(line: string): Person | Point | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "not a JSON object";
  }
  const fields = value as Record<string, unknown>;
  const keys = Object.keys(fields).sort().join(",");
  const finite = (n: unknown) => typeof n === "number" && Number.isFinite(n);
  if (fields.type === "Person") {
    const { name, male } = fields;
    if (keys !== "male,name,type") return "a Person has type, name and male";
    if (typeof name !== "string" || !SAFE_NAME.test(name)) {
      return "a name is 1 to 100 printable characters";
    }
    if (typeof male !== "boolean") return "male must be true or false";
    return new Person(name, male);
  }
  if (fields.type === "Point") {
    const { x, y } = fields;
    if (keys !== "type,x,y") return "a Point has type, x and y";
    if (!finite(x) || !finite(y)) return "x and y must be finite numbers";
    return new Point(x as number, y as number);
  }
  return "not a Person nor a Point";
}
