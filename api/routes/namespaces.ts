import type { FastifyInstance, FastifyRequest } from "fastify";
import { NamespaceParams } from "../api-schemas.js";
import type { ApiContext } from "../context.js";
import { ApiError } from "../http-errors.js";
import { parseWith } from "../validation.js";

/** A namespace with what it holds, counting its sub-namespaces too (as search does); executions are those of the repository's default search window (the last 30 days). */
export interface NamespaceSummary {
  id: string;
  flowCount: number;
  executionCount: number;
}

const inNamespace = (ns: string, prefix: string) => ns === prefix || ns.startsWith(`${prefix}.`);

/** Every namespace that holds a flow, and each of its parents (`company.team` → `company` too). */
async function namespacesOf(ctx: ApiContext, req: FastifyRequest): Promise<{ ids: string[]; flowNamespaces: string[] }> {
  const flows = await ctx.repository.listFlows(req.tenantId);
  const ids = new Set<string>();
  for (const f of flows) {
    const parts = f.namespace.split(".");
    for (let i = 1; i <= parts.length; i++) ids.add(parts.slice(0, i).join("."));
  }
  return { ids: [...ids].sort(), flowNamespaces: flows.map((f) => f.namespace) };
}

async function summary(ctx: ApiContext, req: FastifyRequest, id: string, flowNamespaces: string[]): Promise<NamespaceSummary> {
  const executions = await ctx.repository.searchExecutions({ tenantId: req.tenantId, namespace: id, size: 1 });
  return { id, flowCount: flowNamespaces.filter((ns) => inNamespace(ns, id)).length, executionCount: executions.total };
}

/** Namespace endpoints: the list with counts, and one namespace. */
export function registerNamespaceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/namespaces", async (req) => {
    const { ids, flowNamespaces } = await namespacesOf(ctx, req);
    const out: NamespaceSummary[] = [];
    for (const id of ids) out.push(await summary(ctx, req, id, flowNamespaces));
    return { results: out, total: out.length };
  });

  app.get("/namespaces/:namespace", async (req) => {
    const { namespace } = parseWith(NamespaceParams, req.params, "path");
    const { flowNamespaces } = await namespacesOf(ctx, req);
    const s = await summary(ctx, req, namespace, flowNamespaces);
    if (s.flowCount === 0 && s.executionCount === 0) throw new ApiError(404, "NAMESPACE_NOT_FOUND", `namespace ${namespace} not found`);
    return s;
  });
}
