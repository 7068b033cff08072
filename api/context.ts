import type { Logger } from "pino";
import type { HistoryReader } from "../projections/history.js";
import { INDEXER_GROUP } from "../projections/indexer.js";
import type { RecordCodec } from "../processors/executor/shell/records.js";
import type { Repository } from "../projections/repository.js";
import type { FlowResolver } from "../processors/executor/shell/flow-resolver.js";
import type { Storage } from "../storage/storage.js";
import type { Log } from "../topology/log.js";
import type { AccessStore } from "./access-store.js";
import type { ChangeFeed } from "./change-feed.js";
import type { CreatedCache } from "./created-cache.js";

/** Names of the topics the webserver appends to and follows. */
export interface WebserverTopics {
  commands: string;
  flows: string;
  /** Execution events, read for live follow and the event history. */
  executions: string;
  /** Log lines, read for live log follow. */
  logs: string;
  /** Run-time tenants, users and tokens. */
  access: string;
}

export const DEFAULT_WEBSERVER_TOPICS: WebserverTopics = {
  commands: "execution-commands", flows: "flows", executions: "executions", logs: "logs", access: "access",
};

/** The consumer group whose committed offsets say what the read side already holds. */
export const INDEXER_GROUP_NAME = INDEXER_GROUP;

/** What every route needs. */
export interface ApiContext {
  log: Log;
  repository: Repository;
  /** Execution event histories and time travel, read from the `executions` topic. */
  history: HistoryReader;
  logger: Logger;
  codec: RecordCodec;
  storage: Storage;
  topics: WebserverTopics;
  /** The tenant of every request when multi-tenancy is off. */
  tenantId: string;
  /** Multi-tenancy on: routes carry the tenant in their path. */
  tenancy: boolean;
  /** Tenants, users and tokens created at run time. */
  access: AccessStore;
  /** Wakes live followers when the read side or the log moves. */
  changes: ChangeFeed;
  /** Longest `?wait=true` wait (ms). */
  waitTimeoutMs: number;
  /** Largest accepted FILE input (bytes). */
  maxFileBytes: number;
  created: CreatedCache;
  /** Aborted when the webserver stops: long waits answer at once. */
  shutdown: AbortSignal;
  /** Deployed flows read from the `flows` topic in memory, when the log makes that cheap (see `WebserverOptions.flows`). */
  flows?: FlowResolver;
}
