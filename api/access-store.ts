/**
 * Tenants, users and API tokens created at run time (API or CLI), kept on a log topic of their own
 * (`access`, one partition, never purged): the log is the source of truth, each webserver folds
 * the topic into memory at start and reads what is new when it meets a name it does not know, or
 * when its copy is older than `maxStalenessMs` — so a token revoked through one webserver stops
 * working on every other within that delay, without any polling loop.
 *
 * Secrets are never stored: users and tokens keep an scrypt hash (see `password-hash.ts`).
 */
import { LannerError } from "../common/errors.js";
import type { Log } from "../topology/log.js";

/** A tenant: the unit of isolation when multi-tenancy is on. */
export interface TenantRecord {
  kind: "tenant";
  id: string;
  name: string;
  deleted?: boolean;
  /** ISO-8601 instant of creation. */
  created: string;
}

/** Which tenants a principal may use: `*` for all. */
export type TenantScope = "*" | string[];

/** A basic-auth user created at run time. */
export interface UserRecord {
  kind: "user";
  username: string;
  /** scrypt hash (`scrypt$…`). */
  hash: string;
  tenants: TenantScope;
  admin: boolean;
  deleted?: boolean;
}

/** An API token: `lnr_<id>_<secret>`; only the secret's hash is kept. */
export interface TokenRecord {
  kind: "token";
  id: string;
  name: string;
  hash: string;
  tenants: TenantScope;
  admin: boolean;
  revoked?: boolean;
  created: string;
}

export type AccessRecord = TenantRecord | UserRecord | TokenRecord;

export const ACCESS_TOPIC = "access";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function decode(bytes: Uint8Array): AccessRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  if (v.kind === "tenant" && typeof v.id === "string") return v as unknown as TenantRecord;
  if (v.kind === "user" && typeof v.username === "string" && typeof v.hash === "string") return v as unknown as UserRecord;
  if (v.kind === "token" && typeof v.id === "string" && typeof v.hash === "string") return v as unknown as TokenRecord;
  return undefined;
}

const keyOf = (r: AccessRecord): string => (r.kind === "user" ? `user/${r.username}` : `${r.kind}/${r.id}`);

/** The run-time access records, folded from the `access` topic. */
export class AccessStore {
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly users = new Map<string, UserRecord>();
  private readonly tokens = new Map<string, TokenRecord>();
  private next = 0n;
  private refreshedAt = 0;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly log: Log,
    private readonly topic = ACCESS_TOPIC,
    private readonly maxStalenessMs = 2_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Creates the topic when missing and reads it whole. */
  async start(): Promise<void> {
    await this.log.ensureTopics([{ name: this.topic, partitions: 1 }]);
    await this.refresh();
  }

  /** Reads the records appended since the last read (by any process). Concurrent calls share one read. */
  refresh(): Promise<void> {
    this.reading ??= (async () => {
      try {
        for await (const rec of this.log.readPartition(this.topic, 0, this.next)) {
          this.next = rec.offset + 1n;
          const r = decode(rec.value);
          if (r) this.apply(r);
        }
        this.refreshedAt = this.clock();
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private apply(r: AccessRecord): void {
    if (r.kind === "tenant") this.tenants.set(r.id, r);
    else if (r.kind === "user") this.users.set(r.username, r);
    else this.tokens.set(r.id, r);
  }

  private async fresh(): Promise<void> {
    if (this.clock() - this.refreshedAt > this.maxStalenessMs) await this.refresh();
  }

  private async put(r: AccessRecord): Promise<void> {
    await this.log.append([{ topic: this.topic, key: keyOf(r), value: Buffer.from(JSON.stringify(r)), headers: { "content-type": "application/json" } }]);
    await this.refresh();
  }

  /** The live tenant `id`, reading what is new first when it is unknown here. */
  async getTenant(id: string): Promise<TenantRecord | undefined> {
    await this.fresh();
    let t = this.tenants.get(id);
    if (!t) {
      await this.refresh();
      t = this.tenants.get(id);
    }
    return t && !t.deleted ? t : undefined;
  }

  /** Every live tenant, sorted by id. */
  async listTenants(): Promise<TenantRecord[]> {
    await this.refresh();
    return [...this.tenants.values()].filter((t) => !t.deleted).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Creates a tenant; `TENANT_EXISTS` when a live one has this id. */
  async createTenant(id: string, name?: string): Promise<TenantRecord> {
    if (await this.getTenant(id)) throw new LannerError("TENANT_EXISTS", `tenant ${id} already exists`);
    const t: TenantRecord = { kind: "tenant", id, name: name ?? id, created: new Date(this.clock()).toISOString() };
    await this.put(t);
    return t;
  }

  /** Deletes a tenant (its data stays, unreachable until it is created again); false when unknown. */
  async deleteTenant(id: string): Promise<boolean> {
    const t = await this.getTenant(id);
    if (!t) return false;
    await this.put({ ...t, deleted: true });
    return true;
  }

  /** The live user `username`. */
  async getUser(username: string): Promise<UserRecord | undefined> {
    await this.fresh();
    let u = this.users.get(username);
    if (!u) {
      await this.refresh();
      u = this.users.get(username);
    }
    return u && !u.deleted ? u : undefined;
  }

  /** Creates or replaces a user. */
  async putUser(u: Omit<UserRecord, "kind">): Promise<void> {
    await this.put({ kind: "user", ...u });
  }

  /** Deletes a user; false when unknown. */
  async deleteUser(username: string): Promise<boolean> {
    const u = await this.getUser(username);
    if (!u) return false;
    await this.put({ ...u, deleted: true });
    return true;
  }

  /** The token `id` unless revoked. */
  async getToken(id: string): Promise<TokenRecord | undefined> {
    await this.fresh();
    let t = this.tokens.get(id);
    if (!t) {
      await this.refresh();
      t = this.tokens.get(id);
    }
    return t && !t.revoked ? t : undefined;
  }

  /** Every token that is not revoked (hashes included: callers strip them before answering). */
  async listTokens(): Promise<TokenRecord[]> {
    await this.refresh();
    return [...this.tokens.values()].filter((t) => !t.revoked);
  }

  /** Stores a new token record. */
  async putToken(t: Omit<TokenRecord, "kind">): Promise<void> {
    await this.put({ kind: "token", ...t });
  }

  /** Revokes a token; false when unknown or already revoked. */
  async revokeToken(id: string): Promise<boolean> {
    const t = await this.getToken(id);
    if (!t) return false;
    await this.put({ ...t, revoked: true });
    return true;
  }
}
