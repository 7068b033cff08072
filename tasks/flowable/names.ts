/** Kestra's current package for core flowable tasks, and the one it used before 0.17. */
export const CORE_FLOW = "io.kestra.plugin.core.flow.";
export const LEGACY_FLOW = "io.kestra.core.tasks.flows.";

/**
 * The accepted names of a core flowable: canonical first, then the older package, then the short
 * name (lowest priority, Lanner's own convenience).
 */
export function flowableNames(simple: string, opts: { legacy?: boolean } = {}): string[] {
  return [`${CORE_FLOW}${simple}`, ...(opts.legacy === false ? [] : [`${LEGACY_FLOW}${simple}`]), simple];
}
