/**
 * `lanner sys …`: administration. `lanner sys reindex [--type executions|logs|flows|triggers|all]`
 * rebuilds read-side projections from the log into fresh tables / indices and swaps them in
 * atomically (see projections/reindex.ts). On the embedded backend the data directory is locked
 * by a running server: stop it first (or use the postgres backend, where a reindex runs beside the
 * live roles).
 */
import { Option, type Command } from "commander";
import { LannerError, describeError } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { INDEXED_KINDS, type IndexedKind } from "../projections/indexer.js";
import { openRepository } from "../projections/open-repository.js";
import { isReindexable, reindex } from "../projections/reindex.js";
import { openLog } from "../topology/factory.js";
import { topicCatalogue } from "../topology/topics.js";
import { loadConfig } from "./config.js";

interface SysFlags {
  type: string;
  backend?: string;
  dataDir?: string;
  postgresUrl?: string;
  postgresSchema?: string;
  repository?: string;
  elasticsearchUrl?: string;
  elasticsearchPrefix?: string;
  config?: string;
  partitions?: string;
}

/** The kinds named by `--type`. */
export function reindexKinds(type: string): IndexedKind[] {
  if (type === "all") return [...INDEXED_KINDS];
  if ((INDEXED_KINDS as readonly string[]).includes(type)) return [type as IndexedKind];
  throw new LannerError("USAGE", `--type: expected one of ${[...INDEXED_KINDS, "all"].join(", ")}, got ${JSON.stringify(type)}`);
}

async function runReindex(flags: SysFlags): Promise<number> {
  const config = loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    overrides: [
      [["backend"], flags.backend], [["dataDir"], flags.dataDir], [["partitions"], flags.partitions], [["postgres", "url"], flags.postgresUrl], [["postgres", "schema"], flags.postgresSchema],
      [["repository"], flags.repository], [["elasticsearch", "url"], flags.elasticsearchUrl], [["elasticsearch", "prefix"], flags.elasticsearchPrefix],
    ],
  });
  const kinds = reindexKinds(flags.type);
  const logger = createLogger();
  const log = await openLog({ backend: config.backend, dataDir: config.dataDir, durability: config.durability, postgresUrl: config.postgres.url, schema: config.postgres.schema });
  try {
    const catalogue = topicCatalogue({ executionPartitions: config.partitions, executionsRetentionMs: config.retention.executionsMs, workRetentionMs: config.retention.defaultMs });
    await log.ensureTopics(catalogue.specs());
    const repository = await openRepository(config);
    try {
      if (!isReindexable(repository)) throw new LannerError("REINDEX_UNSUPPORTED", "this repository cannot be reindexed");
      const started = Date.now();
      const result = await reindex({
        log, codec: avroRecordCodec, logger, repository, kinds,
        onProgress: (phase, lag) => process.stderr.write(`reindex ${phase}: ${lag} records to go\n`),
      });
      process.stdout.write(`${JSON.stringify({ reindexed: result.kinds, events: result.events, logLines: result.logLines, flows: result.flows, triggers: result.triggers, deadLetters: result.deadLetters, ms: Date.now() - started })}\n`);
      return 0;
    } finally {
      await repository.close();
    }
  } finally {
    await log.close();
  }
}

export function registerSysCommands(program: Command, setExit: (code: number) => void): void {
  const sys = program.command("sys").description("Administration of a Lanner installation");
  sys
    .command("reindex")
    .description("rebuild read-side projections from the log into fresh tables/indices and swap them in atomically")
    .addOption(new Option("--type <kind>", "what to rebuild").choices([...INDEXED_KINDS, "all"]).default("all"))
    .addOption(new Option("--backend <name>", "log backend").choices(["embedded", "postgres"]))
    .option("--data-dir <dir>", "data directory (embedded backend); default ./.lanner")
    .option("--partitions <n>", "partitions of the execution topics, as the servers were started with; default 8")
    .option("--postgres-url <url>", "Postgres connection URL (backend postgres)")
    .option("--postgres-schema <name>", "Postgres schema of Lanner's tables; default lanner")
    .addOption(new Option("--repository <kind>", "where the read side lives").choices(["sql", "elasticsearch"]))
    .option("--elasticsearch-url <url>", "Elasticsearch URL (repository elasticsearch)")
    .option("--elasticsearch-prefix <prefix>", "index name prefix; default lanner-")
    .option("--config <file>", "YAML configuration file (environment LANNER_* and flags override it)")
    .action(async (flags: SysFlags) => {
      try {
        setExit(await runReindex(flags));
      } catch (err) {
        process.stderr.write(`lanner sys reindex: ${describeError(err)}\n`);
        setExit(err instanceof LannerError && err.code === "USAGE" ? 2 : 1);
      }
    });
}
