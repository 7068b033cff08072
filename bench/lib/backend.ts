/**
 * Where a workload runs: a fresh embedded data directory or a fresh random schema on the local
 * Postgres (durability on: the server's own settings, fsync and synchronous_commit untouched).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../cli/config.js";
import { ensureKafka, randomPrefix } from "../../test/harness/kafka.js";
import { createTestSchema } from "../../test/harness/postgres.js";

export type BenchBackend = "embedded" | "postgres" | "kafka";

/** Command-line options every workload takes. */
export interface BenchOptions {
  /** Fewer repetitions (a smoke run). */
  quick: boolean;
  /** Embedded only: `fsync` (the default: every commit synced) or `os` (left to the OS cache). */
  durability?: "fsync" | "os";
}

export interface BenchPlace {
  backend: BenchBackend;
  config: Config;
  /** Settings a reader needs to judge the figures (durability, partitions…). */
  facts: Record<string, unknown>;
  /** Environment for a `lanner` process started on the same place. */
  env: Record<string, string>;
  /** Removes the data directory / drops the schema. */
  dispose(): Promise<void>;
}

export async function preparePlace(backend: BenchBackend, overrides: Array<[string[], unknown]> = []): Promise<BenchPlace> {
  const dir = mkdtempSync(join(tmpdir(), "lanner-bench-"));
  const dataDir = join(dir, "data");
  if (backend === "embedded") {
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], dataDir], [["port"], 0], ...overrides] });
    return {
      backend, config,
      facts: { durability: config.durability, partitions: config.partitions, workerThreads: config.worker.threads },
      env: { LANNER_BACKEND: "embedded", LANNER_DATA_DIR: dataDir, LANNER_DURABILITY: config.durability },
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (backend === "kafka") {
    // the broker scripts/kafka.sh runs (or LANNER_TEST_KAFKA_BROKERS); a random prefix per run
    const brokers = await ensureKafka();
    const prefix = randomPrefix("bench");
    const config = loadConfig({
      env: {},
      overrides: [[["backend"], "kafka"], [["dataDir"], dataDir], [["port"], 0], [["kafka", "brokers"], brokers], [["kafka", "prefix"], prefix], ...overrides],
    });
    return {
      backend, config,
      facts: { partitions: config.partitions, workerThreads: config.worker.threads, kafka: { brokers: 1, replicationFactor: config.kafka.replicationFactor } },
      env: { LANNER_BACKEND: "kafka", LANNER_DATA_DIR: dataDir, LANNER_KAFKA_BROKERS: brokers, LANNER_KAFKA_PREFIX: prefix },
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = await createTestSchema("bench");
  const config = loadConfig({
    env: {},
    overrides: [[["backend"], "postgres"], [["dataDir"], dataDir], [["port"], 0], [["postgres", "url"], schema.url], [["postgres", "schema"], schema.schema], ...overrides],
  });
  const settings = await postgresSettings(schema.url);
  return {
    backend, config,
    facts: { partitions: config.partitions, workerThreads: config.worker.threads, postgres: settings },
    env: { LANNER_BACKEND: "postgres", LANNER_DATA_DIR: dataDir, LANNER_POSTGRES_URL: schema.url, LANNER_POSTGRES_SCHEMA: schema.schema },
    dispose: async () => {
      rmSync(dir, { recursive: true, force: true });
      await schema.drop();
    },
  };
}

/** The server settings that decide what a commit costs. */
async function postgresSettings(url: string): Promise<Record<string, string>> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    const r = await c.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'server_version', 'commit_delay')",
    );
    for (const row of r.rows) out[row.name] = row.setting;
    return out;
  } finally {
    await c.end();
  }
}
