/**
 * Test helper: a real Confluent-compatible schema registry (Apicurio Registry, in-memory storage)
 * on 127.0.0.1. `ensureSchemaRegistry()` returns the URL of its ccompat API (`…/apis/ccompat/v7`),
 * starting the registry that `scripts/apicurio.sh` runs from its cache when it is not running (and
 * fetching it with Maven the first time). LANNER_TEST_SCHEMA_REGISTRY_URL points the tests at
 * another registry instead. Suites keep apart by using their own random subject prefix.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../scripts/apicurio.sh", import.meta.url));

let url: Promise<string> | undefined;

/** The registry's Confluent-compatible API base URL, started once per test process. */
export function ensureSchemaRegistry(): Promise<string> {
  const fromEnv = process.env.LANNER_TEST_SCHEMA_REGISTRY_URL;
  if (fromEnv !== undefined && fromEnv !== "") return Promise.resolve(fromEnv);
  url ??= run("bash", [SCRIPT, "start"], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }).then(({ stdout }) => {
    const base = stdout.trim().split("\n").pop() ?? "";
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) throw new Error(`scripts/apicurio.sh start printed no URL: ${stdout}`);
    return `${base}/apis/ccompat/v7`;
  });
  return url;
}
