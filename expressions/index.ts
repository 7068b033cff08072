/**
 * Lanner's Pebble-compatible template engine (Kestra's expression language): `{{ }}`, `{% for %}`,
 * `{% if %}`, `{% set %}`, `{% raw %}`, filters, functions, `??`/`???`. It interprets a syntax tree;
 * it never evaluates JavaScript and cannot reach prototypes, constructors or functions.
 */
import type { CompiledTemplate, Expr } from "./ast.js";
import { errorAt, ExpressionError } from "./expression-error.js";
import { Interpreter, runTemplate, Scope } from "./interpreter.js";
import { parseExpressionSource, parseTemplate } from "./parser.js";
import { newRuntime, type RenderOptions, type Runtime } from "./runtime.js";
import { LruCache } from "./template-cache.js";
import { isTruthy as truthy } from "./values.js";

export { ExpressionError } from "./expression-error.js";
export type { RenderOptions, RenderServices } from "./runtime.js";
export type { CompiledTemplate } from "./ast.js";

const TEMPLATE_CACHE_SIZE = 2000;
const MAX_NESTED_RENDER_DEPTH = 10;
const templates = new LruCache<CompiledTemplate>(TEMPLATE_CACHE_SIZE);
const expressions = new LruCache<Expr>(TEMPLATE_CACHE_SIZE);
let parses = 0;

/** True when `s` holds template syntax; everything else renders as itself. */
function hasSyntax(s: string): boolean {
  return s.includes("{{") || s.includes("{%") || s.includes("{#");
}

/** Returns the parsed form of `template`, from the cache when it was parsed before. */
export function compileTemplate(template: string): CompiledTemplate {
  let t = templates.get(template);
  if (!t) {
    parses++;
    t = parseTemplate(template);
    templates.set(template, t);
  }
  return t;
}

function compileExpression(expression: string): Expr {
  let e = expressions.get(expression);
  if (!e) {
    parses++;
    e = parseExpressionSource(expression);
    expressions.set(expression, e);
  }
  return e;
}

/** Counters for tests and metrics: how many parses ran, how many templates are cached. */
export function expressionCacheStats(): { parses: number; cachedTemplates: number; cachedExpressions: number } {
  return { parses, cachedTemplates: templates.size, cachedExpressions: expressions.size };
}

function renderIn(template: string, scope: Scope, rt: Runtime): string {
  if (!hasSyntax(template)) return template;
  return runTemplate(compileTemplate(template), scope, rt, nested(rt));
}

function nested(rt: Runtime): (template: string, scope: Scope) => string {
  return (template, scope) => {
    if (rt.depth >= MAX_NESTED_RENDER_DEPTH) throw new ExpressionError(`render() nested more than ${MAX_NESTED_RENDER_DEPTH} levels deep`, 1, 1);
    rt.depth++;
    try {
      return renderIn(template, scope, rt);
    } finally {
      rt.depth--;
    }
  };
}

/** Renders a template string against variables. Plain strings without `{{`/`{%` return as-is at ~zero cost. */
export function render(template: string, vars: Record<string, unknown>, opts?: RenderOptions): string {
  if (!hasSyntax(template)) return template;
  const rt = newRuntime(vars, opts);
  return renderIn(template, new Scope(undefined, vars), rt);
}

function renderDeepIn(value: unknown, scope: Scope, rt: Runtime): unknown {
  if (typeof value === "string") return renderIn(value, scope, rt);
  if (Array.isArray(value)) return value.map((v) => renderDeepIn(v, scope, rt));
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty: a key named "__proto__" stays an ordinary own key.
      Object.defineProperty(out, k, { value: renderDeepIn(v, scope, rt), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Renders every string inside a value deeply (objects, arrays); non-strings pass through. */
export function renderDeep<T = unknown>(value: unknown, vars: Record<string, unknown>, opts?: RenderOptions): T {
  const rt = newRuntime(vars, opts);
  return renderDeepIn(value, new Scope(undefined, vars), rt) as T;
}

/** Evaluates one expression (no braces), e.g. for `condition`, `values`, `runIf`: returns the typed value. */
export function evaluate(expression: string, vars: Record<string, unknown>, opts?: RenderOptions): unknown {
  // Conditions are often written as templates (`"{{ x == 1 }}"`); accept both spellings.
  if (expression.includes("{{") || expression.includes("{%")) return renderTyped(expression, vars, opts);
  const expr = compileExpression(expression);
  const rt = newRuntime(vars, opts);
  const v = new Interpreter(expression, rt, nested(rt)).eval(expr, new Scope(undefined, vars));
  return v === undefined ? null : v;
}

/** Renders a template that is exactly one `{{ expr }}` to its typed value (lists/maps/numbers), else a string. */
export function renderTyped(template: string, vars: Record<string, unknown>, opts?: RenderOptions): unknown {
  if (!hasSyntax(template)) return template;
  const t = compileTemplate(template);
  const rt = newRuntime(vars, opts);
  const scope = new Scope(undefined, vars);
  const significant = t.nodes.filter((n) => !(n.k === "text" && n.text.trim() === ""));
  const only = significant[0];
  if (significant.length === 1 && only.k === "print") {
    const v = new Interpreter(template, rt, nested(rt)).eval(only.expr, scope);
    return v === undefined ? null : v;
  }
  return runTemplate(t, scope, rt, nested(rt));
}

/** Pebble truthiness for conditions (`If`, `runIf`, `Fail.condition`): "true"/true/non-empty… */
export function isTruthy(value: unknown): boolean {
  return truthy(value);
}

/** Builds an ExpressionError for a position in a template (for callers that validate templates). */
export function expressionErrorAt(template: string, offset: number, reason: string): ExpressionError {
  return errorAt(template, offset, reason);
}
