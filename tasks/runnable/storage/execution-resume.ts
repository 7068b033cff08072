import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import type { RunContext, TaskDefinition } from "../../types.js";
import { toText } from "../coerce.js";
import { dynStringMap, parseProps, runnableProps } from "../props.js";

const properties = runnableProps({
  executionId: z.string().optional(),
  namespace: z.string().optional(),
  flowId: z.string().optional(),
  inputs: dynStringMap.optional(),
});

/** An execution id is one token: no spaces, no slashes (the API, scheduler and subflows make them so). */
const EXECUTION_ID_RE = /^[^\s/\\]{1,256}$/;

function rendered(ctx: RunContext, value: string | undefined, property: string): string | undefined {
  if (value === undefined) return undefined;
  const text = toText(ctx.render(value)).trim();
  if (text === "") throw new LannerError("TASK_INVALID_PROPERTY", `${property}: rendered to an empty string`);
  return text;
}

/**
 * Resumes a PAUSED execution (by default the current one) with optional `inputs` for its Pause
 * task's `onResume`, by appending the same Resume command the API's resume route sends. The
 * command carries this flow's tenant, and the `namespace`/`flowId` when given: the executor
 * resumes only an execution they match. What happens then is the executor's rule: an
 * execution that is not PAUSED (or does not exist) is left as it is.
 */
export const executionResumeTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.execution.Resume", "io.kestra.core.tasks.executions.Resume"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const explicitId = rendered(ctx, props.executionId, "executionId");
    const namespace = rendered(ctx, props.namespace, "namespace");
    const flowId = rendered(ctx, props.flowId, "flowId");
    if (explicitId === undefined && ((namespace !== undefined && namespace !== ctx.namespace) || (flowId !== undefined && flowId !== ctx.flowId))) {
      throw new LannerError("TASK_INVALID_PROPERTY", "executionId: required to resume an execution of another flow (namespace and flowId only narrow which execution may be resumed)");
    }
    const executionId = explicitId ?? ctx.executionId;
    if (!EXECUTION_ID_RE.test(executionId)) throw new LannerError("TASK_INVALID_PROPERTY", `executionId: expected an execution id, got ${JSON.stringify(executionId)}`);
    let inputs: Record<string, unknown> | undefined;
    if (props.inputs !== undefined) {
      const value = ctx.render(props.inputs);
      const parsed = typeof value === "string" ? parseJsonObject(value) : value;
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new LannerError("TASK_INVALID_PROPERTY", `inputs: expected a map of input values, got ${JSON.stringify(value)}`);
      }
      inputs = parsed as Record<string, unknown>;
    }
    await ctx.sendCommand({
      type: "Resume",
      executionId,
      ...(inputs !== undefined ? { inputs } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(flowId !== undefined ? { flowId } : {}),
    });
    ctx.log("INFO", `asked execution ${executionId} to resume`);
    return {};
  },
};

function parseJsonObject(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
