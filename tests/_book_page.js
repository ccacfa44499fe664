// What the book's browser test measures inside a page (tests/book_test.ts
// runs `inspect` in chromium): the ids and links, the headings, pictures
// without a text alternative, text whose contrast with its background is
// under 4.5:1 (WCAG's formula, opacity included), a picture's lines and
// shapes under 3:1, a picture's text drawn under 9 px, anything wider than
// the screen outside a block that scrolls, and a block that scrolls with
// nothing to show it does. `inspectPicture` does the same for a picture
// opened as a file of its own.

/** Runs in the page: everything the checks need, in one pass. */
/** @returns {import("./book_test.ts").Report} */
export function inspect() {
  // (puppeteer sends this function's text alone: what it uses is inside.)
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
  // A picture's lines and shapes: 3:1 at least (WCAG's non-text
  // contrast). A line under 2 px is drawn, off the pixel grid, at that
  // share of its colour: it counts so.
  const lowGraphics = [];
  for (const svg of document.querySelectorAll("figure.picture svg")) {
    const scale = svg.getBoundingClientRect().width /
      svg.viewBox.baseVal.width;
    const bg = background(svg);
    const shapes = svg.querySelectorAll("line, path, rect, circle, polyline");
    for (const shape of shapes) {
      const problem = graphicContrast(shape, bg, scale, parse, luminance);
      if (problem) {
        lowGraphics.push(`${svg.id || svg.className.baseVal}: ${problem}`);
      }
    }
  }
  // A picture's text at its drawn size: 9 px at least.
  const smallText = [];
  for (const svg of document.querySelectorAll("figure.picture svg")) {
    const scale = svg.getBoundingClientRect().width /
      svg.viewBox.baseVal.width;
    for (const text of svg.querySelectorAll("text")) {
      const size = parseFloat(getComputedStyle(text).fontSize) * scale;
      if (size < 9) {
        smallText.push(
          `${size.toFixed(1)} px "${text.textContent.slice(0, 30)}"`,
        );
        break;
      }
    }
  }
  // What is wider than its frame scrolls, and shows that it does.
  const hiddenScroll = [];
  for (const block of document.querySelectorAll("pre, .drawing")) {
    if (block.scrollWidth <= block.clientWidth + 1) continue;
    const style = getComputedStyle(block);
    const scrolls = style.overflowX === "auto" || style.overflowX === "scroll";
    const shows = style.backgroundAttachment.includes("local") &&
      style.backgroundImage.includes("gradient");
    if (!scrolls || !shows) {
      hiddenScroll.push(
        `${block.tagName.toLowerCase()}: "${
          block.textContent.trim().slice(0, 30)
        }" ${scrolls ? "has no shadow at its edge" : "does not scroll"}`,
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
  // Anything wider than the screen, except the inside of a code block or
  // a picture's frame (which scroll on their own).
  const wide = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    wide.push(`the page is ${document.documentElement.scrollWidth}px wide`);
  }
  for (const element of document.querySelectorAll("body *")) {
    if (element.parentElement?.closest("pre, .drawing")) continue;
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
    lowGraphics: lowGraphics.slice(0, 5),
    smallText,
    hiddenScroll: hiddenScroll.slice(0, 5),
    wide: wide.slice(0, 5),
  };

  /** Why a shape of a picture reads under 3:1, or "". */
  function graphicContrast(shape, bg, scale, parse, luminance) {
    if (shape.classList.contains("paper")) return "";
    const style = getComputedStyle(shape);
    let opacity = 1;
    for (let e = shape; e && e !== shape.ownerSVGElement; e = e.parentElement) {
      opacity *= Number(getComputedStyle(e).opacity);
    }
    const paints = [];
    if (style.stroke !== "none") {
      const width = parseFloat(style.strokeWidth) * scale;
      paints.push([
        style.stroke,
        Number(style.strokeOpacity) * Math.min(1, width / 2),
        `stroke ${width.toFixed(2)} px`,
      ]);
    }
    if (style.fill !== "none" && shape.tagName !== "line") {
      paints.push([style.fill, Number(style.fillOpacity), "fill"]);
    }
    for (const [paint, share, what] of paints) {
      const fg = parse(paint);
      const alpha = fg.a * share * opacity;
      const mixed = {
        r: fg.r * alpha + bg.r * (1 - alpha),
        g: fg.g * alpha + bg.g * (1 - alpha),
        b: fg.b * alpha + bg.b * (1 - alpha),
      };
      const [l1, l2] = [luminance(mixed), luminance(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      if (ratio < 3) {
        return `${ratio.toFixed(2)}:1 ${shape.tagName}.${
          shape.getAttribute("class")
        } (${what})`;
      }
    }
    return "";
  }
}

/**
 * Runs in a picture opened alone (pictures/NAME.svg): the contrast of its
 * text (4.5:1) and shapes (3:1) with what is behind them, which is its
 * own background where it has one, else the browser's white.
 */
export function inspectPicture() {
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
  const svg = document.documentElement;
  const box = svg.viewBox.baseVal;
  // Behind everything: a shape that covers the whole picture, first.
  let bg = { r: 255, g: 255, b: 255, a: 1 };
  const own = parse(getComputedStyle(svg).backgroundColor);
  if (own.a > 0.5) bg = own;
  const first = svg.querySelector("rect");
  if (
    first && first.width.baseVal.value >= box.width &&
    first.height.baseVal.value >= box.height &&
    getComputedStyle(first).fill !== "none"
  ) {
    bg = parse(getComputedStyle(first).fill);
    first.classList.add("paper");
  }
  const low = [];
  for (const text of svg.querySelectorAll("text")) {
    let opacity = 1;
    for (let e = text; e; e = e.parentElement) {
      opacity *= Number(getComputedStyle(e).opacity);
    }
    const fg = parse(getComputedStyle(text).fill);
    const alpha = fg.a * opacity;
    const mixed = {
      r: fg.r * alpha + bg.r * (1 - alpha),
      g: fg.g * alpha + bg.g * (1 - alpha),
      b: fg.b * alpha + bg.b * (1 - alpha),
    };
    const [l1, l2] = [luminance(mixed), luminance(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    if (ratio < 4.5) {
      low.push(`${ratio.toFixed(2)}:1 "${text.textContent.slice(0, 30)}"`);
      break;
    }
  }
  for (const shape of svg.querySelectorAll("line, path, rect, circle")) {
    if (shape.classList.contains("paper")) continue;
    const style = getComputedStyle(shape);
    const paints = [];
    if (style.stroke !== "none") {
      paints.push([
        style.stroke,
        Number(style.strokeOpacity) *
        Math.min(1, parseFloat(style.strokeWidth) / 2),
      ]);
    }
    if (style.fill !== "none" && shape.tagName !== "line") {
      paints.push([style.fill, Number(style.fillOpacity)]);
    }
    let opacity = 1;
    for (let e = shape; e; e = e.parentElement) {
      opacity *= Number(getComputedStyle(e).opacity);
    }
    for (const [paint, share] of paints) {
      const fg = parse(paint);
      const alpha = fg.a * share * opacity;
      const mixed = {
        r: fg.r * alpha + bg.r * (1 - alpha),
        g: fg.g * alpha + bg.g * (1 - alpha),
        b: fg.b * alpha + bg.b * (1 - alpha),
      };
      const [l1, l2] = [luminance(mixed), luminance(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      if (ratio < 3) {
        low.push(
          `${ratio.toFixed(2)}:1 ${shape.tagName}.${
            shape.getAttribute("class")
          }`,
        );
        return low;
      }
    }
  }
  return low;
}
