import { afterEach, describe, expect, it } from "vitest";
import { sleepTask } from "../../../tasks/runnable/sleep.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

let run: TestRun;
afterEach(async () => {
  await run.cleanup();
});

describe("Sleep", () => {
  it("resolves after a short duration", async () => {
    run = await makeRunContext();
    await expect(runTask(sleepTask, { id: "s", type: "Sleep", duration: "PT0.01S" }, run.ctx)).resolves.toEqual({});
  });

  it("stops as soon as the signal aborts, long before the duration", async () => {
    run = await makeRunContext();
    const p = runTask(sleepTask, { id: "s", type: "Sleep", duration: "P1D" }, run.ctx);
    run.controller.abort();
    const err = await rejection(p);
    expect(err.code).toBe("TASK_ABORTED");
  });

  it("refuses a malformed duration", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(sleepTask, { id: "s", type: "Sleep", duration: "5 seconds" }, run.ctx));
    expect(err.code).toBe("TASK_INVALID_PROPERTY");
    expect(err.message).toContain("duration");
  });
});
