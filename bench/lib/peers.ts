/**
 * The peers measured beside Lanner in the same run: Restate (its server binary from
 * `@restatedev/restate-server`, a service on `@restatedev/restate-sdk`) and DBOS Transact
 * (`@dbos-inc/dbos-sdk` on the local Postgres, a fresh database per run). Both are dev
 * dependencies of `bench/peers/` only, installed by `npm ci --prefix bench/peers` when missing.
 * Each peer is driven over loopback HTTP: `chain(n)` runs an n-step durable handler/workflow to
 * its end, `two()` a 2-step one.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { createTestDatabase } from "../../test/harness/postgres.js";
import { BENCH_DIR } from "./report.js";

export const PEERS_DIR = join(BENCH_DIR, "peers");

/** A running peer. */
export interface Peer {
  name: "restate" | "dbos";
  version: string;
  /** Durability and other settings a reader needs to compare the figures. */
  settings: Record<string, unknown>;
  /** Runs one `n`-step handler/workflow to its end. */
  chain(n: number): Promise<void>;
  /** Runs one 2-step handler/workflow to its end. */
  two(): Promise<void>;
  /** Stops the peer's processes and removes its data. */
  stop(): Promise<void>;
}

/** Installs the peers' packages from their lock file when they are not there yet. */
export function ensurePeersInstalled(log: (line: string) => void): void {
  if (existsSync(join(PEERS_DIR, "node_modules", "@restatedev", "restate-sdk")) && existsSync(join(PEERS_DIR, "node_modules", "@dbos-inc", "dbos-sdk"))) return;
  log("installing the peers (npm ci --prefix bench/peers)…");
  execFileSync("npm", ["ci", "--prefix", PEERS_DIR, "--no-audit", "--no-fund"], { stdio: ["ignore", "inherit", "inherit"] });
}

function versionOf(pkg: string): string {
  const doc: unknown = JSON.parse(readFileSync(join(PEERS_DIR, "node_modules", pkg, "package.json"), "utf8"));
  return typeof doc === "object" && doc !== null && "version" in doc && typeof doc.version === "string" ? doc.version : "unknown";
}

/** A free TCP port on the loopback address (taken by listening on port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A child process whose output is kept, so a failure says what the peer printed. */
interface Child {
  proc: ChildProcess;
  output(): string;
  /** Resolves once a stdout line matches `re`; rejects if the process exits or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

function startChild(cmd: string, args: string[], env: Record<string, string>, cwd = PEERS_DIR): Child {
  const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const listeners: Array<() => void> = [];
  proc.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
    for (const l of listeners) l();
  });
  proc.stderr!.on("data", (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  return {
    proc,
    output: () => out,
    waitFor: (re, timeoutMs) => new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      };
      const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(" ")}: no ${re} after ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${cmd} ${args.join(" ")} exited (${proc.exitCode ?? proc.signalCode}):\n${out.slice(-3000)}`));
      });
      listeners.push(check);
      check();
    }),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function post(url: string, body?: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(url, { method: "POST", headers: body === undefined ? headers : { "content-type": "application/json", ...headers }, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`POST ${url}: ${res.statusCode} ${text.slice(0, 300)}`);
  return text;
}

/** Polls `url` until it answers 2xx (bounded). */
async function untilUp(url: string, timeoutMs: number, child: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await request(url);
      await res.body.dump();
      if (res.statusCode < 300) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not up after ${timeoutMs} ms:\n${child.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts restate-server (default configuration: a single node, the replicated loglet with its
 * RocksDB WAL fsync'd before an append is acknowledged; telemetry off) on free loopback ports,
 * the bench service beside it, and registers the service through the admin API.
 */
export async function startRestate(): Promise<Peer> {
  const baseDir = mkdtempSync(join(tmpdir(), "lanner-bench-restate-"));
  const [ingress, admin, node, svc] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bin = join(PEERS_DIR, "node_modules", "@restatedev", "restate-server-linux-x64", "bin", "restate-server");
  const server = startChild(bin, ["--base-dir", baseDir, "--no-logo", "--listen-mode", "tcp"], {
    RESTATE_BIND_IP: "127.0.0.1",
    RESTATE_ADVERTISED_HOST: "127.0.0.1",
    RESTATE_BIND_PORT: String(node),
    RESTATE_INGRESS__BIND_PORT: String(ingress),
    RESTATE_ADMIN__BIND_PORT: String(admin),
    RESTATE_DISABLE_TELEMETRY: "true",
    RESTATE_LOG_FILTER: "warn",
  }, baseDir);
  const service = startChild(process.execPath, [join(PEERS_DIR, "restate-service.mjs"), String(svc)], {});
  const stop = async () => {
    await service.stop();
    await server.stop();
    rmSync(baseDir, { recursive: true, force: true });
  };
  try {
    await service.waitFor(/restate-service ready/, 60_000);
    await untilUp(`http://127.0.0.1:${admin}/health`, 60_000, server);
    await post(`http://127.0.0.1:${admin}/deployments`, JSON.stringify({ uri: `http://127.0.0.1:${svc}`, force: true }));
    const ingressUrl = `http://127.0.0.1:${ingress}`;
    // The ingress may answer 404/503 for a moment after registration, until the schema reached it.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await post(`${ingressUrl}/bench/two`, "null");
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return {
      name: "restate",
      version: `restate-server ${versionOf("@restatedev/restate-server")}, sdk ${versionOf("@restatedev/restate-sdk")}`,
      settings: { config: "defaults (single node, replicated loglet with replication 1)", logServerWalFsync: true, partitions: 24, telemetry: false },
      chain: async (n) => void (await post(`${ingressUrl}/bench/chain`, String(n))),
      two: async () => void (await post(`${ingressUrl}/bench/two`, "null")),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts the DBOS app on a fresh database of the local Postgres (the server's own fsync / synchronous_commit). */
export async function startDbos(): Promise<Peer> {
  const db = await createTestDatabase("bench_dbos");
  const port = await freePort();
  const app = startChild(process.execPath, [join(PEERS_DIR, "dbos-app.mjs"), String(port), db.url], {});
  const stop = async () => {
    await app.stop();
    await db.drop();
  };
  try {
    await app.waitFor(/dbos-app ready/, 120_000);
    const base = `http://127.0.0.1:${port}`;
    const settings = await pgSettings(db.url);
    return {
      name: "dbos",
      version: `dbos-sdk ${versionOf("@dbos-inc/dbos-sdk")}`,
      settings: { systemDatabase: "fresh database on the local Postgres", postgres: settings },
      chain: async (n) => void (await post(`${base}/chain?n=${n}`)),
      two: async () => void (await post(`${base}/two`)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function pgSettings(url: string): Promise<Record<string, string>> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version')");
    return Object.fromEntries(r.rows.map((row) => [row.name, row.setting]));
  } finally {
    await c.end();
  }
}
