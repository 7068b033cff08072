import type { CallArg, CompiledTemplate, Expr, Node } from "./ast.js";
import { errorAt } from "./expression-error.js";
import { lexExpression, tokenizeTemplate, type Token } from "./lexer.js";

// Pebble's operator precedences (higher binds tighter); Kestra adds `??`, `???` and `in`.
const BINARY: Record<string, number> = {
  or: 10, and: 15, is: 20, contains: 20, in: 20, "not in": 20,
  "==": 30, "!=": 30, "<": 30, ">": 30, "<=": 30, ">=": 30, equals: 30,
  "+": 40, "-": 40, "*": 60, "/": 60, "%": 60, "|": 100, "~": 110, "..": 120, "??": 120, "???": 120,
};
const UNARY: Record<string, number> = { not: 5, "-": 500, "+": 500 };
const WORD_OPERATORS = new Set(["or", "and", "is", "contains", "in", "equals"]);

class TokenStream {
  i = 0;
  constructor(readonly src: string, readonly toks: Token[]) {}
  peek(o = 0): Token {
    return this.toks[Math.min(this.i + o, this.toks.length - 1)];
  }
  next(): Token {
    const t = this.toks[this.i];
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }
  isOp(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === "op" && t.v === v;
  }
  isName(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === "name" && t.v === v;
  }
  expectOp(v: string): Token {
    const t = this.next();
    if (t.t !== "op" || t.v !== v) throw errorAt(this.src, t.pos, `Expected '${v}' but found ${describe(t)}`);
    return t;
  }
  expectName(what: string): string {
    const t = this.next();
    if (t.t !== "name") throw errorAt(this.src, t.pos, `Expected ${what} but found ${describe(t)}`);
    return t.v;
  }
}

function describe(t: Token): string {
  switch (t.t) {
    case "eof": return "the end of the template";
    case "print_close": return "'}}'";
    case "tag_close": return "'%}'";
    case "print_open": return "'{{'";
    case "tag_open": return "'{%'";
    case "text": return "text";
    case "num": return `number ${t.v}`;
    case "str": return "a string";
    default: return `'${t.v}'`;
  }
}

function tokenEnd(t: Token): number {
  if (t.t === "name" || t.t === "op") return t.pos + t.v.length;
  return t.pos + 1;
}

/** Parses expression tokens (the content of `{{ }}`, a tag, or a bare expression). */
class ExprParser {
  constructor(private readonly s: TokenStream) {}

  parseExpression(minPrec = 0): Expr {
    const s = this.s;
    let left: Expr;
    const t = s.peek();
    const unary = (t.t === "name" && t.v === "not") || (t.t === "op" && (t.v === "-" || t.v === "+")) ? t.v : undefined;
    if (unary !== undefined) {
      s.next();
      const operand = this.parseExpression(UNARY[unary]);
      // Fold negative number literals so `-1` stays a literal (typed outputs, ranges).
      if (unary === "-" && operand.k === "lit" && typeof operand.value === "number") left = { k: "lit", pos: t.pos, value: -operand.value };
      else left = { k: "unary", pos: t.pos, op: unary as "not" | "-" | "+", operand };
    } else {
      left = this.parsePostfix(this.parsePrimary());
    }

    for (;;) {
      const op = this.binaryAt();
      if (op === undefined) break;
      const prec = BINARY[op];
      if (prec < minPrec) break;
      const opTok = s.next();
      if (op === "not in") s.next();
      if (op === "|") {
        const nameTok = s.peek();
        const name = s.expectName("a filter name after '|'");
        const args = s.isOp("(") ? this.parseArgs() : [];
        left = { k: "filter", pos: nameTok.pos, input: left, name, args };
        continue;
      }
      if (op === "is") {
        let negate = false;
        if (s.isName("not")) {
          s.next();
          negate = true;
        }
        const nameTok = s.peek();
        const name = s.expectName("a test name after 'is'");
        const args = s.isOp("(") ? this.parseArgs() : [];
        left = { k: "test", pos: nameTok.pos, input: left, name, args, negate };
        continue;
      }
      const right = this.parseExpression(prec + 1);
      if (op === "??" || op === "???") left = { k: "coalesce", pos: opTok.pos, undefinedOnly: op === "???", left, right };
      else left = { k: "binary", pos: opTok.pos, op: op === "equals" ? "==" : op, left, right };
    }

    if (minPrec === 0 && s.isOp("?")) {
      const q = s.next();
      const then = this.parseExpression(0);
      s.expectOp(":");
      const otherwise = this.parseExpression(0);
      left = { k: "ternary", pos: q.pos, cond: left, then, otherwise };
    }
    return left;
  }

  private binaryAt(): string | undefined {
    const t = this.s.peek();
    if (t.t === "op") return Object.hasOwn(BINARY, t.v) ? t.v : undefined;
    if (t.t === "name") {
      if (t.v === "not" && this.s.isName("in", 1)) return "not in";
      if (WORD_OPERATORS.has(t.v)) return t.v;
    }
    return undefined;
  }

  parseArgs(): CallArg[] {
    const s = this.s;
    s.expectOp("(");
    const args: CallArg[] = [];
    while (!s.isOp(")")) {
      if (s.peek().t === "name" && s.isOp("=", 1)) {
        const name = s.expectName("an argument name");
        s.next();
        args.push({ name, value: this.parseExpression(0) });
      } else {
        args.push({ value: this.parseExpression(0) });
      }
      if (!s.isOp(",")) break;
      s.next();
    }
    s.expectOp(")");
    return args;
  }

  private parsePrimary(): Expr {
    const s = this.s;
    const t = s.next();
    switch (t.t) {
      case "num":
        return { k: "lit", pos: t.pos, value: t.v };
      case "str":
        return t.interp ? this.parseInterpolation(t.v, t.pos + 1) : { k: "lit", pos: t.pos, value: t.v };
      case "name": {
        if (t.v === "true" || t.v === "false") return { k: "lit", pos: t.pos, value: t.v === "true" };
        if (t.v === "null" || t.v === "none") return { k: "lit", pos: t.pos, value: null };
        if (s.isOp("(")) return { k: "call", pos: t.pos, name: t.v, args: this.parseArgs() };
        return { k: "name", pos: t.pos, name: t.v };
      }
      case "op": {
        if (t.v === "(") {
          const e = this.parseExpression(0);
          s.expectOp(")");
          return e;
        }
        if (t.v === "[") {
          const items: Expr[] = [];
          while (!s.isOp("]")) {
            items.push(this.parseExpression(0));
            if (!s.isOp(",")) break;
            s.next();
          }
          s.expectOp("]");
          return { k: "list", pos: t.pos, items };
        }
        if (t.v === "{") {
          const entries: Array<[Expr, Expr]> = [];
          while (!s.isOp("}")) {
            const key = this.parseExpression(0);
            s.expectOp(":");
            entries.push([key, this.parseExpression(0)]);
            if (!s.isOp(",")) break;
            s.next();
          }
          s.expectOp("}");
          return { k: "map", pos: t.pos, entries };
        }
        break;
      }
      default:
        break;
    }
    throw errorAt(s.src, t.pos, `Unexpected ${describe(t)}`);
  }

  private parsePostfix(base: Expr): Expr {
    const s = this.s;
    const start = base.pos;
    let e = base;
    for (;;) {
      if (s.isOp(".")) {
        const dot = s.next();
        const t = s.next();
        let key: Expr;
        if (t.t === "name") key = { k: "lit", pos: t.pos, value: t.v };
        else if (t.t === "num" && Number.isInteger(t.v)) key = { k: "lit", pos: t.pos, value: t.v };
        else throw errorAt(s.src, t.pos, `Expected an attribute name after '.' but found ${describe(t)}`);
        e = { k: "member", pos: dot.pos, start, end: tokenEnd(t), obj: e, key };
        if (s.isOp("(")) throw errorAt(s.src, t.pos, `Method calls are not supported ('${String((key as { value: unknown }).value)}(…)')`);
        continue;
      }
      if (s.isOp("[")) {
        const open = s.next();
        const key = this.parseExpression(0);
        const close = s.expectOp("]");
        e = { k: "member", pos: open.pos, start, end: close.pos + 1, obj: e, key };
        if (s.isOp("(")) throw errorAt(s.src, close.pos, "Method calls are not supported");
        continue;
      }
      if (s.isOp("(") && e.k !== "name") throw errorAt(s.src, s.peek().pos, "Only named functions can be called");
      return e;
    }
  }

  /** Splits `"a #{expr} b"` into text and expressions; offsets stay those of the template. */
  private parseInterpolation(raw: string, base: number): Expr {
    const parts: Array<string | Expr> = [];
    let i = 0;
    let text = "";
    while (i < raw.length) {
      if (raw[i] === "\\") {
        const e = raw[i + 1];
        text += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e;
        i += 2;
        continue;
      }
      if (raw[i] === "#" && raw[i + 1] === "{") {
        let depth = 1;
        let j = i + 2;
        while (j < raw.length && depth > 0) {
          if (raw[j] === "{") depth++;
          else if (raw[j] === "}") depth--;
          if (depth > 0) j++;
        }
        if (depth > 0) throw errorAt(this.s.src, base + i, "Unclosed '#{' in string");
        if (text) parts.push(text);
        text = "";
        const toks: Token[] = [];
        lexExpression(this.s.src, base + i + 2, toks, null, base + j);
        toks.push({ t: "eof", pos: base + j });
        const sub = new ExprParser(new TokenStream(this.s.src, toks));
        const expr = sub.parseExpression(0);
        sub.expectEnd();
        parts.push(expr);
        i = j + 1;
        continue;
      }
      text += raw[i];
      i++;
    }
    if (text) parts.push(text);
    return { k: "interp", pos: base - 1, parts };
  }

  expectEnd(): void {
    const t = this.s.peek();
    if (t.t !== "eof") throw errorAt(this.s.src, t.pos, `Unexpected ${describe(t)}`);
  }
}

/** Parses a whole template into nodes. Throws ExpressionError with the position of the problem. */
export function parseTemplate(src: string): CompiledTemplate {
  const s = new TokenStream(src, tokenizeTemplate(src));
  const ep = new ExprParser(s);

  const parseBody = (ends: string[]): { nodes: Node[]; end: string | undefined; endPos: number } => {
    const nodes: Node[] = [];
    for (;;) {
      const t = s.next();
      if (t.t === "eof") {
        if (ends.length > 0) throw errorAt(src, t.pos, `Unexpected end of template: expected ${ends.map((e) => `'{% ${e} %}'`).join(" or ")}`);
        return { nodes, end: undefined, endPos: t.pos };
      }
      if (t.t === "text") {
        nodes.push({ k: "text", text: t.v });
        continue;
      }
      if (t.t === "print_open") {
        if (s.peek().t === "print_close") throw errorAt(src, t.pos, "Empty expression '{{ }}'");
        const expr = ep.parseExpression(0);
        closeWith("print_close");
        nodes.push({ k: "print", pos: expr.pos, expr });
        continue;
      }
      if (t.t !== "tag_open") throw errorAt(src, t.pos, `Unexpected ${describe(t)}`);
      const nameTok = s.peek();
      const tag = s.expectName("a tag name");
      if (ends.includes(tag)) return { nodes, end: tag, endPos: nameTok.pos };
      switch (tag) {
        case "if": {
          const branches: Array<{ cond: Expr; body: Node[] }> = [];
          let cond = ep.parseExpression(0);
          closeWith("tag_close");
          let otherwise: Node[] | undefined;
          for (;;) {
            const b = parseBody(["elseif", "elif", "else", "endif"]);
            branches.push({ cond, body: b.nodes });
            if (b.end === "endif") {
              closeWith("tag_close");
              break;
            }
            if (b.end === "else") {
              closeWith("tag_close");
              otherwise = parseBody(["endif"]).nodes;
              closeWith("tag_close");
              break;
            }
            cond = ep.parseExpression(0);
            closeWith("tag_close");
          }
          nodes.push({ k: "if", pos: nameTok.pos, branches, otherwise });
          break;
        }
        case "for": {
          let valueVar = s.expectName("a loop variable");
          let keyVar: string | undefined;
          if (s.isOp(",")) {
            s.next();
            keyVar = valueVar;
            valueVar = s.expectName("a second loop variable");
          }
          if (!s.isName("in")) throw errorAt(src, s.peek().pos, `Expected 'in' but found ${describe(s.peek())}`);
          s.next();
          const iterable = ep.parseExpression(0);
          closeWith("tag_close");
          const b = parseBody(["else", "endfor"]);
          closeWith("tag_close");
          let otherwise: Node[] | undefined;
          if (b.end === "else") {
            otherwise = parseBody(["endfor"]).nodes;
            closeWith("tag_close");
          }
          nodes.push({ k: "for", pos: nameTok.pos, keyVar, valueVar, iterable, body: b.nodes, otherwise });
          break;
        }
        case "set": {
          const name = s.expectName("a variable name");
          s.expectOp("=");
          const expr = ep.parseExpression(0);
          closeWith("tag_close");
          nodes.push({ k: "set", pos: nameTok.pos, name, expr });
          break;
        }
        default:
          if (["endif", "endfor", "else", "elseif", "elif", "endraw", "endverbatim"].includes(tag)) {
            throw errorAt(src, nameTok.pos, `Unexpected '{% ${tag} %}'`);
          }
          throw errorAt(src, nameTok.pos, `Unknown tag '${tag}'`);
      }
    }
  };

  const closeWith = (kind: "print_close" | "tag_close"): void => {
    const t = s.next();
    if (t.t !== kind) throw errorAt(src, t.pos, `Expected ${kind === "print_close" ? "'}}'" : "'%}'"} but found ${describe(t)}`);
  };

  return { source: src, nodes: parseBody([]).nodes };
}

/** Parses a bare expression (no braces), as used by `condition`, `values`, `runIf`. */
export function parseExpressionSource(src: string): Expr {
  const toks: Token[] = [];
  lexExpression(src, 0, toks, null);
  toks.push({ t: "eof", pos: src.length });
  const s = new TokenStream(src, toks);
  const ep = new ExprParser(s);
  if (s.peek().t === "eof") throw errorAt(src, 0, "Empty expression");
  const e = ep.parseExpression(0);
  ep.expectEnd();
  return e;
}
