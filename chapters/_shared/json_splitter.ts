/**
 * Finding where each JSON value ends, in a stream of text that arrives in
 * pieces. Used by two lessons: `json-server`, which logs every value a
 * client sends, and `json-client`, which reads until one whole value has
 * come back. Both lessons say why they need it; this is how it works.
 *
 * @module
 */

/**
 * Cuts a stream of text into JSON values, as it arrives in pieces.
 *
 * A value is an object `{...}`, an array `[...]`, a string `"..."`, or a
 * bare word: a number, `true`, `false` or `null`. Values may follow each
 * other with or without spaces and newlines in between. To find where an
 * object or array ends we count the brackets opened and not yet closed,
 * skipping those inside strings; a bare word ends at the first character
 * that cannot be part of it. That is all this class checks: once it has cut
 * out a value, `JSON.parse` checks the rest of the grammar.
 *
 * (Deno's standard library has a stream that does this job,
 * ConcatenatedJsonParseStream; `pickle` uses it. A server needs two things
 * it lacks: to notice at the first wrong character that a stream is not
 * JSON, where std goes on collecting text until the stream ends; and to
 * see that a number ends at a newline, as in `42` followed by Enter.)
 */
export class JsonSplitter {
  /** The text of the value begun but not yet ended, from earlier pieces. */
  #unfinished = "";
  /** How many `{` and `[` are open. */
  #depth = 0;
  /** Inside a string ("...")? */
  #inString = false;
  /** Inside a string, just after a backslash (so `\"` does not end it)? */
  #afterBackslash = false;
  /** Inside a bare word (a number, true, false or null)? */
  #inWord = false;

  /** True while a value has begun and not ended. */
  get inValue(): boolean {
    return this.#inString || this.#inWord || this.#depth > 0;
  }

  /** How many characters of an unfinished value we are holding. */
  get unfinishedLength(): number {
    return this.#unfinished.length;
  }

  /**
   * Takes the next piece of text; returns the text of every value that
   * ended in it. Throws a SyntaxError at a character that cannot start a
   * JSON value.
   */
  push(text: string): string[] {
    const values: string[] = [];
    let start = 0; // where, in `text`, the current value began
    for (let i = 0; i < text.length; i++) {
      const char = text[i];
      if (this.#inString) {
        if (this.#afterBackslash) {
          this.#afterBackslash = false;
        } else if (char === "\\") {
          this.#afterBackslash = true;
        } else if (char === '"') {
          this.#inString = false;
          if (this.#depth === 0) {
            values.push(this.#finish(text, start, i + 1));
          }
        }
        continue;
      }
      if (this.#inWord) {
        if (/[\w.+-]/.test(char)) continue;
        // The word ended just before this character, which may be a space
        // or the start of the next value: look at it again below.
        this.#inWord = false;
        values.push(this.#finish(text, start, i));
      }
      if (this.#depth > 0) {
        // Inside an object or array: only strings and brackets matter.
        if (char === '"') {
          this.#inString = true;
        } else if (char === "{" || char === "[") {
          this.#depth += 1;
        } else if (char === "}" || char === "]") {
          this.#depth -= 1;
          if (this.#depth === 0) {
            values.push(this.#finish(text, start, i + 1));
          }
        }
        continue;
      }
      // Between values: skip white space, or begin the next value.
      if (char === " " || char === "\n" || char === "\r" || char === "\t") {
        continue;
      }
      start = i;
      if (char === '"') {
        this.#inString = true;
      } else if (char === "{" || char === "[") {
        this.#depth = 1;
      } else if (/[-0-9tfn]/.test(char)) {
        this.#inWord = true;
      } else {
        throw new SyntaxError(`${JSON.stringify(char)} cannot start a value`);
      }
    }
    // Keep the beginning of a value that goes on in the next piece.
    if (this.inValue) this.#unfinished += text.slice(start);
    return values;
  }

  /** At the end of the stream, a bare word like `42` ends too. */
  end(): string[] {
    if (!this.#inWord) return [];
    this.#inWord = false;
    return [this.#finish("", 0, 0)];
  }

  #finish(text: string, start: number, end: number): string {
    const value = this.#unfinished + text.slice(start, end);
    this.#unfinished = "";
    return value;
  }
}
