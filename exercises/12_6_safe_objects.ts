/**
 * Exercise: rebuild only what you expect (section 12.6)
 *
 * The book rebuilds whatever pickle bytes come back, and pickle lets the
 * sender choose what runs. JSON carries only data; but a program that
 * makes an object of whatever type a line names, with whatever fields it
 * brings, is nearly as trusting. This client does just that.
 *
 * The check's server sends 15 lines, one JSON value each. Accept exactly:
 *   {"type":"Person","name":N,"male":M}  N: 1 to 100 characters, none a
 *       control or invisible one; M: true or false. Print: Person N (male: M)
 *   {"type":"Point","x":X,"y":Y}  X, Y: finite numbers. Print: Point (X, Y)
 * exactly these keys, nothing more. Anything else, print one line
 *   Refused line L: WHY   (L counts lines from 1; WHY in your own words)
 * and go on. Never crash; end with status 0 when the server hangs up.
 *
 * Your task: rebuild() below.
 *
 *   Check it:  deno task exercise safe-objects
 *
 * It runs with --host 127.0.0.1 --port P (the check's server).
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

/** How each type is made from the fields that came. */
type Maker = (fields: Record<string, unknown>) => Person | Point;
const MAKERS: Record<string, Maker> = {
  Person: (fields) => new Person(fields.name as string, fields.male as boolean),
  Point: (fields) => new Point(fields.x as number, fields.y as number),
};

const flags = parseArgs(Deno.args, {
  string: ["host", "port"],
  default: { host: "127.0.0.1", port: "10007" },
});
const hostname = flags.host, port = Number(flags.port);
const conn = await Deno.connect({ hostname, port });
// Line by line, however the bytes come (this part is done for you).
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
  // TODO: refuse everything that is not exactly a Person or a Point.
  const value = JSON.parse(line);
  return MAKERS[value.type](value);
}
