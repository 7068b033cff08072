/**
 * Helpers for scheduler tests: a log with the catalogue's topics, flow deployments on `flows`,
 * a manual clock, and the CreateExecution commands the schedulers appended.
 */
import { silentLogger } from "../../../common/logger.js";
import type { CreateExecutionCommand } from "../../../processors/executor/inputs.js";
import { decodeCommand, KIND } from "../../../processors/executor/shell/records.js";
import { Scheduler } from "../../../processors/scheduler/scheduler.js";
import { decodeTriggerRecord, type TriggerStateRecord } from "../../../processors/scheduler/trigger-records.js";
import { avroRecordCodec } from "../../../processors/worker/record-codec.js";
import type { Log } from "../../../topology/log.js";

export const codec = avroRecordCodec;

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public now: number) {}
  readonly read = () => this.now;
  set(iso: string): void {
    this.now = Date.parse(iso);
  }
}

export function newScheduler(log: Log, clock: ManualClock, memberId?: string): Scheduler {
  return new Scheduler({ log, logger: silentLogger(), codec, clock: clock.read, tickMs: 0, ...(memberId ? { memberId } : {}) });
}

/** Appends a flow revision like the webserver does. */
export async function deploy(log: Log, namespace: string, id: string, revision: number, source: string, deleted = false): Promise<void> {
  await log.append([{ topic: "flows", key: `main/${namespace}/${id}`, value: codec.encode(KIND.flow, { tenantId: "main", namespace, id, revision, source, deleted }) }]);
}

export function scheduledFlow(id: string, trigger: string, namespace = "company.team"): string {
  return `id: ${id}\nnamespace: ${namespace}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n${trigger}`;
}

/** Every CreateExecution on `execution-commands`, in partition then offset order. */
export async function creates(log: Log): Promise<CreateExecutionCommand[]> {
  const out: CreateExecutionCommand[] = [];
  for (let p = 0; p < log.partitionsOf("execution-commands"); p++) {
    for await (const r of log.readPartition("execution-commands", p, 0n)) {
      const c = decodeCommand(codec, r.value);
      if (c.kind === "execution" && c.input.type === "CreateExecution") out.push(c.input);
    }
  }
  return out;
}

/** The latest published state of every trigger on `triggers`. */
export async function publishedStates(log: Log): Promise<Map<string, TriggerStateRecord>> {
  const out = new Map<string, TriggerStateRecord>();
  for (let p = 0; p < log.partitionsOf("triggers"); p++) {
    for await (const r of log.readPartition("triggers", p, 0n)) {
      const t = decodeTriggerRecord(codec, r.value);
      if (t.kind === "state") out.set(`${t.state.namespace}/${t.state.flowId}/${t.state.triggerId}`, t.state);
    }
  }
  return out;
}

/** Resolves once `cond()` holds; rejects after `tries` checks 10 ms apart (a bounded wait for asynchronous delivery). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}
