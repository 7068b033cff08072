/**
 * What the webserver attaches to each request: the tenant it addresses (from the path when
 * multi-tenancy is on, else the default tenant) and the authenticated principal.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ANONYMOUS_ADMIN, type Principal } from "./auth.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The tenant this request reads and writes; set before any handler runs. */
    tenantId: string;
    /** Who is calling (ANONYMOUS_ADMIN when authentication is off). */
    principal: Principal;
  }
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** Declares the request fields (once per Fastify instance). */
export function decorateRequests(app: FastifyInstance, defaultTenant: string): void {
  app.decorateRequest("tenantId", defaultTenant);
  // Set by the first onRequest hook of every request; the default only shows before it runs.
  app.decorateRequest("principal", {
    getter(this: FastifyRequest) {
      return principals.get(this) ?? ANONYMOUS_ADMIN;
    },
    setter(this: FastifyRequest, p: Principal) {
      principals.set(this, p);
    },
  });
}

/** The tenant of a request. */
export function tenantOf(req: FastifyRequest): string {
  return req.tenantId;
}
