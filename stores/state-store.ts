import { LannerError } from "../common/errors.js";

/**
 * A state store: the key-value state a processor keeps for ONE partition of its input (for
 * example the executor's execution states of partition 3), plus the offset that state reflects.
 *
 * The state is a fold of a changelog partition (for the executor: the `executions` topic), so a
 * lost or stale store is rebuilt by replaying that partition from `checkpoint()` (see
 * `restore.ts`). On the embedded and Postgres backends the store lives in the same database as
 * the log, and `Membership.commit(c, state)` writes it in the same atomic unit as the records and
 * the committed offsets, so it never lags behind.
 */
export interface StateStore {
  /** The store's name (e.g. `executor`); names never contain `/`. */
  readonly name: string;
  /** The partition of the input this store holds the state of. */
  readonly partition: number;
  /** The value stored at `key`, or undefined when absent. Sees every write that has resolved. */
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Applies a batch of puts and deletes and records the offset they reflect, atomically: a reader
   * sees either none or all of it. `batch.store`/`batch.partition` must name this store (else
   * rejects with `STATE_STORE_MISMATCH`). A delete of an absent key is a no-op; when a key is both
   * put and deleted in one batch the delete wins.
   */
  write(batch: StateBatch): Promise<void>;
  /**
   * The next changelog offset to replay from: every record before it is reflected in the store.
   * Undefined when the store never recorded an offset (restore then starts at the beginning).
   */
  checkpoint(): Promise<bigint | undefined>;
  /** Every entry, in ascending key order (UTF-16 code unit order of the key strings is NOT promised; byte order of UTF-8 is). */
  entries(): AsyncIterable<[string, Uint8Array]>;
  /** Removes every entry and the checkpoint (the next restore replays from the beginning). */
  clear(): Promise<void>;
}

/** One atomic change of one store partition. */
export interface StateBatch {
  /** Store name; must not contain `/`. */
  store: string;
  /** Store partition (the input partition). */
  partition: number;
  /** Keys to set. */
  puts: Array<[string, Uint8Array]>;
  /** Keys to remove (wins over a put of the same key in the same batch). */
  deletes: string[];
  /**
   * The next changelog offset this state reflects (stored as the checkpoint). Optional when
   * `changelogTopic` is given to `Membership.commit`: the log then stores, as the checkpoint, the
   * end offset of (`changelogTopic`, `partition`) right after the commit's own records — which
   * the caller cannot know before the commit assigned their offsets. When neither is given the
   * checkpoint is left unchanged.
   */
  offset?: bigint;
  /** See `offset`: only meaningful inside `Membership.commit`. */
  changelogTopic?: string;
}

/** Where state stores come from: every Log backend provides the ones that commit with it. */
export interface StateStoreProvider {
  /**
   * The store (`name`, `partition`) that `Membership.commit(c, state)` of the same backend writes
   * atomically with the log. Returns the same instance for the same arguments.
   */
  stateStore(name: string, partition: number): StateStore;
}

/** Rejects store names the key layout cannot hold. */
export function validateStoreName(name: string): void {
  if (name.length === 0 || name.includes("/") || name.includes("\0")) {
    throw new StoreNameError(name);
  }
}

/** A store name that is empty or holds `/` or NUL. */
export class StoreNameError extends LannerError {
  constructor(name: string) {
    super("STATE_STORE_NAME_INVALID", `State store name ${JSON.stringify(name)} is invalid: it must be non-empty and contain no "/" or NUL.`);
  }
}

/** Checks that a batch addresses the given store partition. */
export function assertBatchFor(store: StateStore, batch: StateBatch): void {
  if (batch.store !== store.name || batch.partition !== store.partition) {
    throw new LannerError(
      "STATE_STORE_MISMATCH",
      `State batch for ${batch.store}/${batch.partition} written to store ${store.name}/${store.partition}.`,
    );
  }
}
