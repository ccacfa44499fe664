/**
 * The book's one stylesheet (the builder adds the colours of highlighted
 * code after it). Light and dark follow the reader's system
 * (prefers-color-scheme); text and code keep a contrast of at least 4.5:1
 * on their backgrounds in both (tests/book_test.ts measures it in a
 * browser). On a wide screen the prose stands beside the code it
 * explains; on a phone above it. Fonts are the system's own: nothing is
 * fetched.
 *
 * @module
 */
export const STYLE = `:root {
  color-scheme: light dark;
  --bg: #fdfdfb;
  --fg: #1f2328;
  --muted: #57606a;
  --link: #0b57d0;
  --code-bg: #f6f8fa;
  --border: #d0d7de;
  --err: #b3261e;
  --mark: #fff8c5;
  --shade: rgba(0, 0, 0, 0.28);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117;
    --fg: #e6edf3;
    --muted: #9da7b1;
    --link: #79b8ff;
    --code-bg: #161b22;
    --border: #30363d;
    --err: #ff9b95;
    --mark: #3b2e00;
    --shade: rgba(255, 255, 255, 0.3);
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body {
  margin: 0;
  font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg);
  color: var(--fg);
}
a { color: var(--link); }
a:focus-visible { outline: 2px solid var(--link); outline-offset: 2px; }
code, pre, kbd {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas,
    "Liberation Mono", monospace;
  font-size: 0.86em;
}
p, li, td, th, figcaption, h1, h2, h3, h4 { overflow-wrap: break-word; }
:not(pre) > code {
  background: var(--code-bg);
  padding: 0.05em 0.3em;
  border-radius: 4px;
}
/* What is wider than the screen scrolls inside its frame (code, the
   terminals of a lesson's header, pictures), never the page; a shadow at
   an edge says more is there, and goes when that edge is reached (the
   covers scroll with the content, the shadows stay with the frame). */
pre, figure.picture .drawing {
  --cover: var(--code-bg);
  overflow-x: auto;
  background:
    linear-gradient(to right, var(--cover) 40%, transparent) left / 2rem 100%
      no-repeat local,
    linear-gradient(to left, var(--cover) 40%, transparent) right / 2rem 100%
      no-repeat local,
    radial-gradient(farthest-side at 0 50%, var(--shade), transparent) left /
      0.8rem 100% no-repeat scroll,
    radial-gradient(farthest-side at 100% 50%, var(--shade), transparent)
      right / 0.8rem 100% no-repeat scroll,
    var(--cover);
}
pre {
  border: 1px solid var(--border);
  border-radius: 6px;
  padding: 0.6rem 0.8rem;
  line-height: 1.45;
  tab-size: 2;
  margin: 0 0 0.8rem;
}
pre code { background: none; padding: 0; font-size: 13.5px; }
header.top {
  border-bottom: 1px solid var(--border);
  padding: 0.5rem 1rem;
  font-size: 0.9rem;
}
header.top a { font-weight: 600; text-decoration: none; }
header.top span { color: var(--muted); }
main { max-width: 80rem; margin: 0 auto; padding: 0 1rem 2rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: 1.2rem 0 0.4rem; }
h2 {
  font-size: 1.35rem;
  margin: 2rem 0 0.6rem;
  padding-top: 0.6rem;
  border-top: 1px solid var(--border);
}
h3 { font-size: 1.1rem; margin: 1.4rem 0 0.4rem; }
p.meta, p.note, span.source, footer {
  color: var(--muted);
  font-size: 0.92rem;
}
.intro { max-width: 48rem; }
.intro pre code, .prose pre code { font-size: 13px; }
figure.runs { margin: 1rem 0; }
figure.runs figcaption { font-size: 0.92rem; color: var(--muted); }
figure.runs pre { font-size: 13px; }
.runs .prompt { color: var(--muted); }
@media (max-width: 40rem) {
  h1 { font-size: 1.45rem; }
}

/* Prose beside code: two columns on a wide screen, one on a phone. */
.segment .prose p { margin: 0 0 0.5rem; }
.segment .prose { font-size: 0.95rem; }
.segment pre.code { margin: 0 0 0.8rem; }
@media (min-width: 62rem) {
  /* Go by Example's page: prose on the left, one column of code on the
     right, each piece of code level with the prose about it. */
  .segment {
    display: grid;
    grid-template-columns: minmax(0, 5fr) minmax(0, 8fr);
    gap: 1.5rem;
    align-items: stretch;
  }
  .segment .prose { padding: 0.45rem 0 0.6rem; }
  .segment .source { display: flex; }
  .segment pre.code {
    flex: 1;
    margin: 0;
    border-radius: 0;
    border-width: 0 1px;
  }
  .segment.only { display: block; max-width: 48rem; }
  .segment.only .source { display: none; }
}
a.api { color: inherit; text-decoration: underline dotted; }
span.flag { white-space: nowrap; }
a.api:hover { text-decoration-style: solid; }

/* Transcripts: two terminals side by side when there is room. */
.terminals { display: grid; gap: 0.8rem; }
@media (min-width: 62rem) {
  .terminals.n2 { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
}
figure.terminal { margin: 0; min-width: 0; }
figure.terminal figcaption {
  font-size: 0.85rem;
  color: var(--muted);
  margin-bottom: 0.2rem;
}
figure.terminal pre { font-size: 13px; margin: 0; }
.terminal .prompt { color: var(--muted); }
.terminal .err { color: var(--err); }
.terminal .key { color: var(--muted); }

/* Pictures scale down to the screen, but not below 85% of their size
   (the min-width on each, set by the builder): their text stays readable,
   and a narrower screen scrolls them inside their frame. */
figure.picture { margin: 1rem 0 1.6rem; }
figure.picture .drawing {
  --cover: var(--bg);
  width: fit-content;
  max-width: 100%;
  border: 1px solid var(--border);
  border-radius: 6px;
}
figure.picture svg { max-width: 100%; height: auto; display: block; }
figure.picture figcaption { font-size: 0.95rem; max-width: 48rem; }

/* Tables: on a phone each row becomes a block, nothing scrolls. */
table { border-collapse: collapse; margin: 0 0 1rem; }
th, td {
  border: 1px solid var(--border);
  padding: 0.3rem 0.5rem;
  vertical-align: top;
  text-align: left;
}
@media (max-width: 48rem) {
  table, thead, tbody, tr, th, td { display: block; }
  tr { border: 1px solid var(--border); margin-bottom: 0.6rem; }
  td, th { border: none; }
  td:first-child { font-weight: 600; }
}

ol.lessons { padding-left: 0; list-style: none; }
ol.lessons li { margin: 0 0 1rem; }
ol.lessons h3 { margin: 0.8rem 0 0.2rem; }
ol.lessons p { margin: 0.1rem 0; }
ol.lessons .how { color: var(--muted); font-size: 0.92rem; }
ul.apis { columns: 16rem; }
code.path { color: var(--muted); background: none; margin-left: 0.5em; }
nav.pager {
  display: flex;
  justify-content: space-between;
  gap: 1rem;
  margin-top: 2.5rem;
  padding-top: 1rem;
  border-top: 1px solid var(--border);
}
nav.pager a { max-width: 48%; overflow-wrap: anywhere; }
nav.pager a[rel="next"] { margin-left: auto; text-align: right; }
nav.pager span { display: block; font-size: 0.85rem; color: var(--muted); }
footer {
  max-width: 80rem;
  margin: 0 auto;
  padding: 1rem;
  border-top: 1px solid var(--border);
}
.served {
  background: var(--mark);
  padding: 0.4rem 0.6rem;
  border-radius: 4px;
  margin-bottom: 0.6rem;
}
`;
