/**
 * The webserver role: Kestra's REST paths and JSON shapes (COMPATIBILITY.md) over the repository
 * (reads) and the log (flow deployments on `flows`, execution commands on `execution-commands`,
 * live follow from `executions` and `logs`). Routes live under `/api/v1`, or `/api/v1/{tenant}`
 * with multi-tenancy on; health, metrics, the OpenAPI document and administration stay global.
 */
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../cli/config.js";
import { LannerError } from "../common/errors.js";
import type { RecordCodec } from "../processors/executor/shell/records.js";
import { HistoryReader } from "../projections/history.js";
import type { Repository } from "../projections/repository.js";
import { LocalStorage } from "../storage/local-storage.js";
import type { FlowResolver } from "../processors/executor/shell/flow-resolver.js";
import type { Storage } from "../storage/storage.js";
import type { Log } from "../topology/log.js";
import { AccessStore } from "./access-store.js";
import { TenantIdSchema } from "./api-schemas.js";
import { ANONYMOUS_ADMIN, Authenticator, allowsTenant, isLoopbackHost, type Principal } from "./auth.js";
import { ChangeFeed } from "./change-feed.js";
import { DEFAULT_WEBSERVER_TOPICS, type ApiContext, type WebserverTopics } from "./context.js";
import { CreatedCache } from "./created-cache.js";
import { ApiError, installErrorHandlers } from "./http-errors.js";
import { installMetrics } from "./metrics.js";
import { documentRoute, OPENAPI_INFO } from "./openapi.js";
import { decorateRequests } from "./request-context.js";
import { registerAccessRoutes, RESERVED_TENANT_IDS } from "./routes/access.js";
import { registerExecutionControlRoutes } from "./routes/execution-control.js";
import { registerExecutionRoutes } from "./routes/executions.js";
import { registerFlowRoutes } from "./routes/flows.js";
import { registerFollowRoutes } from "./routes/follow.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerLogRoutes } from "./routes/logs.js";
import { registerTriggerRoutes } from "./routes/triggers.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";
import { registerNamespaceRoutes } from "./routes/namespaces.js";
import { registerKvRoutes } from "./routes/kv.js";
import { registerStatsRoutes } from "./routes/stats.js";

/** Routes anyone may call, authentication on or off (webhooks carry their own key). */
function isPublicRoute(pattern: string | undefined): boolean {
  if (pattern === undefined) return false;
  return pattern.startsWith("/api/v1/health") || pattern.startsWith("/api/docs") || pattern === "/api/v1/openapi.json" || pattern.includes("/executions/webhook/");
}

/** The principal of a public route when authentication is on: no tenant, no administration. */
const PUBLIC_CALLER: Principal = { name: "public", tenants: "*", admin: false };

export interface WebserverOptions {
  /**
   * `host` and `port` to listen on (port 0: any free port); `dataDir` for the default storage;
   * optional `tenancy`, `auth` and `api` limits (defaults: one tenant, no authentication).
   */
  config: Pick<Config, "host" | "port" | "dataDir"> & Partial<Pick<Config, "tenancy" | "auth" | "api">>;
  log: Log;
  repository: Repository;
  logger: Logger;
  /** Record codec (the same the executor reads with). */
  codec: RecordCodec;
  /** Internal storage for FILE inputs; default a LocalStorage at `<dataDir>/storage`. */
  storage?: Storage;
  topics?: Partial<WebserverTopics>;
  /** Tenant of every request when multi-tenancy is off; default `tenancy.defaultTenant`, else `main`. */
  tenantId?: string;
  /** Longest wait of `?wait=true` before answering the current state (ms); default 10 minutes. */
  waitTimeoutMs?: number;
  /** Largest FILE input (bytes); default `api.maxFileBytes`, else 100 MiB. */
  maxFileBytes?: number;
  /** Wake-ups for live follow; pass the one the in-process indexer notifies. Default: a feed nobody notifies. */
  changes?: ChangeFeed;
  /**
   * Where creating an execution looks up the flow's latest revision; default the repository.
   * Give a resolver that reads the `flows` topic where that is an in-memory read (the embedded
   * log): a create request then makes no query to the read side, which is busy indexing under
   * load. It must see every revision this webserver deployed before answering the deploy.
   */
  flows?: FlowResolver;
}

export class Webserver {
  private app: FastifyInstance | undefined;
  private baseUrl: string | undefined;
  private readonly logger: Logger;
  private shutdown = new AbortController();
  /** Wake-ups of live follows (the one given in the options, else this webserver's own). */
  readonly changes: ChangeFeed;

  constructor(private readonly opts: WebserverOptions) {
    this.logger = opts.logger.child({ role: "webserver" });
    this.changes = opts.changes ?? new ChangeFeed();
  }

  /** The base URL (`http://host:port`) once started. */
  get url(): string {
    if (!this.baseUrl) throw new Error("the webserver is not started");
    return this.baseUrl;
  }

  /** The Fastify instance once started (tests use `inject`). */
  get fastify(): FastifyInstance {
    if (!this.app) throw new Error("the webserver is not started");
    return this.app;
  }

  /**
   * Listens on the configured host and port; resolves with the base URL. Refuses (AUTH_REQUIRED)
   * to listen on a non-loopback address when no user or token is configured.
   */
  async start(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const { config } = this.opts;
    const auth = config.auth ?? { users: [], tokens: [] };
    const tenancy = config.tenancy ?? { enabled: false, defaultTenant: "main", tenants: [] };
    const authenticator = new Authenticator(auth, undefined);
    if (!authenticator.enabled && !isLoopbackHost(config.host)) {
      throw new LannerError("AUTH_REQUIRED",
        `refusing to listen on ${config.host} without authentication: configure auth.users or auth.tokens (hashes from \`lanner auth hash-secret\`), or bind to 127.0.0.1`);
    }
    let storage = this.opts.storage;
    if (!storage) {
      const root = join(config.dataDir, "storage");
      await mkdir(root, { recursive: true });
      storage = new LocalStorage(root);
    }
    const topics = { ...DEFAULT_WEBSERVER_TOPICS, ...this.opts.topics };
    const access = new AccessStore(this.opts.log, topics.access);
    await access.start();
    const ctx: ApiContext = {
      log: this.opts.log,
      repository: this.opts.repository,
      history: new HistoryReader({ log: this.opts.log, codec: this.opts.codec, topic: topics.executions }),
      logger: this.logger,
      codec: this.opts.codec,
      storage,
      topics,
      tenantId: this.opts.tenantId ?? tenancy.defaultTenant,
      tenancy: tenancy.enabled,
      access,
      changes: this.changes,
      waitTimeoutMs: this.opts.waitTimeoutMs ?? 10 * 60_000,
      maxFileBytes: this.opts.maxFileBytes ?? config.api?.maxFileBytes ?? 100 * 1024 * 1024,
      created: new CreatedCache(),
      shutdown: this.shutdown.signal,
      ...(this.opts.flows ? { flows: this.opts.flows } : {}),
    };
    const guard = new Authenticator(auth, access);
    const configTenants = [ctx.tenantId, ...tenancy.tenants];

    // Fastify's own request logging is off: errors are logged by the error handler.
    const app = Fastify({ logger: false, bodyLimit: config.api?.bodyLimitBytes ?? 10 * 1024 * 1024, maxParamLength: 1_000 });
    decorateRequests(app, ctx.tenantId);
    installErrorHandlers(app, this.logger);
    // zod validates inside the handlers (one error shape); route schemas only document.
    app.setValidatorCompiler(() => () => true);
    await app.register(swagger, { openapi: OPENAPI_INFO });
    app.addHook("onRoute", documentRoute(ctx.tenancy));
    await app.register(swaggerUi, { routePrefix: "/api/docs" });
    await app.register(multipart, { limits: { fileSize: ctx.maxFileBytes } });

    app.addHook("onRequest", async (req) => {
      if (isPublicRoute(req.routeOptions.url)) {
        req.principal = guard.enabled ? PUBLIC_CALLER : ANONYMOUS_ADMIN;
        return;
      }
      req.principal = guard.enabled ? await guard.authenticate(req.headers.authorization) : ANONYMOUS_ADMIN;
    });
    installMetrics(app, ["/metrics", "/api/v1/metrics"]);
    registerHealthRoutes(app, ctx, "/api/v1");
    registerAccessRoutes(app, ctx, configTenants);
    app.get("/api/v1/openapi.json", async () => app.swagger());

    const tenantExists = async (id: string) => configTenants.includes(id) || (await access.getTenant(id)) !== undefined;
    await app.register(async (scope) => {
      scope.addHook("onRequest", async (req: FastifyRequest) => {
        let tenant = ctx.tenantId;
        if (ctx.tenancy) {
          const raw = (req.params as { tenant?: unknown }).tenant;
          const parsed = TenantIdSchema.safeParse(raw);
          tenant = parsed.success ? parsed.data : "";
          // Unknown, reserved and forbidden tenants look the same: nothing reveals another tenant exists.
          if (!parsed.success || RESERVED_TENANT_IDS.has(tenant) || !(await tenantExists(tenant))) throw tenantNotFound(String(raw));
        }
        if (!allowsTenant(req.principal, tenant) && !isPublicRoute(req.routeOptions.url)) throw tenantNotFound(tenant);
        req.tenantId = tenant;
      });
      registerFlowRoutes(scope, ctx);
      registerExecutionControlRoutes(scope, ctx);
      registerExecutionRoutes(scope, ctx);
      registerFollowRoutes(scope, ctx);
      registerLogRoutes(scope, ctx);
      registerTriggerRoutes(scope, { ...ctx, topic: ctx.topics.flows.replace(/flows$/, "triggers"), tenantOf: (req) => req.tenantId, base: "" });
      registerWebhookRoutes(scope, { ...ctx, commandsTopic: ctx.topics.commands, tenantOf: (req) => req.tenantId, base: "" });
      registerNamespaceRoutes(scope, ctx);
      registerKvRoutes(scope, ctx);
      registerStatsRoutes(scope, ctx);
    }, { prefix: ctx.tenancy ? "/api/v1/:tenant" : "/api/v1" });

    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    this.app = app;
    this.baseUrl = `http://${host}:${addr.port}`;
    this.logger.info({ url: this.baseUrl, tenancy: ctx.tenancy, auth: guard.enabled }, "webserver listening");
    return this.baseUrl;
  }

  /** Stops listening; in-flight requests finish first, live follows end at once. */
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

function tenantNotFound(tenant: string): ApiError {
  return new ApiError(404, "TENANT_NOT_FOUND", `tenant ${tenant} not found`);
}
