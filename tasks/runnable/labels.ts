import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { LannerError } from "../../common/errors.js";
import { runnableProps, parseProps } from "./props.js";
import { toText } from "./coerce.js";

const properties = runnableProps({
  labels: z.union([
    z.record(z.string(), z.unknown()),
    z.array(z.strictObject({ key: z.string(), value: z.unknown() })),
    z.string(),
  ]),
});

/** Returns the labels to add to the execution as output `labels`; the executor applies them. */
export const labelsTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.execution.Labels", "io.kestra.core.tasks.executions.Labels", "Labels"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    let rendered: unknown = ctx.render(props.labels);
    // A string is an expression that rendered to a JSON map or list.
    if (typeof rendered === "string") {
      try {
        rendered = JSON.parse(rendered);
      } catch {
        throw new LannerError("TASK_INVALID_PROPERTY", "labels: expected a map or a list of {key, value}, got a string that is not JSON");
      }
    }
    const labels: Array<{ key: string; value: string }> = [];
    if (Array.isArray(rendered)) {
      for (const [i, item] of rendered.entries()) {
        if (typeof item !== "object" || item === null || !("key" in item) || !("value" in item)) {
          throw new LannerError("TASK_INVALID_PROPERTY", `labels[${i}]: expected {key, value}`);
        }
        labels.push({ key: toText(item.key), value: toText(item.value) });
      }
    } else if (typeof rendered === "object" && rendered !== null) {
      for (const [key, value] of Object.entries(rendered)) labels.push({ key, value: toText(value) });
    } else {
      throw new LannerError("TASK_INVALID_PROPERTY", "labels: expected a map or a list of {key, value}");
    }
    for (const l of labels) {
      if (l.key.length === 0) throw new LannerError("TASK_INVALID_PROPERTY", "labels: a label key is empty");
    }
    return { outputs: { labels } };
  },
};
