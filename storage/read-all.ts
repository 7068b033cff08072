import type { Storage } from "./storage.js";

/** Reads a whole stream into memory (for small files: inputs, test checks). */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The whole content of the file behind `uriOrPath`; rejects with `STORAGE_NOT_FOUND` when absent. */
export async function readFileBytes(storage: Storage, uriOrPath: string): Promise<Buffer> {
  return readAll(await storage.get(uriOrPath));
}
