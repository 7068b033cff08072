/**
 * `lanner trigger backfill NS FLOW TRIGGER --start … [--end …] [--input k=v] [--label k:v]` (and
 * `--pause`, `--unpause`, `--delete` of the running backfill) and `lanner trigger list`: client
 * commands over the webserver's trigger endpoints.
 */
import type { Command } from "commander";
import { describeError } from "../common/errors.js";
import { DEFAULT_SERVER, serverUrl, type ClientIo } from "./client-commands.js";

const processIo: ClientIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { method, ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  try {
    return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

const messageOf = (a: { status: number; body: unknown }) => (isObject(a.body) && typeof a.body.message === "string" ? a.body.message : `HTTP ${a.status}`);

export interface BackfillOptions {
  start?: string;
  end?: string;
  inputs: string[];
  labels: string[];
  action: "start" | "pause" | "unpause" | "delete";
  server: string;
}

/** Asks the server for a backfill action; prints what was asked, or the server's refusal. Resolves to the exit code. */
export async function backfill(namespace: string, flowId: string, triggerId: string, o: BackfillOptions, io: ClientIo = processIo): Promise<number> {
  const body: Record<string, unknown> = { namespace, flowId, triggerId };
  if (o.action === "start") {
    if (!o.start) {
      io.err("--start is required to start a backfill (an ISO-8601 date-time such as 2025-01-01T00:00:00Z)");
      return 2;
    }
    const inputs: Record<string, string> = {};
    for (const kv of o.inputs) {
      const i = kv.indexOf("=");
      if (i <= 0) {
        io.err(`--input: expected key=value, got '${kv}'`);
        return 2;
      }
      inputs[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const labels = [];
    for (const kv of o.labels) {
      const i = kv.indexOf(":");
      if (i <= 0) {
        io.err(`--label: expected key:value, got '${kv}'`);
        return 2;
      }
      labels.push({ key: kv.slice(0, i), value: kv.slice(i + 1) });
    }
    body.backfill = { start: o.start, ...(o.end ? { end: o.end } : {}), inputs, labels };
  }
  try {
    const a = await call(`${o.server}/api/v1/triggers/backfill/${o.action}`, "PUT", body);
    if (a.status !== 200) {
      io.err(`${namespace}.${flowId} ${triggerId}: ${messageOf(a)}`);
      return 1;
    }
    io.out(`${namespace}.${flowId} ${triggerId}: backfill ${o.action} requested`);
    return 0;
  } catch (err) {
    io.err(`cannot reach the server at ${o.server} (${describeError(err)})`);
    return 1;
  }
}

/** Prints one line per trigger: namespace.flow trigger, last and next date, disabled, backfill progress. */
export async function listTriggers(namespace: string | undefined, server: string, io: ClientIo = processIo): Promise<number> {
  try {
    const a = await call(`${server}/api/v1/triggers/search?size=1000${namespace ? `&namespace=${encodeURIComponent(namespace)}` : ""}`, "GET");
    if (a.status !== 200 || !isObject(a.body) || !Array.isArray(a.body.results)) {
      io.err(messageOf(a));
      return 1;
    }
    for (const r of a.body.results as Array<{ triggerContext: Record<string, unknown> }>) {
      const t = r.triggerContext;
      const bf = isObject(t.backfill) ? ` backfill ${String(t.backfill.executed)}+${String(t.backfill.skipped)}/${String(t.backfill.total)}${t.backfill.paused ? " paused" : t.backfill.done ? " done" : ""}` : "";
      io.out(`${String(t.namespace)}.${String(t.flowId)} ${String(t.triggerId)} last ${String(t.date ?? "-")} next ${String(t.nextExecutionDate ?? "-")}${t.disabled ? " DISABLED" : ""}${bf}`);
    }
    return 0;
  } catch (err) {
    io.err(`cannot reach the server at ${server} (${describeError(err)})`);
    return 1;
  }
}

const collect = (v: string, acc: string[]) => [...acc, v];

export function registerTriggerCommands(program: Command, setExit: (code: number) => void): void {
  const trigger = program.command("trigger").description("Work with triggers");
  trigger
    .command("backfill")
    .description("Run a Schedule trigger over past dates (each date once; dates that already ran are skipped), or pause, unpause, delete its backfill")
    .argument("<namespace>").argument("<flow>").argument("<trigger>")
    .option("--start <date>", "first date (ISO-8601)")
    .option("--end <date>", "last date (ISO-8601); default now")
    .option("--input <key=value>", "an input (repeatable)", collect, [])
    .option("--label <key:value>", "a label (repeatable)", collect, [])
    .option("--pause", "pause the running backfill")
    .option("--unpause", "resume a paused backfill")
    .option("--delete", "cancel the backfill")
    .option("--server <url>", `server URL (default LANNER_SERVER or ${DEFAULT_SERVER})`)
    .action(async (ns: string, flowId: string, triggerId: string, o: { start?: string; end?: string; input: string[]; label: string[]; pause?: boolean; unpause?: boolean; delete?: boolean; server?: string }) => {
      const action = o.pause ? "pause" : o.unpause ? "unpause" : o.delete ? "delete" : "start";
      setExit(await backfill(ns, flowId, triggerId, { start: o.start, end: o.end, inputs: o.input, labels: o.label, action, server: serverUrl(o.server) }));
    });
  trigger
    .command("list")
    .description("List Schedule triggers with their last and next dates and backfill progress")
    .option("--namespace <ns>", "only this namespace (and below)")
    .option("--server <url>", `server URL (default LANNER_SERVER or ${DEFAULT_SERVER})`)
    .action(async (o: { namespace?: string; server?: string }) => {
      setExit(await listTriggers(o.namespace, serverUrl(o.server)));
    });
}
