/**
 * Types for the Deno standard library modules this project uses.
 *
 * The lessons import std by its JSR names (`@std/cli/parse-args`,
 * `@std/json`, ...). On JSR those modules carry their own types. Here JSR
 * is out of reach, so `deno.json` maps each name to the npm build
 * `deno-std@1.4.0`, which ships the same JavaScript without types. This
 * file gives those values their types, in one place, copied from std's own
 * signatures (only the parts we use).
 *
 * To move to JSR: point the `imports` in deno.json at `jsr:@std/...` and
 * drop this file from `compilerOptions.types`. No lesson changes.
 */

declare module "@std/cli/parse-args" {
  // As in std's own types: a string flag with a default is a string, one
  // without may be undefined; a boolean flag is a boolean.
  export function parseArgs<
    S extends string = never,
    B extends string = never,
    D extends { [K in S]?: string } = Record<never, never>,
  >(
    args: string[],
    options?: {
      string?: readonly S[];
      boolean?: readonly B[];
      default?: D;
      alias?: Record<string, string | string[]>;
      stopEarly?: boolean;
      unknown?: (arg: string, key?: string, value?: unknown) => unknown;
    },
  ):
    & { [K in S]: K extends keyof D ? string : string | undefined }
    & { [K in B]: boolean }
    & { _: Array<string | number> };
}

declare module "@std/assert" {
  export class AssertionError extends Error {}
  export function assert(expr: unknown, msg?: string): asserts expr;
  export function assertFalse(expr: unknown, msg?: string): void;
  export function assertEquals<T>(actual: T, expected: T, msg?: string): void;
  export function assertNotEquals<T>(
    actual: T,
    expected: T,
    msg?: string,
  ): void;
  export function assertStrictEquals<T>(
    actual: unknown,
    expected: T,
    msg?: string,
  ): asserts actual is T;
  export function assertExists<T>(
    actual: T,
    msg?: string,
  ): asserts actual is NonNullable<T>;
  export function assertMatch(
    actual: string,
    expected: RegExp,
    msg?: string,
  ): void;
  export function assertNotMatch(
    actual: string,
    expected: RegExp,
    msg?: string,
  ): void;
  export function assertStringIncludes(
    actual: string,
    expected: string,
    msg?: string,
  ): void;
  export function assertArrayIncludes<T>(
    actual: ArrayLike<T>,
    expected: ArrayLike<T>,
    msg?: string,
  ): void;
  export function assertGreater<T>(actual: T, expected: T, msg?: string): void;
  export function assertGreaterOrEqual<T>(
    actual: T,
    expected: T,
    msg?: string,
  ): void;
  export function assertLess<T>(actual: T, expected: T, msg?: string): void;
  export function assertLessOrEqual<T>(
    actual: T,
    expected: T,
    msg?: string,
  ): void;
  export function assertInstanceOf<
    // deno-lint-ignore no-explicit-any
    T extends abstract new (...args: any[]) => any,
  >(
    actual: unknown,
    expectedType: T,
    msg?: string,
  ): asserts actual is InstanceType<T>;
  export function assertThrows(
    fn: () => unknown,
    // deno-lint-ignore no-explicit-any
    ErrorClass?: abstract new (...args: any[]) => Error,
    msgIncludes?: string,
    msg?: string,
  ): Error;
  export function assertRejects(
    fn: () => PromiseLike<unknown>,
    // deno-lint-ignore no-explicit-any
    ErrorClass?: abstract new (...args: any[]) => Error,
    msgIncludes?: string,
    msg?: string,
  ): Promise<Error>;
  export function fail(msg?: string): never;
  export function unreachable(msg?: string): never;
}

declare module "@std/json" {
  export type JsonValue =
    | { [key: string]: JsonValue | undefined }
    | JsonValue[]
    | string
    | number
    | boolean
    | null;
  /** Parses a stream of newline-delimited JSON texts, one value a line. */
  export class JsonParseStream extends TransformStream<string, JsonValue> {
    constructor();
  }
  /** Turns values into JSON texts, each followed by `suffix` ("\n"). */
  export class JsonStringifyStream extends TransformStream<unknown, string> {
    constructor(options?: { prefix?: string; suffix?: string });
  }
  /** Parses JSON values written one after another with no separator. */
  export class ConcatenatedJsonParseStream
    implements TransformStream<string, JsonValue> {
    constructor();
    readonly writable: WritableStream<string>;
    readonly readable: ReadableStream<JsonValue>;
  }
}

declare module "@std/streams/text-line-stream" {
  /** Splits a stream of text into lines (without their "\n"). */
  export class TextLineStream extends TransformStream<string, string> {
    constructor(options?: { allowCR?: boolean });
  }
}

declare module "@std/bytes/concat" {
  /** Joins byte arrays into one new array, copying each byte once. */
  export function concat(
    buffers: readonly Uint8Array[],
  ): Uint8Array<ArrayBuffer>;
}

declare module "@std/encoding/hex" {
  export function encodeHex(src: string | Uint8Array | ArrayBuffer): string;
  export function decodeHex(src: string): Uint8Array;
}
