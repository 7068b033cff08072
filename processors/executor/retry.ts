import type { RetryPolicy } from "../../schemas/flow-types.js";
import { parseDuration } from "../../schemas/duration.js";
import { unitFromHash } from "./ids.js";

/**
 * Delay before the attempt after `failedAttempt` (1-based), per the policy type:
 * constant → interval; exponential → interval·delayFactor^(n-1) capped by maxInterval;
 * random → min + u·(max − min), with u derived from a hash of the attempt's identity so the same
 * history always gives the same delay.
 */
export function retryDelay(policy: RetryPolicy, failedAttempt: number, attemptKey: string): number {
  switch (policy.type) {
    case "constant":
      return parseDuration(policy.interval);
    case "exponential": {
      const base = parseDuration(policy.interval);
      const factor = policy.delayFactor ?? 2;
      const raw = base * Math.pow(factor, failedAttempt - 1);
      const cap = policy.maxInterval ? parseDuration(policy.maxInterval) : Number.POSITIVE_INFINITY;
      return Math.round(Math.min(raw, cap));
    }
    case "random": {
      const min = parseDuration(policy.minInterval);
      const max = parseDuration(policy.maxInterval);
      return min + Math.floor(unitFromHash(attemptKey) * Math.max(0, max - min));
    }
  }
}

/**
 * When the next attempt may start, or undefined when the policy allows no more: `maxAttempt`
 * counts every attempt (the first included); `maxDuration` bounds the time from the first
 * attempt's start to the next attempt's start.
 */
export function nextRetryAt(
  policy: RetryPolicy, failedAttempt: number, attemptKey: string, firstStart: number, now: number,
): number | undefined {
  if (policy.maxAttempt !== undefined && failedAttempt >= policy.maxAttempt) return undefined;
  const at = now + retryDelay(policy, failedAttempt, attemptKey);
  if (policy.maxDuration !== undefined && at > firstStart + parseDuration(policy.maxDuration)) return undefined;
  return at;
}
