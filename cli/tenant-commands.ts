/**
 * `lanner tenant create|list|delete`: tenants of a multi-tenant server, through its API as an
 * administrator (see `auth-commands.ts` for the server and credential options).
 */
import type { Command } from "commander";
import { apiCall, refusal, runClient, withTarget, type ApiTarget } from "./auth-commands.js";
import type { ClientIo } from "./client-commands.js";

const processIo: ClientIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function registerTenantCommands(program: Command, setExit: (code: number) => void, io: ClientIo = processIo): void {
  const tenant = program.command("tenant").description("Tenants (multi-tenancy): each has its own flows, executions, logs and files");

  withTarget(tenant.command("create").description("Create a tenant").argument("<id>", "lower-case letters, digits, - and _")
    .option("--name <name>", "a display name"))
    .action(async (id: string, o: ApiTarget & { name?: string }) => {
      setExit(await runClient(io, async () => {
        const r = await apiCall(o, "POST", "/api/v1/tenants", { id, ...(o.name ? { name: o.name } : {}) });
        if (r.status !== 201) throw new Error(refusal(r));
        io.out(`tenant ${id} created`);
        return 0;
      }));
    });

  withTarget(tenant.command("list").description("List tenants")).action(async (o: ApiTarget) => {
    setExit(await runClient(io, async () => {
      const r = await apiCall(o, "GET", "/api/v1/tenants");
      if (r.status !== 200) throw new Error(refusal(r));
      for (const t of r.body as Array<{ id: string; name: string; source: string }>) io.out(`${t.id}\t${t.name}\t${t.source}`);
      return 0;
    }));
  });

  withTarget(tenant.command("delete").description("Delete a tenant created through the API (its data stays until it is created again)").argument("<id>"))
    .action(async (id: string, o: ApiTarget) => {
      setExit(await runClient(io, async () => {
        const r = await apiCall(o, "DELETE", `/api/v1/tenants/${encodeURIComponent(id)}`);
        if (r.status !== 204) throw new Error(refusal(r));
        io.out(`tenant ${id} deleted`);
        return 0;
      }));
    });
}
