import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";

const here = dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "lanner-emb-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("embedded log", () => {
  it("refuses a data directory another opener holds, with a clear error", async () => {
    const dir = tempDir();
    const first = await EmbeddedLog.open({ dataDir: dir });
    let caught: unknown;
    try {
      await EmbeddedLog.open({ dataDir: dir });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LannerError);
    expect((caught as LannerError).code).toBe("DATA_DIR_LOCKED");
    expect((caught as LannerError).message).toContain(dir);
    await first.close();
    // Released on close: it opens again.
    const again = await EmbeddedLog.open({ dataDir: dir });
    await again.close();
  });

  it("keeps every acknowledged unit of work, whole, after kill -9", async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ["--import", "tsx", join(here, "fixtures", "embedded-writer.ts"), dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let acked = -1n;
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split("\n");
        buf = lines.pop() ?? "";
        for (const l of lines) if (l.startsWith("ack ")) acked = BigInt(l.slice(4));
        if (acked >= 300n) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("exit", () => (acked >= 300n ? resolve() : reject(new Error(`writer exited early: ${stderr}`))));
    });
    expect(await exited).toBe("SIGKILL");

    const log = await EmbeddedLog.open({ dataDir: dir });
    try {
      const end = await log.endOffset("out", 0);
      expect(end).toBeGreaterThan(acked);
      // Atomic units: the committed input offset, the state and its checkpoint all match the records present.
      expect(await log.committed("writer", "in", 0)).toBe(end);
      const store = log.stateStore("st", 0);
      expect(await store.checkpoint()).toBe(end);
      expect(new TextDecoder().decode(await store.get("last"))).toBe(String(end - 1n));
      let n = 0n;
      for await (const r of log.readPartition("out", 0, 0n)) {
        expect(r.offset).toBe(n);
        expect(new TextDecoder().decode(r.value)).toBe(String(n));
        n++;
      }
      expect(n).toBe(end);
    } finally {
      await log.close();
    }
  }, 60_000);
});
