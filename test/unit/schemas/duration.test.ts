import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { formatDuration, isDuration, parseDuration } from "../../../schemas/duration.js";

describe("ISO-8601 durations", () => {
  it.each([
    ["PT5S", 5000], ["P1D", 86_400_000], ["PT1H30M", 5_400_000], ["PT0.5S", 500], ["P1DT2H", 93_600_000],
    ["PT1M", 60_000], ["pt10s", 10_000], ["PT0.001S", 1], ["PT0S", 0],
  ])("%s is %d ms", (iso, ms) => {
    expect(isDuration(iso)).toBe(true);
    expect(parseDuration(iso)).toBe(ms);
  });

  it.each(["", "P", "PT", "5s", "thirty", "P1Y", "P1M", "P1W", "PT1.5M", "-PT5S", "PT5", "1H"])("rejects %j", (bad) => {
    expect(isDuration(bad)).toBe(false);
    try {
      parseDuration(bad);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LannerError);
      expect((err as LannerError).code).toBe("DURATION_INVALID");
      expect((err as LannerError).message).toBe(`expected an ISO-8601 duration such as PT30S, got ${JSON.stringify(bad)}`);
    }
  });

  it("formatDuration and parseDuration round-trip whole milliseconds", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
    expect(formatDuration(5_400_000)).toBe("PT1H30M");
    expect(formatDuration(0)).toBe("PT0S");
  });
});
