import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { z } from "zod";
import { LannerError } from "../common/errors.js";

/**
 * Server configuration: defaults, then a YAML file (`--config FILE`), then environment variables
 * (`LANNER_*`), then command-line flags — each layer overriding the one before.
 */
export const ConfigSchema = z
  .object({
    backend: z.enum(["embedded", "postgres"]).default("embedded"),
    dataDir: z.string().default("./.lanner"),
    host: z.string().default("127.0.0.1"),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    partitions: z.coerce.number().int().min(1).max(256).default(8),
    postgres: z
      .object({
        url: z.string().default("postgres://127.0.0.1:5432/test"),
        schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, "a lower-case SQL identifier").default("lanner"),
      })
      .strict()
      .default({ url: "postgres://127.0.0.1:5432/test", schema: "lanner" }),
    worker: z
      .object({
        threads: z.coerce.number().int().min(1).max(1024).default(8),
        group: z.string().optional(),
      })
      .strict()
      .default({ threads: 8 }),
    liveness: z
      .object({
        /** How often a worker says it is alive (ms). Kestra: 3 s. */
        heartbeatIntervalMs: z.coerce.number().int().min(100).default(2_000),
        /** Silence after which a worker is declared lost and its attempts resubmitted (ms). Kestra: 45 s + grace. */
        timeoutMs: z.coerce.number().int().min(500).default(8_000),
      })
      .strict()
      .default({ heartbeatIntervalMs: 2_000, timeoutMs: 8_000 }),
    retention: z
      .object({
        /** How long the `executions` topic keeps the audit history (ms); default 7 days. */
        executionsMs: z.coerce.number().int().min(60_000).default(7 * 24 * 3600_000),
        /** How long other consumed topics keep records (ms); default 1 hour. */
        defaultMs: z.coerce.number().int().min(1_000).default(3600_000),
      })
      .strict()
      .default({ executionsMs: 7 * 24 * 3600_000, defaultMs: 3600_000 }),
    flowsDir: z.string().optional(),
    durability: z.enum(["fsync", "os"]).default("fsync"),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variables that override the file, and the config path each one sets. */
const ENV_KEYS: Record<string, string[]> = {
  LANNER_BACKEND: ["backend"],
  LANNER_DATA_DIR: ["dataDir"],
  LANNER_HOST: ["host"],
  LANNER_PORT: ["port"],
  LANNER_PARTITIONS: ["partitions"],
  LANNER_POSTGRES_URL: ["postgres", "url"],
  LANNER_POSTGRES_SCHEMA: ["postgres", "schema"],
  LANNER_WORKER_THREADS: ["worker", "threads"],
  LANNER_WORKER_GROUP: ["worker", "group"],
  LANNER_HEARTBEAT_INTERVAL_MS: ["liveness", "heartbeatIntervalMs"],
  LANNER_LIVENESS_TIMEOUT_MS: ["liveness", "timeoutMs"],
  LANNER_FLOWS_DIR: ["flowsDir"],
  LANNER_DURABILITY: ["durability"],
};

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/** Loads the configuration; every problem is a `CONFIG_INVALID` error naming the key and what was expected. */
export function loadConfig(opts: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Array<[path: string[], value: unknown]>;
}): Config {
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, "utf8");
    } catch (err) {
      throw new LannerError("CONFIG_UNREADABLE", `cannot read config file ${opts.file}: ${(err as Error).message}`);
    }
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const pos = e.linePos?.[0];
      throw new LannerError(
        "CONFIG_INVALID",
        `${opts.file}:${pos?.line ?? 1}:${pos?.col ?? 1}: ${e.message.split("\n")[0]}`,
      );
    }
    const parsed: unknown = doc.toJS();
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new LannerError("CONFIG_INVALID", `${opts.file}: expected a map of settings at the top level`);
      }
      raw = parsed as Record<string, unknown>;
    }
  }
  const env = opts.env ?? process.env;
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== "") setPath(raw, path, v);
  }
  for (const [path, value] of opts.overrides ?? []) {
    if (value !== undefined) setPath(raw, path, value);
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new LannerError("CONFIG_INVALID", `invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  return result.data;
}
