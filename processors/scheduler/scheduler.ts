/**
 * The scheduler role: joins group `scheduler` on `triggers` + `flows` (co-partitioned: a flow's
 * revisions and its triggers' records share the key `tenant/namespace/flowId` and the partition
 * count), so each member owns the flows of its partitions and their Schedule triggers. Per
 * partition it keeps the latest revision of each flow and each trigger's state, in memory and in
 * its state store. Every unit of work — a batch of flow revisions, a batch of trigger commands, a
 * clock tick — appends the CreateExecution commands it decided (with the flow snapshot) to
 * `execution-commands`, the new trigger states to `triggers`, commits the consumed offsets and
 * writes the store, atomically. Execution ids are derived from (trigger, scheduled date), so a
 * tick decided twice (a restart, a zombie member, a replay) creates nothing twice.
 */
import { randomUUID } from "node:crypto";
import { describeError, LannerError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { renderDeep } from "../../expressions/index.js";
import { parseFlow } from "../../schemas/flow-parser.js";
import type { Flow } from "../../schemas/flow-types.js";
import { coerceInputs } from "../../schemas/inputs.js";
import { deadLetter } from "../../topology/dead-letter.js";
import type { AssignedPartition, GroupMember, Log, LogRecord, Membership, ProduceRecord, TopicPartition } from "../../topology/log.js";
import type { CreateExecutionCommand } from "../executor/inputs.js";
import { flowRecordDecoder } from "../executor/shell/flow-resolver.js";
import { SerialQueue } from "../executor/shell/partition-state.js";
import { encodeCommand, type RecordCodec } from "../executor/shell/records.js";
import { fromBytes, toBytes } from "../executor/shell/state-keys.js";
import { applyCommand, evaluate, recordFailedFiring, type Firing, type TriggerCommand } from "./schedule-core.js";
import { isScheduleTrigger, scheduleSpecOf } from "./schedule-spec.js";
import { StopAfterFollower } from "./stop-after.js";
import { decodeTriggerRecord, triggerStateRecord, type TriggerStateRecord } from "./trigger-records.js";
import { flowLogKey, triggerKeyString, type TriggerKey, type TriggerState } from "./trigger-state.js";

export const SCHEDULER_GROUP = "scheduler";
const STORE = "scheduler";
const FLOW_PREFIX = "flow/";
const TRIGGER_PREFIX = "trig/";

export interface SchedulerOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  /** Injectable clock (epoch ms); default Date.now. */
  clock?: () => number;
  /** How often the owned triggers are evaluated (ms); default 1000. 0: only when `tick()` is called. */
  tickMs?: number;
  /** How late a date may be and still be on time rather than missed (ms); default 60 s. */
  graceMs?: number;
  /** Most executions one trigger starts per evaluation; default 100. */
  maxFiringsPerTick?: number;
  memberId?: string;
  /** Follow `executions` to act on `stopAfter` (a `StopAfterFollower`); default true. */
  stopAfter?: boolean;
  topics?: { triggers?: string; flows?: string; commands?: string; deadLetters?: string; executions?: string };
}

interface FlowEntry {
  revision: number;
  source: string;
  deleted: boolean;
}

interface Part {
  partition: number;
  topics: Set<string>;
  flows: Map<string, FlowEntry>;
  /** Parsed flows by key (memory only), for the revision in `flows`. */
  parsed: Map<string, { revision: number; flow?: Flow; specs: Map<string, ReturnType<typeof scheduleSpecOf>> }>;
  triggers: Map<string, TriggerState>;
}

/** One unit of work being built. */
class Work {
  readonly produce: ProduceRecord[] = [];
  readonly puts = new Map<string, Uint8Array>();
  readonly deletes = new Set<string>();
  put(key: string, value: unknown): void {
    this.deletes.delete(key);
    this.puts.set(key, toBytes(value));
  }
  delete(key: string): void {
    this.puts.delete(key);
    this.deletes.add(key);
  }
  get empty(): boolean {
    return this.produce.length === 0 && this.puts.size === 0 && this.deletes.size === 0;
  }
}

const isCommandFencedOrClosed = (err: unknown) => err instanceof LannerError && (err.code === "FENCED" || err.code === "LOG_CLOSED");

export class Scheduler {
  private readonly log: Log;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly topics: { triggers: string; flows: string; commands: string; deadLetters: string };
  private readonly parts = new Map<number, Part>();
  private readonly queue = new SerialQueue();
  private readonly decodeFlow;
  private membership: Membership | undefined;
  /** Disables triggers whose `stopAfter` states an execution they started ended in. */
  readonly stopAfter: StopAfterFollower | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** CreateExecution commands appended since start (inspection and tests). */
  fired = 0;

  constructor(private readonly opts: SchedulerOptions) {
    this.log = opts.log;
    this.logger = opts.logger.child({ role: "scheduler" });
    this.clock = opts.clock ?? Date.now;
    this.topics = {
      triggers: opts.topics?.triggers ?? "triggers",
      flows: opts.topics?.flows ?? "flows",
      commands: opts.topics?.commands ?? "execution-commands",
      deadLetters: opts.topics?.deadLetters ?? "dead-letters",
    };
    this.decodeFlow = flowRecordDecoder(opts.codec);
    if (opts.stopAfter !== false) {
      this.stopAfter = new StopAfterFollower({
        log: opts.log, logger: opts.logger, codec: opts.codec, clock: this.clock,
        ...(opts.memberId ? { memberId: `${opts.memberId}-stop-after` } : {}),
        topics: { executions: opts.topics?.executions ?? "executions", triggers: this.topics.triggers },
      });
    }
  }

  async start(): Promise<void> {
    const t = this.topics;
    if (this.log.partitionsOf(t.triggers) !== this.log.partitionsOf(t.flows)) {
      throw new LannerError("TOPIC_PARTITIONS_MISMATCH", `${t.triggers} has ${this.log.partitionsOf(t.triggers)} partitions and ${t.flows} ${this.log.partitionsOf(t.flows)}: the scheduler needs them co-partitioned (the same count)`);
    }
    const member: GroupMember = {
      onAssign: (a) => this.queue.run(() => this.onAssign(a)),
      onRevoke: (r) => this.queue.run(() => this.onRevoke(r)),
      onRecords: (batch) => this.queue.run(() => this.onRecords(batch)),
      onError: (err, where) => {
        this.logger[isCommandFencedOrClosed(err) ? "debug" : "error"]({ err: describeError(err), ...where }, "scheduler batch not committed; it will be delivered again");
      },
    };
    this.membership = await this.log.join(SCHEDULER_GROUP, [t.triggers, t.flows], member, { memberId: this.opts.memberId ?? `scheduler-${randomUUID()}` });
    await this.stopAfter?.start();
    const every = this.opts.tickMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.tick().catch((err: unknown) => this.logger.error({ err: describeError(err) }, "scheduler tick failed"));
      }, every);
      this.timer.unref();
    }
  }

  /** Leaves the group (its partitions go to the other members) after the current unit of work. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.stopAfter?.stop();
    const m = this.membership;
    this.membership = undefined;
    if (m) await m.leave();
    await this.queue.idle();
  }

  /** Evaluates every owned trigger at the clock's now, one unit of work per partition. */
  tick(): Promise<void> {
    return this.queue.run(async () => {
      for (const part of this.parts.values()) {
        if (!this.ready(part)) continue;
        const work = new Work();
        const now = this.clock();
        const flowKeys = new Set([...part.triggers.values()].map((st) => flowLogKey(st)));
        for (const flowKey of flowKeys) this.reconcileFlow(part, flowKey, work, now, undefined, false);
        await this.commit(part, work, []);
      }
    });
  }

  /** The states of the triggers this member owns now. */
  triggerStates(): TriggerState[] {
    return [...this.parts.values()].flatMap((p) => [...p.triggers.values()]);
  }

  /** Partitions of `triggers` this member owns (and can schedule). */
  ownedPartitions(): number[] {
    return [...this.parts.values()].filter((p) => this.ready(p)).map((p) => p.partition).sort((a, b) => a - b);
  }

  private ready(part: Part): boolean {
    return part.topics.has(this.topics.triggers) && part.topics.has(this.topics.flows);
  }

  private async onAssign(assigned: AssignedPartition[]): Promise<void> {
    for (const a of assigned) {
      let part = this.parts.get(a.partition);
      if (!part) {
        part = { partition: a.partition, topics: new Set(), flows: new Map(), parsed: new Map(), triggers: new Map() };
        this.parts.set(a.partition, part);
        await this.restore(part);
      }
      part.topics.add(a.topic);
    }
  }

  private async onRevoke(revoked: TopicPartition[]): Promise<void> {
    for (const r of revoked) {
      const part = this.parts.get(r.partition);
      if (!part) continue;
      part.topics.delete(r.topic);
      if (part.topics.size === 0) this.parts.delete(r.partition);
    }
  }

  /** Loads the partition's durable state (what the last commit wrote). */
  private async restore(part: Part): Promise<void> {
    part.flows.clear();
    part.parsed.clear();
    part.triggers.clear();
    for await (const [key, value] of this.log.stateStore(STORE, part.partition).entries()) {
      if (key.startsWith(FLOW_PREFIX)) part.flows.set(key.slice(FLOW_PREFIX.length), fromBytes(value) as FlowEntry);
      else if (key.startsWith(TRIGGER_PREFIX)) part.triggers.set(key.slice(TRIGGER_PREFIX.length), fromBytes(value) as TriggerState);
    }
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const { topic, partition } = batch[0];
    const part = this.parts.get(partition);
    if (!part || !this.ready(part)) throw new LannerError("SCHEDULER_PARTITION_NOT_HELD", `partition ${partition} of ${topic} is not fully held by this scheduler yet`, { retriable: true });
    const work = new Work();
    const now = this.clock();
    const touched = new Set<string>();
    for (const rec of batch) {
      if (topic === this.topics.flows) {
        const r = this.decodeFlow(rec.value);
        if (!r) {
          work.produce.push(deadLetter(rec, "undecodable flow revision", this.topics.deadLetters));
          continue;
        }
        const key = flowLogKey({ tenantId: r.tenantId, namespace: r.namespace, flowId: r.id });
        const known = part.flows.get(key);
        // a deletion (revision = last + 1) or a newer revision replaces what is known
        if (known && !r.deleted && r.revision < known.revision) continue;
        const entry: FlowEntry = { revision: r.revision, source: r.deleted ? "" : r.source, deleted: r.deleted };
        part.flows.set(key, entry);
        work.put(FLOW_PREFIX + key, entry);
        touched.add(key);
      } else {
        let decoded;
        try {
          decoded = decodeTriggerRecord(this.opts.codec, rec.value);
        } catch (err) {
          work.produce.push(deadLetter(rec, `undecodable trigger record: ${describeError(err)}`, this.topics.deadLetters));
          continue;
        }
        if (decoded.kind === "state") continue; // our own changelog
        const c = decoded.command;
        this.reconcileFlow(part, flowLogKey(c.key), work, now, { key: c.key, command: c.command });
      }
    }
    for (const key of touched) this.reconcileFlow(part, key, work, now);
    const last = batch[batch.length - 1];
    await this.commit(part, work, [{ topic, partition, next: last.offset + 1n }]);
  }

  private async commit(part: Part, work: Work, offsets: Array<{ topic: string; partition: number; next: bigint }>): Promise<void> {
    const m = this.membership;
    if (!m) throw new LannerError("SCHEDULER_STOPPED", "the scheduler is stopped", { retriable: true });
    if (work.empty && offsets.length === 0) return;
    const creates = work.produce.filter((r) => r.topic === this.topics.commands).length;
    try {
      await m.commit(
        { produce: work.produce, offsets, fence: [{ topic: this.topics.triggers, partition: part.partition }, { topic: this.topics.flows, partition: part.partition }] },
        { store: STORE, partition: part.partition, puts: [...work.puts], deletes: [...work.deletes] },
      );
      this.fired += creates;
    } catch (err) {
      // memory went ahead of what is durable: take the store's view again (or drop a lost partition)
      if (err instanceof LannerError && err.code === "FENCED") this.parts.delete(part.partition);
      else await this.restore(part).catch(() => undefined);
      throw err;
    }
  }

  /** The parsed latest revision of a flow (undefined when deleted or unreadable). */
  private flowOf(part: Part, key: string): Flow | undefined {
    return this.parsedOf(part, key)?.flow;
  }

  private parsedOf(part: Part, key: string): { flow?: Flow; specs: Map<string, ReturnType<typeof scheduleSpecOf>> } | undefined {
    const entry = part.flows.get(key);
    if (!entry || entry.deleted) return undefined;
    const cached = part.parsed.get(key);
    if (cached && cached.revision === entry.revision) return cached;
    const parsed = parseFlow(entry.source);
    const [tenantId] = key.split("/", 1);
    const flow = parsed.ok ? { ...parsed.flow, revision: entry.revision, tenantId } : undefined;
    if (!parsed.ok) this.logger.warn({ flow: key, revision: entry.revision }, "a deployed flow revision does not parse; its schedules are stopped");
    const specs = new Map((flow?.triggers ?? []).filter(isScheduleTrigger).map((t) => [t.id, scheduleSpecOf(t)]));
    const result = { revision: entry.revision, flow, specs };
    part.parsed.set(key, result);
    return result;
  }

  /**
   * Brings the triggers of one flow up to date at `now` (and applies `command` to one of them):
   * new Schedule triggers get a state, removed ones (or those of a deleted flow) are deleted,
   * every other one is evaluated and its firings become CreateExecution commands.
   */
  private reconcileFlow(part: Part, flowKey: string, work: Work, now: number, command?: { key: TriggerKey; command: TriggerCommand }, prune = true): void {
    const parsed = this.parsedOf(part, flowKey);
    const flow = parsed?.flow;
    const schedules = new Map((flow?.triggers ?? []).filter(isScheduleTrigger).map((t) => [t.id, t]));
    const prefix = `${flowKey}/`;
    for (const [k, st] of prune ? part.triggers : []) {
      if (flowLogKey(st) === flowKey && k.startsWith(prefix) && !schedules.has(st.triggerId)) {
        part.triggers.delete(k);
        work.delete(TRIGGER_PREFIX + k);
        work.produce.push(triggerStateRecord(this.opts.codec, this.topics.triggers, { ...st, deleted: true, updatedAt: now }));
      }
    }
    if (!flow) {
      if (command) this.logger.warn({ trigger: triggerKeyString(command.key) }, "trigger command for a flow that is not deployed; ignored");
      return;
    }
    if (command && !schedules.has(command.key.triggerId)) {
      this.logger.warn({ trigger: triggerKeyString(command.key) }, "trigger command for a trigger the flow does not have; ignored");
    }
    for (const trigger of schedules.values()) {
      const key: TriggerKey = { tenantId: flow.tenantId ?? "main", namespace: flow.namespace, flowId: flow.id, triggerId: trigger.id };
      const k = triggerKeyString(key);
      const prev = part.triggers.get(k);
      const read = parsed?.specs.get(trigger.id) ?? scheduleSpecOf(trigger);
      let next: TriggerState | undefined;
      let firings: Firing[] = [];
      if (!read.ok) {
        if (prev?.error !== read.problem) {
          next = { ...(prev ?? { ...key, schedule: "", disabled: false, fired: [], history: [] }), flowRevision: flow.revision ?? 1, error: read.problem, updatedAt: now };
          this.logger.warn({ trigger: k, problem: read.problem }, "schedule trigger cannot be scheduled");
        }
      } else {
        const ctx = {
          key, flowRevision: flow.revision ?? 1, flowDisabled: flow.disabled, now,
          graceMs: this.opts.graceMs, maxFirings: this.opts.maxFiringsPerTick,
        };
        let base = prev;
        if (command && command.key.triggerId === trigger.id) {
          base = applyCommand(prev ?? evaluate(undefined, read.spec, ctx).state, read.spec, command.command, now);
        }
        const r = evaluate(base, read.spec, ctx);
        firings = r.firings;
        if (r.changed || base !== prev) next = r.state;
      }
      if (next && firings.length > 0) this.createExecutions(flow, next, firings, work, now);
      if (next) {
        part.triggers.set(k, next);
        work.put(TRIGGER_PREFIX + k, next);
        work.produce.push(triggerStateRecord(this.opts.codec, this.topics.triggers, next as TriggerStateRecord));
      }
    }
  }

  private createExecutions(flow: Flow, state: TriggerState, firings: Firing[], work: Work, now: number): void {
    for (const f of firings) {
      const vars = {
        flow: { id: flow.id, namespace: flow.namespace, revision: flow.revision, tenantId: flow.tenantId },
        execution: { id: f.executionId }, trigger: f.variables,
      };
      let message: string | undefined;
      let inputs: Record<string, unknown> = {};
      try {
        const rendered = renderDeep<Record<string, unknown>>(f.inputs, vars, { services: { now: () => now } });
        const coerced = coerceInputs(flow, rendered, { now, vars });
        if (coerced.ok) inputs = coerced.inputs;
        else message = coerced.errors.map((e) => e.message).join("; ");
      } catch (err) {
        message = `the trigger inputs could not be rendered: ${describeError(err)}`;
      }
      if (message !== undefined) {
        recordFailedFiring(state, f.scheduledDate, now, message);
        this.logger.warn({ trigger: triggerKeyString(state), date: f.variables.date, problem: message }, "scheduled execution not created: invalid inputs");
        continue;
      }
      const cmd: CreateExecutionCommand = {
        type: "CreateExecution", executionId: f.executionId, flow, inputs, labels: f.labels, trigger: { ...f.variables },
      };
      work.produce.push({ topic: this.topics.commands, key: f.executionId, value: encodeCommand(this.opts.codec, cmd) });
    }
  }
}
