/**
 * Client commands that talk to a running server over its REST API: `lanner flow deploy` and
 * `lanner execute`. The server is `--server URL`, else LANNER_SERVER, else http://127.0.0.1:8080.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import type { Command } from "commander";
import { Agent, FormData, fetch } from "undici";
import { describeError } from "../common/errors.js";

/** Output sinks, so tests can capture what a command prints. */
export interface ClientIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: ClientIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export const DEFAULT_SERVER = "http://127.0.0.1:8080";

/** The server URL: the flag, else LANNER_SERVER, else the default; without a trailing slash. */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? env.LANNER_SERVER ?? DEFAULT_SERVER;
  return url.replace(/\/+$/, "");
}

// `execute --wait` may wait as long as the execution runs: no client-side timeouts.
const waitingAgent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

interface ApiAnswer {
  status: number;
  body: unknown;
}

async function call(url: string, init: { method: string; headers?: Record<string, string>; body?: string | FormData }): Promise<ApiAnswer> {
  const res = await fetch(url, { ...init, dispatcher: waitingAgent });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text for the message
  }
  return { status: res.status, body };
}

function messageOf(a: ApiAnswer): string {
  if (isObject(a.body) && typeof a.body.message === "string") return a.body.message;
  return typeof a.body === "string" && a.body !== "" ? a.body : `HTTP ${a.status}`;
}

function unreachable(server: string, err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `cannot reach the server at ${server} (${describeError(err)}${cause}); is it running? (--server URL or LANNER_SERVER)`;
}

/** The YAML files named: files as given, directories expanded to their .yml/.yaml files (recursively, sorted). */
async function flowFiles(paths: string[], io: ClientIo): Promise<{ files: string[]; failed: boolean }> {
  const files: string[] = [];
  let failed = false;
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if ([".yml", ".yaml"].includes(extname(e.name).toLowerCase())) files.push(p);
    }
  };
  for (const p of paths) {
    try {
      if ((await stat(p)).isDirectory()) await walk(p);
      else files.push(p);
    } catch (err) {
      io.err(`${p}: cannot read: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : describeError(err)}`);
      failed = true;
    }
  }
  return { files, failed };
}

/**
 * Deploys flow files (directories expanded) to the server: prints `namespace.id revision N` per
 * flow, or `file:line:column: message` per problem. Resolves to 0 when every flow was deployed, else 1.
 */
export async function deployFlows(paths: string[], server: string, io: ClientIo = processIo): Promise<number> {
  const { files, failed } = await flowFiles(paths, io);
  let code = failed ? 1 : 0;
  if (files.length === 0 && !failed) {
    io.err("no flow files (.yml, .yaml) found");
    return 1;
  }
  for (const file of files) {
    let source: string;
    try {
      source = await readFile(file, "utf8");
    } catch (err) {
      io.err(`${file}: cannot read: ${describeError(err)}`);
      code = 1;
      continue;
    }
    let answer: ApiAnswer;
    try {
      answer = await call(`${server}/api/v1/flows`, { method: "POST", headers: { "content-type": "application/x-yaml" }, body: source });
    } catch (err) {
      io.err(unreachable(server, err));
      return 1;
    }
    if (answer.status === 200 && isObject(answer.body)) {
      io.out(`${String(answer.body.namespace)}.${String(answer.body.id)} revision ${String(answer.body.revision)}`);
      continue;
    }
    code = 1;
    const errors = isObject(answer.body) && Array.isArray(answer.body.errors) ? answer.body.errors.filter(isObject) : [];
    if (errors.length > 0) {
      for (const e of errors) io.err(`${file}:${String(e.line ?? 1)}:${String(e.column ?? 1)}: ${String(e.message)}`);
    } else {
      io.err(`${file}: ${messageOf(answer)}`);
    }
  }
  return code;
}

export interface ExecuteOptions {
  /** `key=value`; `key=@path` sends the file at `path` (FILE inputs). */
  inputs: string[];
  /** `key:value` labels. */
  labels?: string[];
  wait: boolean;
  server: string;
}

/**
 * Starts an execution: prints its id; with `wait`, then the final `{id, state, outputs}` as JSON.
 * Resolves to 0 when created (without wait) or ended in SUCCESS / WARNING (with wait), else 1.
 */
export async function executeFlow(namespace: string, flowId: string, opts: ExecuteOptions, io: ClientIo = processIo): Promise<number> {
  const form = new FormData();
  for (const item of opts.inputs) {
    const i = item.indexOf("=");
    if (i <= 0) {
      io.err(`--input ${item}: expected key=value (or key=@file)`);
      return 1;
    }
    const key = item.slice(0, i);
    const value = item.slice(i + 1);
    if (value.startsWith("@")) {
      const path = value.slice(1);
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (err) {
        io.err(`--input ${key}: cannot read ${path}: ${describeError(err)}`);
        return 1;
      }
      form.append(key, new Blob([data]), basename(path));
    } else {
      form.append(key, value);
    }
  }
  const query = new URLSearchParams();
  if (opts.wait) query.set("wait", "true");
  for (const l of opts.labels ?? []) query.append("labels", l);
  const qs = query.size > 0 ? `?${query.toString()}` : "";
  const url = `${opts.server}/api/v1/executions/${encodeURIComponent(namespace)}/${encodeURIComponent(flowId)}${qs}`;
  let answer: ApiAnswer;
  try {
    answer = await call(url, { method: "POST", body: form });
  } catch (err) {
    io.err(unreachable(opts.server, err));
    return 1;
  }
  if (answer.status !== 200 || !isObject(answer.body)) {
    io.err(messageOf(answer));
    const errors = isObject(answer.body) && Array.isArray(answer.body.errors) ? answer.body.errors.filter(isObject) : [];
    for (const e of errors) io.err(`  ${String(e.message)}`);
    return 1;
  }
  const execution = answer.body;
  io.out(String(execution.id));
  if (!opts.wait) return 0;
  const state = isObject(execution.state) ? String(execution.state.current) : "UNKNOWN";
  io.out(JSON.stringify({ id: execution.id, state, outputs: execution.outputs ?? {} }, null, 2));
  return state === "SUCCESS" || state === "WARNING" ? 0 : 1;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Adds `lanner flow deploy` (under the existing `flow` command, if any) and `lanner execute`. */
export function registerClientCommands(program: Command, setExit: (code: number) => void): void {
  const flow = program.commands.find((c) => c.name() === "flow") ?? program.command("flow").description("Work with flows");
  flow
    .command("deploy")
    .description("Deploy flow files to a running server; prints namespace.id revision N, or file:line:column: message")
    .argument("<paths...>", "flow files, or directories of .yml/.yaml files")
    .option("--server <url>", `server URL (default LANNER_SERVER or ${DEFAULT_SERVER})`)
    .action(async (paths: string[], o: { server?: string }) => {
      setExit(await deployFlows(paths, serverUrl(o.server)));
    });

  program
    .command("execute")
    .description("Start an execution of a deployed flow; prints its id (and with --wait its final state and outputs)")
    .argument("<namespace>", "the flow's namespace")
    .argument("<flow>", "the flow's id")
    .option("--input <key=value>", "an input (repeatable); key=@path sends a file", collect, [])
    .option("--label <key:value>", "a label (repeatable)", collect, [])
    .option("--wait", "wait for the end; exit 0 on SUCCESS or WARNING, 1 otherwise", false)
    .option("--server <url>", `server URL (default LANNER_SERVER or ${DEFAULT_SERVER})`)
    .action(async (namespace: string, flowId: string, o: { input: string[]; label: string[]; wait: boolean; server?: string }) => {
      setExit(await executeFlow(namespace, flowId, { inputs: o.input, labels: o.label, wait: o.wait, server: serverUrl(o.server) }));
    });
}
