import { Agent, FormData, interceptors, request, type Dispatcher } from "undici";
import { LannerError } from "../../common/errors.js";
import type { RunContext } from "../types.js";
import { isStorageUri } from "../../storage/paths.js";
import { readFileBytes } from "../../storage/read-all.js";
import type { HttpOptions } from "./http-schema.js";
import { abortError } from "./abort.js";
import { parseIsoDuration, toBool, toNumber, toStringMap, toText } from "./coerce.js";

/** The properties Request and Download share, as written in the flow (unrendered). */
export interface HttpProps {
  uri: string;
  method?: string;
  body?: unknown;
  formData?: Record<string, unknown> | string;
  contentType?: string;
  headers?: Record<string, unknown> | string;
  options?: HttpOptions;
}

/** An HTTP response whose body is still to be read; `close()` frees the connection pool. */
export interface HttpResponse {
  uri: string;
  code: number;
  /** Header name (lower case) → its values, the shape Kestra outputs. */
  headers: Record<string, string[]>;
  body: Dispatcher.ResponseData["body"];
  /** Charset to decode text with: the response's, else `options.defaultCharset`, else UTF-8. */
  charset: string;
  /** Largest body accepted, in bytes (Kestra's `maxContentLength`, 10 MiB by default). */
  maxContentLength: number;
  close(): Promise<void>;
}

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];
const DEFAULT_MAX_CONTENT_LENGTH = 10 * 1024 * 1024;

function collectHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  }
  return out;
}

function charsetOf(contentType: string | undefined, fallback: string): string {
  const m = contentType ? /charset="?([^";\s]+)"?/i.exec(contentType) : null;
  const label = m ? m[1] : fallback;
  try {
    new TextDecoder(label);
    return label;
  } catch {
    return "utf-8";
  }
}

/** Builds the request body from `body` or `formData`; returns the content type to send, if any. */
async function buildBody(
  props: HttpProps,
  ctx: RunContext,
  contentType: string,
): Promise<{ body?: string | FormData; contentType?: string }> {
  if (props.formData !== undefined) {
    const rendered = toStringMap(ctx.render(props.formData), "formData");
    if (contentType.toLowerCase().startsWith("multipart/form-data")) {
      const form = new FormData();
      for (const [k, v] of Object.entries(rendered)) {
        // A value that is an internal storage URI uploads that file, as Kestra does.
        if (isStorageUri(v)) {
          const bytes = await readFileBytes(ctx.storage, v);
          const name = decodeURIComponent(v.slice(v.lastIndexOf("/") + 1));
          form.append(k, new Blob([new Uint8Array(bytes)]), name);
        } else {
          form.append(k, v);
        }
      }
      // undici sets the multipart boundary itself.
      return { body: form };
    }
    return { body: new URLSearchParams(rendered).toString(), contentType: "application/x-www-form-urlencoded" };
  }
  if (props.body === undefined) return {};
  return { body: toText(ctx.render(props.body)), contentType };
}

/** Sends the request described by `props` (rendering it first); the body is left unread. */
export async function sendHttp(props: HttpProps, ctx: RunContext): Promise<HttpResponse> {
  const uri = toText(ctx.render(props.uri));
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new LannerError("TASK_INVALID_PROPERTY", `uri: not a valid URL: ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LannerError("TASK_INVALID_PROPERTY", `uri: only http and https URLs are supported, got ${url.protocol}`);
  }
  const method = toText(ctx.render(props.method ?? "GET")).toUpperCase();
  if (!METHODS.includes(method)) throw new LannerError("TASK_INVALID_PROPERTY", `method: expected one of ${METHODS.join(", ")}, got ${method}`);

  const o: HttpOptions = props.options === undefined ? {} : ctx.render<HttpOptions>(props.options);
  const dur = (v: unknown, name: string) => (v === undefined ? undefined : parseIsoDuration(v, `options.${name}`));
  const connectTimeout = dur(o.timeout?.connectTimeout ?? o.connectTimeout, "connectTimeout");
  const readTimeout = dur(o.timeout?.readIdleTimeout ?? o.readIdleTimeout ?? o.readTimeout, "readTimeout");
  const followRedirects = o.followRedirects === undefined ? true : toBool(o.followRedirects, "options.followRedirects");
  const maxContentLength = o.maxContentLength === undefined ? DEFAULT_MAX_CONTENT_LENGTH : toNumber(o.maxContentLength, "options.maxContentLength");

  const headers: Record<string, string> = {};
  const addHeaders = (h: unknown, name: string) => {
    if (h === undefined) return;
    for (const [k, v] of Object.entries(toStringMap(h, name))) headers[k.toLowerCase()] = v;
  };
  addHeaders(o.headers, "options.headers");
  addHeaders(props.headers === undefined ? undefined : ctx.render(props.headers), "headers");

  if (o.auth !== undefined) {
    const type = toText(o.auth.type).toUpperCase();
    if (type === "BASIC") {
      headers.authorization = `Basic ${Buffer.from(`${toText(o.auth.username)}:${toText(o.auth.password)}`).toString("base64")}`;
    } else if (type === "BEARER") {
      headers.authorization = `Bearer ${toText(o.auth.token)}`;
    } else {
      throw new LannerError("TASK_INVALID_PROPERTY", `options.auth.type: expected BASIC or BEARER, got ${type}`);
    }
  } else if (o.basicAuthUser !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${toText(o.basicAuthUser)}:${toText(o.basicAuthPassword)}`).toString("base64")}`;
  }

  const contentType = toText(ctx.render(props.contentType ?? "application/json"));
  const built = await buildBody(props, ctx, contentType);
  if (built.contentType !== undefined && headers["content-type"] === undefined) headers["content-type"] = built.contentType;

  const agent = new Agent({
    connect: connectTimeout === undefined ? undefined : { timeout: connectTimeout },
    headersTimeout: readTimeout,
    bodyTimeout: readTimeout,
  });
  const dispatcher = followRedirects ? agent.compose(interceptors.redirect({ maxRedirections: 10 })) : agent;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body: built.body, signal: ctx.signal, dispatcher });
  } catch (err) {
    await agent.destroy().catch(() => undefined);
    if (ctx.signal.aborted) throw abortError(ctx.signal, undefined, err);
    const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
    const why = err instanceof Error ? err.message : String(err);
    throw new LannerError("HTTP_REQUEST_FAILED", `HTTP ${method} ${uri} failed: ${why}${code ? ` (${code})` : ""}`, {
      retriable: true,
      cause: err,
    });
  }
  const responseHeaders = collectHeaders(res.headers);
  const defaultCharset = o.defaultCharset === undefined ? "utf-8" : toText(o.defaultCharset);
  const response: HttpResponse = {
    uri,
    code: res.statusCode,
    headers: responseHeaders,
    body: res.body,
    charset: charsetOf(responseHeaders["content-type"]?.[0], defaultCharset),
    maxContentLength,
    close: async () => {
      res.body.destroy();
      await agent.close().catch(() => undefined);
    },
  };

  // Kestra fails on any status >= 400 unless allowFailed, or on any status not in allowedResponseCodes.
  const allowFailed = o.allowFailed === undefined ? false : toBool(o.allowFailed, "options.allowFailed");
  let allowed: number[] | undefined;
  if (o.allowedResponseCodes !== undefined) {
    let raw: unknown = o.allowedResponseCodes;
    if (typeof raw === "string") {
      try {
        raw = JSON.parse(raw);
      } catch {
        raw = undefined;
      }
    }
    if (!Array.isArray(raw)) throw new LannerError("TASK_INVALID_PROPERTY", "options.allowedResponseCodes: expected a list of status codes");
    allowed = raw.map((c: unknown) => toNumber(c, "options.allowedResponseCodes"));
  }
  const failed = allowed !== undefined ? !allowed.includes(res.statusCode) : !allowFailed && res.statusCode >= 400;
  if (failed) {
    const snippet = await readText(response, { truncateAt: 2048 }).catch(() => "");
    await response.close();
    throw new LannerError("HTTP_STATUS", `Failed http request with response code '${res.statusCode}'${snippet ? `: ${snippet}` : ""}`, {
      retriable: res.statusCode >= 500 || res.statusCode === 429,
      details: { code: res.statusCode },
    });
  }
  return response;
}

/**
 * Reads the body as text. Fails with `HTTP_BODY_TOO_LARGE` beyond the response's
 * `maxContentLength`, or with `truncateAt` stops quietly after that many bytes (error snippets).
 */
export async function readText(res: HttpResponse, opts: { truncateAt?: number } = {}): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    if (opts.truncateAt !== undefined && n + chunk.byteLength >= opts.truncateAt) {
      chunks.push(chunk.subarray(0, opts.truncateAt - n));
      break;
    }
    n += chunk.byteLength;
    if (n > res.maxContentLength) {
      throw new LannerError("HTTP_BODY_TOO_LARGE", `the response body is larger than options.maxContentLength (${res.maxContentLength} bytes)`);
    }
    chunks.push(chunk);
  }
  return new TextDecoder(res.charset).decode(Buffer.concat(chunks));
}

/** Turns an error met while reading a response body into the task's error (abort, or a retriable read failure). */
export function bodyError(err: unknown, ctx: RunContext, uri: string): unknown {
  if (ctx.signal.aborted) return abortError(ctx.signal, undefined, err);
  if (err instanceof LannerError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new LannerError("HTTP_REQUEST_FAILED", `reading the response of ${uri} failed: ${why}`, { retriable: true, cause: err });
}
