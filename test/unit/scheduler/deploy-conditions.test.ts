import { describe, expect, it } from "vitest";
import { avroRecordCodec } from "../../../processors/worker/record-codec.js";
import { TRIGGER_KIND } from "../../../processors/scheduler/trigger-records.js";
import { decode } from "../../../schemas/avro/envelope-codec.js";
import { parseFlow } from "../../../schemas/flow-parser.js";

const flow = (conditions: string, field = "conditions") => `id: f
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    ${field}:
${conditions}`;

describe("Schedule conditions at deploy time", () => {
  it("refuses a condition the scheduler cannot evaluate, with its line:column", () => {
    const r = parseFlow(flow(`      - type: io.kestra.plugin.core.condition.DayWeek
        dayOfWeek: MONDAY
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
`));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`)).toEqual([
      "14:15: triggers[0].conditions[1].type: condition io.kestra.plugin.core.condition.ExecutionStatus is not supported on a Schedule trigger (supported: DayWeek, DayWeekInMonth, DateTimeBetween, TimeBetween, Weekend, Not, Or)",
    ]);
  });

  it("points into nested Not/Or conditions and the older scheduleConditions list", () => {
    const r = parseFlow(flow(`      - type: io.kestra.core.models.conditions.types.OrCondition
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
          - type: io.kestra.plugin.core.condition.TimeBetween
            after: "25:00"
`, "scheduleConditions"));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`)).toEqual([
      `16:20: triggers[0].scheduleConditions[0].conditions[1].after: expected a time of day such as 09:00:00, got "25:00"`,
    ]);
  });

  it("accepts every supported condition", () => {
    const r = parseFlow(flow(`      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: LAST
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
      - type: io.kestra.plugin.core.condition.DateTimeBetween
        after: "2025-01-01T00:00:00Z"
`));
    expect(r.ok).toBe(true);
  });
});

describe("triggers topic records", () => {
  it("travel as the TriggerRecord Avro type", () => {
    const key = { tenantId: "main", namespace: "a", flowId: "f", triggerId: "t" };
    const state = avroRecordCodec.encode(TRIGGER_KIND.state, { ...key, schedule: "x", flowRevision: 1, disabled: false, fired: [], history: [], updatedAt: 1 });
    const command = avroRecordCodec.encode(TRIGGER_KIND.command, { key, command: { type: "Disable" }, at: 1 });
    expect(decode(state).type).toBe("TriggerRecord");
    expect(decode(command).type).toBe("TriggerRecord");
    expect(avroRecordCodec.decode(command)).toEqual({ type: "TriggerCommand", value: { key, command: { type: "Disable" }, at: 1 } });
  });
});
