import { errorAt } from "./expression-error.js";

/** One token of a template: raw text, a delimiter, or a piece of an expression. */
export type Token =
  | { t: "text"; v: string; pos: number }
  | { t: "print_open" | "print_close" | "tag_open" | "tag_close" | "eof"; pos: number }
  | { t: "name"; v: string; pos: number }
  | { t: "num"; v: number; pos: number }
  /** `interp` is set for double-quoted strings that contain `#{`, so the parser can split them. */
  | { t: "str"; v: string; pos: number; interp: boolean }
  | { t: "op"; v: string; pos: number };

// Longest first: the scanner takes the first operator that matches.
const OPERATORS = ["???", "??", "..", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "~", "|", "(", ")", "[", "]", "{", "}", ",", ":", ".", "?", "="];

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isNameStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
const isNamePart = (c: number): boolean => isNameStart(c) || isDigit(c);

/** Splits a template into text and delimited expression tokens. */
export function tokenizeTemplate(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let trimNext = false;
  const n = src.length;

  const pushText = (text: string, pos: number): void => {
    let t = text;
    if (trimNext) {
      t = t.replace(/^\s+/, "");
      trimNext = false;
    }
    if (t.length > 0) out.push({ t: "text", v: t, pos });
  };
  // `{{-` / `{%-` strip the whitespace that ends the text before them.
  const trimPrevious = (): void => {
    const last = out[out.length - 1];
    if (last && last.t === "text") {
      const trimmed = last.v.replace(/\s+$/, "");
      if (trimmed.length === 0) out.pop();
      else last.v = trimmed;
    }
  };

  while (i < n) {
    const open = findOpen(src, i);
    if (open < 0) {
      pushText(src.slice(i), i);
      break;
    }
    if (open > i) pushText(src.slice(i, open), i);
    else if (trimNext) trimNext = false;
    const kind = src[open + 1];
    const dash = src[open + 2] === "-";
    if (dash) trimPrevious();
    let p = open + 2 + (dash ? 1 : 0);

    if (kind === "#") {
      const close = src.indexOf("#}", p);
      if (close < 0) throw errorAt(src, open, "Unclosed comment: expected '#}'");
      if (src[close - 1] === "-") trimNext = true;
      i = close + 2;
      continue;
    }

    if (kind === "%") {
      const raw = /^\s*(raw|verbatim)\s*(-?)%\}/.exec(src.slice(p, p + 40));
      if (raw) {
        const word = raw[1];
        const bodyStart = p + raw[0].length;
        const endRe = new RegExp(`\\{%(-?)\\s*end${word}\\s*(-?)%\\}`, "g");
        endRe.lastIndex = bodyStart;
        const m = endRe.exec(src);
        if (!m) throw errorAt(src, open, `Unclosed '${word}' block: expected '{% end${word} %}'`);
        let body = src.slice(bodyStart, m.index);
        if (raw[2] === "-") body = body.replace(/^\s+/, "");
        if (m[1] === "-") body = body.replace(/\s+$/, "");
        if (body.length > 0) out.push({ t: "text", v: body, pos: bodyStart });
        trimNext = m[2] === "-";
        i = m.index + m[0].length;
        continue;
      }
    }

    out.push({ t: kind === "{" ? "print_open" : "tag_open", pos: open });
    const closeChar = kind === "{" ? "}" : "%";
    p = lexExpression(src, p, out, closeChar);
    // p points at the closing delimiter, possibly preceded by '-'.
    if (src[p] === "-") {
      trimNext = true;
      p++;
    }
    out.push({ t: kind === "{" ? "print_close" : "tag_close", pos: p });
    i = p + 2;
  }
  out.push({ t: "eof", pos: n });
  return out;
}

function findOpen(src: string, from: number): number {
  let i = src.indexOf("{", from);
  while (i >= 0) {
    const c = src[i + 1];
    if (c === "{" || c === "%" || c === "#") return i;
    i = src.indexOf("{", i + 1);
  }
  return -1;
}

/**
 * Lexes expression tokens from `p` until the closing delimiter (`}}` or `%}`, optionally with a
 * leading `-`) at brace depth 0, or until `end` for a sub-expression. Returns the delimiter's offset.
 */
export function lexExpression(src: string, start: number, out: Token[], closeChar: "}" | "%" | null, end = src.length): number {
  let p = start;
  let depth = 0;
  for (;;) {
    while (p < end && isSpace(src.charCodeAt(p))) p++;
    if (p >= end) {
      if (closeChar === null) return p;
      throw errorAt(src, start, `Unclosed expression: expected '${closeChar === "}" ? "}}" : "%}"}'`);
    }
    const c = src.charCodeAt(p);
    if (closeChar !== null && depth === 0) {
      if (src[p] === "-" && src[p + 1] === closeChar && src[p + 2] === "}") return p;
      if (src[p] === closeChar && src[p + 1] === "}") return p;
    }
    if (isDigit(c)) {
      let q = p;
      while (q < end && isDigit(src.charCodeAt(q))) q++;
      if (src[q] === "." && isDigit(src.charCodeAt(q + 1))) {
        q++;
        while (q < end && isDigit(src.charCodeAt(q))) q++;
      }
      if ((src[q] === "e" || src[q] === "E") && (isDigit(src.charCodeAt(q + 1)) || ((src[q + 1] === "-" || src[q + 1] === "+") && isDigit(src.charCodeAt(q + 2))))) {
        q += 2;
        while (q < end && isDigit(src.charCodeAt(q))) q++;
      }
      out.push({ t: "num", v: Number(src.slice(p, q)), pos: p });
      p = q;
      continue;
    }
    if (isNameStart(c)) {
      let q = p + 1;
      while (q < end && isNamePart(src.charCodeAt(q))) q++;
      out.push({ t: "name", v: src.slice(p, q), pos: p });
      p = q;
      continue;
    }
    if (c === 34 || c === 39) {
      const quote = src[p];
      let q = p + 1;
      let value = "";
      let interp = false;
      for (;;) {
        if (q >= end) throw errorAt(src, p, "Unclosed string literal");
        const ch = src[q];
        if (ch === "\\") {
          const e = src[q + 1];
          value += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e;
          q += 2;
          continue;
        }
        if (ch === quote) break;
        if (quote === '"' && ch === "#" && src[q + 1] === "{") interp = true;
        value += ch;
        q++;
      }
      // Interpolated strings keep their raw text so the parser can lex the `#{…}` parts in place.
      out.push({ t: "str", v: interp ? src.slice(p + 1, q) : value, pos: p, interp });
      p = q + 1;
      continue;
    }
    let matched: string | undefined;
    for (const op of OPERATORS) {
      if (src.startsWith(op, p)) {
        matched = op;
        break;
      }
    }
    if (!matched) throw errorAt(src, p, `Unexpected character '${src[p]}'`);
    if (matched === "{") depth++;
    else if (matched === "}") depth--;
    out.push({ t: "op", v: matched, pos: p });
    p += matched.length;
  }
}
