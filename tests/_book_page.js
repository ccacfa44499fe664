// What the book's browser test measures inside a page (tests/book_test.ts
// runs `inspect` in chromium): the ids and links, the headings, pictures
// without a text alternative, text whose contrast with its background is
// under 4.5:1 (WCAG's formula, opacity included), and anything wider than
// the screen outside a code block.

/** Runs in the page: everything the checks need, in one pass. */
/** @returns {import("./book_test.ts").Report} */
export function inspect() {
  const parse = (color) => {
    const m = color.match(/[\d.]+/g).map(Number);
    return { r: m[0], g: m[1], b: m[2], a: m[3] ?? 1 };
  };
  const luminance = (c) => {
    const f = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg.a > 0.5) return bg;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const opacity = (element) => {
    let o = 1;
    for (let e = element; e; e = e.parentElement) {
      o *= Number(getComputedStyle(e).opacity);
    }
    return o;
  };
  const lowContrast = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent?.trim() || element.closest("title, desc, style")) {
      continue;
    }
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const svg = element instanceof SVGElement;
    const fg = parse(svg ? style.fill : style.color);
    const bg = background(element);
    const alpha = fg.a * opacity(element);
    const mixed = {
      r: fg.r * alpha + bg.r * (1 - alpha),
      g: fg.g * alpha + bg.g * (1 - alpha),
      b: fg.b * alpha + bg.b * (1 - alpha),
    };
    const [l1, l2] = [luminance(mixed), luminance(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    if (ratio < 4.5) {
      lowContrast.push(
        `${ratio.toFixed(2)}:1 "${node.textContent.trim().slice(0, 30)}" ` +
          `(${element.tagName.toLowerCase()}.${element.getAttribute("class")})`,
      );
    }
  }
  const unlabelled = [];
  for (const img of document.querySelectorAll("img")) {
    if (!img.getAttribute("alt")?.trim()) unlabelled.push(img.outerHTML);
  }
  for (const svg of document.querySelectorAll("body svg")) {
    const ids = (svg.getAttribute("aria-labelledby") ?? "").split(/\s+/);
    const label = ids.map((id) => document.getElementById(id)?.textContent)
      .join(" ").trim() || svg.getAttribute("aria-label");
    if (svg.getAttribute("role") !== "img" || !label) {
      unlabelled.push(`svg ${svg.getAttribute("class")}`);
    }
  }
  // Anything wider than the screen, except the inside of a code block
  // (which scrolls on its own).
  const wide = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    wide.push(`the page is ${document.documentElement.scrollWidth}px wide`);
  }
  for (const element of document.querySelectorAll("body *")) {
    if (element.closest("pre")) continue;
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
      wide.push(`${element.tagName.toLowerCase()}.${element.className}`);
    }
  }
  return {
    ids: [...document.querySelectorAll("[id]")].map((e) => e.id),
    links: [...document.querySelectorAll("a[href]")]
      .map((a) => a.href),
    headings: [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
      .map((h) => Number(h.tagName[1])),
    unlabelled,
    lowContrast: lowContrast.slice(0, 5),
    wide: wide.slice(0, 5),
  };
}
