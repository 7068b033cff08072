import { afterEach, describe, expect, it } from "vitest";
import { registry } from "../../../tasks/registry.js";
import { storageConcatTask } from "../../../tasks/runnable/storage/storage-concat.js";
import { storageDeleteTask } from "../../../tasks/runnable/storage/storage-delete.js";
import { purgeCurrentExecutionFilesTask } from "../../../tasks/runnable/storage/storage-purge-execution.js";
import { storageReverseTask } from "../../../tasks/runnable/storage/storage-reverse.js";
import { storageSizeTask } from "../../../tasks/runnable/storage/storage-size.js";
import { MAX_SPLIT_FILES, parseReadableBytes, storageSplitTask } from "../../../tasks/runnable/storage/storage-split.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { parseFlow } from "../../../schemas/flow-parser.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

const P = "io.kestra.plugin.core.storage.";
const EXEC = "main/company/team/flow1/executions/exec1";
let run: TestRun;
afterEach(async () => {
  await run.cleanup();
});

/** Puts a file under the test execution's storage; returns its URI. */
async function put(name: string, content: string | Buffer): Promise<string> {
  return run.storage.put(`${EXEC}/${name}`, typeof content === "string" ? Buffer.from(content) : content);
}

async function text(uri: unknown): Promise<string> {
  return (await readFileBytes(run.storage, uri as string)).toString("utf8");
}

describe("storage task registry", () => {
  it("resolves every storage task by its Kestra name and older alias", async () => {
    run = await makeRunContext();
    for (const [name, def] of [
      ["Delete", storageDeleteTask], ["Size", storageSizeTask], ["Concat", storageConcatTask],
      ["Split", storageSplitTask], ["Reverse", storageReverseTask], ["PurgeCurrentExecutionFiles", purgeCurrentExecutionFilesTask],
    ] as const) {
      expect(registry.resolve(`${P}${name}`)).toBe(def);
    }
    expect(registry.resolve("io.kestra.core.tasks.storages.Concat")).toBe(storageConcatTask);
    expect(registry.resolve("io.kestra.core.tasks.storages.PurgeExecution")).toBe(purgeCurrentExecutionFilesTask);
  });
});

describe("storage Delete", () => {
  it("deletes a file of the execution and says so", async () => {
    run = await makeRunContext();
    const uri = await put("a.txt", "x");
    run.ctx.vars.f = uri;
    const res = await runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri: "{{ f }}" }, run.ctx);
    expect(res.outputs).toEqual({ uri, deleted: true });
    expect(await run.storage.exists(uri)).toBe(false);
  });

  it("reports deleted=false for a missing file, or fails with errorOnMissing", async () => {
    run = await makeRunContext();
    const uri = `lanner:///${EXEC}/missing.txt`;
    const res = await runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri }, run.ctx);
    expect(res.outputs).toEqual({ uri, deleted: false });
    const err = await rejection(runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri, errorOnMissing: "{{ true }}" }, run.ctx));
    expect(err.code).toBe("STORAGE_NOT_FOUND");
    expect(err.message).toContain(uri);
  });

  it("refuses another execution's file, another tenant's, a path escape and a non-storage URI", async () => {
    run = await makeRunContext();
    const other = await run.storage.put("main/company/team/flow1/executions/exec2/b.txt", Buffer.from("keep"));
    const denied = await rejection(runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri: other }, run.ctx));
    expect(denied.code).toBe("STORAGE_ACCESS_DENIED");
    expect(await run.storage.exists(other)).toBe(true);
    const tenant = await rejection(runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri: "lanner:///other/company/x.txt" }, run.ctx));
    expect(tenant.code).toBe("STORAGE_ACCESS_DENIED");
    const escape = await rejection(runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri: `lanner:///${EXEC}/%2e%2e/%2e%2e/b.txt` }, run.ctx));
    expect(escape.code).toBe("TASK_INVALID_PROPERTY");
    expect(escape.message).toMatch(/^uri: .*"\.\." segment/);
    const file = await rejection(runTask(storageDeleteTask, { id: "d", type: `${P}Delete`, uri: "file:///etc/passwd" }, run.ctx));
    expect(file.code).toBe("TASK_INVALID_PROPERTY");
  });
});

describe("storage Size", () => {
  it("counts the bytes of a file (multi-byte characters count as their bytes)", async () => {
    run = await makeRunContext();
    const uri = await put("s.txt", "héllo\n");
    const res = await runTask(storageSizeTask, { id: "s", type: `${P}Size`, uri }, run.ctx);
    expect(res.outputs).toEqual({ size: 7 });
  });

  it("reads another execution's file of the same tenant, not another tenant's, and fails on a missing one", async () => {
    run = await makeRunContext();
    const other = await run.storage.put("main/company/team/other/executions/e9/x.bin", Buffer.alloc(1000));
    expect((await runTask(storageSizeTask, { id: "s", type: `${P}Size`, uri: other }, run.ctx)).outputs).toEqual({ size: 1000 });
    const foreign = await run.storage.put("acme/company/x.bin", Buffer.alloc(3));
    expect((await rejection(runTask(storageSizeTask, { id: "s", type: `${P}Size`, uri: foreign }, run.ctx))).code).toBe("STORAGE_ACCESS_DENIED");
    expect((await rejection(runTask(storageSizeTask, { id: "s", type: `${P}Size`, uri: `lanner:///${EXEC}/none` }, run.ctx))).code).toBe("STORAGE_NOT_FOUND");
  });
});

describe("storage Concat", () => {
  it("joins files in order with the separator after each, in a new file with the extension", async () => {
    run = await makeRunContext();
    const a = await put("a.txt", "one");
    const b = await put("b.txt", "two");
    run.ctx.vars.a = a;
    const res = await runTask(storageConcatTask, { id: "c", type: `${P}Concat`, files: ["{{ a }}", b], separator: "\n", extension: ".txt" }, run.ctx);
    const uri = res.outputs?.uri as string;
    expect(uri).toMatch(new RegExp(`^lanner:///${EXEC}/tasks/c/tr1/[0-9a-f-]+\\.txt$`));
    expect(await text(uri)).toBe("one\ntwo\n");
  });

  it("takes a JSON string of URIs, defaults to no separator and .tmp", async () => {
    run = await makeRunContext();
    const a = await put("a.txt", "A");
    const b = await put("b.txt", "B");
    run.ctx.vars.list = [a, b, a];
    const res = await runTask(storageConcatTask, { id: "c", type: `${P}Concat`, files: "{{ list | json }}" }, run.ctx);
    expect(res.outputs?.uri).toMatch(/\.tmp$/);
    expect(await text(res.outputs?.uri)).toBe("ABA");
  });

  it("names the bad entry, and writes nothing when a file is missing", async () => {
    run = await makeRunContext();
    const a = await put("a.txt", "A");
    const bad = await rejection(runTask(storageConcatTask, { id: "c", type: `${P}Concat`, files: [a, "not-a-uri"] }, run.ctx));
    expect(bad.code).toBe("TASK_INVALID_PROPERTY");
    expect(bad.message).toMatch(/^files\[1\]: expected an internal storage URI/);
    const notJson = await rejection(runTask(storageConcatTask, { id: "c", type: `${P}Concat`, files: "{{ 'nope' }}" }, run.ctx));
    expect(notJson.message).toMatch(/^files: expected a list/);
    const missing = await rejection(runTask(storageConcatTask, { id: "c", type: `${P}Concat`, files: [a, `lanner:///${EXEC}/gone.txt`] }, run.ctx));
    expect(missing.code).toBe("STORAGE_NOT_FOUND");
    expect(await run.storage.list(`${EXEC}/tasks`)).toEqual([]);
  });
});

describe("storage Split", () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `line${i + 1}`).join("\n") + "\n";

  it("splits by rows, keeping the source's extension", async () => {
    run = await makeRunContext();
    const from = await put("data.csv", lines(5));
    const res = await runTask(storageSplitTask, { id: "s", type: `${P}Split`, from, rows: 2 }, run.ctx);
    const uris = res.outputs?.uris as string[];
    expect(uris).toHaveLength(3);
    for (const u of uris) expect(u).toMatch(/\.csv$/);
    expect(await Promise.all(uris.map(text))).toEqual(["line1\nline2\n", "line3\nline4\n", "line5\n"]);
  });

  it("splits by bytes (a new file once one reaches the size) with a custom separator", async () => {
    run = await makeRunContext();
    const from = await put("data.txt", "aaaa\r\nbbbb\r\ncccc\r\n");
    const res = await runTask(storageSplitTask, { id: "s", type: `${P}Split`, from, bytes: "8", separator: ";" }, run.ctx);
    const uris = res.outputs?.uris as string[];
    expect(await Promise.all(uris.map(text))).toEqual(["aaaa;bbbb;", "cccc;"]);
  });

  it("splits into partitions round-robin, every partition a file", async () => {
    run = await makeRunContext();
    const from = await put("data.txt", lines(5));
    const res = await runTask(storageSplitTask, { id: "s", type: `${P}Split`, from, partitions: "{{ 3 }}" }, run.ctx);
    const uris = res.outputs?.uris as string[];
    expect(await Promise.all(uris.map(text))).toEqual(["line1\nline4\n", "line2\nline5\n", "line3\n"]);
    const empty = await put("empty.txt", "");
    const none = await runTask(storageSplitTask, { id: "s", type: `${P}Split`, from: empty, rows: 10 }, run.ctx);
    expect(none.outputs).toEqual({ uris: [] });
  });

  it("reads readable sizes in powers of 1024 and refuses nonsense", () => {
    expect(parseReadableBytes("10KB")).toBe(10_240);
    expect(parseReadableBytes("1mb")).toBe(1024 ** 2);
    expect(parseReadableBytes(512)).toBe(512);
    expect(() => parseReadableBytes("ten")).toThrow(/^bytes: expected a size such as 10KB/);
    expect(() => parseReadableBytes("0KB")).toThrow(/bytes/);
  });

  it("requires exactly one of bytes, partitions or rows (a flow error with line:column)", () => {
    const flow = (props: string) => parseFlow(`id: f\nnamespace: company.team\ntasks:\n  - id: s\n    type: ${P}Split\n    from: "lanner:///x"\n${props}`);
    const none = flow("");
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.errors[0].message).toContain("one of bytes, partitions or rows is required");
    const two = flow("    rows: 2\n    bytes: 10KB\n");
    expect(two.ok).toBe(false);
    if (!two.ok) {
      expect(two.errors[0].message).toContain("only one of bytes, partitions or rows may be set");
      expect(two.errors[0].line).toBe(7);
    }
    expect(flow("    rows: 2\n").ok).toBe(true);
  });

  it("bounds partitions and the number of files written", async () => {
    run = await makeRunContext();
    const from = await put("big.txt", lines(MAX_SPLIT_FILES + 1));
    const err = await rejection(runTask(storageSplitTask, { id: "s", type: `${P}Split`, from, rows: 1 }, run.ctx));
    expect(err.code).toBe("STORAGE_SPLIT_TOO_MANY_FILES");
    expect(await run.storage.list(`${EXEC}/tasks`)).toEqual([]);
    const many = await rejection(runTask(storageSplitTask, { id: "s", type: `${P}Split`, from, partitions: 100_000 }, run.ctx));
    expect(many.message).toMatch(/^partitions: expected a whole number from 1 to 1000/);
  });
});

describe("storage Reverse", () => {
  it("reverses the lines, each followed by the separator, same extension", async () => {
    run = await makeRunContext();
    const from = await put("n.txt", "1\n2\r\n3\n");
    const res = await runTask(storageReverseTask, { id: "r", type: `${P}Reverse`, from }, run.ctx);
    expect(res.outputs?.uri).toMatch(/\.txt$/);
    expect(await text(res.outputs?.uri)).toBe("3\n2\n1\n");
    const noFinal = await put("m.txt", "a\nb");
    const sep = await runTask(storageReverseTask, { id: "r", type: `${P}Reverse`, from: noFinal, separator: "," }, run.ctx);
    expect(await text(sep.outputs?.uri)).toBe("b,a,");
  });

  it("reads and writes in the charset, and refuses an unknown one", async () => {
    run = await makeRunContext();
    const from = await put("l.txt", Buffer.from("é\nà\n", "latin1"));
    const res = await runTask(storageReverseTask, { id: "r", type: `${P}Reverse`, from, charset: "ISO-8859-1" }, run.ctx);
    expect((await readFileBytes(run.storage, res.outputs?.uri as string)).toString("latin1")).toBe("à\né\n");
    const err = await rejection(runTask(storageReverseTask, { id: "r", type: `${P}Reverse`, from, charset: "EBCDIC" }, run.ctx));
    expect(err.message).toMatch(/^charset: expected one of/);
  });
});

describe("storage PurgeCurrentExecutionFiles", () => {
  it("deletes every file of the current execution and only those", async () => {
    run = await makeRunContext();
    const a = await put("inputs/f/a.txt", "a");
    const b = await put("tasks/t/tr0/b.txt", "b");
    const other = await run.storage.put("main/company/team/flow1/executions/exec2/c.txt", Buffer.from("c"));
    const res = await runTask(purgeCurrentExecutionFilesTask, { id: "p", type: `${P}PurgeCurrentExecutionFiles` }, run.ctx);
    expect(res.outputs).toEqual({ uris: [a, b].sort() });
    expect(await run.storage.list(EXEC)).toEqual([]);
    expect(await run.storage.exists(other)).toBe(true);
    const again = await runTask(purgeCurrentExecutionFilesTask, { id: "p", type: `${P}PurgeCurrentExecutionFiles` }, run.ctx);
    expect(again.outputs).toEqual({ uris: [] });
  });
});
