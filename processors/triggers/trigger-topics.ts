/**
 * Topics and record kinds of the trigger processors. All three are keyed by a trigger's owner
 * key (a target flow key, or a polling trigger key), so one partition owner sees every record of
 * a trigger, in order:
 * - `flow-trigger-events`: executions that ended, one record per target flow that listens
 *   (written by the executor in the same commit as the ending);
 * - `trigger-evaluations`: polling evaluations the polling scheduler dispatches to workers;
 * - `trigger-results`: what the workers report back (the polling scheduler's input).
 */
import type { TopicSpec } from "../../topology/log.js";

export interface TriggerTopics {
  flowTriggerEvents: string;
  evaluations: string;
  results: string;
}

/** Topic names, with an optional prefix (as the topic catalogue applies it). */
export function triggerTopics(prefix = ""): TriggerTopics {
  return {
    flowTriggerEvents: `${prefix}flow-trigger-events`,
    evaluations: `${prefix}trigger-evaluations`,
    results: `${prefix}trigger-results`,
  };
}

/** Specs for `Log.ensureTopics`: `partitions` like the execution topics; consumed work, so purged after `retentionMs`. */
export function triggerTopicSpecs(partitions: number, retentionMs: number | undefined, prefix = ""): TopicSpec[] {
  const t = triggerTopics(prefix);
  const spec = (name: string): TopicSpec => ({ name, partitions, ...(retentionMs !== undefined ? { retentionMs } : {}) });
  return [spec(t.flowTriggerEvents), spec(t.evaluations), spec(t.results)];
}

/** Record kinds (the record codec's type names). */
export const TRIGGER_KIND = {
  flowTriggerEvent: "FlowTriggerEvent",
  evaluation: "PollingEvaluation",
  result: "PollingResult",
} as const;
