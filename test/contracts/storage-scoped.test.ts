import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../storage/memory-storage.js";
import { ScopedStorage } from "../../storage/scoped-storage.js";
import { executionPrefix, flowPrefix, taskRunPrefix, toStorageUri } from "../../storage/paths.js";
import { readFileBytes } from "../../storage/read-all.js";
import { LannerError } from "../../common/errors.js";

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  const err: unknown =
    typeof p === "function"
      ? (() => {
          try {
            p();
            return undefined;
          } catch (e) {
            return e;
          }
        })()
      : await p.then(
          () => undefined,
          (e: unknown) => e,
        );
  return err instanceof LannerError ? err.code : undefined;
}

const ids = { tenantId: "main", namespace: "company.team", flowId: "hello", executionId: "ex1" };

describe("storage paths", () => {
  it("lays out tenant / namespace / flow / execution", () => {
    expect(flowPrefix(ids)).toBe("main/company/team/hello");
    expect(executionPrefix(ids)).toBe("main/company/team/hello/executions/ex1");
    expect(taskRunPrefix({ ...ids, taskId: "t1", taskRunId: "tr1" })).toBe("main/company/team/hello/executions/ex1/tasks/t1/tr1");
    expect(toStorageUri("a/b c")).toBe("lanner:///a/b%20c");
  });

  it("refuses ids that would reshape the layout", async () => {
    expect(await codeOf(() => executionPrefix({ ...ids, executionId: "../x" }))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(() => executionPrefix({ ...ids, executionId: "a/b" }))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(() => flowPrefix({ ...ids, namespace: "a..b" }))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(() => flowPrefix({ ...ids, tenantId: "" }))).toBe("STORAGE_PATH_INVALID");
  });
});

describe("ScopedStorage", () => {
  function setup() {
    const inner = new MemoryStorage();
    const scoped = new ScopedStorage(inner, executionPrefix(ids));
    return { inner, scoped };
  }

  it("resolves relative paths under the execution prefix", async () => {
    const { inner, scoped } = setup();
    const uri = await scoped.put("tasks/t1/out.txt", Buffer.from("x"));
    expect(uri).toBe("lanner:///main/company/team/hello/executions/ex1/tasks/t1/out.txt");
    expect(await inner.exists(uri)).toBe(true);
    expect(await scoped.exists("tasks/t1/out.txt")).toBe(true);
    expect(await scoped.exists(uri)).toBe(true);
    expect(await scoped.list("")).toEqual([uri]);
    expect(scoped.rootUri).toBe("lanner:///main/company/team/hello/executions/ex1");
  });

  it("reads other files of the same tenant by URI, never another tenant's", async () => {
    const { inner, scoped } = setup();
    const same = await inner.put("main/other/flow/executions/e9/f.txt", Buffer.from("same tenant"));
    const other = await inner.put("acme/company/team/hello/executions/ex1/f.txt", Buffer.from("other tenant"));
    expect((await readFileBytes(scoped, same)).toString()).toBe("same tenant");
    expect(await codeOf(scoped.get(other))).toBe("STORAGE_ACCESS_DENIED");
    expect(await codeOf(scoped.exists(other))).toBe("STORAGE_ACCESS_DENIED");
    expect(await codeOf(scoped.list("lanner:///acme"))).toBe("STORAGE_ACCESS_DENIED");
    expect(await codeOf(scoped.list("lanner:///"))).toBe("STORAGE_ACCESS_DENIED");
  });

  it("writes and deletes only under its own prefix", async () => {
    const { inner, scoped } = setup();
    const same = await inner.put("main/other/flow/executions/e9/f.txt", Buffer.from("keep"));
    expect(await codeOf(scoped.put(same, Buffer.from("overwrite")))).toBe("STORAGE_ACCESS_DENIED");
    expect(await codeOf(scoped.delete(same))).toBe("STORAGE_ACCESS_DENIED");
    expect(await codeOf(scoped.put("lanner:///main/company/team/hello/executions/ex1", Buffer.from("x")))).toBe(
      "STORAGE_ACCESS_DENIED",
    );
    expect(await codeOf(scoped.put("lanner:///main/company/team/hello/executions/ex10/f", Buffer.from("x")))).toBe(
      "STORAGE_ACCESS_DENIED",
    );
    const own = await scoped.put("lanner:///main/company/team/hello/executions/ex1/own.txt", Buffer.from("ok"));
    expect(await scoped.delete(own)).toBe(true);
    expect((await readFileBytes(inner, same)).toString()).toBe("keep");
  });

  it("rejects relative paths that climb out of the prefix", async () => {
    const { scoped } = setup();
    expect(await codeOf(scoped.put("../ex2/f.txt", Buffer.from("x")))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(scoped.get("a/../../f"))).toBe("STORAGE_PATH_INVALID");
  });
});
