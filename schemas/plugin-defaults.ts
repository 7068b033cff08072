import type { PluginDefault } from "./flow-types.js";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge of maps: `top` wins on conflicts; lists and scalars are replaced, not merged. */
export function deepMerge(base: Record<string, unknown>, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(top)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/**
 * True when a plugin default's `type` targets a task or trigger: the same name as written, the
 * same canonical name, or a package prefix of either (`io.kestra.plugin.core.log`).
 */
export function defaultMatches(defaultType: string, writtenType: string, canonical: string | undefined, canonicalOf: (t: string) => string | undefined): boolean {
  if (defaultType === writtenType || (canonical !== undefined && (defaultType === canonical || canonicalOf(defaultType) === canonical))) return true;
  const prefix = `${defaultType}.`;
  return writtenType.startsWith(prefix) || (canonical?.startsWith(prefix) ?? false);
}

/**
 * Applies the flow's plugin defaults to one task or trigger (raw, before validation): a default
 * that is not forced fills only what the task leaves out; a forced one overrides what it wrote.
 * `id` and `type` are never taken from defaults.
 */
export function applyPluginDefaults(
  item: Record<string, unknown>,
  defaults: readonly PluginDefault[],
  canonical: string | undefined,
  canonicalOf: (t: string) => string | undefined,
): Record<string, unknown> {
  const written = typeof item.type === "string" ? item.type : undefined;
  if (written === undefined || defaults.length === 0) return item;
  let out = item;
  for (const d of defaults) {
    if (!defaultMatches(d.type, written, canonical, canonicalOf)) continue;
    const { id: _id, type: _type, ...values } = d.values;
    out = d.forced ? deepMerge(out, values) : deepMerge(values, out);
  }
  return out;
}
