import { describe, expect, it } from "vitest";
import { isoInZone, localParts } from "../../../processors/scheduler/cron-schedule.js";
import {
  applyCommand, evaluate, scheduleExecutionId, type EvaluateContext, type Firing,
} from "../../../processors/scheduler/schedule-core.js";
import { scheduleSpecOf, type ScheduleSpec } from "../../../processors/scheduler/schedule-spec.js";
import type { TriggerKey, TriggerState } from "../../../processors/scheduler/trigger-state.js";
import type { Trigger } from "../../../schemas/flow-types.js";

const key: TriggerKey = { tenantId: "main", namespace: "company.team", flowId: "nightly", triggerId: "schedule" };
const MIN = 60_000;
const HOUR = 60 * MIN;

function spec(t: Partial<Trigger> & { cron: string }): ScheduleSpec {
  const r = scheduleSpecOf({ id: "schedule", type: "io.kestra.plugin.core.trigger.Schedule", ...t });
  if (!r.ok) throw new Error(r.problem);
  return r.spec;
}

const ctx = (now: number, extra: Partial<EvaluateContext> = {}): EvaluateContext => ({ key, flowRevision: 1, flowDisabled: false, now, ...extra });

/** Steps a virtual clock from `from` to `to` by `step` ms, evaluating at each tick; returns every firing. */
function run(s: ScheduleSpec, from: number, to: number, step: number, state?: TriggerState): { firings: Firing[]; state: TriggerState } {
  let st = state ?? evaluate(undefined, s, ctx(from)).state;
  const firings: Firing[] = [];
  for (let now = from; now <= to; now += step) {
    const r = evaluate(st, s, ctx(now));
    st = r.state;
    firings.push(...r.firings);
  }
  return { firings, state: st };
}

describe("schedule core: a virtual year", () => {
  it("fires a 02:30 Europe/Paris schedule once every day of 2025, once on the spring-forward and once on the fall-back day", () => {
    const s = spec({ cron: "30 2 * * *", timezone: "Europe/Paris" });
    const { firings } = run(s, Date.parse("2024-12-31T23:00:00Z"), Date.parse("2025-12-31T23:00:00Z"), 5 * MIN);
    expect(firings).toHaveLength(365);
    const days = new Set(firings.map((f) => f.variables.date.slice(0, 10)));
    expect(days.size).toBe(365);
    for (const f of firings) {
      const p = localParts(f.scheduledDate, "Europe/Paris");
      const ymd = f.variables.date.slice(0, 10);
      if (ymd === "2025-03-30") expect([p.hour, p.minute]).toEqual([3, 30]); // 02:30 does not exist that day
      else expect([p.hour, p.minute]).toEqual([2, 30]);
    }
    expect(firings.find((f) => f.variables.date.startsWith("2025-03-30"))?.variables.date).toBe("2025-03-30T03:30:00+02:00");
    expect(firings.filter((f) => f.variables.date.startsWith("2025-10-26")).map((f) => f.variables.date)).toEqual(["2025-10-26T02:30:00+02:00"]);
    expect(new Set(firings.map((f) => f.executionId)).size).toBe(365);
  });

  it("fires a 01:30 America/New_York schedule once on the fall-back day although 01:30 happens twice", () => {
    const s = spec({ cron: "30 1 * * *", timezone: "America/New_York" });
    const { firings } = run(s, Date.parse("2025-01-01T05:00:00Z"), Date.parse("2026-01-01T05:00:00Z"), 10 * MIN);
    expect(firings).toHaveLength(365);
    expect(firings.filter((f) => f.variables.date.startsWith("2025-11-02")).map((f) => new Date(f.scheduledDate).toISOString())).toEqual(["2025-11-02T05:30:00.000Z"]);
    expect(firings.filter((f) => f.variables.date.startsWith("2025-03-09")).map((f) => f.variables.date)).toEqual(["2025-03-09T01:30:00-05:00"]);
  });

  it("fires a 6-field schedule on its seconds", () => {
    const s = spec({ cron: "*/20 * * * * *", withSeconds: true });
    const t0 = Date.parse("2025-06-01T00:00:00Z");
    const { firings } = run(s, t0, t0 + MIN, 1000);
    expect(firings.map((f) => new Date(f.scheduledDate).toISOString().slice(14, 19))).toEqual(["00:20", "00:40", "01:00"]);
  });
});

describe("schedule core: exactly once", () => {
  it("derives the execution id from the trigger and the scheduled date only", () => {
    const d = Date.parse("2025-06-01T10:00:00Z");
    expect(scheduleExecutionId(key, d)).toBe(scheduleExecutionId({ ...key }, d));
    expect(scheduleExecutionId(key, d)).not.toBe(scheduleExecutionId({ ...key, triggerId: "other" }, d));
    expect(scheduleExecutionId(key, d)).not.toBe(scheduleExecutionId(key, d + MIN));
    expect(scheduleExecutionId(key, d)).toMatch(/^[0-9A-Za-z]{22}$/);
  });

  it("a restart in the middle of a minute boundary fires the minute once, with the same id whichever state survived", () => {
    const s = spec({ cron: "* * * * *" });
    const t = Date.parse("2025-06-01T10:00:00Z");
    const before = run(s, t - 30_000, t - 500, 500).state; // stopped at 09:59:59.5
    expect(before.nextDate).toBe(t);
    const after = evaluate(before, s, ctx(t + 500)); // restarted at 10:00:00.5
    expect(after.firings.map((f) => f.scheduledDate)).toEqual([t]);
    // the state written with that firing was lost: deciding again gives the very same execution
    const again = evaluate(before, s, ctx(t + 700));
    expect(again.firings.map((f) => f.executionId)).toEqual(after.firings.map((f) => f.executionId));
    // with the state kept, nothing more fires until the next minute
    expect(evaluate(after.state, s, ctx(t + 59_999)).firings).toEqual([]);
    expect(evaluate(after.state, s, ctx(t + MIN)).firings.map((f) => f.scheduledDate)).toEqual([t + MIN]);
  });

  it("a new trigger starts with the first date after now: nothing in the past fires", () => {
    const s = spec({ cron: "0 * * * *" });
    const now = Date.parse("2025-06-01T10:30:00Z");
    const r = evaluate(undefined, s, ctx(now));
    expect(r.firings).toEqual([]);
    expect(r.state.nextDate).toBe(Date.parse("2025-06-01T11:00:00Z"));
  });
});

describe("schedule core: 3 hours of downtime", () => {
  const at = (hhmm: string) => Date.parse(`2025-06-01T${hhmm}:00Z`);
  // fired 09:00, then down from 09:10 to 12:30
  const stateAt0910 = (policy: "ALL" | "LAST" | "NONE", extra: Partial<Trigger> = {}) => {
    const s = spec({ cron: "0 * * * *", recoverMissedSchedules: policy, ...extra });
    const st = run(s, at("08:30"), at("09:10"), MIN).state;
    expect(st.lastScheduled).toBe(at("09:00"));
    return { s, st };
  };

  it("ALL fires every missed date", () => {
    const { s, st } = stateAt0910("ALL");
    const r = evaluate(st, s, ctx(at("12:30")));
    expect(r.firings.map((f) => f.scheduledDate)).toEqual([at("10:00"), at("11:00"), at("12:00")]);
    expect(r.state.history).toEqual([]);
    expect(r.state.nextDate).toBe(at("13:00"));
  });

  it("LAST fires the latest missed date and records the others", () => {
    const { s, st } = stateAt0910("LAST");
    const r = evaluate(st, s, ctx(at("12:30")));
    expect(r.firings.map((f) => f.scheduledDate)).toEqual([at("12:00")]);
    expect(r.state.history).toEqual([{ from: at("10:00"), to: at("11:00"), count: 2, reason: "RECOVER_LAST", at: at("12:30") }]);
  });

  it("NONE fires nothing missed and records all of it; the next date fires on time", () => {
    const { s, st } = stateAt0910("NONE");
    const r = evaluate(st, s, ctx(at("12:30")));
    expect(r.firings).toEqual([]);
    expect(r.state.history).toEqual([{ from: at("10:00"), to: at("12:00"), count: 3, reason: "RECOVER_NONE", at: at("12:30") }]);
    expect(evaluate(r.state, s, ctx(at("13:00") + 2000)).firings.map((f) => f.scheduledDate)).toEqual([at("13:00")]);
  });

  it("a restart within the grace of a date fires that date under every policy", () => {
    for (const policy of ["ALL", "LAST", "NONE"] as const) {
      const { s, st } = stateAt0910(policy);
      const r = evaluate(st, s, ctx(at("12:00") + 10_000));
      expect(r.firings.map((f) => f.scheduledDate)).toContain(at("12:00"));
      expect(r.firings).toHaveLength(policy === "ALL" ? 3 : 1);
    }
  });

  it("lateMaximumDelay skips and records the firings later than it", () => {
    const { s, st } = stateAt0910("ALL", { lateMaximumDelay: "PT90M" });
    const r = evaluate(st, s, ctx(at("12:30")));
    expect(r.firings.map((f) => f.scheduledDate)).toEqual([at("11:00"), at("12:00")]);
    expect(r.state.history).toEqual([{ from: at("10:00"), to: at("10:00"), count: 1, reason: "LATE", at: at("12:30") }]);
  });

  it("a long backlog under ALL comes in bounded batches, each date once", () => {
    const s = spec({ cron: "* * * * *" });
    let st = run(s, at("09:00"), at("09:00"), MIN).state;
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = evaluate(st, s, ctx(at("12:00"), { maxFirings: 50 }));
      st = r.state;
      seen.push(...r.firings.map((f) => f.scheduledDate));
    }
    expect(seen).toHaveLength(180);
    expect(new Set(seen).size).toBe(180);
    expect(seen[0]).toBe(at("09:01"));
    expect(seen[179]).toBe(at("12:00"));
  });
});

describe("schedule core: disabled triggers", () => {
  const at = (hhmm: string) => Date.parse(`2025-06-01T${hhmm}:00Z`);
  it("fires nothing while disabled; enabling again follows recoverMissedSchedules", () => {
    for (const [policy, expected] of [["ALL", 3], ["LAST", 1], ["NONE", 0]] as const) {
      const s = spec({ cron: "0 * * * *", recoverMissedSchedules: policy });
      let st = run(s, at("08:30"), at("09:10"), MIN).state;
      st = applyCommand(st, s, { type: "Disable" }, at("09:10"));
      const during = run(s, at("09:10"), at("12:30"), MIN, st);
      expect(during.firings).toEqual([]);
      st = applyCommand(during.state, s, { type: "Enable" }, at("12:30"));
      expect(evaluate(st, s, ctx(at("12:30"))).firings).toHaveLength(expected);
    }
  });

  it("a disabled flow or a disabled trigger in the source fires nothing", () => {
    const s = spec({ cron: "* * * * *" });
    const st = evaluate(undefined, s, ctx(at("09:00"))).state;
    expect(evaluate(st, s, ctx(at("09:05"), { flowDisabled: true })).firings).toEqual([]);
    expect(evaluate(st, spec({ cron: "* * * * *", disabled: true }), ctx(at("09:05"))).firings).toEqual([]);
  });
});

describe("schedule core: conditions, inputs and labels", () => {
  it("DayWeekInMonth LAST FRIDAY fires on the last Friday of each month of 2025", () => {
    const s = spec({ cron: "0 9 * * *", timezone: "Europe/Paris", conditions: [{ type: "io.kestra.plugin.core.condition.DayWeekInMonth", dayOfWeek: "FRIDAY", dayInMonth: "LAST" }] });
    const { firings } = run(s, Date.parse("2025-01-01T00:00:00Z"), Date.parse("2025-12-31T23:00:00Z"), 30 * MIN);
    expect(firings.map((f) => f.variables.date.slice(0, 10))).toEqual([
      "2025-01-31", "2025-02-28", "2025-03-28", "2025-04-25", "2025-05-30", "2025-06-27",
      "2025-07-25", "2025-08-29", "2025-09-26", "2025-10-31", "2025-11-28", "2025-12-26",
    ]);
  });

  it("Not, Or, DayWeek, Weekend, TimeBetween and DateTimeBetween combine", () => {
    const s = spec({
      cron: "0 * * * *",
      conditions: [
        { type: "io.kestra.plugin.core.condition.Not", conditions: [{ type: "io.kestra.plugin.core.condition.Weekend" }] },
        { type: "io.kestra.plugin.core.condition.Or", conditions: [
          { type: "io.kestra.plugin.core.condition.DayWeek", dayOfWeek: "MONDAY" },
          { type: "io.kestra.core.models.conditions.types.DayWeekCondition", dayOfWeek: "TUESDAY" },
        ] },
        { type: "io.kestra.plugin.core.condition.TimeBetween", after: "09:00:00", before: "10:00:00" },
        { type: "io.kestra.plugin.core.condition.DateTimeBetween", before: "2025-06-10T00:00:00Z" },
      ],
    });
    // 2025-06-01 is a Sunday
    const { firings } = run(s, Date.parse("2025-06-01T00:00:00Z"), Date.parse("2025-06-15T00:00:00Z"), 30 * MIN);
    expect(firings.map((f) => new Date(f.scheduledDate).toISOString().slice(0, 13))).toEqual([
      "2025-06-02T09", "2025-06-02T10", "2025-06-03T09", "2025-06-03T10", "2025-06-09T09", "2025-06-09T10",
    ]);
  });

  it("refuses conditions it cannot evaluate, naming where", () => {
    const r = scheduleSpecOf({ id: "s", type: "Schedule", cron: "* * * * *", conditions: [{ type: "io.kestra.plugin.core.condition.PublicHoliday" }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(/triggers\.s\.conditions\[0\].*PublicHoliday is not supported/);
    const bad = scheduleSpecOf({ id: "s", type: "Schedule", cron: "* * * * *", conditions: [{ type: "DayWeek", dayOfWeek: "FUNDAY" }] });
    expect(bad.ok).toBe(false);
  });

  it("passes the trigger's inputs, labels and trigger variables to each firing", () => {
    const s = spec({ cron: "0 10 * * *", timezone: "Europe/Paris", inputs: { day: "{{ trigger.date }}" }, labels: [{ key: "team", value: "data" }] });
    const { firings } = run(s, Date.parse("2025-01-01T00:00:00Z"), Date.parse("2025-01-02T12:00:00Z"), 30 * MIN);
    expect(firings[1]).toMatchObject({
      inputs: { day: "{{ trigger.date }}" }, labels: [{ key: "team", value: "data" }], backfill: false,
      variables: { date: "2025-01-02T10:00:00+01:00", next: "2025-01-03T10:00:00+01:00", previous: "2025-01-01T10:00:00+01:00" },
    });
  });
});

describe("schedule core: backfill", () => {
  const day = (d: string) => Date.parse(`2025-03-${d}T06:00:00Z`);
  it("runs each date of the range once, skipping dates that already ran, and reports progress", () => {
    const s = spec({ cron: "0 6 * * *", recoverMissedSchedules: "NONE" });
    // live from 03-05 to 03-08, then down until 03-12 (03-09..03-11 skipped by NONE), live to 03-14
    let { state } = run(s, day("05") - HOUR, day("08") + HOUR, 30 * MIN);
    const live = run(s, day("12") - HOUR, day("14") + HOUR, 30 * MIN, state);
    state = live.state;
    const ran = [day("05"), day("06"), day("07"), day("08"), day("12"), day("13"), day("14")];
    expect(live.firings.map((f) => f.scheduledDate)).toEqual([day("12"), day("13"), day("14")]);
    expect(state.history).toMatchObject([{ from: day("09"), to: day("11"), count: 3, reason: "RECOVER_NONE" }]);

    const now = day("14") + 2 * HOUR;
    state = applyCommand(state, s, { type: "BackfillStart", start: Date.parse("2025-03-01T00:00:00Z"), end: Date.parse("2025-03-13T23:00:00Z"), inputs: { x: 1 }, labels: [{ key: "why", value: "backfill" }] }, now);
    expect(state.backfill).toMatchObject({ total: 13, executed: 0, skipped: 0, done: false, paused: false });

    const first = evaluate(state, s, ctx(now, { maxFirings: 3 }));
    expect(first.firings.map((f) => f.scheduledDate)).toEqual([day("01"), day("02"), day("03")]);
    expect(first.firings[0]).toMatchObject({ backfill: true, inputs: { x: 1 }, labels: [{ key: "why", value: "backfill" }], variables: { backfill: true } });
    state = applyCommand(first.state, s, { type: "BackfillPause" }, now);
    expect(evaluate(state, s, ctx(now + MIN)).firings).toEqual([]);
    state = applyCommand(state, s, { type: "BackfillUnpause" }, now);
    const rest = evaluate(state, s, ctx(now + 2 * MIN));
    const backfilled = [...first.firings, ...rest.firings].map((f) => f.scheduledDate);
    expect(backfilled).toEqual([day("01"), day("02"), day("03"), day("04"), day("09"), day("10"), day("11")]);
    expect(backfilled.some((d) => ran.includes(d))).toBe(false);
    expect(rest.state.backfill).toMatchObject({ total: 13, executed: 7, skipped: 6, done: true });
    // the same dates' ids as a regular firing would have: the executor would ignore a duplicate
    expect(rest.firings[0].executionId).toBe(scheduleExecutionId(key, day("04")));
    // a second backfill over the same range runs nothing
    const again = evaluate(applyCommand(rest.state, s, { type: "BackfillStart", start: day("01"), end: day("14"), inputs: {} }, now), s, ctx(now + 3 * MIN));
    expect(again.firings).toEqual([]);
    expect(again.state.backfill).toMatchObject({ total: 14, executed: 0, skipped: 14, done: true });
  });

  it("a deleted backfill stops", () => {
    const s = spec({ cron: "0 6 * * *" });
    const now = day("20");
    let state = evaluate(undefined, s, ctx(now)).state;
    state = applyCommand(state, s, { type: "BackfillStart", start: day("01"), end: day("10") }, now);
    state = applyCommand(state, s, { type: "BackfillDelete" }, now);
    expect(evaluate(state, s, ctx(now + MIN)).firings).toEqual([]);
    expect(state.backfill).toBeUndefined();
  });
});

describe("cron helpers", () => {
  it("formats dates in their zone with the offset", () => {
    expect(isoInZone(Date.parse("2025-07-01T12:00:00Z"), "Europe/Paris")).toBe("2025-07-01T14:00:00+02:00");
    expect(isoInZone(Date.parse("2025-07-01T12:00:00Z"), "Etc/UTC")).toBe("2025-07-01T12:00:00Z");
    expect(isoInZone(Date.parse("2025-07-01T12:00:00Z"), "Asia/Kolkata")).toBe("2025-07-01T17:30:00+05:30");
  });
});
