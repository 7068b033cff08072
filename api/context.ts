import type { Logger } from "pino";
import type { RecordCodec } from "../processors/executor/shell/records.js";
import type { Repository } from "../projections/repository.js";
import type { Storage } from "../storage/storage.js";
import type { Log } from "../topology/log.js";
import type { CreatedCache } from "./created-cache.js";

/** Names of the topics the webserver appends to. */
export interface WebserverTopics {
  commands: string;
  flows: string;
}

export const DEFAULT_WEBSERVER_TOPICS: WebserverTopics = { commands: "execution-commands", flows: "flows" };

/** What every route needs. */
export interface ApiContext {
  log: Log;
  repository: Repository;
  logger: Logger;
  codec: RecordCodec;
  storage: Storage;
  topics: WebserverTopics;
  /** The tenant of every request (multi-tenancy comes later). */
  tenantId: string;
  /** Longest `?wait=true` wait (ms). */
  waitTimeoutMs: number;
  /** Largest accepted FILE input (bytes). */
  maxFileBytes: number;
  created: CreatedCache;
  /** Aborted when the webserver stops: long waits answer at once. */
  shutdown: AbortSignal;
}
