/**
 * `lanner tenant …` and `lanner auth …` against a running multi-tenant webserver with a configured
 * administrator: hash a secret, create a tenant and a token, use the token, revoke it.
 */
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret, verifySecret } from "../../../api/password-hash.js";
import { registerAuthCommands } from "../../../cli/auth-commands.js";
import type { ClientIo } from "../../../cli/client-commands.js";
import { registerTenantCommands } from "../../../cli/tenant-commands.js";
import { ApiFixture } from "./api-fixture.js";

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: ClientIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  let code = 0;
  const program = new Command().exitOverride();
  registerTenantCommands(program, (c) => (code = c), io);
  registerAuthCommands(program, (c) => (code = c), io);
  await program.parseAsync(args, { from: "user" });
  return { code, out, err };
}

describe("tenant and auth commands", () => {
  let f: ApiFixture;
  let target: string[];
  beforeAll(async () => {
    f = await new ApiFixture({
      tenancy: { enabled: true, defaultTenant: "main", tenants: ["configured"] },
      auth: { users: [{ username: "root", password: await hashSecret("pw-of-root"), tenants: "*", admin: true }], tokens: [] },
    }).start();
    target = ["--server", f.url, "--user", "root:pw-of-root"];
  });
  afterAll(async () => {
    await f.stop();
  });

  it("hash-secret prints a hash that verifies the secret", async () => {
    const r = await run(["auth", "hash-secret", "s3cret"]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^scrypt\$/);
    expect(await verifySecret("s3cret", r.out[0])).toBe(true);
    expect(await verifySecret("other", r.out[0])).toBe(false);
  });

  it("creates and lists tenants; refuses without administrator credentials", async () => {
    expect(await run(["tenant", "create", "ops", "--name", "Operations", ...target])).toMatchObject({ code: 0, out: ["tenant ops created"] });
    const listed = await run(["tenant", "list", ...target]);
    expect(listed.out).toEqual(expect.arrayContaining(["configured\tconfigured\tconfig", "ops\tOperations\tapi"]));
    const anonymous = await run(["tenant", "create", "other", "--server", f.url]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.err.join("\n")).toMatch(/--user NAME:PASSWORD or --token TOKEN/);
    expect((await run(["tenant", "create", "ops", ...target])).err.join("\n")).toMatch(/already exists/);
  });

  it("creates a token scoped to a tenant, which works there only, then revokes it", async () => {
    const created = await run(["auth", "token", "create", "ops-ci", "--tenants", "ops", ...target]);
    expect(created.code).toBe(0);
    const token = created.out[0];
    expect(token).toMatch(/^lnr_/);
    const call = (path: string) => fetch(`${f.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await call("/api/v1/ops/flows/company.team")).toBe(200);
    expect(await call("/api/v1/configured/flows/company.team")).toBe(404);
    const list = await run(["auth", "token", "list", ...target]);
    const id = list.out.find((l) => l.includes("ops-ci"))?.split("\t")[0] ?? "";
    expect(list.out.join("\n")).not.toContain(token);
    expect(await run(["auth", "token", "revoke", id, ...target])).toMatchObject({ code: 0 });
    expect(await call("/api/v1/ops/flows/company.team")).toBe(401);
    expect((await run(["tenant", "delete", "ops", ...target])).code).toBe(0);
    expect((await run(["tenant", "delete", "configured", ...target])).code).toBe(1);
  });

  it("reports an unreachable server clearly", async () => {
    const r = await run(["tenant", "list", "--server", "http://127.0.0.1:9"]);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/cannot reach the server at http:\/\/127\.0\.0\.1:9/);
  });
});
