/**
 * The webserver role: Kestra's REST paths and JSON shapes (COMPATIBILITY.md) over the repository
 * (reads) and the log (flow deployments on `flows`, execution commands on `execution-commands`).
 */
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../cli/config.js";
import type { RecordCodec } from "../processors/executor/shell/records.js";
import type { Repository } from "../projections/repository.js";
import { LocalStorage } from "../storage/local-storage.js";
import type { Storage } from "../storage/storage.js";
import type { Log } from "../topology/log.js";
import { DEFAULT_WEBSERVER_TOPICS, type ApiContext, type WebserverTopics } from "./context.js";
import { CreatedCache } from "./created-cache.js";
import { installErrorHandlers } from "./http-errors.js";
import { registerExecutionRoutes } from "./routes/executions.js";
import { registerFlowRoutes } from "./routes/flows.js";
import { registerLogRoutes } from "./routes/logs.js";
import { registerTriggerRoutes } from "./routes/triggers.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";

export interface WebserverOptions {
  /** `host` and `port` to listen on (port 0: any free port); `dataDir` for the default storage. */
  config: Pick<Config, "host" | "port" | "dataDir">;
  log: Log;
  repository: Repository;
  logger: Logger;
  /** Record codec (the same the executor reads with). */
  codec: RecordCodec;
  /** Internal storage for FILE inputs; default a LocalStorage at `<dataDir>/storage`. */
  storage?: Storage;
  topics?: Partial<WebserverTopics>;
  /** Tenant of every request; default `main`. */
  tenantId?: string;
  /** Longest wait of `?wait=true` before answering the current state (ms); default 10 minutes. */
  waitTimeoutMs?: number;
  /** Largest FILE input (bytes); default 100 MiB. */
  maxFileBytes?: number;
}

export class Webserver {
  private app: FastifyInstance | undefined;
  private baseUrl: string | undefined;
  private readonly logger: Logger;
  private shutdown = new AbortController();

  constructor(private readonly opts: WebserverOptions) {
    this.logger = opts.logger.child({ role: "webserver" });
  }

  /** The base URL (`http://host:port`) once started. */
  get url(): string {
    if (!this.baseUrl) throw new Error("the webserver is not started");
    return this.baseUrl;
  }

  /** Listens on the configured host and port; resolves with the base URL. */
  async start(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const { config } = this.opts;
    let storage = this.opts.storage;
    if (!storage) {
      const root = join(config.dataDir, "storage");
      await mkdir(root, { recursive: true });
      storage = new LocalStorage(root);
    }
    const ctx: ApiContext = {
      log: this.opts.log,
      repository: this.opts.repository,
      logger: this.logger,
      codec: this.opts.codec,
      storage,
      topics: { ...DEFAULT_WEBSERVER_TOPICS, ...this.opts.topics },
      tenantId: this.opts.tenantId ?? "main",
      waitTimeoutMs: this.opts.waitTimeoutMs ?? 10 * 60_000,
      maxFileBytes: this.opts.maxFileBytes ?? 100 * 1024 * 1024,
      created: new CreatedCache(),
      shutdown: this.shutdown.signal,
    };
    // Fastify's own request logging is off: errors are logged by the error handler.
    const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
    installErrorHandlers(app, this.logger);
    await app.register(multipart, { limits: { fileSize: ctx.maxFileBytes } });
    app.get("/api/v1/health", async () => ({ status: "UP" }));
    registerFlowRoutes(app, ctx);
    registerExecutionRoutes(app, ctx);
    registerLogRoutes(app, ctx);
    registerTriggerRoutes(app, { ...ctx, topic: ctx.topics.flows.replace(/flows$/, "triggers"), tenantOf: () => ctx.tenantId });
    registerWebhookRoutes(app, { ...ctx, commandsTopic: ctx.topics.commands, tenantOf: () => ctx.tenantId });
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    this.app = app;
    this.baseUrl = `http://${host}:${addr.port}`;
    this.logger.info({ url: this.baseUrl }, "webserver listening");
    return this.baseUrl;
  }

  /** Stops listening; in-flight requests finish first. */
  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    this.baseUrl = undefined;
    // Requests waiting for an execution to end answer what they have now.
    this.shutdown.abort();
    this.shutdown = new AbortController();
    if (app) await app.close();
  }
}
