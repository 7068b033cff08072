import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFlows, executeFlow, serverUrl, type ClientIo } from "../../../cli/client-commands.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { ApiFixture } from "./api-fixture.js";

class Captured implements ClientIo {
  readonly lines: string[] = [];
  readonly errors: string[] = [];
  out(line: string): void {
    this.lines.push(line);
  }
  err(line: string): void {
    this.errors.push(line);
  }
}

const GOOD = `id: greet
namespace: company.cli
inputs:
  - id: who
    type: STRING
  - id: doc
    type: FILE
    required: false
tasks:
  - id: say
    type: io.kestra.plugin.core.debug.Return
    format: "hi {{ inputs.who }}"
outputs:
  - id: said
    type: STRING
    value: "{{ outputs.say.value }}"
`;

const FAILING = `id: failing
namespace: company.cli
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: no
`;

const BAD = `id: bad
namespace: company.cli
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Nope
`;

describe("client commands against a running webserver", () => {
  let f: ApiFixture;
  let dir: string;
  beforeAll(async () => {
    f = await new ApiFixture().start();
    dir = join(f.dir, "flows");
    mkdirSync(join(dir, "nested"), { recursive: true });
    writeFileSync(join(dir, "greet.yml"), GOOD);
    writeFileSync(join(dir, "nested", "failing.yaml"), FAILING);
    writeFileSync(join(dir, "notes.txt"), "not a flow");
  });
  afterAll(async () => {
    await f.stop();
  });

  it("the server URL comes from the flag, else LANNER_SERVER, else the default", () => {
    expect(serverUrl("http://x:1/")).toBe("http://x:1");
    expect(serverUrl(undefined, { LANNER_SERVER: "http://y:2" })).toBe("http://y:2");
    expect(serverUrl(undefined, {})).toBe("http://127.0.0.1:8080");
  });

  it("flow deploy deploys a directory and prints namespace.id revision N", async () => {
    const io = new Captured();
    expect(await deployFlows([dir], f.url, io)).toBe(0);
    expect(io.lines).toEqual(["company.cli.greet revision 1", "company.cli.failing revision 1"]);
    expect(io.errors).toEqual([]);
  });

  it("flow deploy prints file:line:column errors and exits 1 on any failure", async () => {
    const bad = join(f.dir, "bad.yml");
    writeFileSync(bad, BAD);
    const io = new Captured();
    expect(await deployFlows([join(dir, "greet.yml"), bad, join(f.dir, "missing.yml")], f.url, io)).toBe(1);
    expect(io.lines).toEqual(["company.cli.greet revision 1"]);
    expect(io.errors[0]).toMatch(/missing\.yml: cannot read: no such file or directory/);
    expect(io.errors[1]).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:11: .*Nope`));
  });

  it("flow deploy says clearly when the server cannot be reached", async () => {
    const io = new Captured();
    expect(await deployFlows([join(dir, "greet.yml")], "http://127.0.0.1:9", io)).toBe(1);
    expect(io.errors[0]).toMatch(/cannot reach the server at http:\/\/127\.0\.0\.1:9/);
  });

  it("execute prints the id; with --wait the final state and outputs, exit 0 on SUCCESS", async () => {
    const file = join(f.dir, "doc.txt");
    writeFileSync(file, "some text");
    const io = new Captured();
    const running = executeFlow("company.cli", "greet", { inputs: ["who=ann", `doc=@${file}`], labels: ["k:v"], wait: true, server: f.url }, io);
    const cmd = await f.nextCommand();
    expect(cmd.inputs.who).toBe("ann");
    expect((await readFileBytes(f.storage, String(cmd.inputs.doc))).toString()).toBe("some text");
    expect(cmd.labels).toEqual([{ key: "k", value: "v" }]);
    await f.play(cmd);
    expect(await running).toBe(0);
    expect(io.lines[0]).toBe(cmd.executionId);
    expect(JSON.parse(io.lines.slice(1).join("\n"))).toEqual({ id: cmd.executionId, state: "SUCCESS", outputs: { said: "hi ann" } });
  });

  it("execute --wait exits 1 when the execution fails", async () => {
    const io = new Captured();
    const running = executeFlow("company.cli", "failing", { inputs: [], wait: true, server: f.url }, io);
    await f.play(await f.nextCommand());
    expect(await running).toBe(1);
    expect(JSON.parse(io.lines.slice(1).join("\n"))).toMatchObject({ state: "FAILED" });
  });

  it("execute without --wait prints the id and exits 0", async () => {
    const io = new Captured();
    expect(await executeFlow("company.cli", "greet", { inputs: ["who=bob"], wait: false, server: f.url }, io)).toBe(0);
    const cmd = await f.nextCommand();
    expect(io.lines).toEqual([cmd.executionId]);
  });

  it("execute reports per-input errors and an unknown flow, exit 1", async () => {
    const io = new Captured();
    expect(await executeFlow("company.cli", "greet", { inputs: [], wait: false, server: f.url }, io)).toBe(1);
    expect(io.errors.join("\n")).toMatch(/who: a value is required/);
    const io2 = new Captured();
    expect(await executeFlow("company.cli", "nope", { inputs: [], wait: false, server: f.url }, io2)).toBe(1);
    expect(io2.errors[0]).toMatch(/flow company\.cli\.nope not found/);
    const io3 = new Captured();
    expect(await executeFlow("company.cli", "greet", { inputs: ["novalue"], wait: false, server: f.url }, io3)).toBe(1);
    expect(io3.errors[0]).toMatch(/expected key=value/);
  });
});
