import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { LannerError } from "../../common/errors.js";
import { isDuration } from "../../schemas/duration.js";
import {
  isKvDate, isKvInstant, KV_KEY_MAX_LENGTH, KV_KEY_RE, StorageKvStore, type KvNamespace, type KvPutOptions, type KvValue,
} from "../../storage/kv-store.js";
import { NamespaceSchema } from "../api-schemas.js";
import type { ApiContext } from "../context.js";
import { ApiError } from "../http-errors.js";
import { parseWith } from "../validation.js";

export const KvKeySchema = z.string().max(KV_KEY_MAX_LENGTH).regex(KV_KEY_RE, "a KV key (letters, digits, ., _ and -, starting with a letter or digit)");
export const KvParams = z.object({ namespace: NamespaceSchema, key: KvKeySchema });
export const KvBulkDeleteBody = z.strictObject({ keys: z.array(KvKeySchema).max(1000) });

/** Longest `ttl`/`description` header accepted. */
const MAX_HEADER = 1_000;

/**
 * The value of a PUT body, typed as Kestra types what its UI and clients send: JSON text keeps its
 * JSON type (a string that is an ISO-8601 duration is a DURATION); other text is an instant
 * (DATETIME), a date (DATE), a duration (DURATION) or else a STRING.
 */
export function kvValueOfBody(text: string, contentType: string | undefined): KvValue {
  const trimmed = text.trim();
  if (trimmed === "") throw new ApiError(422, "BODY_INVALID", "the body holds the value to store: it cannot be empty", [{ path: "body", message: "empty" }]);
  let parsed: { ok: true; value: unknown } | { ok: false; error: string };
  try {
    parsed = { ok: true, value: JSON.parse(trimmed) as unknown };
  } catch (err) {
    parsed = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  if (parsed.ok) {
    const v = parsed.value;
    if (typeof v === "string") return { type: isDuration(v) ? "DURATION" : "STRING", value: isDuration(v) ? v.trim().toUpperCase() : v };
    if (typeof v === "number") return { type: "NUMBER", value: v };
    if (typeof v === "boolean") return { type: "BOOLEAN", value: v };
    return { type: "JSON", value: v };
  }
  if (/^application\/(.*\+)?json/i.test(contentType ?? "")) {
    throw new ApiError(422, "BODY_INVALID", `the body is not valid JSON: ${parsed.error}`, [{ path: "body", message: parsed.error }]);
  }
  if (isKvInstant(trimmed)) return { type: "DATETIME", value: new Date(trimmed).toISOString() };
  if (isKvDate(trimmed)) return { type: "DATE", value: trimmed };
  if (isDuration(trimmed)) return { type: "DURATION", value: trimmed.toUpperCase() };
  return { type: "STRING", value: text };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const raw = req.headers[name];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v.trim() === "") return undefined;
  if (v.length > MAX_HEADER) throw new ApiError(422, "BODY_INVALID", `the ${name} header is longer than ${MAX_HEADER} characters`, [{ path: `header.${name}`, message: "too long" }]);
  return v.trim();
}

/** Store errors about the caller's input are 4xx; the rest keep their own status. */
function refusal(err: unknown): unknown {
  if (err instanceof LannerError && (err.code === "DURATION_INVALID" || err.code === "KV_VALUE_INVALID")) {
    return new ApiError(422, err.code, err.message, [{ path: err.code === "DURATION_INVALID" ? "header.ttl" : "body", message: err.message }]);
  }
  return err;
}

/**
 * Kestra's namespace KV endpoints: list keys, read a value with its type, store a value (JSON or
 * plain text; `ttl` and `description` headers), delete one key or several. Keys live in internal
 * storage, so the values tasks set are the ones read here.
 */
export function registerKvRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const kv = new StorageKvStore(ctx.storage);
  const nsOf = (req: FastifyRequest, namespace: string): KvNamespace => ({ tenantId: req.tenantId, namespace });

  // Own scope: the bodies are read as text here (a value may be JSON or plain text), whatever their content type.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

    scope.get("/namespaces/:namespace/kv", async (req) => {
      const { namespace } = parseWith(z.object({ namespace: NamespaceSchema }), req.params, "path");
      return kv.list(nsOf(req, namespace));
    });

    scope.get("/namespaces/:namespace/kv/:key", async (req) => {
      const { namespace, key } = parseWith(KvParams, req.params, "path");
      const entry = await kv.get(nsOf(req, namespace), key);
      if (entry === undefined) throw new ApiError(404, "KV_KEY_NOT_FOUND", `No value found for key '${key}' in namespace '${namespace}'`);
      return { type: entry.type, value: entry.value };
    });

    scope.put("/namespaces/:namespace/kv/:key", async (req) => {
      const { namespace, key } = parseWith(KvParams, req.params, "path");
      const text = typeof req.body === "string" ? req.body : "";
      const value = kvValueOfBody(text, req.headers["content-type"]);
      const ttl = header(req, "ttl");
      const description = header(req, "description");
      const opts: KvPutOptions = { ...(ttl !== undefined ? { ttl } : {}), ...(description !== undefined ? { description } : {}) };
      const entry = await kv.put(nsOf(req, namespace), key, value, opts).catch((err: unknown) => {
        throw refusal(err);
      });
      const { value: _value, type: _type, ...meta } = entry;
      return meta;
    });

    scope.delete("/namespaces/:namespace/kv/:key", async (req) => {
      const { namespace, key } = parseWith(KvParams, req.params, "path");
      return kv.delete(nsOf(req, namespace), key);
    });

    scope.delete("/namespaces/:namespace/kv", async (req) => {
      const { namespace } = parseWith(z.object({ namespace: NamespaceSchema }), req.params, "path");
      let body: unknown;
      try {
        body = JSON.parse(typeof req.body === "string" ? req.body : "");
      } catch {
        throw new ApiError(422, "BODY_INVALID", 'the body is a JSON object {"keys": [...]} naming the keys to delete', [{ path: "body", message: "not JSON" }]);
      }
      const { keys } = parseWith(KvBulkDeleteBody, body, "body");
      const deleted: string[] = [];
      for (const key of new Set(keys)) if (await kv.delete(nsOf(req, namespace), key)) deleted.push(key);
      return { keys: deleted };
    });
  });
}
