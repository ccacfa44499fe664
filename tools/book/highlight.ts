/**
 * Code highlighted at build time, with shiki (npm): TypeScript's own
 * TextMate grammar and GitHub's light and dark themes, both in every token
 * (the page's CSS picks one by prefers-color-scheme), run by shiki's
 * JavaScript regular-expression engine, so nothing is fetched and no
 * WebAssembly is loaded. Each line comes back as tokens that also say
 * whether they are a comment, which is how the builder tells prose (comment
 * blocks) from code.
 *
 * @module
 */
import githubDark from "@shikijs/themes/github-dark-default";
import githubLight from "@shikijs/themes/github-light-default";
import typescript from "@shikijs/langs/typescript";
import { createHighlighterCore, type HighlighterCore } from "shiki/core";
import { createJavaScriptRegexEngine } from "shiki/engine/javascript";

/** One piece of a line: its text, its two colours, what it is. */
export interface Token {
  text: string;
  /** Colour in the light theme. */
  light: string;
  /** Colour in the dark theme. */
  dark: string;
  /** Part of a comment (`//`, `/* *\/` and JSDoc). */
  comment: boolean;
  /** Part of a string or a template literal. */
  string: boolean;
  /** Bold or italic, as the theme asks. */
  fontStyle: number;
}

let highlighter: Promise<HighlighterCore> | undefined;

function load(): Promise<HighlighterCore> {
  highlighter ??= createHighlighterCore({
    themes: [githubLight, githubDark],
    langs: [typescript],
    engine: createJavaScriptRegexEngine(),
  });
  return highlighter;
}

/** The lines of a TypeScript file, each as its tokens. */
export async function tokenize(source: string): Promise<Token[][]> {
  const shiki = await load();
  // (shiki's explanations fail on a last line without its newline.)
  const text = source.endsWith("\n") ? source : `${source}\n`;
  const result = shiki.codeToTokens(text, {
    lang: "typescript",
    themes: { light: "github-light-default", dark: "github-dark-default" },
    includeExplanation: "scopeName",
    // No time limit per line: shiki's default (500 ms) cuts a line short
    // on a busy machine, and the colours would depend on the load.
    tokenizeTimeLimit: 0,
  });
  return result.tokens.map((line) =>
    line.map((token) => {
      const scopes = (token.explanation ?? []).flatMap((part) =>
        part.scopes.map((scope) => scope.scopeName)
      );
      const style = token.htmlStyle ?? {};
      return {
        text: token.content,
        light: style.color ?? "",
        dark: style["--shiki-dark"] ?? "",
        comment: scopes.some((scope) => scope.startsWith("comment")),
        string: scopes.some((scope) => scope.startsWith("string")),
        fontStyle: token.fontStyle ?? 0,
      };
    })
  );
}
