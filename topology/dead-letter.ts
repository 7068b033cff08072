/**
 * Dead letters: a record a processor cannot decode (or otherwise cannot process) is copied to the
 * `dead-letters` topic — same key, same bytes, its own headers kept — with headers naming the
 * reason and the source topic/partition/offset. The processor commits it with its offset in the
 * same unit of work and keeps going, so one bad record never blocks a partition.
 */
import { describeError } from "../common/errors.js";
import type { LogRecord, ProduceRecord } from "./log.js";

export const DEAD_LETTER_HEADERS = {
  reason: "lanner.dlq.reason",
  topic: "lanner.dlq.source-topic",
  partition: "lanner.dlq.source-partition",
  offset: "lanner.dlq.source-offset",
  timestamp: "lanner.dlq.source-timestamp",
} as const;

/** The dead-letter copy of `record`, to append (or include in the commit) on topic `topic`. */
export function deadLetter(record: LogRecord, reason: string, topic = "dead-letters"): ProduceRecord {
  return {
    topic,
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.topic]: record.topic,
      [DEAD_LETTER_HEADERS.partition]: String(record.partition),
      [DEAD_LETTER_HEADERS.offset]: record.offset.toString(),
      [DEAD_LETTER_HEADERS.timestamp]: String(record.timestamp),
    },
  };
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; deadLetter: ProduceRecord; error: unknown };

/**
 * Decodes `record` with `decode`; on failure returns the dead letter to produce instead of
 * throwing, with the decoder's message as the reason.
 */
export function decodeOrDeadLetter<T>(record: LogRecord, decode: (bytes: Uint8Array) => T, topic = "dead-letters"): Decoded<T> {
  try {
    return { ok: true, value: decode(record.value) };
  } catch (error) {
    return { ok: false, deadLetter: deadLetter(record, describeError(error), topic), error };
  }
}
