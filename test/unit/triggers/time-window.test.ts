import { describe, expect, it } from "vitest";
import { parseTimeOfDay, windowAt } from "../../../processors/triggers/time-window.js";

const at = (iso: string) => Date.parse(iso);

describe("time windows", () => {
  it("duration windows default to a day aligned on UTC midnight", () => {
    expect(windowAt(undefined, at("2025-03-10T15:00:00Z"))).toEqual({ start: at("2025-03-10T00:00:00Z"), end: at("2025-03-11T00:00:00Z") });
    expect(windowAt({ type: "DURATION_WINDOW", window: "PT15M" }, at("2025-03-10T15:29:59Z"))).toEqual({ start: at("2025-03-10T15:15:00Z"), end: at("2025-03-10T15:30:00Z") });
  });

  it("daily times with an offset are read in that offset", () => {
    expect(parseTimeOfDay("09:30:00+02:00")).toEqual({ ms: (9 * 60 + 30) * 60_000, offsetMs: 2 * 3_600_000 });
    // 06:00Z is 08:00 at +02:00: before a 09:00+02:00 deadline; the day starts at 22:00Z the evening before
    expect(windowAt({ type: "DAILY_TIME_DEADLINE", deadline: "09:00:00+02:00" }, at("2025-03-10T06:00:00Z")))
      .toEqual({ start: at("2025-03-09T22:00:00Z"), end: at("2025-03-10T07:00:00Z") });
    expect(windowAt({ type: "DAILY_TIME_DEADLINE", deadline: "09:00:00+02:00" }, at("2025-03-10T07:00:00Z"))).toBeUndefined();
  });

  it("a sliding window ends at now, inclusive", () => {
    const now = at("2025-03-10T15:00:00Z");
    expect(windowAt({ type: "SLIDING_WINDOW", window: "PT1H" }, now)).toEqual({ start: now - 3_600_000, end: now + 1 });
  });

  it("rejects a bad time of day with a clear message", () => {
    expect(() => parseTimeOfDay("25:00")).toThrow(/expected a time of day such as 09:00:00/);
  });
});
