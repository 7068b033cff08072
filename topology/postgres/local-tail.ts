/**
 * What this process knows of the end of each partition of a Postgres log, so a consumer in the
 * same process need not ask the database:
 * - the records this process committed (their offsets come back from `commit_unit`), kept per
 *   partition up to a bound, served to readers instead of a SELECT;
 * - an end offset per partition past which nothing exists but records whose notification this
 *   process has not handled yet; set by local commits and by reads of the table, forgotten when
 *   another process's NOTIFY says the partition grew (the next read asks the table again).
 *
 * A read at or past that end answers "nothing yet" without a query. That is sound because every
 * append is followed by a notification — the local one once `commit_unit` returned, another
 * process's NOTIFY after its commit — that updates this before it wakes consumers, and a consumer
 * that saw nothing waits for exactly that wake-up (see `delivery.ts`).
 */
import { tpKey } from "../delivery.js";
import type { LogRecord } from "../log.js";

interface PartitionTail {
  /** Records this process committed, by offset (as a number: offsets stay far below 2^53). */
  records: Map<number, LogRecord>;
  /** Highest offset held + 1. */
  top: number;
  /** No record at or past this offset but those with a notification still to come; undefined = ask the table. */
  end: bigint | undefined;
  /** Bumped by every `grew`: a read that overlapped one cannot vouch for the end. */
  epoch: number;
}

export class LocalTail {
  private readonly parts = new Map<string, PartitionTail>();

  /** @param keep records kept per partition (the newest); older ones are read from the table. */
  constructor(private readonly keep = 512) {}

  private part(topic: string, partition: number): PartitionTail {
    const key = tpKey(topic, partition);
    let t = this.parts.get(key);
    if (t === undefined) {
      t = { records: new Map(), top: 0, end: undefined, epoch: 0 };
      this.parts.set(key, t);
    }
    return t;
  }

  /** Records a committed record (call once the commit resolved): it is served and ends the partition at least at its offset + 1. */
  committed(rec: LogRecord): void {
    const t = this.part(rec.topic, rec.partition);
    const o = Number(rec.offset);
    t.records.set(o, rec);
    if (o + 1 > t.top) t.top = o + 1;
    // Only raised, never established: after another process's append, only a read can tell the end.
    if (t.end !== undefined && rec.offset + 1n > t.end) t.end = rec.offset + 1n;
    if (t.records.size > 2 * this.keep) {
      // amortised: drop everything older than the newest `keep` offsets
      const floor = t.top - this.keep;
      for (const k of t.records.keys()) if (k < floor) t.records.delete(k);
    }
  }

  /** Another process appended to `topic[partition]`: its end is no longer known here. */
  grew(topic: string, partition: number): void {
    const t = this.part(topic, partition);
    t.end = undefined;
    t.epoch++;
  }

  /** Records of `topic[partition]` were purged: serve none of the held ones any more (the table knows what is left). */
  purged(topic: string, partition: number): void {
    this.parts.get(tpKey(topic, partition))?.records.clear();
  }

  /** Call before reading `topic[partition]` from the table; pass the result to `read`. */
  readStarts(topic: string, partition: number): number {
    return this.part(topic, partition).epoch;
  }

  /** A read from the table of `[from, …)`, started at `epoch`, returned `got` records of at most `max`. */
  read(topic: string, partition: number, from: bigint, got: LogRecord[], max: number, epoch: number): void {
    const t = this.part(topic, partition);
    // A notification handled during the read may be of a record the statement did not see.
    if (got.length >= max || t.epoch !== epoch) return;
    // Fewer than asked: the partition ended there when the statement ran; later appends notify.
    const end = got.length === 0 ? from : got[got.length - 1].offset + 1n;
    if (t.end === undefined || end > t.end) t.end = end;
  }

  /**
   * What this process can answer for a read of up to `max` records from `from`: the records it
   * holds from `from` on (contiguous), `[]` when `from` is at or past the known end, or
   * undefined when only the table can tell.
   */
  serve(topic: string, partition: number, from: bigint, max: number): LogRecord[] | undefined {
    const t = this.parts.get(tpKey(topic, partition));
    if (t === undefined) return undefined;
    const first = t.records.get(Number(from));
    if (first !== undefined) {
      const out = [first];
      for (let o = Number(from) + 1; out.length < max; o++) {
        const r = t.records.get(o);
        if (r === undefined) break;
        out.push(r);
      }
      return out;
    }
    if (t.end !== undefined && from >= t.end) return [];
    return undefined;
  }
}
