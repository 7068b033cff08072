import { FLOWABLE } from "../flow-index.js";
import { allowFailure } from "./allow-failure.js";
import { dag } from "./dag.js";
import { forEach } from "./for-each.js";
import { forEachItem, forEachItemExecutable } from "./for-each-item.js";
import { ifTask } from "./if.js";
import { parallel } from "./parallel.js";
import { pause } from "./pause.js";
import { sequential } from "./sequential.js";
import { subflow } from "./subflow.js";
import { switchTask } from "./switch.js";
import type { FlowableLogic } from "./types.js";
import { waitFor } from "./wait-for.js";

/** Executor-side logic by canonical flowable type. */
export const flowableLogic: Readonly<Record<string, FlowableLogic>> = {
  [FLOWABLE.Sequential]: sequential,
  [FLOWABLE.Parallel]: parallel,
  [FLOWABLE.If]: ifTask,
  [FLOWABLE.Switch]: switchTask,
  [FLOWABLE.ForEach]: forEach,
  [FLOWABLE.EachSequential]: forEach,
  [FLOWABLE.EachParallel]: forEach,
  [FLOWABLE.Dag]: dag,
  [FLOWABLE.AllowFailure]: allowFailure,
  [FLOWABLE.Subflow]: subflow,
  [FLOWABLE.Pause]: pause,
  [FLOWABLE.WaitFor]: waitFor,
  [FLOWABLE.ForEachItem]: forEachItem,
  [FLOWABLE.ForEachItemExecutable]: forEachItemExecutable,
};

export type { FlowableLogic };
