import { EvalFailure } from "./expression-error.js";
import { deepEquals, FORBIDDEN_KEYS, isPlainMap, toJson } from "./values.js";

/**
 * A small subset of jq for the `jq` filter: paths (`.a.b`, `."k"`, `.[0]`, `.[]`, `.[1:3]`),
 * pipes, commas, comparisons, `and`/`or`, literals, and `keys`, `length`, `first`, `last`,
 * `map(f)`, `select(f)`, `not`, `add`, `to_entries`, `reverse`, `sort`, `unique`, `tostring`,
 * `tonumber`, `type`, `has(k)`, `empty`. Like Kestra, the result is always a list of outputs.
 */
type Q =
  | { k: "identity" }
  | { k: "field"; of: Q; name: Q; optional: boolean }
  | { k: "iterate"; of: Q; optional: boolean }
  | { k: "slice"; of: Q; from: number | undefined; to: number | undefined }
  | { k: "pipe"; left: Q; right: Q }
  | { k: "comma"; left: Q; right: Q }
  | { k: "binary"; op: string; left: Q; right: Q }
  | { k: "lit"; value: unknown }
  | { k: "array"; body: Q | undefined }
  | { k: "fn"; name: string; args: Q[] };

const cache = new Map<string, Q>();

/** Runs `program` on `input` and returns every output, as Kestra's jq filter does. */
export function runJq(input: unknown, program: string): unknown[] {
  let q = cache.get(program);
  if (!q) {
    q = new JqParser(program).parseProgram();
    if (cache.size > 500) cache.clear();
    cache.set(program, q);
  }
  return evalQ(q, input);
}

class JqParser {
  private i = 0;
  constructor(private readonly src: string) {}

  parseProgram(): Q {
    const q = this.parsePipe();
    this.ws();
    if (this.i < this.src.length) this.fail(`unexpected '${this.src[this.i]}'`);
    return q;
  }

  private fail(msg: string): never {
    throw new EvalFailure(`Invalid jq expression '${this.src}': ${msg} at offset ${this.i}`);
  }
  private ws(): void {
    while (this.i < this.src.length && /\s/.test(this.src[this.i])) this.i++;
  }
  private eat(s: string): boolean {
    this.ws();
    if (this.src.startsWith(s, this.i)) {
      this.i += s.length;
      return true;
    }
    return false;
  }

  private parsePipe(): Q {
    let left = this.parseComma();
    while (this.eat("|")) left = { k: "pipe", left, right: this.parseComma() };
    return left;
  }
  private parseComma(): Q {
    let left = this.parseOr();
    while (this.eat(",")) left = { k: "comma", left, right: this.parseOr() };
    return left;
  }
  private parseOr(): Q {
    let left = this.parseAnd();
    while (this.word("or")) left = { k: "binary", op: "or", left, right: this.parseAnd() };
    return left;
  }
  private parseAnd(): Q {
    let left = this.parseCompare();
    while (this.word("and")) left = { k: "binary", op: "and", left, right: this.parseCompare() };
    return left;
  }
  private word(w: string): boolean {
    this.ws();
    if (this.src.startsWith(w, this.i) && !/[A-Za-z0-9_]/.test(this.src[this.i + w.length] ?? "")) {
      this.i += w.length;
      return true;
    }
    return false;
  }
  private parseCompare(): Q {
    const left = this.parseAdditive();
    for (const op of ["==", "!=", "<=", ">=", "<", ">"]) {
      if (this.eat(op)) return { k: "binary", op, left, right: this.parseAdditive() };
    }
    return left;
  }
  private parseAdditive(): Q {
    let left = this.parsePostfix();
    for (;;) {
      this.ws();
      const c = this.src[this.i];
      if ((c === "+" || c === "-") && this.src[this.i + 1] !== "}") {
        this.i++;
        left = { k: "binary", op: c, left, right: this.parsePostfix() };
      } else return left;
    }
  }

  private parsePostfix(): Q {
    let q = this.parseTerm();
    for (;;) {
      this.ws();
      if (this.src[this.i] === "." && /[A-Za-z_"]/.test(this.src[this.i + 1] ?? "")) {
        this.i++;
        q = { k: "field", of: q, name: this.parseFieldName(), optional: this.eat("?") };
      } else if (this.src[this.i] === "[" || (this.src[this.i] === "." && this.src[this.i + 1] === "[")) {
        if (this.src[this.i] === ".") this.i++;
        q = this.parseBracket(q);
      } else return q;
    }
  }

  private parseFieldName(): Q {
    if (this.src[this.i] === '"') return { k: "lit", value: this.parseString() };
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.i));
    if (!m) this.fail("expected a field name");
    this.i += m[0].length;
    return { k: "lit", value: m[0] };
  }

  private parseBracket(of: Q): Q {
    this.eat("[");
    if (this.eat("]")) return { k: "iterate", of, optional: this.eat("?") };
    this.ws();
    const sliceM = /^(-?\d+)?\s*:\s*(-?\d+)?\s*\]/.exec(this.src.slice(this.i));
    if (sliceM) {
      this.i += sliceM[0].length;
      return { k: "slice", of, from: sliceM[1] === undefined ? undefined : Number(sliceM[1]), to: sliceM[2] === undefined ? undefined : Number(sliceM[2]) };
    }
    const name = this.parsePipe();
    if (!this.eat("]")) this.fail("expected ']'");
    return { k: "field", of, name, optional: this.eat("?") };
  }

  private parseString(): string {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(this.src.slice(this.i));
    if (!m) this.fail("unclosed string");
    this.i += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  private parseTerm(): Q {
    this.ws();
    const c = this.src[this.i];
    if (c === undefined) this.fail("unexpected end");
    if (c === ".") {
      this.i++;
      if (/[A-Za-z_"]/.test(this.src[this.i] ?? "")) return { k: "field", of: { k: "identity" }, name: this.parseFieldName(), optional: this.eat("?") };
      return { k: "identity" };
    }
    if (c === "(") {
      this.i++;
      const q = this.parsePipe();
      if (!this.eat(")")) this.fail("expected ')'");
      return q;
    }
    if (c === "[") {
      this.i++;
      if (this.eat("]")) return { k: "array", body: undefined };
      const body = this.parsePipe();
      if (!this.eat("]")) this.fail("expected ']'");
      return { k: "array", body };
    }
    if (c === '"') return { k: "lit", value: this.parseString() };
    const num = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.src.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return { k: "lit", value: Number(num[0]) };
    }
    const w = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.i));
    if (!w) this.fail(`unexpected '${c}'`);
    this.i += w[0].length;
    const name = w[0];
    if (name === "true" || name === "false") return { k: "lit", value: name === "true" };
    if (name === "null") return { k: "lit", value: null };
    const args: Q[] = [];
    if (this.eat("(")) {
      do args.push(this.parsePipe());
      while (this.eat(";"));
      if (!this.eat(")")) this.fail("expected ')'");
    }
    return { k: "fn", name, args };
  }
}

function jqType(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "array";
  if (isPlainMap(v)) return "object";
  return typeof v;
}

function index(v: unknown, key: unknown, optional: boolean): unknown[] {
  if (v === null || v === undefined) return [null];
  if (typeof key === "string") {
    if (isPlainMap(v)) return [FORBIDDEN_KEYS.has(key) || !Object.hasOwn(v, key) ? null : v[key]];
  } else if (typeof key === "number" && Array.isArray(v)) {
    const i = key < 0 ? v.length + key : Math.trunc(key);
    return [i >= 0 && i < v.length ? v[i] : null];
  }
  if (optional) return [];
  throw new EvalFailure(`jq: cannot index ${jqType(v)} with ${typeof key === "string" ? `"${key}"` : jqType(key)}`);
}

function compare(a: unknown, b: unknown): number {
  const order = ["null", "boolean", "number", "string", "array", "object"];
  const ta = order.indexOf(jqType(a));
  const tb = order.indexOf(jqType(b));
  if (ta !== tb) return ta - tb;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return toJson(a) < toJson(b) ? -1 : toJson(a) > toJson(b) ? 1 : 0;
}

function truthy(v: unknown): boolean {
  return v !== null && v !== undefined && v !== false;
}

function evalQ(q: Q, input: unknown): unknown[] {
  switch (q.k) {
    case "identity": return [input];
    case "lit": return [q.value];
    case "field": {
      const out: unknown[] = [];
      for (const base of evalQ(q.of, input)) for (const key of evalQ(q.name, input)) out.push(...index(base, key, q.optional));
      return out;
    }
    case "iterate": {
      const out: unknown[] = [];
      for (const base of evalQ(q.of, input)) {
        if (Array.isArray(base)) out.push(...base);
        else if (isPlainMap(base)) out.push(...Object.values(base));
        else if (!q.optional) throw new EvalFailure(`jq: cannot iterate over ${jqType(base)}`);
      }
      return out;
    }
    case "slice":
      return evalQ(q.of, input).map((base) => {
        if (base === null) return null;
        if (!Array.isArray(base) && typeof base !== "string") throw new EvalFailure(`jq: cannot slice ${jqType(base)}`);
        return base.slice(q.from, q.to);
      });
    case "pipe": {
      const out: unknown[] = [];
      for (const v of evalQ(q.left, input)) out.push(...evalQ(q.right, v));
      return out;
    }
    case "comma": return [...evalQ(q.left, input), ...evalQ(q.right, input)];
    case "array": return [q.body ? evalQ(q.body, input) : []];
    case "binary": {
      const out: unknown[] = [];
      for (const r of evalQ(q.right, input)) {
        for (const l of evalQ(q.left, input)) {
          switch (q.op) {
            case "==": out.push(deepEquals(l, r)); break;
            case "!=": out.push(!deepEquals(l, r)); break;
            case "<": out.push(compare(l, r) < 0); break;
            case ">": out.push(compare(l, r) > 0); break;
            case "<=": out.push(compare(l, r) <= 0); break;
            case ">=": out.push(compare(l, r) >= 0); break;
            case "and": out.push(truthy(l) && truthy(r)); break;
            case "or": out.push(truthy(l) || truthy(r)); break;
            case "+":
              if (l === null) out.push(r);
              else if (r === null) out.push(l);
              else if (typeof l === "number" && typeof r === "number") out.push(l + r);
              else if (typeof l === "string" && typeof r === "string") out.push(l + r);
              else if (Array.isArray(l) && Array.isArray(r)) out.push([...l, ...r]);
              else if (isPlainMap(l) && isPlainMap(r)) out.push({ ...l, ...r });
              else throw new EvalFailure(`jq: cannot add ${jqType(l)} and ${jqType(r)}`);
              break;
            default:
              if (typeof l !== "number" || typeof r !== "number") throw new EvalFailure(`jq: cannot subtract ${jqType(r)} from ${jqType(l)}`);
              out.push(l - r);
          }
        }
      }
      return out;
    }
    case "fn": return callFn(q.name, q.args, input);
  }
}

function callFn(name: string, args: Q[], input: unknown): unknown[] {
  const arity = (n: number): void => {
    if (args.length !== n) throw new EvalFailure(`jq: ${name}/${args.length} is not defined`);
  };
  switch (name) {
    case "empty": arity(0); return [];
    case "not": arity(0); return [!truthy(input)];
    case "length":
      arity(0);
      if (input === null || input === undefined) return [0];
      if (typeof input === "string" || Array.isArray(input)) return [input.length];
      if (isPlainMap(input)) return [Object.keys(input).length];
      if (typeof input === "number") return [Math.abs(input)];
      throw new EvalFailure(`jq: ${jqType(input)} has no length`);
    case "keys":
      arity(0);
      if (Array.isArray(input)) return [input.map((_v, i) => i)];
      if (isPlainMap(input)) return [Object.keys(input).sort()];
      throw new EvalFailure(`jq: ${jqType(input)} has no keys`);
    case "to_entries":
      arity(0);
      if (!isPlainMap(input)) throw new EvalFailure(`jq: ${jqType(input)} has no keys`);
      return [Object.entries(input).map(([key, value]) => ({ key, value }))];
    case "first": case "last": {
      if (args.length === 1) {
        const all = evalQ(args[0], input);
        return all.length === 0 ? [] : [name === "first" ? all[0] : all[all.length - 1]];
      }
      arity(0);
      return index(input, name === "first" ? 0 : -1, false);
    }
    case "map":
      arity(1);
      if (!Array.isArray(input) && !isPlainMap(input)) throw new EvalFailure(`jq: cannot iterate over ${jqType(input)}`);
      return [(Array.isArray(input) ? input : Object.values(input)).flatMap((v) => evalQ(args[0], v))];
    case "select": arity(1); return evalQ(args[0], input).some(truthy) ? [input] : [];
    case "has": {
      arity(1);
      return evalQ(args[0], input).map((k) => (Array.isArray(input) ? typeof k === "number" && k >= 0 && k < input.length : isPlainMap(input) && typeof k === "string" && Object.hasOwn(input, k)));
    }
    case "add":
      arity(0);
      if (!Array.isArray(input)) throw new EvalFailure(`jq: cannot add the items of ${jqType(input)}`);
      return [input.reduce<unknown>((acc, v) => evalQ({ k: "binary", op: "+", left: { k: "lit", value: acc }, right: { k: "lit", value: v } }, null)[0], null)];
    case "reverse": arity(0); return [Array.isArray(input) ? [...input].reverse() : typeof input === "string" ? [...input].reverse().join("") : []];
    case "sort":
      arity(0);
      if (!Array.isArray(input)) throw new EvalFailure(`jq: ${jqType(input)} cannot be sorted`);
      return [[...input].sort(compare)];
    case "unique":
      arity(0);
      if (!Array.isArray(input)) throw new EvalFailure(`jq: ${jqType(input)} cannot be sorted`);
      return [[...input].sort(compare).filter((v, i, a) => i === 0 || !deepEquals(v, a[i - 1]))];
    case "tostring": arity(0); return [typeof input === "string" ? input : toJson(input)];
    case "tonumber": {
      arity(0);
      const n = typeof input === "number" ? input : Number(input);
      if (Number.isNaN(n)) throw new EvalFailure(`jq: cannot parse '${String(input)}' as a number`);
      return [n];
    }
    case "type": arity(0); return [jqType(input)];
    default: throw new EvalFailure(`jq: ${name}/${args.length} is not defined`);
  }
}
