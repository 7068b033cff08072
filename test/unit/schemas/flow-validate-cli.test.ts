import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateFlowFiles } from "../../../cli/flow-commands.js";
import { main } from "../../../cli/main.js";

const root = join(import.meta.dirname, "../../..");
const valid = join(root, "test/fixtures/valid-flows/all-flowables.yml");
const invalid = join(root, "test/fixtures/invalid-flows/bad-durations.yml");
const dir = mkdtempSync(join(tmpdir(), "lanner-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("lanner flow validate", () => {
  it("the binary prints file:line:column: message per error and exits 1 when a flow is invalid", () => {
    const r = spawnSync(process.execPath, ["bin/lanner.mjs", "flow", "validate", valid, invalid], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `${valid}: ok`,
      `${invalid}:7:14: tasks[0].timeout: expected an ISO-8601 duration such as PT30S, got 'thirty'`,
      `${invalid}:10:17: tasks[0].retry.interval: expected an ISO-8601 duration such as PT30S, got '5s'`,
      `${invalid}:11:19: tasks[0].retry.maxAttempt: expected a number ≥ 1, got 0`,
      `${invalid}:14:12: tasks[1].delay: expected an ISO-8601 duration such as PT30S, got 'P1Y'`,
    ]);
    expect(r.stderr).toBe("");
  });

  async function mainOutput(argv: string[]): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).trimEnd().split("\n"));
      return true;
    }) as typeof process.stdout.write;
    try {
      return { code: await main(argv), lines };
    } finally {
      process.stdout.write = write;
    }
  }

  it("main() returns 0 when every file is valid", async () => {
    const legacy = join(root, "test/fixtures/valid-flows/legacy-aliases.yml");
    expect(await mainOutput(["flow", "validate", valid, legacy])).toEqual({ code: 0, lines: [`${valid}: ok`, `${legacy}: ok`] });
  });

  it("main() returns 1 for an invalid flow", async () => {
    const r = await mainOutput(["flow", "validate", invalid]);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(4);
  });

  it("an unreadable file gives 2 and a clear message, and the other files are still checked", async () => {
    const c = capture();
    const missing = join(dir, "missing.yml");
    expect(await validateFlowFiles([missing, dir, valid], c.io)).toBe(2);
    expect(c.err).toEqual([`${missing}: cannot read the file: no such file`, `${dir}: cannot read the file: is a directory, expected a YAML file`]);
    expect(c.out).toEqual([`${valid}: ok`]);
  });

  it("a YAML syntax error is reported with its position", async () => {
    const file = join(dir, "broken.yml");
    writeFileSync(file, "id: x\nnamespace: n\ntasks:\n  - id: [\n");
    const c = capture();
    expect(await validateFlowFiles([file], c.io)).toBe(1);
    expect(c.out).toHaveLength(1);
    expect(c.out[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: YAML syntax error: `));
  });

  it("without a file, commander explains the usage and exits non-zero", async () => {
    const write = process.stderr.write;
    process.stderr.write = () => true;
    try {
      expect(await main(["flow", "validate"])).not.toBe(0);
    } finally {
      process.stderr.write = write;
    }
  });
});
