/**
 * `lanner auth …`: secrets and API tokens. `hash-secret` prints the scrypt hash to put in the
 * configuration (`auth.users[].password`, `auth.tokens[].hash`); `token create|list|revoke` and
 * `user set|delete` go through a running server's API as an administrator (`--user NAME:PASSWORD`
 * or `--token TOKEN`, else LANNER_USER / LANNER_TOKEN).
 */
import type { Command } from "commander";
import { fetch } from "undici";
import { hashSecret } from "../api/password-hash.js";
import { describeError } from "../common/errors.js";
import { serverUrl, type ClientIo } from "./client-commands.js";

const processIo: ClientIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** How a client command reaches the API: the server URL and its credentials. */
export interface ApiTarget {
  server?: string;
  user?: string;
  token?: string;
}

/** The `Authorization` header for the given credentials (flags, else LANNER_USER / LANNER_TOKEN). */
export function authorization(t: ApiTarget, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = t.token ?? env.LANNER_TOKEN;
  if (token) return `Bearer ${token}`;
  const user = t.user ?? env.LANNER_USER;
  if (user) return `Basic ${Buffer.from(user).toString("base64")}`;
  return undefined;
}

/** Calls the API; resolves with the status and the parsed JSON body (or the text). Rejects when the server is unreachable. */
export async function apiCall(t: ApiTarget, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const server = serverUrl(t.server);
  const headers: Record<string, string> = {};
  const auth = authorization(t);
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(`${server}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new Error(`cannot reach the server at ${server} (${describeError(err)}); is it running? (--server URL or LANNER_SERVER)`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The message of a refused call. */
export function refusal(a: { status: number; body: unknown }): string {
  const b = a.body;
  const message = typeof b === "object" && b !== null && typeof (b as { message?: unknown }).message === "string" ? (b as { message: string }).message : `HTTP ${a.status}`;
  return a.status === 401 ? `${message} (give --user NAME:PASSWORD or --token TOKEN of an administrator)` : message;
}

/** Runs a client action, printing its error; resolves with the exit code. */
export async function runClient(io: ClientIo, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (err) {
    io.err(`lanner: ${describeError(err)}`);
    return 1;
  }
}

/** Adds the server and credential options to a client command. */
export function withTarget(cmd: Command): Command {
  return cmd
    .option("--server <url>", "server URL (default LANNER_SERVER, else http://127.0.0.1:8080)")
    .option("--user <name:password>", "basic-auth credentials (default LANNER_USER)")
    .option("--token <token>", "API token (default LANNER_TOKEN)");
}

const tenantsOf = (v: string | undefined): "*" | string[] => (v === undefined || v === "*" ? "*" : v.split(",").map((s) => s.trim()).filter((s) => s !== ""));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

export function registerAuthCommands(program: Command, setExit: (code: number) => void, io: ClientIo = processIo): void {
  const auth = program.command("auth").description("Authentication: secret hashes for the configuration, API tokens and users");

  auth.command("hash-secret")
    .description("Print the scrypt hash of a password or token (read from stdin when not given) for the configuration file")
    .argument("[secret]", "the secret (prefer stdin: arguments show in the process list)")
    .action(async (secret: string | undefined) => {
      setExit(await runClient(io, async () => {
        const s = secret ?? (await readStdin());
        if (s === "") throw new Error("empty secret");
        io.out(await hashSecret(s));
        return 0;
      }));
    });

  const token = auth.command("token").description("API tokens (stored hashed; the token is shown once)");
  withTarget(token.command("create").description("Create an API token").argument("<name>", "a name to recognise it by")
    .option("--tenants <list>", "comma-separated tenants it may use, or * (default)")
    .option("--admin", "may manage tenants, users and tokens"))
    .action(async (name: string, o: ApiTarget & { tenants?: string; admin?: boolean }) => {
      setExit(await runClient(io, async () => {
        const r = await apiCall(o, "POST", "/api/v1/auth/tokens", { name, tenants: tenantsOf(o.tenants), admin: o.admin === true });
        if (r.status !== 201) throw new Error(refusal(r));
        const b = r.body as { id: string; token: string };
        io.out(b.token);
        io.err(`token ${b.id} created; it is shown only now`);
        return 0;
      }));
    });
  withTarget(token.command("list").description("List API tokens (never their secrets)")).action(async (o: ApiTarget) => {
    setExit(await runClient(io, async () => {
      const r = await apiCall(o, "GET", "/api/v1/auth/tokens");
      if (r.status !== 200) throw new Error(refusal(r));
      for (const t of r.body as Array<{ id: string; name: string; tenants: "*" | string[]; admin: boolean }>) {
        io.out(`${t.id}\t${t.name}\t${t.tenants === "*" ? "*" : t.tenants.join(",")}${t.admin ? "\tadmin" : ""}`);
      }
      return 0;
    }));
  });
  withTarget(token.command("revoke").description("Revoke an API token").argument("<id>")).action(async (id: string, o: ApiTarget) => {
    setExit(await runClient(io, async () => {
      const r = await apiCall(o, "DELETE", `/api/v1/auth/tokens/${encodeURIComponent(id)}`);
      if (r.status !== 204) throw new Error(refusal(r));
      io.out(`token ${id} revoked`);
      return 0;
    }));
  });

  const user = auth.command("user").description("Basic-auth users created at run time (configured users live in the configuration)");
  withTarget(user.command("set").description("Create or replace a user; the password is read from stdin").argument("<username>")
    .option("--tenants <list>", "comma-separated tenants, or * (default)")
    .option("--admin", "may manage tenants, users and tokens"))
    .action(async (username: string, o: ApiTarget & { tenants?: string; admin?: boolean }) => {
      setExit(await runClient(io, async () => {
        const password = await readStdin();
        const r = await apiCall(o, "PUT", "/api/v1/auth/users", { username, password, tenants: tenantsOf(o.tenants), admin: o.admin === true });
        if (r.status !== 200) throw new Error(refusal(r));
        io.out(`user ${username} saved`);
        return 0;
      }));
    });
  withTarget(user.command("delete").description("Delete a user").argument("<username>")).action(async (username: string, o: ApiTarget) => {
    setExit(await runClient(io, async () => {
      const r = await apiCall(o, "DELETE", `/api/v1/auth/users/${encodeURIComponent(username)}`);
      if (r.status !== 204) throw new Error(refusal(r));
      io.out(`user ${username} deleted`);
      return 0;
    }));
  });
}
