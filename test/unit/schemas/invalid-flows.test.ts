import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFlow } from "../../../schemas/flow-parser.js";

const dir = join(import.meta.dirname, "../../fixtures/invalid-flows");
const cases = readdirSync(dir).filter((f) => f.endsWith(".yml")).sort();

describe("invalid flows report exactly the expected messages with line:column", () => {
  it("has fixtures", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of cases) {
    it(file, () => {
      const expected = readFileSync(join(dir, file.replace(/\.yml$/, ".expected")), "utf8").trimEnd().split("\n");
      const r = parseFlow(readFileSync(join(dir, file), "utf8"));
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`)).toEqual(expected);
      for (const e of r.errors) {
        // Never a bare "invalid", never a stack trace; the path starts the message.
        expect(e.message).not.toMatch(/^invalid\b|\n\s+at /i);
        if (e.path) expect(e.message.startsWith(`${e.path}: `)).toBe(true);
        expect(e.code).toMatch(/^[A-Z_]+$/);
      }
    });
  }
});
