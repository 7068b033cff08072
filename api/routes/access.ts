/**
 * Administration of tenants, users and API tokens (`/api/v1/tenants`, `/api/v1/auth/…`): admins
 * only. A new token is shown once, in the creation answer; only its hash is kept.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { TenantBody, TenantIdSchema, TokenBody, UserBody } from "../api-schemas.js";
import { mintToken } from "../auth.js";
import type { ApiContext } from "../context.js";
import { ApiError } from "../http-errors.js";
import { hashSecret } from "../password-hash.js";
import { parseWith } from "../validation.js";
import { z } from "zod";

/** Names that cannot be tenants: they are the paths beside `/api/v1/{tenant}`. */
export const RESERVED_TENANT_IDS = new Set(["tenants", "auth", "health", "metrics", "openapi", "docs"]);

function requireAdmin(req: FastifyRequest): void {
  if (!req.principal.admin) throw new ApiError(403, "FORBIDDEN", "only an administrator may manage tenants, users and tokens");
}

export function registerAccessRoutes(app: FastifyInstance, ctx: ApiContext, configTenants: readonly string[]): void {
  app.get("/api/v1/tenants", async (req) => {
    requireAdmin(req);
    const stored = await ctx.access.listTenants();
    const ids = new Set(stored.map((t) => t.id));
    const fromConfig = configTenants.filter((id) => !ids.has(id)).map((id) => ({ id, name: id, source: "config" }));
    return [...fromConfig, ...stored.map((t) => ({ id: t.id, name: t.name, created: t.created, source: "api" }))];
  });

  app.post("/api/v1/tenants", async (req, reply) => {
    requireAdmin(req);
    const body = parseWith(TenantBody, req.body, "body");
    if (RESERVED_TENANT_IDS.has(body.id)) throw new ApiError(422, "BODY_INVALID", `id: '${body.id}' is reserved`, [{ path: "body.id", message: "reserved name" }]);
    if (configTenants.includes(body.id) || (await ctx.access.getTenant(body.id))) throw new ApiError(409, "TENANT_EXISTS", `tenant ${body.id} already exists`);
    const t = await ctx.access.createTenant(body.id, body.name);
    return reply.status(201).send({ id: t.id, name: t.name, created: t.created });
  });

  app.delete("/api/v1/tenants/:tenant", async (req, reply) => {
    requireAdmin(req);
    const { tenant } = parseWith(z.object({ tenant: TenantIdSchema }), req.params, "path");
    if (!(await ctx.access.deleteTenant(tenant))) throw new ApiError(404, "TENANT_NOT_FOUND", `tenant ${tenant} not found (tenants from the configuration cannot be deleted here)`);
    return reply.status(204).send();
  });

  app.get("/api/v1/auth/tokens", async (req) => {
    requireAdmin(req);
    return (await ctx.access.listTokens()).map((t) => ({ id: t.id, name: t.name, tenants: t.tenants, admin: t.admin, created: t.created }));
  });

  app.post("/api/v1/auth/tokens", async (req, reply) => {
    requireAdmin(req);
    const body = parseWith(TokenBody, req.body, "body");
    const minted = await mintToken();
    const created = new Date().toISOString();
    await ctx.access.putToken({ id: minted.id, name: body.name, hash: minted.hash, tenants: body.tenants, admin: body.admin, created });
    return reply.status(201).send({ id: minted.id, name: body.name, tenants: body.tenants, admin: body.admin, created, token: minted.token });
  });

  app.delete("/api/v1/auth/tokens/:id", async (req, reply) => {
    requireAdmin(req);
    const { id } = parseWith(z.object({ id: z.string().regex(/^[A-Za-z0-9]{1,64}$/, "a token id") }), req.params, "path");
    if (!(await ctx.access.revokeToken(id))) throw new ApiError(404, "TOKEN_NOT_FOUND", `token ${id} not found`);
    return reply.status(204).send();
  });

  app.put("/api/v1/auth/users", async (req) => {
    requireAdmin(req);
    const body = parseWith(UserBody, req.body, "body");
    await ctx.access.putUser({ username: body.username, hash: await hashSecret(body.password), tenants: body.tenants, admin: body.admin });
    return { username: body.username, tenants: body.tenants, admin: body.admin };
  });

  app.delete("/api/v1/auth/users/:username", async (req, reply) => {
    requireAdmin(req);
    const { username } = parseWith(z.object({ username: z.string().min(1).max(200) }), req.params, "path");
    if (!(await ctx.access.deleteUser(username))) throw new ApiError(404, "USER_NOT_FOUND", `user ${username} not found`);
    return reply.status(204).send();
  });
}
