import type { Multipart } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import { LannerError } from "../common/errors.js";
import { ApiError } from "./http-errors.js";

/**
 * The parts of a multipart request, with a malformed body (bad boundary, truncated form) refused
 * as a 400 instead of escaping as an unexpected error. `fileSize` bounds each file part.
 */
export async function* multipartParts(req: FastifyRequest, limits: { fileSize?: number } = {}): AsyncGenerator<Multipart> {
  try {
    for await (const part of req.parts({ limits })) yield part;
  } catch (err) {
    if (err instanceof LannerError) throw err;
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) throw err;
    const message = `malformed multipart/form-data body: ${err instanceof Error ? err.message : String(err)}`;
    throw new ApiError(400, "MULTIPART_INVALID", message, [{ path: "body", message }]);
  }
}

/** Reads and discards the rest of a multipart body (so the connection stays usable). */
export async function drainMultipart(req: FastifyRequest): Promise<void> {
  try {
    for await (const part of req.parts()) if (part.type === "file") part.file.resume();
  } catch {
    // a malformed body: nothing more to read
  }
}
