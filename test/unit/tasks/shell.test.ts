import { afterEach, describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { shellCommandsTask } from "../../../tasks/runnable/shell-commands.js";
import { shellScriptTask } from "../../../tasks/runnable/shell-script.js";
import { globToRegExp } from "../../../tasks/runnable/shell-exec.js";
import { parseMarker } from "../../../tasks/runnable/process-runner.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { LannerError } from "../../../common/errors.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

let run: TestRun;
afterEach(async () => {
  await run.cleanup();
});

const cmds = (commands: string[], extra: Record<string, unknown> = {}) => ({
  id: "sh",
  type: "io.kestra.plugin.scripts.shell.Commands",
  commands,
  ...extra,
});

/** True while a process with this pid exists and is not a zombie waiting to be reaped. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("shell Commands", () => {
  it("runs commands in the working directory, logs stdout at INFO, outputs exit code 0", async () => {
    run = await makeRunContext();
    const res = await runTask(shellCommandsTask, cmds(["echo hello", "pwd"]), run.ctx);
    expect(res.state).toBe("SUCCESS");
    expect(res.outputs).toMatchObject({ exitCode: 0, vars: {}, outputFiles: {} });
    expect(run.logs[0]).toEqual({ level: "INFO", message: "hello" });
    expect(run.logs[1].message).toBe(await import("node:fs/promises").then((f) => f.realpath(run.ctx.workingDir)));
  });

  it("reads ::{outputs}:: and ::{logs}:: lines instead of logging them", async () => {
    run = await makeRunContext();
    const res = await runTask(
      shellCommandsTask,
      cmds([
        `echo '::{"outputs":{"a":"x","n":2}}::'`,
        `echo '::{"outputs":{"b":true}}::'`,
        `echo '::{"logs":[{"level":"WARN","message":"careful"}]}::'`,
        "echo plain",
      ]),
      run.ctx,
    );
    expect(res.outputs?.vars).toEqual({ a: "x", n: 2, b: true });
    expect(run.logs).toEqual([
      { level: "WARN", message: "careful" },
      { level: "INFO", message: "plain" },
    ]);
  });

  it("logs stderr at ERROR and ends in WARNING unless warningOnStdErr is false", async () => {
    run = await makeRunContext();
    const res = await runTask(shellCommandsTask, cmds(["echo oops >&2"]), run.ctx);
    expect(res.state).toBe("WARNING");
    expect(run.logs).toEqual([{ level: "ERROR", message: "oops" }]);
    const quiet = await runTask(shellCommandsTask, cmds(["echo oops >&2"], { warningOnStdErr: false }), run.ctx);
    expect(quiet.state).toBe("SUCCESS");
  });

  it("fails with the exit code", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(shellCommandsTask, cmds(["echo before", "exit 3"]), run.ctx));
    expect(err.code).toBe("TASK_COMMAND_FAILED");
    expect(err.message).toBe("Command failed with exit code 3");
    expect(run.logs).toEqual([{ level: "INFO", message: "before" }]);
  });

  it("stops at the first failing command unless failFast is false", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(shellCommandsTask, cmds(["false", "echo after"]), run.ctx));
    expect(err.message).toBe("Command failed with exit code 1");
    expect(run.logs).toEqual([]);
    const res = await runTask(shellCommandsTask, cmds(["false", "echo after"], { failFast: false }), run.ctx);
    expect(res.outputs?.exitCode).toBe(0);
    expect(run.logs).toEqual([{ level: "INFO", message: "after" }]);
  });

  it("passes env and beforeCommands, and runs another interpreter", async () => {
    run = await makeRunContext();
    await runTask(
      shellCommandsTask,
      cmds(['echo "$GREETING $WHO"'], { env: { GREETING: "hi" }, beforeCommands: ["WHO=there"], interpreter: ["/bin/bash", "-c"] }),
      run.ctx,
    );
    expect(run.logs).toEqual([{ level: "INFO", message: "hi there" }]);
  });

  it("writes input files, from text and from internal storage", async () => {
    run = await makeRunContext();
    const uri = await run.ctx.storage.put("inputs/data.csv", Buffer.from("a,b\n"));
    await runTask(shellCommandsTask, cmds(["cat script.sh data/in.csv", "sh script.sh"], { inputFiles: { "script.sh": "echo from-script\n", "data/in.csv": uri } }), run.ctx);
    expect(run.logs.map((l) => l.message)).toEqual(["echo from-script", "a,b", "from-script"]);
  });

  it("renders commands, env and input files, with workingDir and outputDir available", async () => {
    run = await makeRunContext({ vars: { inputs: { who: "Ada", n: 3 } } });
    const res = await runTask(
      shellCommandsTask,
      cmds(['echo "{{ inputs.who }} $COUNT"', "cat {{ workingDir }}/in.txt", 'echo x > "{{ outputDir }}/o.txt"'], {
        env: { COUNT: "{{ inputs.n * 2 }}" },
        inputFiles: { "in.txt": "hello {{ inputs.who }}" },
      }),
      run.ctx,
    );
    expect(run.logs.map((l) => l.message)).toEqual(["Ada 6", "hello Ada"]);
    expect(Object.keys(res.outputs?.outputFiles as object)).toEqual(["o.txt"]);
  });

  it("refuses input files outside the working directory", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(shellCommandsTask, cmds(["true"], { inputFiles: { "../evil.sh": "x" } }), run.ctx));
    expect(err.code).toBe("TASK_INVALID_PROPERTY");
  });

  it("uploads output files by name and glob, and everything in the output directory", async () => {
    run = await makeRunContext();
    const res = await runTask(
      shellCommandsTask,
      cmds(["echo 1 > first.txt", "mkdir -p out/sub && echo 2 > out/sub/two.csv", "echo 3 > ignored.log", 'echo 4 > "$OUTPUT_DIR/auto.txt"'], {
        outputFiles: ["first.txt", "out/**/*.csv"],
      }),
      run.ctx,
    );
    const files = res.outputs?.outputFiles as Record<string, string>;
    expect(Object.keys(files).sort()).toEqual(["auto.txt", "first.txt", "out/sub/two.csv"]);
    expect(files["first.txt"]).toBe("lanner:///main/company/team/flow1/executions/exec1/tasks/sh/tr1/first.txt");
    expect((await readFileBytes(run.storage, files["out/sub/two.csv"])).toString()).toBe("2\n");
    expect((await readFileBytes(run.storage, files["auto.txt"])).toString()).toBe("4\n");
  });

  it("warns about a declared output file that was not created", async () => {
    run = await makeRunContext();
    const res = await runTask(shellCommandsTask, cmds(["true"], { outputFiles: ["missing.txt"] }), run.ctx);
    expect(res.outputs?.outputFiles).toEqual({});
    expect(run.logs).toEqual([{ level: "WARN", message: "output file missing.txt was not created by the commands" }]);
  });

  it("reports an interpreter that cannot start", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(shellCommandsTask, cmds(["x"], { interpreter: ["/nonexistent/lanner-shell", "-c"] }), run.ctx));
    expect(err.code).toBe("PROCESS_START_FAILED");
  });

  it("does not wait for background processes left behind, and kills them", async () => {
    run = await makeRunContext();
    await runTask(shellCommandsTask, cmds(["sleep 1000 &", "echo $! > bg.pid", "echo done"]), run.ctx);
    const pid = Number(await readFile(`${run.ctx.workingDir}/bg.pid`, "utf8"));
    expect(run.logs.at(-1)?.message).toBe("done");
    // The group got SIGKILL when the shell exited; reaping by init may lag, so look a few times.
    let stillAlive = true;
    for (let i = 0; i < 100 && stillAlive; i++) {
      stillAlive = await alive(pid);
      if (stillAlive) await new Promise((r) => setTimeout(r, 20));
    }
    expect(stillAlive).toBe(false);
  });
});

describe("shell kill and timeout", () => {
  it("sends SIGTERM to the whole group and the task ends when the process exits", async () => {
    run = await makeRunContext();
    const p = runTask(shellCommandsTask, cmds(["sleep 1000 & echo $! > bg.pid", "echo started", "wait"]), run.ctx);
    await waitForLog(run, "started");
    const pid = Number(await readFile(`${run.ctx.workingDir}/bg.pid`, "utf8"));
    run.controller.abort();
    const err = await rejection(p);
    expect(err.code).toBe("TASK_ABORTED");
    expect(err.message).toBe("Task was killed");
    expect(await alive(pid)).toBe(false);
  });

  it("sends SIGKILL after the grace period to a process that traps SIGTERM", async () => {
    run = await makeRunContext();
    const p = runTask(
      shellCommandsTask,
      cmds(["trap 'echo term-received' TERM", "echo started", "while :; do sleep 0.05; done"], // failFast off: with `set -e` the shell would exit on the killed sleep instead of trapping.
      { killGracePeriod: "PT0.3S", failFast: false }),
      run.ctx,
    );
    await waitForLog(run, "started");
    run.controller.abort();
    const err = await rejection(p);
    expect(err.code).toBe("TASK_ABORTED");
    expect(err.details).toMatchObject({ signal: "SIGKILL" });
    expect(run.logs.map((l) => l.message)).toContain("term-received");
  });

  it("reports the abort reason, which is how a timeout arrives", async () => {
    run = await makeRunContext();
    const p = runTask(shellCommandsTask, cmds(["echo started", "sleep 1000"]), run.ctx);
    await waitForLog(run, "started");
    run.controller.abort(new LannerError("TASK_TIMEOUT", "Task timed out after PT1S"));
    const err = await rejection(p);
    expect(err.code).toBe("TASK_ABORTED");
    expect(err.message).toBe("Task timed out after PT1S");
  });

  it("does not start at all when already aborted", async () => {
    run = await makeRunContext();
    run.controller.abort();
    const err = await rejection(runTask(shellCommandsTask, cmds(["echo should-not-run"]), run.ctx));
    expect(err.code).toBe("TASK_ABORTED");
    expect(run.logs).toEqual([]);
  });
});

describe("shell Script", () => {
  it("runs a multi-line script without stopping at a failing line", async () => {
    run = await makeRunContext();
    const res = await runTask(
      shellScriptTask,
      { id: "s", type: "io.kestra.plugin.scripts.shell.Script", script: "false\nfor i in 1 2; do echo line$i; done\necho '::{\"outputs\":{\"k\":\"v\"}}::'\n" },
      run.ctx,
    );
    expect(res.outputs?.vars).toEqual({ k: "v" });
    expect(run.logs.map((l) => l.message)).toEqual(["line1", "line2"]);
  });

  it("fails with the script's exit code", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(shellScriptTask, { id: "s", type: "Script", script: "exit 7" }, run.ctx));
    expect(err.message).toBe("Command failed with exit code 7");
  });
});

describe("helpers", () => {
  it("globs like Kestra's outputFiles", () => {
    expect(globToRegExp("*.txt").test("a.txt")).toBe(true);
    expect(globToRegExp("*.txt").test("d/a.txt")).toBe(false);
    expect(globToRegExp("**/*.txt").test("a.txt")).toBe(true);
    expect(globToRegExp("**/*.txt").test("d/e/a.txt")).toBe(true);
    expect(globToRegExp("out/**").test("out/x/y")).toBe(true);
    expect(globToRegExp("a?.csv").test("ab.csv")).toBe(true);
    expect(globToRegExp("a.csv").test("abcsv")).toBe(false);
  });

  it("recognises only well-formed markers", () => {
    expect(parseMarker('::{"outputs":{"a":1}}::')).toEqual({ outputs: { a: 1 } });
    expect(parseMarker("::{not json}::")).toBeUndefined();
    expect(parseMarker('::{"other":1}::')).toBeUndefined();
    expect(parseMarker('echo ::{"outputs":{}}::')).toBeUndefined();
  });
});

/** Resolves once a log line with this message exists (bounded). */
async function waitForLog(r: TestRun, message: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (r.logs.some((l) => l.message === message)) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`log line ${message} never came`);
}
