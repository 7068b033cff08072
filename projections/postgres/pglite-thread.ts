import { Worker } from "node:worker_threads";
import { LannerError } from "../../common/errors.js";

/**
 * PGlite on its own thread. PGlite is Postgres compiled to WebAssembly: every statement runs its
 * wasm on the JavaScript thread that called it. In a standalone server that thread also runs the
 * executor, the workers' bookkeeping and the API, and the read side (the indexer's upserts, the
 * API's searches) took a third to a half of it under load. On a worker thread the database gets
 * a core of its own, and the main thread only posts statements and receives rows.
 *
 * The thread's code is plain JavaScript evaluated by `new Worker(…, { eval: true })`, so it runs
 * the same under the `lanner` command, under tsx and under the test runner (none of which would
 * give a worker thread the TypeScript loader).
 */

/** What the main thread asks of the database thread. */
export type PgliteRequest =
  | { id: number; op: "query"; sql: string; params?: unknown[] }
  | { id: number; op: "begin" }
  | { id: number; op: "txquery"; tx: number; sql: string; params?: unknown[] }
  | { id: number; op: "end"; tx: number; commit: boolean }
  | { id: number; op: "listen"; channel: string }
  | { id: number; op: "unlisten"; listener: number }
  | { id: number; op: "close" };

/** What the database thread answers: one reply per request, plus notifications. */
export type PgliteReply =
  | { id: number; ok: true; rows?: unknown[]; tx?: number; listener?: number }
  | { id: number; ok: false; error: SerializedError }
  | { notify: number; payload: string };

/** A database error carried across the thread boundary (Postgres' SQLSTATE kept in `code`). */
export interface SerializedError {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
}

const THREAD_SOURCE = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
const serialize = (err) => ({
  message: err && err.message ? String(err.message) : String(err),
  code: err && typeof err.code === "string" ? err.code : undefined,
  detail: err && typeof err.detail === "string" ? err.detail : undefined,
  hint: err && typeof err.hint === "string" ? err.hint : undefined,
});
(async () => {
  let db;
  try {
    const { PGlite } = await import(workerData.moduleUrl);
    db = await PGlite.create(workerData.dataDir, { postgresqlconf: workerData.conf });
  } catch (err) {
    parentPort.postMessage({ id: 0, ok: false, error: serialize(err) });
    return;
  }
  parentPort.postMessage({ id: 0, ok: true });
  const txs = new Map();
  const listeners = new Map();
  let nextTx = 1;
  let nextListener = 1;
  const reply = (id, body) => parentPort.postMessage({ id, ok: true, ...body });
  const fail = (id, err) => parentPort.postMessage({ id, ok: false, error: serialize(err) });
  parentPort.on("message", (m) => {
    switch (m.op) {
      case "query":
        db.query(m.sql, m.params).then((r) => reply(m.id, { rows: r.rows }), (e) => fail(m.id, e));
        break;
      case "begin": {
        const tx = nextTx++;
        // The transaction stays open until "end": its callback waits on a promise resolved there.
        db.transaction((handle) => new Promise((resolve, reject) => {
          txs.set(tx, { handle, resolve, reject });
          reply(m.id, { tx });
        })).then(
          () => { const t = txs.get(tx); txs.delete(tx); if (t && t.endId !== undefined) reply(t.endId, {}); },
          (e) => { const t = txs.get(tx); txs.delete(tx); if (t && t.endId !== undefined) (t.commit ? fail(t.endId, e) : reply(t.endId, {})); else fail(m.id, e); },
        );
        break;
      }
      case "txquery": {
        const t = txs.get(m.tx);
        if (!t) { fail(m.id, new Error("transaction " + m.tx + " is not open")); break; }
        t.handle.query(m.sql, m.params).then((r) => reply(m.id, { rows: r.rows }), (e) => fail(m.id, e));
        break;
      }
      case "end": {
        const t = txs.get(m.tx);
        if (!t) { fail(m.id, new Error("transaction " + m.tx + " is not open")); break; }
        t.endId = m.id;
        t.commit = m.commit;
        if (m.commit) t.resolve();
        else t.reject(new Error("rolled back"));
        break;
      }
      case "listen": {
        const listener = nextListener++;
        db.listen(m.channel, (payload) => parentPort.postMessage({ notify: listener, payload })).then(
          (unlisten) => { listeners.set(listener, unlisten); reply(m.id, { listener }); },
          (e) => fail(m.id, e),
        );
        break;
      }
      case "unlisten": {
        const unlisten = listeners.get(m.listener);
        listeners.delete(m.listener);
        Promise.resolve(unlisten ? unlisten() : undefined).then(() => reply(m.id, {}), (e) => fail(m.id, e));
        break;
      }
      case "close":
        Promise.resolve(db.closed ? undefined : db.close()).then(() => { reply(m.id, {}); parentPort.close(); }, (e) => fail(m.id, e));
        break;
      default:
        fail(m.id, new Error("unknown request " + JSON.stringify(m.op)));
    }
  });
})();
`;

/** Turns a serialized database error back into an Error carrying its SQLSTATE. */
function revive(e: SerializedError): Error {
  const err = new Error(e.message) as Error & { code?: string; detail?: string; hint?: string };
  if (e.code !== undefined) err.code = e.code;
  if (e.detail !== undefined) err.detail = e.detail;
  if (e.hint !== undefined) err.hint = e.hint;
  return err;
}

type Pending = { resolve: (r: Extract<PgliteReply, { ok: true }>) => void; reject: (err: Error) => void };

/** A PGlite database opened on a worker thread: requests in, replies and notifications out. */
export class PgliteThread {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly notifyHandlers = new Map<number, (payload: string) => void>();
  private dead: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (m: PgliteReply) => {
      if ("notify" in m) {
        this.notifyHandlers.get(m.notify)?.(m.payload);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m);
      else p.reject(revive(m.error));
    });
    const die = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(this.unavailable());
      this.pending.clear();
      this.syncRef();
    };
    worker.on("error", die);
    worker.on("exit", (code) => die(new Error(`the database thread exited (code ${code})`)));
    // Idle, the thread must not keep the process alive; while requests are out it must.
    worker.unref();
  }

  /**
   * Starts the thread and opens PGlite on `dataDir` (in memory when undefined) with the given
   * `postgresql.conf` lines. Rejects with the database's own error when it cannot be opened.
   */
  static async start(dataDir: string | undefined, conf: readonly string[]): Promise<PgliteThread> {
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { moduleUrl: import.meta.resolve("@electric-sql/pglite"), dataDir, conf: [...conf] },
    });
    const thread = new PgliteThread(worker);
    const opened = new Promise<Extract<PgliteReply, { ok: true }>>((resolve, reject) => thread.pending.set(0, { resolve, reject }));
    thread.syncRef();
    try {
      await opened;
    } catch (err) {
      await worker.terminate();
      throw err;
    } finally {
      thread.syncRef();
    }
    return thread;
  }

  private unavailable(): LannerError {
    return new LannerError("REPOSITORY_UNAVAILABLE", `the embedded read database stopped: ${this.dead?.message ?? "closed"}`, { retriable: false, cause: this.dead });
  }

  /** Keeps the process alive exactly while a reply is awaited. */
  private syncRef(): void {
    if (this.pending.size > 0 && this.dead === undefined) this.worker.ref();
    else this.worker.unref();
  }

  /** Sends one request; resolves with its reply, rejects with the database's error. */
  request(body: DistributiveOmit<PgliteRequest, "id">): Promise<Extract<PgliteReply, { ok: true }>> {
    if (this.dead) return Promise.reject(this.unavailable());
    const id = this.nextId++;
    const reply = new Promise<Extract<PgliteReply, { ok: true }>>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (r) => { resolve(r); this.syncRef(); },
        reject: (e) => { reject(e); this.syncRef(); },
      });
    });
    this.syncRef();
    this.worker.postMessage({ ...body, id });
    return reply;
  }

  /** Routes the notifications of listener `listener` to `handler` (undefined stops routing). */
  onNotify(listener: number, handler: ((payload: string) => void) | undefined): void {
    if (handler) this.notifyHandlers.set(listener, handler);
    else this.notifyHandlers.delete(listener);
  }

  /** Closes the database, then ends the thread. */
  async close(): Promise<void> {
    if (this.dead) return;
    try {
      await this.request({ op: "close" });
    } finally {
      this.dead ??= new Error("closed");
      await this.worker.terminate();
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
