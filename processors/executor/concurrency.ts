import type { ConcurrencySlotCommand } from "./inputs.js";

/** Per-flow concurrency state: executions holding a slot, and those waiting (FIFO). */
export interface ConcurrencyState {
  flowKey: string;
  running: string[];
  queue: string[];
  /** The flow's limit, as the last acquire said. */
  limit?: number;
}

export type ConcurrencyInput =
  | { type: "AcquireConcurrencySlot"; flowKey: string; executionId: string; limit: number; behavior: "QUEUE" | "CANCEL" | "FAIL" }
  | { type: "ReleaseConcurrencySlot"; flowKey: string; executionId: string };

/**
 * Flow concurrency is across executions, so it has its own pure reducer keyed by flow
 * (tenant/namespace/flowId). Acquire: a free slot → granted; otherwise QUEUE → queued (granted
 * later in FIFO order), CANCEL → rejected CANCELLED, FAIL → rejected FAILED. Release frees the
 * slot (or leaves the queue) and grants the next waiting execution. Duplicate acquires get the
 * same answer again; the replies are commands for the executions concerned.
 */
export function reduceConcurrency(
  state: ConcurrencyState | undefined, input: ConcurrencyInput,
): { state: ConcurrencyState; replies: ConcurrencySlotCommand[] } {
  const s: ConcurrencyState = state
    ? { flowKey: state.flowKey, running: [...state.running], queue: [...state.queue], ...(state.limit !== undefined ? { limit: state.limit } : {}) }
    : { flowKey: input.flowKey, running: [], queue: [] };
  const replies: ConcurrencySlotCommand[] = [];
  const reply = (executionId: string, decision: ConcurrencySlotCommand["decision"], st?: "CANCELLED" | "FAILED") =>
    replies.push({ type: "ConcurrencySlot", executionId, decision, ...(st ? { state: st } : {}) });
  if (input.type === "AcquireConcurrencySlot") {
    s.limit = input.limit;
    if (s.running.includes(input.executionId)) reply(input.executionId, "granted");
    else if (s.queue.includes(input.executionId)) reply(input.executionId, "queued");
    else if (s.running.length < input.limit) {
      s.running.push(input.executionId);
      reply(input.executionId, "granted");
    } else if (input.behavior === "QUEUE") {
      s.queue.push(input.executionId);
      reply(input.executionId, "queued");
    } else reply(input.executionId, "rejected", input.behavior === "CANCEL" ? "CANCELLED" : "FAILED");
    return { state: s, replies };
  }
  s.running = s.running.filter((id) => id !== input.executionId);
  s.queue = s.queue.filter((id) => id !== input.executionId);
  const limit = s.limit ?? 1;
  while (s.running.length < limit && s.queue.length > 0) {
    const next = s.queue.shift() as string;
    s.running.push(next);
    reply(next, "granted");
  }
  return { state: s, replies };
}
