import { z } from "zod";
import { booleanSchema, labelsSchema, positiveInt, show, valuesMap } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames, LEGACY_FLOW } from "./names.js";

const LEGACY_FLOW_TASK = `${LEGACY_FLOW}Flow`;

export const subflowFields = {
  namespace: z.string({ error: (iss) => `expected the subflow's namespace, got ${show(iss.input)}` }).min(1),
  flowId: z.string({ error: (iss) => `expected the subflow's id, got ${show(iss.input)}` }).min(1),
  inputs: valuesMap.optional(),
  wait: booleanSchema.default(true),
  transmitFailed: booleanSchema.default(true),
  inheritLabels: booleanSchema.default(false),
  labels: labelsSchema.optional(),
  revision: positiveInt.optional(),
  scheduleDate: z.string().optional(),
  restartBehavior: z.enum(["NEW_EXECUTION", "RETRY_FAILED"], { error: (iss) => `expected NEW_EXECUTION or RETRY_FAILED, got ${show(iss.input)}` }).optional(),
};

/**
 * Starts an execution of another flow; with `wait` it ends when that execution ends, and with
 * `transmitFailed` a failed subflow fails this task. The old `io.kestra.core.tasks.flows.Flow`
 * task is the same one, with `wait` and `transmitFailed` defaulting to false as they did there.
 */
export const subflowTask: TaskDefinition = {
  types: [...flowableNames("Subflow"), LEGACY_FLOW_TASK],
  kind: "flowable",
  properties: z.strictObject({ ...subflowFields, outputs: valuesMap.optional() }),
  childTaskLists: [],
  normalize(props, writtenType) {
    if (writtenType !== LEGACY_FLOW_TASK) return props;
    return { wait: false, transmitFailed: false, ...props };
  },
};
