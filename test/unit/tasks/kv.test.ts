import { afterEach, describe, expect, it } from "vitest";
import { registry } from "../../../tasks/registry.js";
import { kvDeleteTask, kvGetKeysTask, kvGetTask, kvSetTask } from "../../../tasks/runnable/kv/index.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

let run: TestRun;
afterEach(async () => {
  await run.cleanup();
});

const own = { tenantId: "main", namespace: "company.team" };

describe("KV tasks", () => {
  it("are registered under Kestra's type names", async () => {
    run = await makeRunContext();
    expect(registry.resolve("io.kestra.plugin.core.kv.Set")).toBe(kvSetTask);
    expect(registry.resolve("io.kestra.plugin.core.kv.Get")).toBe(kvGetTask);
    expect(registry.resolve("io.kestra.plugin.core.kv.Delete")).toBe(kvDeleteTask);
    expect(registry.resolve("io.kestra.plugin.core.kv.GetKeys")).toBe(kvGetKeysTask);
    expect(kvSetTask.properties.safeParse({ id: "s", type: kvSetTask.types[0], key: "k" }).success).toBe(false);
    expect(kvSetTask.properties.safeParse({ id: "s", type: kvSetTask.types[0], key: "k", value: "v", description: "task doc", kvDescription: "kv doc" }).success).toBe(true);
  });

  it("Set stores in the flow's namespace by default, outside the execution's files, and Get reads it back", async () => {
    run = await makeRunContext({ vars: { inputs: { who: "ann" } } });
    expect(await runTask(kvSetTask, { id: "s", type: kvSetTask.types[0], key: "greeting", value: "hello {{ inputs.who }}", kvDescription: "a greeting" }, run.ctx)).toEqual({});
    expect(await run.storage.list("main")).toEqual(["lanner:///main/company/team/_kv/greeting.json"]);
    const entry = await run.ctx.kv.get(own, "greeting");
    expect(entry).toMatchObject({ key: "greeting", type: "STRING", value: "hello ann", description: "a greeting" });
    expect(await runTask(kvGetTask, { id: "g", type: kvGetTask.types[0], key: "greeting" }, run.ctx)).toEqual({ outputs: { value: "hello ann" } });
  });

  it("Set keeps an expression's type, converts strings with kvType, and honours namespace, ttl and overwrite", async () => {
    run = await makeRunContext({ vars: { outputs: { prev: { body: { a: [1, 2] } } } } });
    await runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "obj", value: "{{ outputs.prev.body }}" }, run.ctx);
    expect(await run.ctx.kv.get(own, "obj")).toMatchObject({ type: "JSON", value: { a: [1, 2] } });
    await runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "n", value: "42", kvType: "NUMBER", namespace: "other.ns" }, run.ctx);
    expect(await run.ctx.kv.get({ tenantId: "main", namespace: "other.ns" }, "n")).toMatchObject({ type: "NUMBER", value: 42 });
    expect(await run.ctx.kv.get(own, "n")).toBeUndefined();
    await runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "t", value: 1, ttl: "PT1H" }, run.ctx);
    const t = await run.ctx.kv.get(own, "t");
    expect(Date.parse(t?.expirationDate ?? "") - Date.parse(t?.updateDate ?? "")).toBe(3_600_000);

    const exists = await rejection(runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "t", value: 2, overwrite: false }, run.ctx));
    expect(exists.code).toBe("KV_KEY_EXISTS");
    expect(exists.message).toContain("overwrite is false");
    const badType = await rejection(runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "x", value: "1", kvType: "INTEGER" }, run.ctx));
    expect(badType.message).toBe('kvType: expected one of STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON, got "INTEGER"');
    const badValue = await rejection(runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "x", value: "abc", kvType: "NUMBER" }, run.ctx));
    expect(badValue.code).toBe("KV_VALUE_INVALID");
    const badKey = await rejection(runTask(kvSetTask, { id: "s", type: "io.kestra.plugin.core.kv.Set", key: "bad key", value: "v" }, run.ctx));
    expect(badKey.code).toBe("KV_KEY_INVALID");
  });

  it("Get gives no value for a missing key, or fails with errorOnMissing", async () => {
    run = await makeRunContext();
    expect(await runTask(kvGetTask, { id: "g", type: "io.kestra.plugin.core.kv.Get", key: "nope" }, run.ctx)).toEqual({ outputs: {} });
    const err = await rejection(runTask(kvGetTask, { id: "g", type: "io.kestra.plugin.core.kv.Get", key: "nope", errorOnMissing: true }, run.ctx));
    expect(err.code).toBe("KV_KEY_NOT_FOUND");
    expect(err.message).toBe("No value found for key 'nope' in namespace 'company.team' and `errorOnMissing` is set to true");
  });

  it("Delete reports whether it deleted, and fails on a missing key only with errorOnMissing", async () => {
    run = await makeRunContext();
    await run.ctx.kv.put(own, "k", { type: "STRING", value: "v" });
    expect(await runTask(kvDeleteTask, { id: "d", type: "io.kestra.plugin.core.kv.Delete", key: "k" }, run.ctx)).toEqual({ outputs: { deleted: true } });
    expect(await runTask(kvDeleteTask, { id: "d", type: "io.kestra.plugin.core.kv.Delete", key: "k" }, run.ctx)).toEqual({ outputs: { deleted: false } });
    const err = await rejection(runTask(kvDeleteTask, { id: "d", type: "io.kestra.plugin.core.kv.Delete", key: "k", errorOnMissing: "{{ true }}" }, run.ctx));
    expect(err.code).toBe("KV_KEY_NOT_FOUND");
  });

  it("GetKeys lists the namespace's keys, by prefix", async () => {
    run = await makeRunContext();
    for (const k of ["app_b", "app_a", "other"]) await run.ctx.kv.put(own, k, { type: "STRING", value: k });
    await run.ctx.kv.put({ tenantId: "main", namespace: "company" }, "app_parent", { type: "STRING", value: "p" });
    expect(await runTask(kvGetKeysTask, { id: "k", type: "io.kestra.plugin.core.kv.GetKeys" }, run.ctx)).toEqual({ outputs: { keys: ["app_a", "app_b", "other"] } });
    expect(await runTask(kvGetKeysTask, { id: "k", type: "io.kestra.plugin.core.kv.GetKeys", prefix: "app" }, run.ctx)).toEqual({ outputs: { keys: ["app_a", "app_b"] } });
    expect(await runTask(kvGetKeysTask, { id: "k", type: "io.kestra.plugin.core.kv.GetKeys", namespace: "company" }, run.ctx)).toEqual({ outputs: { keys: ["app_parent"] } });
  });
});
