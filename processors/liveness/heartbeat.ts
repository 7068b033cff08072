/** The `heartbeats` topic record (one partition, key workerId), as workers append it. */
export interface Heartbeat {
  workerId: string;
  /** Worker group key; `default` (or empty) for the default group. */
  group: string;
  threads: number;
  /** Attempts running (for STOPPED: attempts handed back without a result). */
  running: number;
  /** Epoch ms when the worker sent it. */
  at: number;
  status: "RUNNING" | "STOPPING" | "STOPPED";
}

/** The group name used for workers without a group. */
export const DEFAULT_GROUP = "default";

/** A worker's group as liveness and the executor name it (`default` when none). */
export function groupName(group: string | undefined): string {
  return group === undefined || group === "" ? DEFAULT_GROUP : group;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Narrows a decoded value to a Heartbeat; undefined when it is not one. */
export function asHeartbeat(v: unknown): Heartbeat | undefined {
  if (!isObject(v)) return undefined;
  const { workerId, group, threads, running, at, status } = v;
  if (typeof workerId !== "string" || workerId === "") return undefined;
  if (typeof at !== "number" || typeof running !== "number") return undefined;
  if (status !== "RUNNING" && status !== "STOPPING" && status !== "STOPPED") return undefined;
  return {
    workerId, group: groupName(typeof group === "string" ? group : undefined),
    threads: typeof threads === "number" ? threads : 0, running, at, status,
  };
}
