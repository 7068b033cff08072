import type { CallArg, CompiledTemplate, Expr, Node } from "./ast.js";
import { errorAt, EvalFailure, ExpressionError, UndefinedValueError, lineColumn } from "./expression-error.js";
import { FILTERS } from "./filters.js";
import { FUNCTIONS, makeRange, type FunctionContext } from "./functions.js";
import { checkLength, spendIterations, type Runtime } from "./runtime.js";
import {
  checkValue, compareValues, deepEquals, getAttribute, isEmptyValue, isPlainMap, safeSet, toNumber, toOutput, typeName,
  type Lookup, type PlainMap,
} from "./values.js";

/** Variables visible at one point of a template: `set` and loop variables over the caller's. */
export class Scope {
  private locals: Map<string, unknown> | undefined;
  constructor(private readonly parent: Scope | undefined, private readonly vars: Record<string, unknown> | undefined) {}

  lookup(name: string): Lookup {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let s: Scope | undefined = this;
    while (s) {
      if (s.locals?.has(name)) return { found: true, value: s.locals.get(name) };
      if (s.vars && Object.hasOwn(s.vars, name)) return { found: true, value: checkValue(s.vars[name]) };
      s = s.parent;
    }
    return { found: false };
  }

  set(name: string, value: unknown): void {
    (this.locals ??= new Map()).set(name, value);
  }
}

const NOT_FOUND: Lookup = { found: false };
const NULL_INPUT_FILTERS_PASS = new Set(Object.entries(FILTERS).filter(([, f]) => f.acceptsNull).map(([n]) => n));
const TESTS = new Set(["defined", "null", "empty", "even", "odd", "iterable", "map", "json"]);

/** Evaluates one compiled template or expression; `src` is the source positions refer to. */
export class Interpreter {
  constructor(private readonly src: string, private readonly rt: Runtime, private readonly renderNested: (template: string, scope: Scope) => string) {}

  private fail(pos: number, reason: string, cause?: unknown): ExpressionError {
    return errorAt(this.src, pos, reason, cause);
  }

  /** Wraps errors of a filter or function body (which do not know their position). */
  private wrap(pos: number, e: unknown): unknown {
    if (e instanceof ExpressionError) return e;
    if (e instanceof EvalFailure) return this.fail(pos, e.message);
    if (e instanceof RangeError) return this.fail(pos, `Evaluation failed: ${e.message}`, e);
    if (e instanceof Error) return this.fail(pos, e.message, e);
    return this.fail(pos, String(e));
  }

  renderNodes(nodes: Node[], scope: Scope, out: string[], len: { n: number }): void {
    for (const node of nodes) {
      switch (node.k) {
        case "text":
          this.emit(node.text, out, len, 0);
          break;
        case "print":
          this.emit(toOutput(this.eval(node.expr, scope)), out, len, node.pos);
          break;
        case "if": {
          let done = false;
          for (const b of node.branches) {
            if (this.truthy(this.eval(b.cond, scope))) {
              this.renderNodes(b.body, scope, out, len);
              done = true;
              break;
            }
          }
          if (!done && node.otherwise) this.renderNodes(node.otherwise, scope, out, len);
          break;
        }
        case "set":
          scope.set(node.name, this.eval(node.expr, scope));
          break;
        case "for":
          this.renderFor(node, scope, out, len);
          break;
      }
    }
  }

  private truthy(v: unknown): boolean {
    if (v === null || v === undefined) return false;
    if (typeof v === "boolean") return v;
    if (typeof v === "number") return v !== 0;
    if (typeof v === "string") return v !== "" && v !== "false";
    if (Array.isArray(v)) return v.length > 0;
    if (isPlainMap(v)) return Object.keys(v).length > 0;
    return true;
  }

  private emit(s: string, out: string[], len: { n: number }, pos: number): void {
    len.n += s.length;
    if (len.n > this.rt.maxOutputLength) throw this.fail(pos, `Rendered output exceeds the limit of ${this.rt.maxOutputLength} characters`);
    out.push(s);
  }

  private renderFor(node: Extract<Node, { k: "for" }>, scope: Scope, out: string[], len: { n: number }): void {
    const value = this.eval(node.iterable, scope);
    let entries: Array<[unknown, unknown]>;
    if (value === null || value === undefined) entries = [];
    else if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (isPlainMap(value)) entries = Object.entries(value);
    else if (typeof value === "string") entries = [...value].map((c, i) => [i, c]);
    else throw this.fail(node.iterable.pos, `Cannot iterate over a ${typeName(value)}`);
    if (entries.length === 0) {
      if (node.otherwise) this.renderNodes(node.otherwise, scope, out, len);
      return;
    }
    const inner = new Scope(scope, undefined);
    const isMap = isPlainMap(value);
    const length = entries.length;
    for (let i = 0; i < length; i++) {
      try {
        spendIterations(this.rt, 1);
      } catch (e) {
        throw this.wrap(node.pos, e);
      }
      const [k, v] = entries[i];
      if (node.keyVar !== undefined) {
        inner.set(node.keyVar, k);
        inner.set(node.valueVar, v);
      } else {
        inner.set(node.valueVar, isMap ? { key: k, value: v } : v);
      }
      inner.set("loop", { index: i, revindex: length - i - 1, first: i === 0, last: i === length - 1, length });
      this.renderNodes(node.body, inner, out, len);
    }
  }

  /** Evaluates without failing on undefined: returns NOT_FOUND instead (for `??`, `is defined`, `default`). */
  private evalLenient(e: Expr, scope: Scope): Lookup {
    try {
      return { found: true, value: this.eval(e, scope) };
    } catch (err) {
      if (err instanceof UndefinedValueError) return NOT_FOUND;
      throw err;
    }
  }

  eval(e: Expr, scope: Scope): unknown {
    switch (e.k) {
      case "lit":
        return e.value;
      case "name": {
        let r: Lookup;
        try {
          r = scope.lookup(e.name);
        } catch (err) {
          throw this.wrap(e.pos, err);
        }
        if (!r.found) throw this.undefinedAt(e.name, e.pos);
        return r.value;
      }
      case "member": {
        const obj = this.eval(e.obj, scope);
        const key = this.eval(e.key, scope);
        let r: Lookup;
        try {
          r = getAttribute(obj, key);
        } catch (err) {
          throw this.wrap(e.key.pos, err);
        }
        if (!r.found) throw this.undefinedAt(this.src.slice(e.start, e.end), e.start);
        return r.value;
      }
      case "list":
        return e.items.map((i) => this.eval(i, scope));
      case "map": {
        const out: PlainMap = {};
        for (const [ke, ve] of e.entries) {
          const k = this.eval(ke, scope);
          if (typeof k !== "string" && typeof k !== "number" && typeof k !== "boolean") throw this.fail(ke.pos, `A map key must be a string or a number, not ${typeName(k)}`);
          try {
            safeSet(out, String(k), this.eval(ve, scope));
          } catch (err) {
            throw this.wrap(ke.pos, err);
          }
        }
        return out;
      }
      case "unary": {
        const v = this.eval(e.operand, scope);
        if (e.op === "not") return !this.truthy(v);
        try {
          const n = toNumber(v, `unary '${e.op}'`);
          return e.op === "-" ? -n : n;
        } catch (err) {
          throw this.wrap(e.pos, err);
        }
      }
      case "binary":
        return this.evalBinary(e, scope);
      case "ternary":
        return this.truthy(this.eval(e.cond, scope)) ? this.eval(e.then, scope) : this.eval(e.otherwise, scope);
      case "coalesce": {
        const left = this.evalLenient(e.left, scope);
        if (!left.found) return this.eval(e.right, scope);
        if (!e.undefinedOnly && (left.value === null || left.value === undefined)) return this.eval(e.right, scope);
        return left.value;
      }
      case "interp": {
        let s = "";
        for (const p of e.parts) s += typeof p === "string" ? p : toOutput(this.eval(p, scope));
        return s;
      }
      case "filter":
        return this.evalFilter(e, scope);
      case "test":
        return this.evalTest(e, scope);
      case "call":
        return this.evalCall(e, scope);
    }
  }

  private undefinedAt(path: string, pos: number): UndefinedValueError {
    const { line, column } = lineColumn(this.src, pos);
    return new UndefinedValueError(path, line, column);
  }

  private evalArgs(params: readonly string[], args: CallArg[], scope: Scope, what: string, variadic = false): unknown[] {
    const out: unknown[] = new Array<unknown>(variadic ? args.length : params.length).fill(undefined);
    let positional = 0;
    for (const a of args) {
      if (a.name === undefined) {
        if (!variadic && positional >= params.length) throw this.fail(a.value.pos, `${what} takes at most ${params.length} argument${params.length === 1 ? "" : "s"}`);
        out[positional++] = this.eval(a.value, scope);
      } else {
        const idx = params.indexOf(a.name);
        if (idx < 0) throw this.fail(a.value.pos, `${what} has no argument named '${a.name}'${params.length ? ` (expected ${params.join(", ")})` : ""}`);
        out[idx] = this.eval(a.value, scope);
      }
    }
    return out;
  }

  private evalFilter(e: Extract<Expr, { k: "filter" }>, scope: Scope): unknown {
    const def = Object.hasOwn(FILTERS, e.name) ? FILTERS[e.name] : undefined;
    if (!def) throw this.fail(e.pos, `Unknown filter '${e.name}'`);
    let input: unknown;
    if (e.name === "default") {
      const r = this.evalLenient(e.input, scope);
      input = r.found ? r.value : undefined;
    } else {
      input = this.eval(e.input, scope);
    }
    const args = this.evalArgs(def.params, e.args, scope, `Filter '${e.name}'`);
    if ((input === null || input === undefined) && !NULL_INPUT_FILTERS_PASS.has(e.name)) return null;
    try {
      return def.apply(input, args, this.rt);
    } catch (err) {
      throw this.wrap(e.pos, err);
    }
  }

  private evalTest(e: Extract<Expr, { k: "test" }>, scope: Scope): boolean {
    if (!TESTS.has(e.name)) throw this.fail(e.pos, `Unknown test '${e.name}' (expected ${[...TESTS].join(", ")})`);
    const r = this.evalLenient(e.input, scope);
    let result: boolean;
    if (e.name === "defined") result = r.found;
    else if (e.name === "null") result = !r.found || r.value === null || r.value === undefined;
    else {
      if (!r.found) throw this.evalInputAgain(e, scope);
      const v = r.value;
      switch (e.name) {
        case "empty": result = isEmptyValue(v); break;
        case "even": case "odd": {
          let n: number;
          try {
            n = toNumber(v, `is ${e.name}`);
          } catch (err) {
            throw this.wrap(e.pos, err);
          }
          result = Math.abs(n % 2) === (e.name === "odd" ? 1 : 0);
          break;
        }
        case "iterable": result = Array.isArray(v) || isPlainMap(v); break;
        case "map": result = isPlainMap(v); break;
        default: {
          if (typeof v !== "string") {
            result = false;
            break;
          }
          try {
            JSON.parse(v);
            result = true;
          } catch {
            result = false;
          }
        }
      }
    }
    return e.negate ? !result : result;
  }

  /** Re-evaluates strictly so the undefined error names the right path. */
  private evalInputAgain(e: Extract<Expr, { k: "test" }>, scope: Scope): unknown {
    try {
      this.eval(e.input, scope);
    } catch (err) {
      return err;
    }
    return this.fail(e.pos, "Undefined value");
  }

  private evalCall(e: Extract<Expr, { k: "call" }>, scope: Scope): unknown {
    const def = Object.hasOwn(FUNCTIONS, e.name) ? FUNCTIONS[e.name] : undefined;
    if (!def) throw this.fail(e.pos, `Unknown function '${e.name}'`);
    const args = this.evalArgs(def.params, e.args, scope, `Function '${e.name}'`, def.variadic);
    const ctx: FunctionContext = {
      rt: this.rt,
      lookup: (name) => scope.lookup(name),
      renderNested: (template) => this.renderNested(template, scope),
    };
    try {
      return def.call(args, ctx);
    } catch (err) {
      throw this.wrap(e.pos, err);
    }
  }

  private evalBinary(e: Extract<Expr, { k: "binary" }>, scope: Scope): unknown {
    if (e.op === "and") return this.truthy(this.eval(e.left, scope)) && this.truthy(this.eval(e.right, scope));
    if (e.op === "or") return this.truthy(this.eval(e.left, scope)) || this.truthy(this.eval(e.right, scope));
    const l = this.eval(e.left, scope);
    const r = this.eval(e.right, scope);
    try {
      return this.binary(e.op, l, r);
    } catch (err) {
      throw this.wrap(e.pos, err);
    }
  }

  private binary(op: string, l: unknown, r: unknown): unknown {
    switch (op) {
      case "==": return deepEquals(l, r);
      case "!=": return !deepEquals(l, r);
      case "<": return compareValues(l, r, "'<'") < 0;
      case ">": return compareValues(l, r, "'>'") > 0;
      case "<=": return compareValues(l, r, "'<='") <= 0;
      case ">=": return compareValues(l, r, "'>='") >= 0;
      case "~": return checkLength(this.rt, toOutput(l) + toOutput(r));
      case "contains": return contains(l, r);
      case "in": return contains(r, l);
      case "not in": return !contains(r, l);
      case "..": {
        const a = toNumber(l, "'..'");
        const b = toNumber(r, "'..'");
        return makeRange(a, b, a <= b ? 1 : -1, this.rt);
      }
      case "+": {
        if (Array.isArray(l)) return Array.isArray(r) ? [...l, ...r] : [...l, r];
        if (typeof l === "number" && typeof r === "number") return l + r;
        if (typeof l === "string" || typeof r === "string") {
          if (typeof l === "number" || typeof r === "number") {
            const nl = Number(l);
            const nr = Number(r);
            if (l !== "" && r !== "" && !Number.isNaN(nl) && !Number.isNaN(nr)) return nl + nr;
          }
          return checkLength(this.rt, toOutput(l) + toOutput(r));
        }
        return toNumber(l, "'+'") + toNumber(r, "'+'");
      }
      case "-": {
        if (Array.isArray(l)) return l.filter((v) => !(Array.isArray(r) ? r.some((x) => deepEquals(x, v)) : deepEquals(v, r)));
        return toNumber(l, "'-'") - toNumber(r, "'-'");
      }
      case "*": return toNumber(l, "'*'") * toNumber(r, "'*'");
      case "/": {
        const a = toNumber(l, "'/'");
        const b = toNumber(r, "'/'");
        // Pebble divides longs as longs.
        if (Number.isInteger(a) && Number.isInteger(b)) {
          if (b === 0) throw new EvalFailure("Division by zero");
          return Math.trunc(a / b);
        }
        return a / b;
      }
      case "%": {
        const a = toNumber(l, "'%'");
        const b = toNumber(r, "'%'");
        if (b === 0 && Number.isInteger(a) && Number.isInteger(b)) throw new EvalFailure("Division by zero");
        return a % b;
      }
      default:
        throw new EvalFailure(`Unknown operator '${op}'`);
    }
  }
}

function contains(container: unknown, item: unknown): boolean {
  if (container === null || container === undefined) return false;
  if (typeof container === "string") return container.includes(toOutput(item));
  if (Array.isArray(container)) {
    if (Array.isArray(item)) return item.every((i) => container.some((c) => deepEquals(c, i)));
    return container.some((c) => deepEquals(c, item));
  }
  if (isPlainMap(container)) {
    if (Array.isArray(item)) return item.every((i) => Object.hasOwn(container, String(i)));
    return Object.hasOwn(container, toOutput(item));
  }
  throw new EvalFailure(`'contains' needs a list, a map or a string, got ${typeName(container)}`);
}

/** Renders a compiled template into a string. */
export function runTemplate(t: CompiledTemplate, scope: Scope, rt: Runtime, renderNested: (template: string, scope: Scope) => string): string {
  const out: string[] = [];
  new Interpreter(t.source, rt, renderNested).renderNodes(t.nodes, scope, out, { n: 0 });
  return out.length === 1 ? out[0] : out.join("");
}

