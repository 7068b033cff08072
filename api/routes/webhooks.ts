/**
 * Kestra's webhook trigger endpoint: `GET|POST|PUT /executions/webhook/{namespace}/{flowId}/{key}`
 * starts an execution of the flow when one of its enabled Webhook triggers has that (rendered)
 * `key`, with `trigger.body`, `trigger.headers` and `trigger.parameters`. An unknown flow, a
 * disabled flow and a wrong key answer the same 404, so the endpoint does not tell which flows
 * exist. `?wait=true` answers once the execution ended, with its outputs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { describeError } from "../../common/errors.js";
import { render, renderDeep } from "../../expressions/index.js";
import type { CreateExecutionCommand } from "../../processors/executor/inputs.js";
import { encodeCommand, type RecordCodec } from "../../processors/executor/shell/records.js";
import type { Repository } from "../../projections/repository.js";
import type { Flow, Trigger } from "../../schemas/flow-types.js";
import { coerceInputs } from "../../schemas/inputs.js";
import { TRIGGER_TYPES } from "../../schemas/trigger-schema.js";
import type { Log } from "../../topology/log.js";
import { createdExecution, toApiExecution } from "../execution-dto.js";
import { newExecutionId } from "../execution-id.js";
import { ApiError } from "../http-errors.js";

export interface WebhookRoutesOptions {
  log: Log;
  codec: RecordCodec;
  repository: Repository;
  /** The `execution-commands` topic (physical name). */
  commandsTopic: string;
  /** The tenant of a request. */
  tenantOf: (req: FastifyRequest) => string;
  /** Path prefix of the routes; default `/api/v1`. */
  base?: string;
  /** Longest `?wait=true` wait (ms); default 10 minutes. */
  waitTimeoutMs?: number;
}

const WEBHOOK_TYPES: ReadonlySet<string> = new Set(TRIGGER_TYPES.webhook);
const notFound = () => new ApiError(404, "WEBHOOK_NOT_FOUND", "no webhook trigger answers this namespace, flow and key");

/** The enabled Webhook trigger of `flow` whose rendered key is `key`, if any. */
export function matchingWebhook(flow: Flow, key: string): Trigger | undefined {
  const vars = { flow: { id: flow.id, namespace: flow.namespace, revision: flow.revision, tenantId: flow.tenantId } };
  return flow.triggers.find((t) => {
    if (!WEBHOOK_TYPES.has(t.type) || t.disabled === true || typeof t.key !== "string") return false;
    try {
      return render(t.key, vars) === key;
    } catch {
      return false; // a key that does not render matches nothing
    }
  });
}

function bodyOf(raw: unknown): unknown {
  if (typeof raw !== "string") return raw ?? null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function registerWebhookRoutes(app: FastifyInstance, opts: WebhookRoutesOptions): void {
  const base = opts.base ?? "/api/v1";
  const waitMs = opts.waitTimeoutMs ?? 10 * 60_000;
  void app.register(async (scope) => {
    // a webhook accepts any body: what JSON and text parsers do not read arrives as a string
    scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
    scope.route<{ Params: { namespace: string; flowId: string; key: string }; Querystring: Record<string, string | string[]> }>({
      method: ["GET", "POST", "PUT"],
      url: `${base}/executions/webhook/:namespace/:flowId/:key`,
      handler: async (req, reply: FastifyReply) => {
        const { namespace, flowId, key } = req.params;
        const tenantId = opts.tenantOf(req);
        const rev = await opts.repository.getFlow({ tenantId, namespace, id: flowId });
        if (!rev || rev.flow.disabled) throw notFound();
        const flow: Flow = { ...rev.flow, revision: rev.revision, tenantId };
        const trigger = matchingWebhook(flow, key);
        if (!trigger) throw notFound();

        const { wait, ...parameters } = req.query;
        const variables = { body: bodyOf(req.body), headers: req.headers, parameters };
        const executionId = newExecutionId();
        const now = Date.now();
        const vars = { flow: { id: flow.id, namespace, revision: rev.revision, tenantId }, execution: { id: executionId }, trigger: variables };
        let given: Record<string, unknown> = {};
        try {
          const raw = typeof trigger.inputs === "object" && trigger.inputs !== null ? trigger.inputs : {};
          given = renderDeep<Record<string, unknown>>(raw, vars, { services: { now: () => now } });
        } catch (err) {
          throw new ApiError(422, "INPUTS_INVALID", `the webhook trigger's inputs could not be rendered: ${describeError(err)}`);
        }
        const coerced = coerceInputs(flow, given, { now, vars });
        if (!coerced.ok) {
          throw new ApiError(422, "INPUTS_INVALID", `invalid inputs: ${coerced.errors.map((e) => e.message).join("; ")}`,
            coerced.errors.map((e) => ({ path: `inputs.${e.input}`, input: e.input, code: e.code, message: e.message })));
        }
        const labels = Array.isArray(trigger.labels) ? (trigger.labels as Array<{ key: string; value: string }>) : [];
        const cmd: CreateExecutionCommand = { type: "CreateExecution", executionId, flow, inputs: coerced.inputs, labels, trigger: variables };
        await opts.log.append([{ topic: opts.commandsTopic, key: executionId, value: encodeCommand(opts.codec, cmd) }]);
        const created = createdExecution({ id: executionId, flow, tenantId, revision: rev.revision, inputs: coerced.inputs, labels, now });
        if (wait === "true") {
          const ended = await opts.repository.waitForTerminal(executionId, waitMs);
          return reply.send(toApiExecution(ended ?? created));
        }
        return reply.send(toApiExecution(created));
      },
    });
  });
}
