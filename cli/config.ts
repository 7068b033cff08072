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
    backend: z.enum(["embedded", "postgres", "kafka"]).default("embedded"),
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
        /** How often the log drops records past their retention (ms); default 1 minute. */
        purgeIntervalMs: z.coerce.number().int().min(1_000).default(60_000),
        /** A consumer group with no live member and no commit for this long stops holding records back (ms); default 1 day. */
        groupExpiryMs: z.coerce.number().int().min(60_000).default(24 * 3600_000),
      })
      .strict()
      .default({ executionsMs: 7 * 24 * 3600_000, defaultMs: 3600_000, purgeIntervalMs: 60_000, groupExpiryMs: 24 * 3600_000 }),
    /** Multi-tenancy: off, every route is tenant-less and uses `defaultTenant`; on, routes are `/api/v1/{tenant}/…`. */
    tenancy: z
      .object({
        // `z.coerce.boolean` reads "false" as true: environment values are parsed explicitly.
        enabled: z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean()).default(false),
        defaultTenant: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "a tenant id (lower-case letters, digits, - and _)").default("main"),
        /** Tenants that exist without being created through the API or CLI. */
        tenants: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "a tenant id (lower-case letters, digits, - and _)")).default([]),
      })
      .strict()
      .default({ enabled: false, defaultTenant: "main", tenants: [] }),
    /** API authentication. With no user and no token, the API is open (allowed on a loopback address only). */
    auth: z
      .object({
        users: z.array(z.object({
          username: z.string().min(1),
          /** scrypt hash from `lanner auth hash-secret` (never the password itself). */
          password: z.string().regex(/^scrypt\$/, "an scrypt hash (lanner auth hash-secret), not a plain password"),
          tenants: z.union([z.literal("*"), z.array(z.string())]).default("*"),
          admin: z.boolean().default(false),
        }).strict()).default([]),
        tokens: z.array(z.object({
          name: z.string().min(1),
          /** scrypt hash of the whole token (`lanner auth hash-secret`). */
          hash: z.string().regex(/^scrypt\$/, "an scrypt hash (lanner auth hash-secret), not a plain token"),
          tenants: z.union([z.literal("*"), z.array(z.string())]).default("*"),
          admin: z.boolean().default(false),
        }).strict()).default([]),
      })
      .strict()
      .default({ users: [], tokens: [] }),
    /** Webserver limits. */
    api: z
      .object({
        /** Largest request body that is read into memory (bytes); uploads stream to storage and have their own limit. */
        bodyLimitBytes: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
        /** Largest FILE input upload (bytes). */
        maxFileBytes: z.coerce.number().int().min(1).default(100 * 1024 * 1024),
      })
      .strict()
      .default({ bodyLimitBytes: 10 * 1024 * 1024, maxFileBytes: 100 * 1024 * 1024 }),
    /** Where the read side lives: the SQL tables of the backend (PGlite or Postgres), or Elasticsearch. */
    repository: z.enum(["sql", "elasticsearch"]).default("sql"),
    elasticsearch: z
      .object({
        url: z.string().default("http://127.0.0.1:9200"),
        prefix: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, '.', '_' or '-'").default("lanner-"),
      })
      .strict()
      .default({ url: "http://127.0.0.1:9200", prefix: "lanner-" }),
    /** The kafka backend: brokers (comma-separated `host:port` list in the environment and flags). */
    kafka: z
      .object({
        brokers: z
          .union([z.string(), z.array(z.string())])
          .transform((v) => (Array.isArray(v) ? v : v.split(",")).map((b) => b.trim()).filter((b) => b !== ""))
          .default(["127.0.0.1:9092"]),
        prefix: z.string().regex(/^[A-Za-z0-9._-]*$/, "letters, digits, '.', '_' or '-'").default(""),
        replicationFactor: z.coerce.number().int().min(1).default(1),
        sessionTimeoutMs: z.coerce.number().int().min(1_000).default(10_000),
      })
      .strict()
      .default({ brokers: ["127.0.0.1:9092"], prefix: "", replicationFactor: 1, sessionTimeoutMs: 10_000 }),
    flowsDir: z.string().optional(),
    /** A Confluent-compatible schema registry: when `url` is set, records carry its schema ids (see schemas/avro/registry-codec.ts). */
    schemaRegistry: z
      .object({
        url: z.string().url().optional(),
      })
      .strict()
      .default({}),
    /** Execution requests any producer may publish (see processors/requests); topic default `<prefix>execution-requests`. */
    executionRequests: z
      .object({
        enabled: z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean()).default(true),
        topic: z.string().min(1).optional(),
        partitions: z.coerce.number().int().min(1).max(256).default(4),
      })
      .strict()
      .default({ enabled: true, partitions: 4 }),
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
  LANNER_REPOSITORY: ["repository"],
  LANNER_ELASTICSEARCH_URL: ["elasticsearch", "url"],
  LANNER_ELASTICSEARCH_PREFIX: ["elasticsearch", "prefix"],
  LANNER_PURGE_INTERVAL_MS: ["retention", "purgeIntervalMs"],
  LANNER_GROUP_EXPIRY_MS: ["retention", "groupExpiryMs"],
  LANNER_DURABILITY: ["durability"],
  LANNER_KAFKA_BROKERS: ["kafka", "brokers"],
  LANNER_KAFKA_PREFIX: ["kafka", "prefix"],
  LANNER_TENANCY_ENABLED: ["tenancy", "enabled"],
  LANNER_SCHEMA_REGISTRY_URL: ["schemaRegistry", "url"],
  LANNER_EXECUTION_REQUESTS_ENABLED: ["executionRequests", "enabled"],
  LANNER_EXECUTION_REQUESTS_TOPIC: ["executionRequests", "topic"],
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
