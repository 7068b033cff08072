/**
 * `stopAfter` of Schedule triggers: a follower of `executions` (group `scheduler-stop-after`)
 * that recognises the executions a Schedule trigger with `stopAfter` started and, when one of
 * them ends in a listed state, asks the scheduler owning the trigger to disable it (a `Disable`
 * command on `triggers`).
 *
 * A scheduled execution is recognised without any lookup: its id is
 * `scheduleExecutionId(trigger, trigger.date)`, so the `ExecutionCreated` event (which carries
 * the flow snapshot and the `trigger.*` variables) is enough. The executions being watched are
 * kept per partition in a state store, written in the same atomic commit as the consumed offsets
 * and the Disable commands: a restart or a takeover neither forgets a watched execution nor sends
 * a Disable twice for one ending.
 *
 * `executions` is the busiest topic, so a record is decoded only when its bytes can be an
 * `ExecutionCreated` of a flow with `stopAfter`, or an `ExecutionStateChanged` on a partition
 * that watches something; the payload is JSON text inside the Avro body, so a key that is absent
 * from the bytes is absent from the event. A batch that changes nothing is not committed on its
 * own (its offsets go with the next commit, at the latest after `COMMIT_EVERY_RECORDS` records or
 * `COMMIT_EVERY_MS`): re-reading it after a takeover changes nothing either, and it saves the
 * embedded log an fsync per batch of the busiest topic.
 */
import { randomUUID } from "node:crypto";
import { describeError, LannerError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Flow } from "../../schemas/flow-types.js";
import type { AssignedPartition, GroupMember, Log, LogRecord, Membership, ProduceRecord, TopicPartition } from "../../topology/log.js";
import type { ExecutionHeader, State } from "../executor/model.js";
import { isTerminal } from "../executor/model.js";
import { SerialQueue } from "../executor/shell/partition-state.js";
import { decodeEvent, type RecordCodec } from "../executor/shell/records.js";
import { fromBytes, toBytes } from "../executor/shell/state-keys.js";
import { scheduleExecutionId } from "./schedule-core.js";
import { isScheduleTrigger } from "./schedule-spec.js";
import { triggerCommandRecord } from "./trigger-records.js";
import type { TriggerKey } from "./trigger-state.js";

export const STOP_AFTER_GROUP = "scheduler-stop-after";
const STORE = "scheduler-stop-after";
/** Records or time after which offsets are committed even when nothing changed. */
const COMMIT_EVERY_RECORDS = 5_000;
const COMMIT_EVERY_MS = 5_000;

/** A scheduled execution being watched: which trigger started it and the states that stop it. */
export interface StopAfterWatch {
  key: TriggerKey;
  stopAfter: State[];
}

/**
 * The watch for an execution when a Schedule trigger with `stopAfter` of its flow started it:
 * its id is the one that trigger derives from `trigger.date`. Undefined otherwise (started by
 * hand, by another trigger, or by a trigger without `stopAfter`).
 */
export function stopAfterWatchOf(executionId: string, execution: Pick<ExecutionHeader, "tenantId" | "namespace" | "flowId" | "trigger">, flow: Pick<Flow, "triggers">): StopAfterWatch | undefined {
  const date = execution.trigger?.date;
  if (typeof date !== "string") return undefined;
  const ms = Date.parse(date);
  if (Number.isNaN(ms)) return undefined;
  for (const t of flow.triggers ?? []) {
    if (!isScheduleTrigger(t) || !Array.isArray(t.stopAfter) || t.stopAfter.length === 0) continue;
    const key: TriggerKey = { tenantId: execution.tenantId, namespace: execution.namespace, flowId: execution.flowId, triggerId: t.id };
    if (scheduleExecutionId(key, ms) === executionId) return { key, stopAfter: t.stopAfter as State[] };
  }
  return undefined;
}

export interface StopAfterFollowerOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  clock?: () => number;
  memberId?: string;
  topics?: { executions?: string; triggers?: string };
}

const utf8 = (s: string) => Buffer.from(s, "utf8");
const CREATED = utf8('"ExecutionCreated"');
const STOP_AFTER = utf8('"stopAfter"');
const STATE_CHANGED = utf8('"ExecutionStateChanged"');

function contains(bytes: Uint8Array, needle: Buffer): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(needle) >= 0;
}

export class StopAfterFollower {
  private readonly log: Log;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly topics: { executions: string; triggers: string };
  /** Watched executions per partition of `executions` (what the store holds). */
  private readonly parts = new Map<number, Map<string, StopAfterWatch>>();
  /** Per partition: records read since the last commit, and when it was. */
  private readonly uncommitted = new Map<number, { records: number; since: number }>();
  private readonly queue = new SerialQueue();
  private membership: Membership | undefined;
  /** Disable commands sent since start (inspection and tests). */
  disabled = 0;

  constructor(private readonly opts: StopAfterFollowerOptions) {
    this.log = opts.log;
    this.logger = opts.logger.child({ role: "scheduler", part: "stop-after" });
    this.clock = opts.clock ?? Date.now;
    this.topics = { executions: opts.topics?.executions ?? "executions", triggers: opts.topics?.triggers ?? "triggers" };
  }

  async start(): Promise<void> {
    const member: GroupMember = {
      onAssign: (a) => this.queue.run(() => this.onAssign(a)),
      onRevoke: (r) => this.queue.run(async () => this.onRevoke(r)),
      onRecords: (batch) => this.queue.run(() => this.onRecords(batch)),
      onError: (err, where) => {
        const quiet = err instanceof LannerError && (err.code === "FENCED" || err.code === "LOG_CLOSED");
        this.logger[quiet ? "debug" : "error"]({ err: describeError(err), ...where }, "stopAfter batch not committed; it will be delivered again");
      },
    };
    this.membership = await this.log.join(STOP_AFTER_GROUP, [this.topics.executions], member, { memberId: this.opts.memberId ?? `stop-after-${randomUUID()}` });
  }

  /** Leaves the group after the current batch. */
  async stop(): Promise<void> {
    const m = this.membership;
    this.membership = undefined;
    if (m) await m.leave();
    await this.queue.idle();
  }

  /** Executions watched by this member now. */
  watched(): Array<{ executionId: string } & StopAfterWatch> {
    return [...this.parts.values()].flatMap((p) => [...p].map(([executionId, w]) => ({ executionId, ...w })));
  }

  private async onAssign(assigned: AssignedPartition[]): Promise<void> {
    for (const a of assigned) await this.restore(a.partition);
  }

  private onRevoke(revoked: TopicPartition[]): void {
    for (const r of revoked) {
      this.parts.delete(r.partition);
      this.uncommitted.delete(r.partition);
    }
  }

  private async restore(partition: number): Promise<void> {
    const watched = new Map<string, StopAfterWatch>();
    for await (const [key, value] of this.log.stateStore(STORE, partition).entries()) watched.set(key, fromBytes(value) as StopAfterWatch);
    this.parts.set(partition, watched);
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const { topic, partition } = batch[0];
    const watched = this.parts.get(partition);
    if (!watched) throw new LannerError("SCHEDULER_PARTITION_NOT_HELD", `partition ${partition} of ${topic} is not held by this member`, { retriable: true });
    const produce: ProduceRecord[] = [];
    const puts = new Map<string, Uint8Array>();
    const deletes = new Set<string>();
    for (const rec of batch) {
      const created = contains(rec.value, CREATED) && contains(rec.value, STOP_AFTER);
      if (!created && (watched.size === 0 || !contains(rec.value, STATE_CHANGED))) continue;
      let e;
      try {
        e = decodeEvent(this.opts.codec, rec.value);
      } catch {
        continue; // the indexer dead-letters undecodable execution events; nothing to watch here
      }
      if (e.type === "ExecutionCreated") {
        const w = stopAfterWatchOf(e.executionId, e.execution, e.flow);
        if (!w) continue;
        watched.set(e.executionId, w);
        deletes.delete(e.executionId);
        puts.set(e.executionId, toBytes(w));
      } else if (e.type === "ExecutionStateChanged" && isTerminal(e.state)) {
        const w = watched.get(e.executionId);
        if (!w) continue;
        watched.delete(e.executionId);
        puts.delete(e.executionId);
        deletes.add(e.executionId);
        if (!w.stopAfter.includes(e.state)) continue;
        const reason = `stopAfter: execution ${e.executionId} ended ${e.state}`;
        produce.push(triggerCommandRecord(this.opts.codec, this.topics.triggers, { key: w.key, at: this.clock(), command: { type: "Disable", reason } }));
        this.logger.info({ trigger: `${w.key.namespace}/${w.key.flowId}/${w.key.triggerId}`, executionId: e.executionId, state: e.state }, "schedule trigger disabled by stopAfter");
      }
    }
    const m = this.membership;
    if (!m) throw new LannerError("SCHEDULER_STOPPED", "the scheduler is stopped", { retriable: true });
    const pending = this.uncommitted.get(partition) ?? { records: 0, since: Date.now() };
    pending.records += batch.length;
    this.uncommitted.set(partition, pending);
    const changed = produce.length + puts.size + deletes.size > 0;
    if (!changed && pending.records < COMMIT_EVERY_RECORDS && Date.now() - pending.since < COMMIT_EVERY_MS) return;
    const last = batch[batch.length - 1];
    try {
      await m.commit(
        { produce, offsets: [{ topic, partition, next: last.offset + 1n }] },
        puts.size + deletes.size > 0 ? { store: STORE, partition, puts: [...puts], deletes: [...deletes] } : undefined,
      );
      this.disabled += produce.length;
      this.uncommitted.set(partition, { records: 0, since: Date.now() });
    } catch (err) {
      // memory went ahead of what is durable: take the store's view again
      if (err instanceof LannerError && err.code === "FENCED") this.parts.delete(partition);
      else await this.restore(partition).catch(() => undefined);
      throw err;
    }
  }
}
