/**
 * A running Webserver (port 0) over an embedded Log in a temp dir, the memory repository and an
 * Indexer; `runCommands()` plays the executor's part by folding every CreateExecution appended by
 * the API through the real reducer (the test harness) and appending the events it records to
 * `executions`, where the Indexer picks them up like in a server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webserver } from "../../../api/server.js";
import type { Config } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import type { CreateExecutionCommand } from "../../../processors/executor/inputs.js";
import { decodeCommand, encodeEvent } from "../../../processors/executor/shell/records.js";
import { Indexer } from "../../../projections/indexer.js";
import { MemoryRepository } from "../../../projections/memory/memory-repository.js";
import { LocalStorage } from "../../../storage/local-storage.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";

export class ApiFixture {
  readonly dir = mkdtempSync(join(tmpdir(), "lanner-api-"));
  log!: Log;
  readonly repository = new MemoryRepository();
  storage!: LocalStorage;
  webserver!: Webserver;
  indexer!: Indexer;
  url = "";
  /** Next offset of each execution-commands partition already played. */
  private positions: bigint[] = [];
  readonly harness = new ExecutorHarness();

  /** `config`: tenancy, auth and API limits of the webserver (default: one tenant, no authentication). */
  constructor(private readonly config: Partial<Pick<Config, "tenancy" | "auth" | "api">> = {}) {}

  async start(): Promise<this> {
    this.log = await EmbeddedLog.open({ dataDir: join(this.dir, "data") });
    await this.log.ensureTopics(topicCatalogue({ executionPartitions: 2 }).specs());
    this.storage = new LocalStorage(this.dir);
    const logger = silentLogger();
    this.webserver = new Webserver({
      config: { host: "127.0.0.1", port: 0, dataDir: this.dir, ...this.config }, log: this.log, repository: this.repository, logger, codec: codec, storage: this.storage,
    });
    this.indexer = new Indexer({ log: this.log, repository: this.repository, logger, codec: codec });
    await this.indexer.start();
    this.url = await this.webserver.start();
    return this;
  }

  /** The CreateExecution commands appended since the last call. */
  async newCommands(): Promise<CreateExecutionCommand[]> {
    const out: CreateExecutionCommand[] = [];
    const n = this.log.partitionsOf("execution-commands");
    while (this.positions.length < n) this.positions.push(0n);
    for (let p = 0; p < n; p++) {
      for await (const rec of this.log.readPartition("execution-commands", p, this.positions[p])) {
        this.positions[p] = rec.offset + 1n;
        const c = decodeCommand(codec, rec.value);
        if (c.kind === "execution" && c.input.type === "CreateExecution") out.push(c.input);
      }
    }
    return out;
  }

  /** Waits (bounded) for one new CreateExecution command. */
  async nextCommand(): Promise<CreateExecutionCommand> {
    for (let i = 0; i < 1_000; i++) {
      const [c] = await this.newCommands();
      if (c) return c;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("no CreateExecution command was appended");
  }

  /** Runs a command through the reducer (scripted worker) and appends its events to `executions`. */
  async play(cmd: CreateExecutionCommand): Promise<void> {
    this.harness.send(cmd);
    this.harness.runTimersUntil(() => this.harness.isDone(cmd.executionId));
    const events = this.harness.events(cmd.executionId);
    await this.log.append(events.map((e) => ({ topic: "executions", key: e.executionId, value: encodeEvent(codec, e) })));
  }

  async stop(): Promise<void> {
    await this.webserver.stop();
    await this.indexer.stop();
    await this.log.close();
    await this.repository.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
