/**
 * A set of `lanner server <role>` processes on one Kafka topic prefix, with the read side on
 * Elasticsearch (the kafka backend's embedded PGlite belongs to one process, so a separate
 * indexer and webserver share Elasticsearch, as in the high-availability deployment). Each
 * process gets its own data directory: the executor's state-store copies live there.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KafkaLog } from "../../topology/kafka/kafka-log.js";
import { topicCatalogue } from "../../topology/topics.js";
import { dropIndices, ensureElasticsearch, randomIndexPrefix } from "../harness/elasticsearch.js";
import { ensureKafka, randomPrefix } from "../harness/kafka.js";
import { startLanner, type LannerProcess } from "../harness/lanner-process.js";
import { ProcessCluster, type ClusterRole } from "./helpers.js";

export type { ClusterRole } from "./helpers.js";

export class KafkaCluster extends ProcessCluster {
  private readonly dirs: string[] = [];

  private constructor(
    readonly brokers: string,
    readonly prefix: string,
    readonly elasticsearchUrl: string,
    readonly indexPrefix: string,
    readonly env: NodeJS.ProcessEnv,
  ) {
    super();
  }

  /** A fresh topic prefix on the test broker and a fresh index prefix on the test Elasticsearch. */
  static async create(name: string, env: NodeJS.ProcessEnv = {}): Promise<KafkaCluster> {
    const [brokers, esUrl] = await Promise.all([ensureKafka(), ensureElasticsearch()]);
    return new KafkaCluster(brokers, randomPrefix(name), esUrl, randomIndexPrefix(`lk${name.replace(/[^a-z0-9]/g, "")}`), env);
  }

  /** Starts `lanner server <role> --backend kafka …` and waits for its ready line. */
  async start(role: ClusterRole, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<LannerProcess> {
    const dir = mkdtempSync(join(tmpdir(), "lanner-e2e-kafka-"));
    this.dirs.push(dir);
    const args = ["server", role, "--backend", "kafka", "--kafka-brokers", this.brokers, "--kafka-prefix", this.prefix, "--data-dir", dir, ...extraArgs];
    const p = await startLanner(args, {
      env: {
        LANNER_REPOSITORY: "elasticsearch",
        LANNER_ELASTICSEARCH_URL: this.elasticsearchUrl,
        LANNER_ELASTICSEARCH_PREFIX: this.indexPrefix,
        ...this.env,
        ...env,
      },
      // joining a consumer group and creating topics on a loaded broker takes longer than on Postgres
      readyTimeoutMs: 120_000,
    });
    this.processes.push(p);
    return p;
  }

  /** A Kafka log on the cluster's prefix with the catalogue's topics known (to read them back). */
  async openLog(): Promise<KafkaLog> {
    const dir = mkdtempSync(join(tmpdir(), "lanner-e2e-kafka-reader-"));
    this.dirs.push(dir);
    const log = await KafkaLog.open({ brokers: [this.brokers], topicPrefix: this.prefix, dataDir: dir });
    await log.ensureTopics(topicCatalogue().specs());
    return log;
  }

  /** SIGKILLs every process still running, removes the data directories and the indices. */
  async dispose(): Promise<void> {
    await this.crashAll();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    await dropIndices(this.elasticsearchUrl, this.indexPrefix);
  }
}
