/**
 * Executions keep running while Elasticsearch is unreachable; the indexer retries, reports its
 * lag, and catches up once Elasticsearch is back. Elasticsearch is made unreachable by closing a
 * TCP proxy in front of the real node (the client sees refused connections), then reopening it.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { isTerminal } from "../../../processors/executor/model.js";
import { decodeEvent, encodeCommand } from "../../../processors/executor/shell/records.js";
import { startRoles, type RolesHandle } from "../../../processors/runtime/roles.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { ElasticsearchRepository } from "../../../projections/elasticsearch/elasticsearch-repository.js";
import { Indexer } from "../../../projections/indexer.js";
import type { ExecutionQuery } from "../../../projections/repository.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { dropIndices, ensureElasticsearch, randomIndexPrefix } from "../../harness/elasticsearch.js";

const FLOW = parseFlowOrThrow(`id: down
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello from {{ execution.id }}"
  - id: value
    type: io.kestra.plugin.core.debug.Return
    format: "done"
`);

/** A TCP proxy that can be closed (connections refused, open ones cut) and reopened on its port. */
class Proxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.port = addr.port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function until<T>(f: () => Promise<T | undefined>, what: string, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("Elasticsearch down while executions run", () => {
  const prefix = randomIndexPrefix("down");
  let esUrl = "";
  let dir = "";
  let proxy: Proxy;
  let handle: RolesHandle | undefined;
  let repo: ElasticsearchRepository | undefined;
  let indexer: Indexer | undefined;

  beforeAll(async () => {
    esUrl = await ensureElasticsearch();
    const u = new URL(esUrl);
    proxy = new Proxy({ host: u.hostname, port: Number(u.port) });
    await proxy.open();
    dir = mkdtempSync(join(tmpdir(), "lanner-es-down-"));
  }, 600_000);

  afterAll(async () => {
    await indexer?.stop();
    await handle?.stop();
    await repo?.close();
    await proxy.close();
    await dropIndices(esUrl, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it("100 executions finish while Elasticsearch is away; the indexer catches up and search finds them all", async () => {
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], dir], [["partitions"], 4], [["port"], 0]] });
    handle = await startRoles(config, ["executor", "worker"], { logger: silentLogger() });
    repo = new ElasticsearchRepository({ url: `http://127.0.0.1:${proxy.port}`, prefix, requestTimeoutMs: 5_000 });
    await repo.init();
    indexer = new Indexer({ log: handle.log, repository: repo, logger: silentLogger(), codec, retryInitialMs: 50, retryMaxMs: 500 });
    await indexer.start();

    await proxy.close();
    const ids = Array.from({ length: 100 }, () => randomUUID());
    await handle.log.append(ids.map((executionId) => ({
      topic: "execution-commands", key: executionId,
      value: encodeCommand(codec, { type: "CreateExecution", executionId, flow: { ...FLOW, tenantId: "main", revision: 1 }, inputs: {}, labels: [{ key: "run", value: "down" }] }),
    })));

    // Every execution ends, read from the log itself: the executor and workers do not need the read side.
    const log = handle.log;
    await until(async () => {
      const ended = new Set<string>();
      for (let p = 0; p < log.partitionsOf("executions"); p++) {
        for await (const rec of log.readPartition("executions", p, 0n)) {
          const e = decodeEvent(codec, rec.value);
          if (e.type === "ExecutionStateChanged" && isTerminal(e.state)) ended.add(e.executionId);
        }
      }
      return ids.every((id) => ended.has(id)) ? true : undefined;
    }, "every execution to end");
    expect(indexer.stats.retries).toBeGreaterThan(0);
    expect(await indexer.lag()).toBeGreaterThan(0n);

    await proxy.open();
    const r = repo;
    await until(async () => ((await indexer?.lag()) === 0n ? true : undefined), "the lag to drain");
    await r.refreshAll();
    const q: ExecutionQuery = { tenantId: "main", labels: [{ key: "run", value: "down" }], size: 100 };
    const found = await r.searchExecutions(q);
    expect(found.total).toBe(100);
    expect(new Set(found.results.map((e) => e.id))).toEqual(new Set(ids));
    expect(found.results.every((e) => e.state.current === "SUCCESS")).toBe(true);
    expect((await r.searchExecutions({ ...q, states: ["SUCCESS"] })).total).toBe(100);
    expect((await r.searchLogs({ query: "hello", namespace: "company.team", size: 500 })).total).toBe(100);
  }, 300_000);
});
