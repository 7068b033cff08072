/**
 * Composes the roles of one process: opens the log named by the configuration, makes sure every
 * topic exists, builds what the roles share (logger, record codec, flow resolver, internal
 * storage, worker-group watch, read-side repository) and starts the requested roles. The handle's
 * `stop()` is graceful: the API stops first, workers finish or hand back their attempts, the
 * executor and the other members leave their groups, then connections close.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ChangeFeed, notifyingRepository } from "../../api/change-feed.js";
import { Webserver } from "../../api/server.js";
import type { Config } from "../../cli/config.js";
import { LannerError, describeError } from "../../common/errors.js";
import { createLogger, type Logger } from "../../common/logger.js";
import { Indexer } from "../../projections/indexer.js";
import { openRepository } from "../../projections/open-repository.js";
import type { Repository } from "../../projections/repository.js";
import { LocalStorage } from "../../storage/local-storage.js";
import { openLog } from "../../topology/factory.js";
import type { Log } from "../../topology/log.js";
import { topicCatalogue, type TopicCatalogue } from "../../topology/topics.js";
import { Executor } from "../executor/shell/executor.js";
import { FlowTriggerProcessor } from "../triggers/flow-trigger-processor.js";
import { FlowTriggerRouter } from "../triggers/flow-trigger-router.js";
import { KafkaTriggerRunner } from "../triggers/kafka-trigger.js";
import { PollingScheduler } from "../triggers/polling-scheduler.js";
import { TriggerWorker } from "../triggers/trigger-worker.js";
import { triggerTopicSpecs, triggerTopics } from "../triggers/trigger-topics.js";
import { LogFlowResolver, flowRecordDecoder } from "../executor/shell/flow-resolver.js";
import type { RecordCodec } from "../executor/shell/records.js";
import { asHeartbeat } from "../liveness/heartbeat.js";
import { Liveness } from "../liveness/liveness.js";
import { Scheduler } from "../scheduler/scheduler.js";
import { WorkerGroupWatch } from "../liveness/worker-group-watch.js";
import { avroRecordCodec, createRecordCodec } from "../worker/record-codec.js";
import { openRegistryCodec } from "../../schemas/avro/registry-codec.js";
import { EXECUTION_REQUESTS_TOPIC, ExecutionRequestsProcessor, executionRequestsTopicSpec } from "../requests/execution-requests-processor.js";
import { Worker } from "../worker/worker.js";

export const ROLE_NAMES = ["executor", "worker", "liveness", "scheduler", "indexer", "webserver"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export interface StartRolesOptions {
  /** Default: the process logger (JSON to stderr). */
  logger?: Logger;
  /**
   * Called when the log reports a fatal failure (lost database connection…). Default: print one
   * line to stderr and exit the process with code 3, so a supervisor restarts it.
   */
  onFatal?: (err: Error) => void;
  /** Worker id (default random): a restarted worker is a new worker. */
  workerId?: string;
  /** How long a graceful stop lets running attempts finish before handing them back (ms); default 15 s. */
  workerStopTimeoutMs?: number;
  /** Topic name prefix; default none. */
  topicPrefix?: string;
  /** How often the log is purged of records past their retention (ms); default `config.retention.purgeIntervalMs`. */
  purgeIntervalMs?: number;
}

/** A running set of roles. */
export interface RolesHandle {
  readonly config: Config;
  readonly log: Log;
  readonly logger: Logger;
  readonly roles: readonly RoleName[];
  /** The webserver's base URL when it runs. */
  readonly url: string | undefined;
  readonly executor?: Executor;
  readonly worker?: Worker;
  readonly liveness?: Liveness;
  readonly scheduler?: Scheduler;
  readonly indexer?: Indexer;
  readonly webserver?: Webserver;
  readonly repository?: Repository;
  /**
   * Stops every role gracefully, then closes the repository and the log. Idempotent: later calls
   * return the first call's promise.
   */
  stop(): Promise<void>;
}

/**
 * Purges the log every `intervalMs` (retention, dead groups), never two rounds at once; a failed
 * round is logged and the next one tries again. Returns the function that stops it.
 */
export function schedulePurge(log: Log, logger: Logger, intervalMs: number): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    log
      .purge()
      .then((purged) => {
        if (purged > 0) logger.info({ purged }, "records past their retention purged");
      })
      .catch((err: unknown) => logger.warn({ err: describeError(err) }, "purge failed; it runs again at the next interval"))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  // The purge never keeps a process alive on its own.
  timer.unref();
  return () => clearInterval(timer);
}

/** Kestra's `envs`: the process's `ENV_*` variables, without the prefix, lower-cased. */
export function expressionEnvs(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("ENV_") && v !== undefined) out[k.slice(4).toLowerCase()] = v;
  return out;
}

function defaultFatal(logger: Logger): (err: Error) => void {
  return (err) => {
    logger.fatal({ err: describeError(err) }, "fatal log failure");
    process.stderr.write(`lanner: fatal: ${describeError(err)} (exiting; a supervisor should restart the process)\n`);
    process.exit(3);
  };
}

/**
 * Starts `roles` (any order; duplicates ignored) in this process and resolves once all are
 * started. On a failure while starting, what was started is stopped again and the error thrown.
 */
export async function startRoles(config: Config, roles: readonly RoleName[], opts: StartRolesOptions = {}): Promise<RolesHandle> {
  const wanted = new Set(roles);
  for (const r of wanted) {
    if (!ROLE_NAMES.includes(r)) throw new LannerError("ROLE_UNKNOWN", `Unknown role ${JSON.stringify(r)}: use ${ROLE_NAMES.join(", ")}.`);
  }
  const logger = opts.logger ?? createLogger();
  const prefix = opts.topicPrefix ?? "";
  // With a schema registry, records carry its ids (one subject per record type, under the topic prefix).
  const registryUrl = config.schemaRegistry.url;
  const codec: RecordCodec = registryUrl === undefined ? avroRecordCodec : createRecordCodec(await openRegistryCodec({ url: registryUrl, subjectPrefix: prefix }));
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (err) {
        logger.error({ err: describeError(err) }, "error while stopping");
      }
    }
  };

  if (config.backend === "embedded") mkdirSync(config.dataDir, { recursive: true });
  const log = await openLog({
    backend: config.backend,
    dataDir: config.dataDir,
    durability: config.durability,
    postgresUrl: config.postgres.url,
    schema: config.postgres.schema,
    groupExpiryMs: config.retention.groupExpiryMs,
    kafka: config.kafka,
  });
  stops.push(() => log.close());
  const unfatal = log.onFatal(opts.onFatal ?? defaultFatal(logger));
  stops.push(async () => unfatal());

  const handle: {
    executor?: Executor; worker?: Worker; liveness?: Liveness; scheduler?: Scheduler; indexer?: Indexer; webserver?: Webserver; repository?: Repository; url?: string;
  } = {};
  try {
    const catalogue = topicCatalogue({
      prefix,
      executionPartitions: config.partitions,
      executionsRetentionMs: config.retention.executionsMs,
      workRetentionMs: config.retention.defaultMs,
    });
    await log.ensureTopics(catalogue.specs());
    const t = (name: Parameters<TopicCatalogue["name"]>[0]) => catalogue.name(name);
    const tt = triggerTopics(prefix);
    await log.ensureTopics(triggerTopicSpecs(config.partitions, config.retention.defaultMs, prefix));
    // one flow catalogue for the executor, its flow triggers and the polling scheduler
    const flows = new LogFlowResolver(log, flowRecordDecoder(codec), t("flows"));
    const stopPurge = schedulePurge(log, logger, opts.purgeIntervalMs ?? config.retention.purgeIntervalMs);
    stops.push(async () => stopPurge());

    const storageDir = join(config.dataDir, "storage");
    mkdirSync(storageDir, { recursive: true });
    const storage = new LocalStorage(storageDir);
    const watch = new WorkerGroupWatch(config.liveness.timeoutMs);

    if (wanted.has("indexer") || wanted.has("webserver")) {
      const repository = await openRepository(config, {
        onError: (err) => (opts.onFatal ?? defaultFatal(logger))(new LannerError("REPOSITORY_CONNECTION_LOST", `read-side database connection lost: ${err.message}`, { cause: err })),
      });
      handle.repository = repository;
      stops.push(() => repository.close());
    }
    if (wanted.has("liveness")) {
      const liveness = new Liveness({
        log, logger, codec, watch, timeoutMs: config.liveness.timeoutMs, heartbeatIntervalMs: config.liveness.heartbeatIntervalMs,
        // the embedded log is this process's alone: every worker it knows from before ran in an earlier run of it
        priorWorkersDead: config.backend === "embedded",
        topics: { heartbeats: t("heartbeats"), commands: t("execution-commands"), deadLetters: t("dead-letters") },
      });
      await liveness.start();
      handle.liveness = liveness;
      stops.push(() => liveness.stop());
    }
    // The in-process indexer's writes wake the webserver's live follows (SSE).
    const changes = new ChangeFeed();
    if (wanted.has("indexer") && handle.repository) {
      const detach = changes.attachSource();
      stops.push(async () => detach());
      const indexer = new Indexer({ log, repository: notifyingRepository(handle.repository, changes), logger, codec, topics: { executions: t("executions"), logs: t("logs"), flows: t("flows"), triggers: t("triggers"), deadLetters: t("dead-letters") } });
      await indexer.start();
      handle.indexer = indexer;
      stops.push(() => indexer.stop());
    }
    if (wanted.has("executor")) {
      if (!wanted.has("liveness")) {
        // no liveness here to feed the watch: follow the heartbeats topic instead
        watch.follow(log, (bytes) => {
          try {
            const { type, value } = codec.decode(bytes);
            return type === "Heartbeat" ? asHeartbeat(value) : undefined;
          } catch {
            return undefined;
          }
        }, config.liveness.heartbeatIntervalMs, t("heartbeats"));
        stops.push(async () => watch.stop());
      }
      const executor = new Executor({
        log, logger, codec, envs: expressionEnvs(), workerGroups: watch,
        flows, flowTriggers: new FlowTriggerRouter(flows, codec, tt.flowTriggerEvents, logger),
        topics: {
          commands: t("execution-commands"), results: t("worker-results"), executions: t("executions"), jobs: t("worker-jobs"),
          control: t("worker-control"), logs: t("logs"), deadLetters: t("dead-letters"),
        },
      });
      await executor.start();
      handle.executor = executor;
      stops.push(() => executor.stop());
      // executor side: flow triggers evaluated on executions that ended
      const flowTriggers = new FlowTriggerProcessor({
        log, logger, codec, flows, topics: { events: tt.flowTriggerEvents, commands: t("execution-commands"), deadLetters: t("dead-letters") },
      });
      await flowTriggers.start();
      stops.push(() => flowTriggers.stop());
      // requests any Kafka producer (or other client of the log) publishes: one execution each
      if (config.executionRequests.enabled) {
        const requestsTopic = config.executionRequests.topic ?? `${prefix}${EXECUTION_REQUESTS_TOPIC}`;
        await log.ensureTopics([executionRequestsTopicSpec(requestsTopic, config.executionRequests.partitions, config.retention.defaultMs)]);
        const requests = new ExecutionRequestsProcessor({
          log, logger, codec, flows, defaultTenant: config.tenancy.defaultTenant,
          ...(registryUrl === undefined ? {} : { schemaRegistryUrl: registryUrl }),
          topics: { requests: requestsTopic, commands: t("execution-commands"), deadLetters: t("dead-letters") },
        });
        await requests.start();
        stops.push(() => requests.stop());
      }
    }
    if (wanted.has("scheduler")) {
      const scheduler = new Scheduler({
        log, logger, codec, topics: { triggers: t("triggers"), flows: t("flows"), commands: t("execution-commands"), deadLetters: t("dead-letters"), executions: t("executions") },
      });
      await scheduler.start();
      handle.scheduler = scheduler;
      stops.push(() => scheduler.stop());
      // polling triggers: dispatched to workers with a lock and a deadline, watched by a watchdog
      const polling = new PollingScheduler({ log, logger, codec, flows, topics: { evaluations: tt.evaluations, results: tt.results, commands: t("execution-commands") } });
      await polling.start();
      stops.push(() => polling.stop());
      // realtime Kafka triggers: one consumer per deployed trigger, following deployments
      const kafkaTriggers = new KafkaTriggerRunner({ log, logger, codec, flows, topics: { commands: t("execution-commands") } });
      await kafkaTriggers.start();
      stops.push(() => kafkaTriggers.stop());
    }
    if (wanted.has("worker")) {
      const worker = new Worker({
        log, logger, storage, codec, threads: config.worker.threads, heartbeatIntervalMs: config.liveness.heartbeatIntervalMs, topicPrefix: prefix,
        ...(config.worker.group ? { group: config.worker.group } : {}),
        ...(opts.workerId ? { workerId: opts.workerId } : {}),
      });
      await worker.start();
      handle.worker = worker;
      const triggerWorker = new TriggerWorker({ log, logger, codec, topics: { evaluations: tt.evaluations, results: tt.results } });
      await triggerWorker.start();
      stops.push(() => triggerWorker.stop());
      const timeoutMs = opts.workerStopTimeoutMs ?? 15_000;
      stops.push(async () => {
        const { handedBack } = await worker.stop({ graceful: true, timeoutMs });
        if (handedBack > 0) logger.warn({ handedBack }, "worker stopped with attempts handed back; liveness resubmits them");
      });
    }
    if (wanted.has("webserver") && handle.repository) {
      const webserver = new Webserver({
        config, log, repository: handle.repository, logger, codec, storage, changes,
        topics: { commands: t("execution-commands"), flows: t("flows"), executions: t("executions"), logs: t("logs"), access: `${prefix}access` },
        // The embedded log is read in memory: new executions find their flow without a query.
        ...(config.backend === "embedded" ? { flows } : {}),
      });
      handle.url = await webserver.start();
      handle.webserver = webserver;
      stops.push(() => webserver.stop());
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    config, log, logger, roles: [...wanted], url: handle.url,
    executor: handle.executor, worker: handle.worker, liveness: handle.liveness, scheduler: handle.scheduler, indexer: handle.indexer,
    webserver: handle.webserver, repository: handle.repository,
    stop: () => (stopping ??= stopAll()),
  };
}
