import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * An attempt's private temporary directory, created on first use only: most tasks (Return, Log,
 * OutputValues…) never touch the disk, and creating plus removing a directory per attempt cost
 * two file-system round trips on the hot path of every task.
 */
export class LazyDir {
  private created: string | undefined;

  constructor(private readonly prefix = "lanner-attempt-") {}

  /** The directory's path; creates it (mode 0700) the first time it is asked for. */
  get path(): string {
    if (this.created === undefined) {
      const dir = join(tmpdir(), `${this.prefix}${randomBytes(8).toString("hex")}`);
      // Synchronous on purpose: a getter cannot await, and a single mkdir is cheap next to the task that needs it.
      mkdirSync(dir, { mode: 0o700 });
      this.created = dir;
    }
    return this.created;
  }

  /** Removes the directory and its content if it was created; never rejects. */
  async dispose(): Promise<void> {
    const dir = this.created;
    this.created = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
