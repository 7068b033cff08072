/**
 * The graph of a flow's task tree for a UI: one node per task (plus start and end markers of the
 * flow and of each flowable's branches), edges for what runs after what. Built from
 * `schemas/task-tree.ts`, so every flowable's child lists (Switch cases, Dag dependencies,
 * errors and finally branches) appear without per-type code beyond parallel vs sequential.
 */
import { childTasks, type ChildTask } from "../schemas/task-tree.js";
import type { Flow, Task } from "../schemas/flow-types.js";

export interface GraphNode {
  uid: string;
  /** `task`, or `start` / `end` markers. */
  kind: "task" | "start" | "end";
  taskId?: string;
  type?: string;
  /** The uid of the flowable containing this node (absent at the top level). */
  parent?: string;
  /** The list the task sits in: tasks, errors, finally, afterExecution, or a flowable's child list. */
  list?: string;
  /** Switch case key. */
  key?: string;
}

export interface GraphEdge {
  source: string;
  target: string;
  relation: "SEQUENTIAL" | "PARALLEL" | "CHOICE" | "DEPENDS_ON" | "ERROR" | "FINALLY";
}

export interface FlowGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const PARALLEL_TYPES = /(^|\.)(Parallel|EachParallel)$/;

/** The nodes and edges of a parsed flow. */
export function flowGraph(flow: Flow): FlowGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const start = "root.start";
  const end = "root.end";
  nodes.push({ uid: start, kind: "start" }, { uid: end, kind: "end" });

  /** Lays out `tasks` between `from` and `to`; returns nothing (edges are recorded). */
  const layoutList = (tasks: Array<{ task: Task; dependsOn?: string[]; key?: string }>, from: string, to: string, parentUid: string | undefined, list: string, parallel: boolean, relation: GraphEdge["relation"]): void => {
    if (tasks.length === 0) {
      edges.push({ source: from, target: to, relation });
      return;
    }
    const uids = tasks.map((t) => `${parentUid ? `${parentUid}.` : ""}${t.task.id}`);
    const hasDag = tasks.some((t) => t.dependsOn !== undefined);
    tasks.forEach((t, i) => {
      const uid = uids[i];
      nodes.push({ uid, kind: "task", taskId: t.task.id, type: t.task.type, ...(parentUid ? { parent: parentUid } : {}), list, ...(t.key !== undefined ? { key: t.key } : {}) });
      layoutChildren(t.task, uid);
    });
    if (hasDag) {
      const byId = new Map(tasks.map((t, i) => [t.task.id, uids[i]]));
      const depended = new Set(tasks.flatMap((t) => t.dependsOn ?? []));
      tasks.forEach((t, i) => {
        const deps = (t.dependsOn ?? []).map((d) => byId.get(d)).filter((d): d is string => d !== undefined);
        if (deps.length === 0) edges.push({ source: from, target: uids[i], relation });
        for (const d of deps) edges.push({ source: d, target: uids[i], relation: "DEPENDS_ON" });
        if (!depended.has(t.task.id)) edges.push({ source: uids[i], target: to, relation: "SEQUENTIAL" });
      });
      return;
    }
    if (parallel) {
      for (const uid of uids) edges.push({ source: from, target: uid, relation: "PARALLEL" }, { source: uid, target: to, relation: "PARALLEL" });
      return;
    }
    edges.push({ source: from, target: uids[0], relation });
    for (let i = 1; i < uids.length; i++) edges.push({ source: uids[i - 1], target: uids[i], relation: "SEQUENTIAL" });
    edges.push({ source: uids[uids.length - 1], target: to, relation: "SEQUENTIAL" });
  };

  const layoutChildren = (task: Task, uid: string): void => {
    const children = childTasks(task);
    if (children.length === 0) return;
    const groups = new Map<string, ChildTask[]>();
    for (const c of children) {
      const g = `${c.list}${c.key !== undefined ? `:${c.key}` : ""}`;
      groups.set(g, [...(groups.get(g) ?? []), c]);
    }
    const s = `${uid}.start`;
    const e = `${uid}.end`;
    nodes.push({ uid: s, kind: "start", parent: uid }, { uid: e, kind: "end", parent: uid });
    const parallel = PARALLEL_TYPES.test(task.type);
    for (const [, group] of groups) {
      const list = group[0].list;
      const relation: GraphEdge["relation"] = list === "errors" ? "ERROR" : list === "finally" ? "FINALLY" : group[0].key !== undefined ? "CHOICE" : "SEQUENTIAL";
      layoutList(group.map((c) => ({ task: c.task, dependsOn: c.dependsOn, key: c.key })), s, e, uid, list, parallel && list !== "errors" && list !== "finally", relation);
    }
  };

  layoutList(flow.tasks.map((task) => ({ task })), start, end, undefined, "tasks", false, "SEQUENTIAL");
  if (flow.errors.length > 0) layoutList(flow.errors.map((task) => ({ task })), start, end, undefined, "errors", false, "ERROR");
  if (flow.finally.length > 0) layoutList(flow.finally.map((task) => ({ task })), start, end, undefined, "finally", false, "FINALLY");
  if (flow.afterExecution.length > 0) layoutList(flow.afterExecution.map((task) => ({ task })), end, end, undefined, "afterExecution", false, "SEQUENTIAL");
  return { nodes, edges };
}
