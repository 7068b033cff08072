import { EvalFailure } from "./expression-error.js";

/** Injected runtime services, all optional; a template that needs a missing one fails clearly. */
export interface RenderServices {
  /** Returns the secret's value, or undefined when no such secret exists. */
  secret?(name: string): string | undefined;
  /** Returns the contents of an internal-storage file (`kestra://…`); throws if it cannot. */
  read?(path: string): string;
  /** Returns the value stored under `key` in `namespace` (default: the flow's), or undefined. */
  kv?(key: string, namespace?: string): unknown;
  /** Returns the execution's error log entries. */
  errorLogs?(): unknown[];
  /** The current time, epoch milliseconds; the executor passes ctx.now for determinism. */
  now?(): number;
  /** A new UUID; the executor passes a deterministic one. */
  uuid?(): string;
}

export interface RenderOptions {
  services?: RenderServices;
  /** Characters one render may produce (default 10 MiB). */
  maxOutputLength?: number;
  /** Loop iterations (and range elements) one render may run, nested renders included (default 100,000). */
  maxIterations?: number;
}

export const DEFAULT_MAX_OUTPUT = 10 * 1024 * 1024;
export const DEFAULT_MAX_ITERATIONS = 100_000;

/** State shared by one top-level render and everything it renders in turn (`render()`). */
export interface Runtime {
  services: RenderServices;
  maxOutputLength: number;
  maxIterations: number;
  iterations: number;
  /** Nesting of `render()` calls, bounded so a template cannot render itself forever. */
  depth: number;
  /** The variables of the top-level render, for `render()`. */
  vars: Record<string, unknown>;
}

export function newRuntime(vars: Record<string, unknown>, opts: RenderOptions | undefined): Runtime {
  return {
    services: opts?.services ?? {},
    maxOutputLength: opts?.maxOutputLength ?? DEFAULT_MAX_OUTPUT,
    maxIterations: opts?.maxIterations ?? DEFAULT_MAX_ITERATIONS,
    iterations: 0,
    depth: 0,
    vars,
  };
}

/** Spends `n` iterations of the budget or fails. */
export function spendIterations(rt: Runtime, n: number): void {
  rt.iterations += n;
  if (rt.iterations > rt.maxIterations) throw new EvalFailure(`Template exceeds the limit of ${rt.maxIterations} loop iterations`);
}

/** Fails when a string grows past the output limit (catches `~` doubling in loops early). */
export function checkLength(rt: Runtime, s: string): string {
  if (s.length > rt.maxOutputLength) throw new EvalFailure(`Rendered output exceeds the limit of ${rt.maxOutputLength} characters`);
  return s;
}
