/**
 * Test helper: a real Elasticsearch 8 on 127.0.0.1. `ensureElasticsearch()` answers the URL of a
 * running node — LANNER_TEST_ELASTICSEARCH_URL when set, else the node `scripts/elasticsearch.sh`
 * keeps on its port (default 9201), starting it (and fetching the distribution from Maven Central
 * the first time) when it does not answer. Each test uses its own random index prefix.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../scripts/elasticsearch.sh", import.meta.url));

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

let starting: Promise<string> | undefined;

/** The URL of a running Elasticsearch, started by the project's script when needed. */
export function ensureElasticsearch(): Promise<string> {
  starting ??= (async () => {
    const given = process.env.LANNER_TEST_ELASTICSEARCH_URL;
    if (given) return given.replace(/\/$/, "");
    const url = `http://127.0.0.1:${process.env.LANNER_ES_PORT ?? "9201"}`;
    if (await answers(url)) return url;
    // The script is idempotent and serialised by its own check; a first run downloads ~60 MB.
    const { stdout } = await run("bash", [SCRIPT, "start"], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    const started = stdout.trim().split("\n").at(-1) ?? url;
    if (!(await answers(started))) throw new Error(`Elasticsearch did not answer on ${started} after scripts/elasticsearch.sh start`);
    return started;
  })();
  starting.catch(() => {
    starting = undefined;
  });
  return starting;
}

/** A random lower-case index prefix (`lt-<hex>-`) so concurrent test files never share indices. */
export function randomIndexPrefix(name = "lt"): string {
  return `${name}-${randomBytes(5).toString("hex")}-`;
}

/** Deletes every index, alias and template that starts with `prefix`. */
export async function dropIndices(url: string, prefix: string): Promise<void> {
  await fetch(`${url}/${prefix}*?expand_wildcards=all`, { method: "DELETE" });
  await fetch(`${url}/_index_template/${prefix}*`, { method: "DELETE" });
}
