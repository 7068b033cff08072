import { describeError } from "../../../common/errors.js";
import type { Task } from "../../../schemas/flow-types.js";
import { FOR_EACH_ITEM_MERGE, MAX_BATCHES, forEachItemChildren } from "../../../tasks/flowable/for-each-item.js";
import { Decider, sequentialBlock } from "../decider.js";
import { batchExecutionId } from "../ids.js";
import type { SubflowEndedCommand } from "../inputs.js";
import { isFailure, type BatchProgress, type State, type TaskRun } from "../model.js";
import { renderLabels } from "./subflow.js";
import type { FlowableLogic } from "./types.js";

/** What the split reports (outputs of `<id>_split`, written by the worker). */
interface SplitOutputs {
  numberOfBatches: number;
  batchUriPrefix: string;
  batchUriSuffix: string;
}

function splitOutputs(raw: Record<string, unknown> | undefined): SplitOutputs | string {
  if (!raw) return "the split task reported no outputs";
  const n = raw.numberOfBatches;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) return `the split task reported ${JSON.stringify(n)} batches`;
  if (n > MAX_BATCHES) return `${n} batches is more than the ${MAX_BATCHES} a ForEachItem may start; use a larger batch`;
  if (typeof raw.batchUriPrefix !== "string" || typeof raw.batchUriSuffix !== "string") return "the split task reported no batch URIs";
  return { numberOfBatches: n, batchUriPrefix: raw.batchUriPrefix, batchUriSuffix: raw.batchUriSuffix };
}

/** The URI of batch `index` (0-based); the files are numbered from 1. */
export function batchUri(b: Pick<BatchProgress, "uriPrefix" | "uriSuffix">, index: number): string {
  return `${b.uriPrefix}${index + 1}${b.uriSuffix}`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * On a restart with `restartBehavior` RETRY_FAILED (the default), the batches whose subflow
 * execution did not succeed (or never reported), to run again as new executions (the others keep their result);
 * undefined when every batch runs: a first start, NEW_EXECUTION, or batches that changed.
 */
function retriedBatches(d: Decider, tr: TaskRun, task: Task, generation: number, count: number): number[] | undefined {
  const prev = d.s.batches?.[tr.id];
  if (generation === 0 || task.restartBehavior === "NEW_EXECUTION" || !prev || prev.count !== count) return undefined;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    // a batch that never reported (its task run was killed first) runs again too
    const st = prev.ended[i];
    if (st !== "SUCCESS" && st !== "WARNING") out.push(i);
  }
  return out;
}

/** Counts of ended subflow executions by state (Kestra's `iterations` output). */
function iterationCounts(b: BatchProgress): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < b.count; i++) {
    const st = b.ended[i] ?? "CREATED";
    counts[st] = (counts[st] ?? 0) + 1;
  }
  return counts;
}

/** The ForEachItem task run that holds an internal child (its parent). */
function ownerOf(d: Decider, tr: TaskRun): { owner: TaskRun; task: Task } {
  const owner = tr.parentTaskRunId === undefined ? undefined : d.s.taskRuns[tr.parentTaskRunId];
  if (!owner) throw new Error(`task run ${tr.id} (${tr.taskId}) has no ForEachItem parent`);
  return { owner, task: d.taskOf(owner) };
}

/**
 * ForEachItem: runs its internal children in order, `<id>_split` (worker: writes the batches),
 * `<id>_items` (executor: one subflow execution per batch) and, when it waited for subflows that
 * returned outputs, `<id>_merge` (worker: writes them to one file). A failure stops the sequence.
 */
export const forEachItem: FlowableLogic = {
  next(d, tr, task) {
    const c = forEachItemChildren(task);
    const items = d.s.taskRuns[d.childId(tr, c.items.id)];
    const merge = items !== undefined && items.state.current === "SUCCESS" && task.wait !== false
      && Object.keys(d.s.batches?.[items.id]?.outputs ?? {}).length > 0;
    return sequentialBlock(d, tr, merge ? [c.split, c.items, c.merge] : [c.split, c.items]);
  },
};

/**
 * `<id>_items`: starts one subflow execution per batch, exactly as a Subflow task would, with
 * `taskrun.items` the batch's file and `taskrun.iteration` its index (from 0, as in Kestra).
 * Execution ids derive from the task run, the restart generation and the batch, so a replay or a
 * redelivered action never starts a batch twice. With `wait` it ends once every subflow ended (FAILED, or
 * KILLED, when one did and `transmitFailed` is set); without, once all are requested.
 */
export const forEachItemExecutable: FlowableLogic = {
  start(d, tr, task) {
    const { owner, task: ownerTask } = ownerOf(d, tr);
    const split = d.s.taskRuns[d.childId(owner, forEachItemChildren(ownerTask).split.id)];
    const plan = splitOutputs(split?.outputs);
    if (typeof plan === "string") {
      d.endTaskRun(tr, "FAILED", "no batches", { message: `${ownerTask.id}: ${plan}`, code: "FOREACHITEM_BATCHES_INVALID" });
      return true;
    }
    const e = d.s.execution;
    const generation = tr.state.histories.filter((h) => h.state === "RESTARTED").length;
    const batch = { uriPrefix: plan.batchUriPrefix, uriSuffix: plan.batchUriSuffix };
    const rerun = retriedBatches(d, tr, task, generation, plan.numberOfBatches);
    // every batch's inputs render before anything is recorded: a template error fails the task run cleanly
    const creates: Array<{ id: string; inputs: Record<string, unknown>; labels: ReturnType<typeof renderLabels> }> = [];
    let namespace: string;
    let flowId: string;
    try {
      const base = d.vars(tr, task);
      namespace = String(d.render.typed(task.namespace, base));
      flowId = String(d.render.typed(task.flowId, base));
      for (const i of rerun ?? range(plan.numberOfBatches)) {
        const vars = { ...base, taskrun: { ...(base.taskrun as Record<string, unknown>), items: batchUri(batch, i), iteration: i } };
        let labels = renderLabels(d, task.labels, vars);
        if (task.inheritLabels) labels = Decider.mergeLabels(e.labels, labels);
        creates.push({
          id: batchExecutionId(e.id, tr.id, generation, i),
          inputs: (d.render.deep(task.inputs ?? {}, vars) ?? {}) as Record<string, unknown>,
          labels,
        });
      }
    } catch (err) {
      d.endTaskRun(tr, "FAILED", "subflow properties did not render", { message: `${ownerTask.id}: ${describeError(err)}` });
      return true;
    }
    d.setState(tr, "RUNNING", "subflow executions requested");
    d.emit({ type: "BatchesPlanned", taskRunId: tr.id, count: plan.numberOfBatches, ...batch, generation, ...(rerun ? { rerun } : {}) });
    const progress = d.s.batches?.[tr.id] as BatchProgress;
    d.emit({ type: "TaskRunOutputs", taskRunId: tr.id, outputs: { numberOfBatches: plan.numberOfBatches, iterations: iterationCounts(progress) } });
    for (const c of creates) {
      d.act({
        type: "CreateExecution", executionId: c.id, tenantId: e.tenantId, namespace, flowId,
        ...(task.revision !== undefined ? { revision: Number(task.revision) } : {}),
        inputs: c.inputs, labels: c.labels, parent: { executionId: e.id, taskRunId: tr.id, namespace: e.namespace, flowId: e.flowId },
      });
    }
    if (task.wait === false || progress.endedCount === progress.count) {
      d.endTaskRun(tr, "SUCCESS", task.wait === false ? "subflows started without waiting" : "no batch to run");
    }
    return true;
  },
  next(d, tr, task) {
    const b = d.s.batches?.[tr.id];
    if (!b || b.endedCount < b.count) return undefined;
    const iterations = iterationCounts(b);
    d.emit({ type: "TaskRunOutputs", taskRunId: tr.id, outputs: { numberOfBatches: b.count, iterations } });
    let failed = 0;
    let killed = 0;
    let warned = 0;
    for (const [st, n] of Object.entries(iterations)) {
      if (st === "KILLED") killed += n;
      else if (isFailure(st as State)) failed += n;
      else if (st === "WARNING") warned += n;
    }
    if (task.transmitFailed && failed + killed > 0) {
      const end: State = failed > 0 ? "FAILED" : "KILLED";
      d.endTaskRun(tr, end, "a subflow execution failed", end === "FAILED"
        ? { message: `${failed + killed} of ${b.count} subflow executions did not succeed`, code: "FOREACHITEM_SUBFLOW_FAILED" }
        : undefined);
      return undefined;
    }
    return warned > 0 ? "WARNING" : "SUCCESS";
  },
};

/**
 * A subflow execution of a ForEachItem batch ended: records it (once) and steps the task run.
 * An unknown child, a batch already ended or a task run no longer waiting is recorded and ignored.
 */
export function batchSubflowEnded(d: Decider, tr: TaskRun, input: SubflowEndedCommand): void {
  const b = d.s.batches?.[tr.id] as BatchProgress;
  const index = Object.hasOwn(b.children, input.childExecutionId) ? b.children[input.childExecutionId] : undefined;
  if (index === undefined || b.ended[index] !== undefined || tr.state.current !== "RUNNING") {
    d.emit({ type: "ResultIgnored", taskRunId: tr.id, attempt: 0, reason: `subflow ${input.childExecutionId} ended ${input.state} but its batch no longer waits` });
    return;
  }
  // only a successful execution has flow outputs; what else comes along (why a create failed) is not one
  const outputs = input.state === "SUCCESS" || input.state === "WARNING" ? input.outputs : undefined;
  d.emit({ type: "BatchEnded", taskRunId: tr.id, index, state: input.state, ...(outputs ? { outputs } : {}) });
  d.enqueue(tr.id);
}

/** Kill of a running `<id>_items`: with `cascade` its unfinished subflow executions are killed too. */
export function killBatches(d: Decider, tr: TaskRun, cascade: boolean): void {
  const b = d.s.batches?.[tr.id];
  if (cascade && b) {
    for (const [childId, index] of Object.entries(b.children)) {
      if (b.ended[index] === undefined) d.act({ type: "KillExecution", executionId: childId });
    }
  }
  d.endTaskRun(tr, "KILLED", "killed");
}

/**
 * Extra variables of a job: the merge gets `subflowOutputs`, the outputs of every batch's subflow
 * execution in batch order (`{}` for one that returned none).
 */
export function internalJobVars(d: Decider, tr: TaskRun, task: Task): Record<string, unknown> | undefined {
  if (task.type !== FOR_EACH_ITEM_MERGE) return undefined;
  const { owner, task: ownerTask } = ownerOf(d, tr);
  const items = d.s.taskRuns[d.childId(owner, forEachItemChildren(ownerTask).items.id)];
  const b = items === undefined ? undefined : d.s.batches?.[items.id];
  const list: Array<Record<string, unknown>> = [];
  if (b) for (let i = 0; i < b.count; i++) list.push(b.outputs[i] ?? {});
  return { subflowOutputs: list };
}
