import type { Task } from "../../../schemas/flow-types.js";
import type { Decider } from "../decider.js";
import { enabled } from "../flow-index.js";
import type { TaskRun } from "../model.js";

/** The branch (among `lists`) that already has a task run under `tr`, if any: a choice is made once. */
export function chosenBranch(d: Decider, tr: TaskRun, lists: ReadonlyArray<readonly [string, Task[]]>): string | undefined {
  for (const [name, tasks] of lists) {
    for (const t of enabled(tasks)) {
      if (d.s.taskRuns[d.childId(tr, t.id)]) return name;
    }
  }
  return undefined;
}
