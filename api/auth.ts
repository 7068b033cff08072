/**
 * Authentication of API requests: basic-auth users and bearer API tokens, from the configuration
 * (hashes only) and from the access store (created at run time). A token is `lnr_<id>_<secret>`:
 * the id finds the record, the scrypt hash of the whole token checks it. Verified credentials are
 * remembered by their SHA-256, so a client does not pay one scrypt per request; a remembered one
 * is still looked up in the access store, so revoking it takes effect at once.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Config } from "../cli/config.js";
import type { AccessStore, TenantScope } from "./access-store.js";
import { ApiError } from "./http-errors.js";
import { hashSecret, verifySecret } from "./password-hash.js";

/** Who is calling. */
export interface Principal {
  /** `user:<name>` or `token:<name>`. */
  name: string;
  tenants: TenantScope;
  /** May manage tenants, users and tokens. */
  admin: boolean;
}

/** The principal of a request when authentication is off: everything is allowed. */
export const ANONYMOUS_ADMIN: Principal = { name: "anonymous", tenants: "*", admin: true };

/** True when `p` may use tenant `tenantId`. */
export function allowsTenant(p: Principal, tenantId: string): boolean {
  return p.tenants === "*" || p.tenants.includes(tenantId);
}

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}

const unauthorized = (message: string) => new ApiError(401, "UNAUTHORIZED", message);

/** A newly minted token: the secret is shown once, only its hash is kept. */
export interface MintedToken {
  id: string;
  token: string;
  hash: string;
}

/** Mints a token `lnr_<id>_<secret>` and its hash. */
export async function mintToken(): Promise<MintedToken> {
  const id = randomBytes(9).toString("base64url").replace(/[-_]/g, "x");
  const token = `lnr_${id}_${randomBytes(24).toString("base64url")}`;
  return { id, token, hash: await hashSecret(token) };
}

const TOKEN_RE = /^lnr_([A-Za-z0-9]+)_[A-Za-z0-9_-]+$/;

export class Authenticator {
  private readonly verified = new Map<string, { principal: Principal; check: () => Promise<boolean> }>();

  constructor(
    private readonly auth: Config["auth"],
    private readonly store: AccessStore | undefined,
  ) {}

  /** True when any user or token is configured: requests must then authenticate. */
  get enabled(): boolean {
    return this.auth.users.length > 0 || this.auth.tokens.length > 0;
  }

  /**
   * The principal of an `Authorization` header. Rejects with 401 when it is missing, malformed or
   * wrong (the same message for an unknown name and a wrong secret).
   */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw unauthorized("authentication required (basic auth or a bearer API token)");
    const digest = createHash("sha256").update(header).digest("base64url");
    const hit = this.verified.get(digest);
    // A remembered credential skips scrypt but is still looked up (in memory) so a revocation counts at once.
    if (hit && (await hit.check())) return hit.principal;
    this.verified.delete(digest);
    const found = await this.resolve(header);
    if (!found) throw unauthorized("invalid credentials");
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(digest, found);
    return found.principal;
  }

  private async resolve(header: string): Promise<{ principal: Principal; check: () => Promise<boolean> } | undefined> {
    const [scheme, value] = header.trim().split(/\s+/, 2);
    if (!value) return undefined;
    if (scheme.toLowerCase() === "basic") {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (i <= 0) return undefined;
      const username = decoded.slice(0, i);
      const password = decoded.slice(i + 1);
      const configured = this.auth.users.find((u) => u.username === username);
      if (configured) {
        if (!(await verifySecret(password, configured.password))) return undefined;
        return { principal: { name: `user:${username}`, tenants: configured.tenants, admin: configured.admin }, check: async () => true };
      }
      const stored = await this.store?.getUser(username);
      if (!stored || !(await verifySecret(password, stored.hash))) return undefined;
      const hash = stored.hash;
      return {
        principal: { name: `user:${username}`, tenants: stored.tenants, admin: stored.admin },
        check: async () => (await this.store?.getUser(username))?.hash === hash,
      };
    }
    if (scheme.toLowerCase() === "bearer") {
      for (const t of this.auth.tokens) {
        if (await verifySecret(value, t.hash)) return { principal: { name: `token:${t.name}`, tenants: t.tenants, admin: t.admin }, check: async () => true };
      }
      const m = TOKEN_RE.exec(value);
      if (!m) return undefined;
      const stored = await this.store?.getToken(m[1]);
      if (!stored || !(await verifySecret(value, stored.hash))) return undefined;
      const id = stored.id;
      return {
        principal: { name: `token:${stored.name}`, tenants: stored.tenants, admin: stored.admin },
        check: async () => (await this.store?.getToken(id)) !== undefined,
      };
    }
    return undefined;
  }
}
