import { z } from "zod";
import { nonNegativeInt, show, taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { CORE_FLOW, flowableNames, LEGACY_FLOW } from "./names.js";

const EACH_SEQUENTIAL = [`${LEGACY_FLOW}EachSequential`, `${CORE_FLOW}EachSequential`, "EachSequential"];
const EACH_PARALLEL = [`${LEGACY_FLOW}EachParallel`, `${CORE_FLOW}EachParallel`, "EachParallel"];

/**
 * Runs `tasks` once per item of `values` (a list, or an expression/JSON text rendering to one),
 * `concurrencyLimit` iterations at a time (1 = one after the other, 0 = all at once).
 * The older EachSequential / EachParallel are the same task: EachSequential is concurrencyLimit 1,
 * EachParallel takes `concurrent` (default 0, unlimited); both wrote `value` for `values`.
 */
export const forEachTask: TaskDefinition = {
  types: [...flowableNames("ForEach", { legacy: false }), ...EACH_SEQUENTIAL, ...EACH_PARALLEL],
  kind: "flowable",
  properties: z.strictObject({
    values: z.union([z.string(), z.array(z.unknown())], {
      error: (iss) => `expected a list of values or an expression that renders to one, got ${show(iss.input)}`,
    }),
    concurrencyLimit: nonNegativeInt.default(1),
    tasks: taskListSchema,
  }),
  childTaskLists: ["tasks"],
  normalize(props, writtenType) {
    const sequential = EACH_SEQUENTIAL.includes(writtenType);
    const parallel = EACH_PARALLEL.includes(writtenType);
    if (!sequential && !parallel) return props;
    const { value, concurrent, ...rest } = props;
    const out: Record<string, unknown> = { ...rest };
    if (out.values === undefined && value !== undefined) out.values = value;
    if (parallel) out.concurrencyLimit = concurrent ?? 0;
    else {
      if (concurrent !== undefined) out.concurrent = concurrent; // left for the schema to reject
      out.concurrencyLimit = 1;
    }
    return out;
  },
};
