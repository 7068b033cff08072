import { LannerError } from "../common/errors.js";
import { isDuration, parseDuration } from "../schemas/duration.js";
import { NAMESPACE_RE } from "../schemas/primitives.js";
import { readFileBytes } from "./read-all.js";
import type { Storage } from "./storage.js";
import { storageSegments } from "./paths.js";

/**
 * The namespace key-value store (Kestra's KV): small typed values kept per tenant and namespace in
 * internal storage, one JSON document per key under `<tenant>/<namespace path>/_kv/<key>.json`.
 * Because it lives in internal storage it works on every storage backend and every process that
 * shares it; `_kv` cannot clash with a flow (flow ids start with a letter or digit), and the files
 * of a namespace whose last part is `_kv` sit one level deeper, where listings do not look.
 */

/** Kestra's KV types. */
export const KV_TYPES = ["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"] as const;
export type KvType = (typeof KV_TYPES)[number];

/** Kestra's key pattern. */
export const KV_KEY_RE = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
/** Longest key: the file name (key + `.json`) must fit every filesystem's 255-byte limit. */
export const KV_KEY_MAX_LENGTH = 200;

/**
 * A typed value. `value` is JSON: STRING a string, NUMBER a number, BOOLEAN a boolean, DATETIME an
 * ISO-8601 instant (`2024-05-01T10:00:00.000Z`), DATE `YYYY-MM-DD`, DURATION an ISO-8601 duration,
 * JSON anything.
 */
export interface KvValue {
  type: KvType;
  value: unknown;
}

/** What a listing shows of a key (dates are ISO-8601 instants). */
export interface KvMetadata {
  key: string;
  description?: string;
  creationDate: string;
  updateDate: string;
  expirationDate?: string;
}

/** A stored key with its value. */
export interface KvEntry extends KvMetadata, KvValue {}

/** Whose store: a tenant's namespace. */
export interface KvNamespace {
  tenantId: string;
  namespace: string;
}

export interface KvPutOptions {
  /** false: refuse (KV_KEY_EXISTS) when a live value is already there. Default true. */
  overwrite?: boolean;
  /** Time to live, an ISO-8601 duration (`PT1H`, `P30D`); absent: the value never expires. */
  ttl?: string;
  description?: string;
}

/** The namespace key-value store. Keys are checked against Kestra's pattern on every call. */
export interface KvStore {
  /**
   * Stores `value` under `key`, replacing what is there unless `overwrite` is false (then rejects
   * with KV_KEY_EXISTS while a live value exists). Keeps the creation date of the value it
   * replaces. Rejects with KV_KEY_INVALID, KV_NAMESPACE_INVALID, KV_VALUE_INVALID or
   * DURATION_INVALID (ttl) on bad input. Returns the stored entry.
   */
  put(ns: KvNamespace, key: string, value: KvValue, opts?: KvPutOptions): Promise<KvEntry>;
  /** The live entry of `key`, or undefined when there is none or it has expired. */
  get(ns: KvNamespace, key: string): Promise<KvEntry | undefined>;
  /** Deletes `key`; true when a live value was there (an expired one is removed but reported false). */
  delete(ns: KvNamespace, key: string): Promise<boolean>;
  /** The live keys of the namespace whose name starts with `prefix` (all when absent), sorted by key. */
  list(ns: KvNamespace, prefix?: string): Promise<KvMetadata[]>;
}

const FILE_SUFFIX = ".json";
/** Version of the stored document, so a later format can still read older files. */
const DOC_VERSION = 1;

interface StoredDoc extends KvEntry {
  version: number;
}

/** Throws KV_KEY_INVALID unless `key` is a valid KV key. */
export function validateKvKey(key: unknown): string {
  if (typeof key !== "string" || key === "") throw new LannerError("KV_KEY_INVALID", "a KV key cannot be empty");
  if (key.length > KV_KEY_MAX_LENGTH) {
    throw new LannerError("KV_KEY_INVALID", `KV key ${JSON.stringify(key.slice(0, 40))}… is longer than ${KV_KEY_MAX_LENGTH} characters`);
  }
  if (!KV_KEY_RE.test(key)) {
    throw new LannerError(
      "KV_KEY_INVALID",
      `invalid KV key ${JSON.stringify(key)}: a key starts with a letter or digit and holds only letters, digits, dots (.), underscores (_) and hyphens (-)`,
    );
  }
  return key;
}

/** Any namespace a flow may have, without empty parts (they would be empty path segments). */
function namespaceParts(namespace: unknown): string[] {
  const ok = typeof namespace === "string" && namespace.length <= 150 && NAMESPACE_RE.test(namespace);
  const parts = ok ? namespace.split(".") : [];
  if (parts.length === 0 || parts.includes("")) {
    throw new LannerError("KV_NAMESPACE_INVALID", `invalid namespace ${JSON.stringify(namespace)}: expected dot-separated lower-case names such as company.team`);
  }
  return parts;
}

function kvDir(ns: KvNamespace): string[] {
  const tenant = storageSegments(ns.tenantId);
  if (tenant.length !== 1) throw new LannerError("KV_NAMESPACE_INVALID", `invalid tenant ${JSON.stringify(ns.tenantId)}`);
  return [tenant[0], ...namespaceParts(ns.namespace), "_kv"];
}

function invalidValue(type: KvType, raw: unknown, why: string): LannerError {
  return new LannerError("KV_VALUE_INVALID", `cannot store ${JSON.stringify(raw)} as ${type}: ${why}`);
}

const JSON_NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True when `s` is an ISO-8601 instant with its offset (`2024-05-01T10:00:00Z`). */
export function isKvInstant(s: string): boolean {
  return INSTANT_RE.test(s) && !Number.isNaN(Date.parse(s));
}

/** True when `s` is a calendar date `YYYY-MM-DD` that exists. */
export function isKvDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.getUTCDate() === Number(m[3]) && d.getUTCMonth() + 1 === Number(m[2]);
}

/** The type Kestra gives a value it was handed without one (null and containers are JSON). */
export function inferKvType(value: unknown): KvType {
  if (typeof value === "string") return "STRING";
  if (typeof value === "number") return "NUMBER";
  if (typeof value === "boolean") return "BOOLEAN";
  return "JSON";
}

/**
 * A value as Kestra's `Set` task stores it: a string with a `type` is converted to that type
 * (NUMBER parsed as JSON, BOOLEAN true only for "true" in any case, DATETIME an instant, DATE a
 * date or an instant's UTC date, DURATION an ISO-8601 duration, JSON parsed); anything else keeps
 * its own type. Throws KV_VALUE_INVALID when the string does not read as the type.
 */
export function toKvValue(raw: unknown, type?: KvType): KvValue {
  if (typeof raw === "number" && !Number.isFinite(raw)) throw invalidValue("NUMBER", String(raw), "not a finite number");
  if (typeof raw !== "string" || type === undefined) return { type: inferKvType(raw), value: raw === undefined ? null : raw };
  const s = raw.trim();
  switch (type) {
    case "STRING":
      return { type, value: raw };
    case "NUMBER":
      if (!JSON_NUMBER_RE.test(s)) throw invalidValue(type, raw, "not a number");
      return { type, value: Number(s) };
    case "BOOLEAN":
      return { type, value: s.toLowerCase() === "true" };
    case "DATETIME":
      if (!isKvInstant(s)) throw invalidValue(type, raw, "expected an ISO-8601 date-time with its offset, such as 2024-05-01T10:00:00Z");
      return { type, value: new Date(s).toISOString() };
    case "DATE":
      if (isKvDate(s)) return { type, value: s };
      if (isKvInstant(s)) return { type, value: new Date(s).toISOString().slice(0, 10) };
      throw invalidValue(type, raw, "expected a date such as 2024-05-01");
    case "DURATION":
      if (!isDuration(s)) throw invalidValue(type, raw, "expected an ISO-8601 duration such as PT5M");
      return { type, value: s.toUpperCase() };
    case "JSON":
      try {
        return { type, value: JSON.parse(s) as unknown };
      } catch (err) {
        throw invalidValue(type, raw, `invalid JSON (${err instanceof Error ? err.message : String(err)})`);
      }
  }
}

/** Checks that a value already typed (read back, or built by a caller) matches its type. */
function checkValue(v: KvValue): void {
  if (!(KV_TYPES as readonly string[]).includes(v.type)) {
    throw new LannerError("KV_VALUE_INVALID", `unknown KV type ${JSON.stringify(v.type)}: expected one of ${KV_TYPES.join(", ")}`);
  }
  const ok =
    v.type === "JSON" ||
    (v.type === "STRING" && typeof v.value === "string") ||
    (v.type === "NUMBER" && typeof v.value === "number" && Number.isFinite(v.value)) ||
    (v.type === "BOOLEAN" && typeof v.value === "boolean") ||
    (v.type === "DATETIME" && typeof v.value === "string" && isKvInstant(v.value)) ||
    (v.type === "DATE" && typeof v.value === "string" && isKvDate(v.value)) ||
    (v.type === "DURATION" && typeof v.value === "string" && isDuration(v.value));
  if (!ok) throw invalidValue(v.type, v.value, "the value does not have this type");
}

/** A KvStore kept in internal storage; `now` is the clock for dates and expiry. */
export class StorageKvStore implements KvStore {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
  ) {}

  private path(ns: KvNamespace, key: string): string {
    return [...kvDir(ns), `${validateKvKey(key)}${FILE_SUFFIX}`].join("/");
  }

  /** The stored document whatever its expiry, or undefined when there is none. */
  private async read(path: string): Promise<StoredDoc | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFileBytes(this.storage, path);
    } catch (err) {
      if (err instanceof LannerError && err.code === "STORAGE_NOT_FOUND") return undefined;
      throw err;
    }
    try {
      return JSON.parse(bytes.toString("utf8")) as StoredDoc;
    } catch (err) {
      throw new LannerError("KV_CORRUPT", `the KV file ${path} in internal storage is not valid JSON`, { cause: err });
    }
  }

  private live(doc: StoredDoc | undefined): doc is StoredDoc {
    return doc !== undefined && (doc.expirationDate === undefined || Date.parse(doc.expirationDate) > this.now());
  }

  async put(ns: KvNamespace, key: string, value: KvValue, opts: KvPutOptions = {}): Promise<KvEntry> {
    const path = this.path(ns, key);
    checkValue(value);
    const ttlMs = opts.ttl === undefined ? undefined : parseDuration(opts.ttl);
    const existing = await this.read(path);
    const alive = this.live(existing);
    if (opts.overwrite === false && alive) {
      throw new LannerError("KV_KEY_EXISTS", `Cannot set value for key '${key}': the key already exists in namespace '${ns.namespace}' and overwrite is false`);
    }
    const now = this.now();
    const entry: KvEntry = {
      key,
      type: value.type,
      value: value.value,
      ...(opts.description !== undefined && opts.description !== "" ? { description: opts.description } : {}),
      creationDate: alive ? existing.creationDate : new Date(now).toISOString(),
      updateDate: new Date(now).toISOString(),
      ...(ttlMs !== undefined ? { expirationDate: new Date(now + ttlMs).toISOString() } : {}),
    };
    const doc: StoredDoc = { version: DOC_VERSION, ...entry };
    await this.storage.put(path, Buffer.from(JSON.stringify(doc), "utf8"));
    return entry;
  }

  async get(ns: KvNamespace, key: string): Promise<KvEntry | undefined> {
    const doc = await this.read(this.path(ns, key));
    return this.live(doc) ? entryOf(doc) : undefined;
  }

  async delete(ns: KvNamespace, key: string): Promise<boolean> {
    const path = this.path(ns, key);
    // A file that no longer parses is still removed: deleting is how a user gets rid of it.
    const doc = await this.read(path).catch((err: unknown) => {
      if (err instanceof LannerError && err.code === "KV_CORRUPT") return null;
      throw err;
    });
    if (doc === undefined) return false;
    const deleted = await this.storage.delete(path);
    return deleted && (doc === null || this.live(doc));
  }

  async list(ns: KvNamespace, prefix = ""): Promise<KvMetadata[]> {
    const dir = kvDir(ns);
    const out: KvMetadata[] = [];
    for (const uri of await this.storage.list(dir.join("/"))) {
      const segments = storageSegments(uri);
      // Only the namespace's own keys: deeper files belong to a namespace whose part is `_kv`.
      if (segments.length !== dir.length + 1) continue;
      const name = segments[segments.length - 1];
      if (!name.endsWith(FILE_SUFFIX)) continue;
      const key = name.slice(0, -FILE_SUFFIX.length);
      if (!KV_KEY_RE.test(key) || !key.startsWith(prefix)) continue;
      // One unreadable file does not hide the others; `get` reports it for its own key.
      const doc = await this.read(segments.join("/")).catch(() => undefined);
      if (!this.live(doc)) continue;
      const { type: _type, value: _value, ...meta } = entryOf(doc);
      out.push(meta);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

function entryOf(doc: StoredDoc): KvEntry {
  return {
    key: doc.key,
    type: doc.type,
    value: doc.value,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    creationDate: doc.creationDate,
    updateDate: doc.updateDate,
    ...(doc.expirationDate !== undefined ? { expirationDate: doc.expirationDate } : {}),
  };
}
