/**
 * Flows as a zip archive (Kestra's export format: one `<namespace>.<id>.yml` file per flow) for
 * bulk export and import. Reading is bounded — number of entries and inflated bytes — so a small
 * archive cannot expand into gigabytes in memory.
 */
import { strFromU8, strToU8, unzipSync, zipSync, type Unzipped } from "fflate";
import type { FlowRevision } from "../projections/repository.js";
import { ApiError } from "./http-errors.js";

/** Most YAML files one archive may hold. */
export const MAX_ARCHIVE_FILES = 1_000;

/** True when `bytes` starts like a zip archive (local file header `PK\x03\x04`, or an empty archive's `PK\x05\x06`). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06));
}

/** The zip of `flows`' sources, one `<namespace>.<id>.yml` each. */
export function flowsZip(flows: FlowRevision[]): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const f of flows) files[`${f.namespace}.${f.id}.yml`] = strToU8(f.source.endsWith("\n") ? f.source : `${f.source}\n`);
  return zipSync(files, { level: 6 });
}

/** One YAML file of an archive. */
export interface ArchiveFile {
  name: string;
  text: string;
}

/**
 * The `.yml` / `.yaml` files of a zip (other entries and folders are ignored), in name order.
 * Refuses (422 ARCHIVE_INVALID) an unreadable archive, one with more than MAX_ARCHIVE_FILES YAML
 * files, or one whose YAML would inflate beyond `maxBytes` in total.
 */
export function readFlowsZip(bytes: Uint8Array, maxBytes: number): ArchiveFile[] {
  let declared = 0;
  let count = 0;
  let unzipped: Unzipped;
  try {
    unzipped = unzipSync(bytes, {
      filter: (f) => {
        if (!/\.ya?ml$/i.test(f.name)) return false;
        count++;
        declared += f.originalSize;
        if (count > MAX_ARCHIVE_FILES) throw new ApiError(422, "ARCHIVE_INVALID", `the archive holds more than ${MAX_ARCHIVE_FILES} YAML files`);
        if (declared > maxBytes) throw new ApiError(422, "ARCHIVE_INVALID", `the archive's YAML files inflate beyond ${maxBytes} bytes`);
        return true;
      },
    });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(422, "ARCHIVE_INVALID", `not a readable zip archive: ${err instanceof Error ? err.message : String(err)}`, [{ path: "body", message: "not a readable zip archive" }]);
  }
  // The sizes a header declares may lie: check what was inflated too.
  const total = Object.values(unzipped).reduce((n, b) => n + b.length, 0);
  if (total > maxBytes) throw new ApiError(422, "ARCHIVE_INVALID", `the archive's YAML files inflate beyond ${maxBytes} bytes`);
  return Object.keys(unzipped).sort().map((name) => ({ name, text: strFromU8(unzipped[name]) }));
}
