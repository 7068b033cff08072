import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

const BIN = resolve(fileURLToPath(new URL("../../bin/lanner.mjs", import.meta.url)));

/** A `lanner` process started by a test, with its output kept for failure messages. */
export interface LannerProcess {
  child: ChildProcess;
  /** The arguments it was started with (after `lanner`). */
  args: string[];
  /** The base URL it printed in its ready line (roles with a webserver), else undefined. */
  url?: string;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGKILL, no chance to clean up. */
  crash(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

/**
 * Starts `lanner <args>` and resolves once it printed its ready line
 * (`lanner <role> ready …`), or rejects with its output if it exits or stays silent too long.
 */
export async function startLanner(args: string[], opts: { env?: NodeJS.ProcessEnv; readyTimeoutMs?: number } = {}): Promise<LannerProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LANNER_LOG_LEVEL: process.env.LANNER_LOG_LEVEL ?? "warn", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | string>((res) => {
    child.on("exit", (code, signal) => res(code ?? signal ?? "unknown"));
  });
  const ready = new Promise<string | undefined>((res, rej) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /lanner \S+ ready(?: on (http:\/\/\S+))?/.exec(out);
      if (m) res(m[1]);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    void exited.then((code) => rej(new Error(`lanner ${args.join(" ")} exited (${code}) before it was ready:\n${out}`)));
    const t = setTimeout(() => rej(new Error(`lanner ${args.join(" ")} not ready after ${opts.readyTimeoutMs ?? 60_000} ms:\n${out}`)), opts.readyTimeoutMs ?? 60_000);
    t.unref();
  });
  let url: string | undefined;
  try {
    url = await ready;
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    child,
    args,
    url,
    output: () => out,
    exited,
    async crash() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs `lanner <args>` to completion; resolves with its exit code and output. */
export async function runLanner(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number>((res) => child.on("exit", (c) => res(c ?? 1)));
  return { code, stdout, stderr };
}
