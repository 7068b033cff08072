import { isTruthy, render, renderDeep, renderTyped } from "../../expressions/index.js";
import type { RenderOptions } from "../../expressions/runtime.js";
import { deterministicId } from "./ids.js";

/**
 * Rendering inside the reducer: the clock is the reducer's and `uuid()` is derived from the
 * execution, the event sequence and a counter, so the same input always renders the same way.
 */
export class ReducerRenderer {
  private counter = 0;
  private readonly opts: RenderOptions;

  constructor(now: number, seedKey: string) {
    this.opts = {
      services: {
        now: () => now,
        uuid: () => {
          const h = deterministicId(`${seedKey}/${this.counter++}`);
          return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(0, 12)}`.toLowerCase();
        },
      },
    };
  }

  /** A template to a string. */
  string(template: string, vars: Record<string, unknown>): string {
    return render(template, vars, this.opts);
  }

  /** A template to its typed value when it is a single expression (`{{ [1,2] }}` → a list). */
  typed(template: unknown, vars: Record<string, unknown>): unknown {
    return typeof template === "string" ? renderTyped(template, vars, this.opts) : renderDeep(template, vars, this.opts);
  }

  /** Every string inside a value, deeply. */
  deep(value: unknown, vars: Record<string, unknown>): unknown {
    return renderDeep(value, vars, this.opts);
  }

  /** A condition (Pebble truthiness: "false", 0, "", empty lists are false). */
  condition(template: unknown, vars: Record<string, unknown>): boolean {
    if (typeof template === "boolean") return template;
    return isTruthy(this.typed(template, vars));
  }
}
