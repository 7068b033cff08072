/**
 * The scheduler's pure core: from a trigger's state, its Schedule definition and `now` (an
 * injected clock), which scheduled dates fire, which are skipped (and why), and the new state.
 * No I/O, no clock, no randomness: the same inputs give the same outputs, and the execution id
 * of a firing depends only on (tenant, namespace, flow, trigger, scheduled date), so however often
 * a date is decided — restarts, two schedulers, a replayed log — the executor creates its
 * execution once (a duplicate CreateExecution is a no-op).
 *
 * Missed dates: a date is "missed" when it fell due more than `graceMs` before `now` (the
 * scheduler was down, stalled, or the trigger was disabled); dates within the grace are on time
 * and always fire. Missed dates follow `recoverMissedSchedules`: ALL fires them all, LAST fires
 * only the latest, NONE fires none; what is not fired is recorded in the trigger's history.
 * `lateMaximumDelay` then skips (and records) any firing later than it.
 */
import type { Label } from "../../schemas/flow-types.js";
import { deterministicId } from "../executor/ids.js";
import { isoInZone } from "./cron-schedule.js";
import { conditionHolds } from "./schedule-conditions.js";
import type { ScheduleSpec } from "./schedule-spec.js";
import type { BackfillState, SkipReason, TriggerKey, TriggerState } from "./trigger-state.js";

/** Skipped intervals kept per trigger (oldest dropped). */
export const HISTORY_LIMIT = 50;
/** Runs of fired dates kept per trigger (oldest dropped). */
export const FIRED_LIMIT = 500;

export interface EvaluateContext {
  key: TriggerKey;
  flowRevision: number;
  /** The flow itself is disabled (or deleted): nothing fires. */
  flowDisabled: boolean;
  /** Epoch ms. */
  now: number;
  /** How late a date may be and still count as on time (ms); default 60 s. */
  graceMs?: number;
  /** Most firings one evaluation returns (the rest come on the next); default 100. */
  maxFirings?: number;
  /** Most scheduled dates one evaluation looks at; default 10,000. */
  maxScan?: number;
}

/** One execution to create. */
export interface Firing {
  /** Deterministic: `scheduleExecutionId(key, scheduledDate)`. */
  executionId: string;
  scheduledDate: number;
  /** `trigger.*` variables of the execution (Kestra's: date, next, previous). */
  variables: { date: string; next?: string; previous?: string; backfill?: boolean };
  /** Unrendered trigger inputs (the backfill's over the trigger's). */
  inputs: Record<string, unknown>;
  labels: Label[];
  backfill: boolean;
}

export interface EvaluateResult {
  state: TriggerState;
  firings: Firing[];
  /** False when `state` is the given one unchanged (nothing to write). */
  changed: boolean;
}

/** The execution id of the firing of `key` at `scheduledDate`. */
export function scheduleExecutionId(key: TriggerKey, scheduledDate: number): string {
  return deterministicId(`schedule/${key.tenantId}/${key.namespace}/${key.flowId}/${key.triggerId}/${new Date(scheduledDate).toISOString()}`);
}

/** A new state for a trigger first seen at `now`: its first date is the first one after `now`. */
export function initialState(spec: ScheduleSpec, ctx: Pick<EvaluateContext, "key" | "flowRevision" | "now">): TriggerState {
  const s: TriggerState = {
    ...ctx.key, schedule: spec.schedule.identity, flowRevision: ctx.flowRevision, disabled: false, fired: [], history: [], updatedAt: ctx.now,
  };
  const next = nextSelected(spec, ctx.now);
  if (next !== undefined) s.nextDate = next;
  return s;
}

/** First date after `ms` that the cron selects and the conditions accept (bounded search). */
export function nextSelected(spec: ScheduleSpec, ms: number, maxScan = 10_000): number | undefined {
  let d = spec.schedule.nextAfter(ms);
  for (let i = 0; d !== undefined && i < maxScan; i++) {
    if (conditionsHold(spec, d)) return d;
    d = spec.schedule.nextAfter(d);
  }
  return d === undefined ? undefined : d;
}

function conditionsHold(spec: ScheduleSpec, d: number): boolean {
  const tz = spec.schedule.timezone;
  return spec.conditions.every((c) => conditionHolds(c, d, tz));
}

const clone = (s: TriggerState): TriggerState => structuredClone(s);

/** True when the selected date `d` is inside a run of fired dates. */
export function hasFired(state: TriggerState, d: number): boolean {
  return state.fired.some(([a, b]) => a <= d && d <= b);
}

/**
 * True when no date the schedule selects lies strictly between `a` and `b` (a < b), i.e. they are
 * consecutive selected dates. Gives up (false) after `maxScan` cron dates: runs then just stay apart.
 */
function consecutive(spec: ScheduleSpec, a: number, b: number, maxScan = 10_000): boolean {
  let d = spec.schedule.nextAfter(a);
  for (let i = 0; d !== undefined && d < b; i++) {
    if (i >= maxScan || conditionsHold(spec, d)) return false;
    d = spec.schedule.nextAfter(d);
  }
  return d !== undefined;
}

/** Records that `d` fired, extending or merging runs of consecutive selected dates. */
function addFired(state: TriggerState, spec: ScheduleSpec, d: number): void {
  if (hasFired(state, d)) return;
  const runs = state.fired;
  let i = runs.findIndex(([a]) => a > d);
  if (i < 0) i = runs.length;
  const before = runs[i - 1];
  if (before && consecutive(spec, before[1], d)) {
    before[1] = d;
    i--;
  } else runs.splice(i, 0, [d, d]);
  const next = runs[i + 1];
  if (next && consecutive(spec, runs[i][1], next[0])) {
    runs[i][1] = next[1];
    runs.splice(i + 1, 1);
  }
  if (runs.length > FIRED_LIMIT) runs.splice(0, runs.length - FIRED_LIMIT);
}

function recordSkip(state: TriggerState, d: number, reason: SkipReason, now: number, message?: string): void {
  const last = state.history[state.history.length - 1];
  // one interval per run of skips of one reason, not interrupted by a firing
  if (last && last.reason === reason && last.message === message && last.to < d && (state.lastScheduled === undefined || last.to > state.lastScheduled)) {
    last.to = d;
    last.count++;
    last.at = now;
    return;
  }
  state.history.push({ from: d, to: d, count: 1, reason, at: now, ...(message !== undefined ? { message } : {}) });
  if (state.history.length > HISTORY_LIMIT) state.history.splice(0, state.history.length - HISTORY_LIMIT);
}

/** Records that the firing of `d` could not be created (e.g. invalid inputs), in the trigger's history. */
export function recordFailedFiring(state: TriggerState, d: number, now: number, message: string): void {
  recordSkip(state, d, "INVALID_INPUTS", now, message);
}

function firing(spec: ScheduleSpec, key: TriggerKey, d: number, previous: number | undefined, backfill?: BackfillState): Firing {
  const tz = spec.schedule.timezone;
  const next = spec.schedule.nextAfter(d);
  const variables: Firing["variables"] = { date: isoInZone(d, tz) };
  if (next !== undefined) variables.next = isoInZone(next, tz);
  if (previous !== undefined) variables.previous = isoInZone(previous, tz);
  if (backfill) variables.backfill = true;
  const labels = backfill ? mergeLabels(spec.labels, backfill.labels) : spec.labels;
  return {
    executionId: scheduleExecutionId(key, d), scheduledDate: d, variables,
    inputs: backfill ? { ...spec.inputs, ...backfill.inputs } : spec.inputs, labels, backfill: backfill !== undefined,
  };
}

function mergeLabels(base: Label[], over: Label[]): Label[] {
  const keys = new Set(over.map((l) => l.key));
  return [...base.filter((l) => !keys.has(l.key)), ...over];
}

/** True when nothing fires for the trigger at all. */
export function isDisabled(state: TriggerState, spec: ScheduleSpec, flowDisabled: boolean): boolean {
  return spec.disabled || state.disabled || flowDisabled;
}

/**
 * Decides what is due at `ctx.now`. `prev` undefined: the trigger is new (its first date is the
 * first after now; nothing in the past fires). A trigger whose schedule changed starts again
 * from now. A disabled trigger (source, API, or flow) decides nothing: its dates stay due and
 * follow `recoverMissedSchedules` once it is enabled again.
 */
export function evaluate(prev: TriggerState | undefined, spec: ScheduleSpec, ctx: EvaluateContext): EvaluateResult {
  const { now } = ctx;
  const grace = ctx.graceMs ?? 60_000;
  const maxFirings = ctx.maxFirings ?? 100;
  const maxScan = ctx.maxScan ?? 10_000;
  if (prev && prev.schedule === spec.schedule.identity && prev.error === undefined && prev.flowRevision === ctx.flowRevision
    && (prev.nextDate === undefined || prev.nextDate > now || isDisabled(prev, spec, ctx.flowDisabled))
    && (!prev.backfill || prev.backfill.paused || prev.backfill.done || ctx.flowDisabled)) {
    // the common case of a tick: nothing due, nothing to copy
    return { state: prev, firings: [], changed: false };
  }
  let changed = false;
  let state: TriggerState;
  if (!prev) {
    state = initialState(spec, ctx);
    changed = true;
  } else {
    state = clone(prev);
    if (state.schedule !== spec.schedule.identity) {
      const fresh = initialState(spec, ctx);
      state.schedule = fresh.schedule;
      state.fired = [];
      if (fresh.nextDate === undefined) delete state.nextDate;
      else state.nextDate = fresh.nextDate;
      changed = true;
    }
    if (state.error !== undefined) {
      delete state.error;
      changed = true;
    }
    if (state.flowRevision !== ctx.flowRevision) {
      state.flowRevision = ctx.flowRevision;
      changed = true;
    }
  }
  const firings: Firing[] = [];
  if (!isDisabled(state, spec, ctx.flowDisabled)) {
    if (regular(state, spec, ctx, { grace, maxFirings, maxScan }, firings)) changed = true;
  }
  if (state.backfill && !state.backfill.paused && !state.backfill.done && !ctx.flowDisabled && firings.length < maxFirings) {
    if (backfillStep(state, spec, ctx, maxFirings, maxScan, firings)) changed = true;
  }
  if (changed) state.updatedAt = now;
  return { state: changed ? state : (prev ?? state), firings, changed };
}

function regular(
  state: TriggerState, spec: ScheduleSpec, ctx: EvaluateContext,
  lim: { grace: number; maxFirings: number; maxScan: number }, firings: Firing[],
): boolean {
  const { now, key } = ctx;
  if (state.nextDate === undefined || state.nextDate > now) return false;
  // the selected dates that are due (bounded), and where the scan stopped
  const due: number[] = [];
  let d: number | undefined = state.nextDate;
  for (let scanned = 0; d !== undefined && d <= now && scanned < lim.maxScan; scanned++) {
    if (conditionsHold(spec, d)) due.push(d);
    d = spec.schedule.nextAfter(d);
  }
  const sawAll = d === undefined || d > now;
  const policy = spec.recoverMissedSchedules;
  const isMissed = (x: number) => now - x > lim.grace;
  const onTimeCount = due.filter((x) => !isMissed(x)).length;
  const lastMissed = [...due].reverse().find(isMissed);
  let previous = state.lastScheduled;
  for (const x of due) {
    let skip: SkipReason | undefined;
    if (isMissed(x) && policy === "NONE") skip = "RECOVER_NONE";
    else if (isMissed(x) && policy === "LAST" && !(onTimeCount === 0 && sawAll && x === lastMissed)) skip = "RECOVER_LAST";
    else if (spec.lateMaximumDelayMs !== undefined && now - x > spec.lateMaximumDelayMs) skip = "LATE";
    if (skip) {
      recordSkip(state, x, skip, now);
      continue;
    }
    if (firings.length >= lim.maxFirings) {
      state.nextDate = x;
      return true;
    }
    if (!hasFired(state, x)) {
      firings.push(firing(spec, key, x, previous));
      addFired(state, spec, x);
    }
    state.lastScheduled = x;
    state.lastExecutionId = scheduleExecutionId(key, x);
    previous = x;
  }
  if (d === undefined) delete state.nextDate;
  else state.nextDate = d;
  return true;
}

function backfillStep(state: TriggerState, spec: ScheduleSpec, ctx: EvaluateContext, maxFirings: number, maxScan: number, firings: Firing[]): boolean {
  const bf = state.backfill;
  if (!bf) return false;
  let x = bf.nextDate;
  let previous: number | undefined;
  let scanned = 0;
  while (x !== undefined && x <= bf.end && x <= ctx.now && firings.length < maxFirings && scanned < maxScan) {
    scanned++;
    if (conditionsHold(spec, x)) {
      if (hasFired(state, x)) bf.skipped++;
      else {
        firings.push(firing(spec, ctx.key, x, previous, bf));
        addFired(state, spec, x);
        bf.executed++;
        if (state.lastScheduled === undefined || x > state.lastScheduled) {
          state.lastScheduled = x;
          state.lastExecutionId = scheduleExecutionId(ctx.key, x);
        }
      }
      previous = x;
    }
    x = spec.schedule.nextAfter(x);
  }
  if (x === undefined || x > bf.end) {
    delete bf.nextDate;
    bf.done = true;
  } else bf.nextDate = x;
  return scanned > 0 || bf.done;
}

/** A change asked of a trigger through the API or by the scheduler itself. */
export type TriggerCommand =
  | { type: "Enable" }
  | { type: "Disable"; reason?: string }
  | { type: "BackfillStart"; start: number; end: number; inputs?: Record<string, unknown>; labels?: Label[] }
  | { type: "BackfillPause" }
  | { type: "BackfillUnpause" }
  | { type: "BackfillDelete" };

/**
 * Applies a command to a trigger's state (pure). A backfill start replaces any previous backfill;
 * its end is clipped to `now` (later dates belong to the regular schedule). Enabling a trigger
 * leaves its due dates to `evaluate`, which applies `recoverMissedSchedules` to them.
 */
export function applyCommand(prev: TriggerState, spec: ScheduleSpec, cmd: TriggerCommand, now: number, maxScan = 100_000): TriggerState {
  const state = clone(prev);
  state.updatedAt = now;
  switch (cmd.type) {
    case "Enable":
      state.disabled = false;
      delete state.disabledReason;
      return state;
    case "Disable":
      state.disabled = true;
      state.disabledReason = cmd.reason ?? "disabled through the API";
      return state;
    case "BackfillStart": {
      const end = Math.min(cmd.end, now);
      const first = spec.schedule.nextAfter(cmd.start - 1);
      let total = 0;
      for (let d = first, i = 0; d !== undefined && d <= end && i < maxScan; d = spec.schedule.nextAfter(d), i++) {
        if (conditionsHold(spec, d)) total++;
      }
      state.backfill = {
        start: cmd.start, end, inputs: cmd.inputs ?? {}, labels: cmd.labels ?? [], paused: false,
        executed: 0, skipped: 0, total, done: first === undefined || first > end, createdAt: now,
      };
      if (first !== undefined && first <= end) state.backfill.nextDate = first;
      return state;
    }
    case "BackfillPause":
      if (state.backfill) state.backfill.paused = true;
      return state;
    case "BackfillUnpause":
      if (state.backfill) state.backfill.paused = false;
      return state;
    case "BackfillDelete":
      delete state.backfill;
      return state;
  }
}
