/**
 * The KV store through a real worker on the embedded log: the kv() expression function in any
 * runnable task's properties (preloaded before the task runs), and the KV tasks writing to the
 * namespace's store rather than to the execution's files.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Worker } from "../../../processors/worker/worker.js";
import { StorageKvStore } from "../../../storage/kv-store.js";
import { appendJobs, Collector, job, newWorker, openEnv, resultOf, type TestEnv } from "./harness.js";

let env: TestEnv | undefined;
const workers: Worker[] = [];
const collectors: Collector[] = [];

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop({ graceful: false, timeoutMs: 0 });
  for (const c of collectors.splice(0)) await c.close().catch(() => undefined);
  await env?.cleanup();
  env = undefined;
});

async function start(): Promise<{ e: TestEnv; results: Collector; kv: StorageKvStore }> {
  const e = await openEnv("embedded");
  env = e;
  const results = await Collector.on(e.log, "worker-results");
  collectors.push(results);
  const w = newWorker(e);
  workers.push(w);
  await w.start();
  return { e, results, kv: new StorageKvStore(e.storage) };
}

const own = { tenantId: "main", namespace: "company.team" };

describe("kv() and the KV tasks on a worker", () => {
  it("serves kv(key), kv(key, namespace) and kv(key, namespace, false) in task properties", async () => {
    const { e, results, kv } = await start();
    await kv.put(own, "greeting", { type: "STRING", value: "hello" });
    await kv.put(own, "settings", { type: "JSON", value: { region: "eu", size: 3 } });
    await kv.put({ tenantId: "main", namespace: "shared" }, "who", { type: "STRING", value: "ann" });
    // kv(key) looks in the flow's namespace, then its parents; the closest one wins.
    await kv.put({ tenantId: "main", namespace: "company" }, "greeting", { type: "STRING", value: "hi from the parent" });
    await kv.put({ tenantId: "main", namespace: "company" }, "motto", { type: "STRING", value: "inherited" });
    // Another tenant's key of the same name is never seen.
    await kv.put({ tenantId: "acme", namespace: "company.team" }, "secret_of_acme", { type: "STRING", value: "no" });
    const j = job({
      type: "io.kestra.plugin.core.debug.Return",
      format: "{{ kv('greeting') }} {{ kv('who', 'shared') }} in {{ kv('settings').region }} x{{ kv('settings').size + 1 }} [{{ kv('secret_of_acme', null, false) ?? 'none' }}] {{ kv('motto') }} [{{ kv('motto', 'company.team', false) ?? 'none' }}]",
    });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "SUCCESS", outputs: { value: "hello ann in eu x4 [none] inherited [none]" } });
  });

  it("fails the task with Kestra's message when kv() names a missing key", async () => {
    const { e, results } = await start();
    const j = job({ type: "io.kestra.plugin.core.log.Log", message: "{{ kv('absent') }}" });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.state).toBe("FAILED");
    expect(JSON.stringify(done.value.error)).toContain("Cannot find the KV pair 'absent'");
  });

  it("resolves a key computed from another kv() value", async () => {
    const { e, results, kv } = await start();
    await kv.put(own, "pointer", { type: "STRING", value: "target" });
    await kv.put(own, "target", { type: "NUMBER", value: 7 });
    const j = job({ type: "io.kestra.plugin.core.debug.Return", format: "{{ kv(kv('pointer')) }}" });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.outputs).toEqual({ value: "7" });
  });

  it("reads a file named by a kv() value, and refuses a key only known while the task runs", async () => {
    const { e, results, kv } = await start();
    const uri = await e.storage.put("main/company/team/flow/executions/exec-kv/f.txt", new TextEncoder().encode("from the file"));
    await kv.put(own, "file", { type: "STRING", value: uri });
    const reads = job({ type: "io.kestra.plugin.core.debug.Return", format: "{{ read(kv('file')) }}" });
    // uuid() differs between the preloading render and the real one: that key cannot have been loaded.
    const late = job({ type: "io.kestra.plugin.core.debug.Return", format: "{{ kv('k' ~ uuid(), null, false) }}" });
    await appendJobs(e.log, reads, late);
    expect((await results.waitFor(resultOf(reads, "completed")))[0].value.outputs).toEqual({ value: "from the file" });
    const [failed] = await results.waitFor(resultOf(late, "completed"));
    expect(failed.value.state).toBe("FAILED");
    expect(JSON.stringify(failed.value.error)).toContain("was not loaded before the task ran");
  });

  it("runs Set, Get, GetKeys and Delete against the namespace's store", async () => {
    const { e, results, kv } = await start();
    const set = job({ type: "io.kestra.plugin.core.kv.Set", key: "count", value: "{{ 40 + 2 }}" });
    await appendJobs(e.log, set);
    expect((await results.waitFor(resultOf(set, "completed")))[0].value.state).toBe("SUCCESS");
    expect(await kv.get(own, "count")).toMatchObject({ type: "NUMBER", value: 42 });
    expect(await e.storage.list("main/company/team/_kv")).toEqual(["lanner:///main/company/team/_kv/count.json"]);

    const get = job({ type: "io.kestra.plugin.core.kv.Get", key: "count" });
    const keys = job({ type: "io.kestra.plugin.core.kv.GetKeys", prefix: "co" });
    await appendJobs(e.log, get, keys);
    expect((await results.waitFor(resultOf(get, "completed")))[0].value.outputs).toEqual({ value: 42 });
    expect((await results.waitFor(resultOf(keys, "completed")))[0].value.outputs).toEqual({ keys: ["count"] });

    const del = job({ type: "io.kestra.plugin.core.kv.Delete", key: "count" });
    await appendJobs(e.log, del);
    expect((await results.waitFor(resultOf(del, "completed")))[0].value.outputs).toEqual({ deleted: true });
    expect(await kv.get(own, "count")).toBeUndefined();
  });
});
