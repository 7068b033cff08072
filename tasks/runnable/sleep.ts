import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { abortError } from "./abort.js";
import { runnableProps, parseProps } from "./props.js";
import { parseIsoDuration } from "./coerce.js";

const properties = runnableProps({
  duration: z.string(),
});

/** Resolves after `ms`, or rejects with `TASK_ABORTED` as soon as `signal` aborts. */
export function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Waits for `duration` (ISO-8601) on the worker; stops at once when the attempt is aborted. */
export const sleepTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.flow.Sleep", "io.kestra.core.tasks.flows.Sleep", "Sleep"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const ms = parseIsoDuration(ctx.render(props.duration), "duration");
    await sleepFor(ms, ctx.signal);
    return {};
  },
};
