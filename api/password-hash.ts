/**
 * Secrets at rest: scrypt (node:crypto) with a random salt, written as
 * `scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>` so the cost can grow later without
 * invalidating stored hashes. Verification compares in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

const N = 16_384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(secret: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a secret for storage. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(secret, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** True when `hash` is in the stored format (so a config holding a plain password can be refused). */
export function isSecretHash(hash: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/.test(hash);
}

/** True when `secret` matches `hash`; false for a malformed hash. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  if (!isSecretHash(hash)) return false;
  const [, n, r, p, salt, key] = hash.split("$");
  const expected = Buffer.from(key, "base64url");
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  // Refuse absurd parameters instead of burning the CPU on a crafted config.
  if (cost.N > 1 << 20 || cost.r > 32 || cost.p > 16 || expected.length !== KEY_LENGTH) return false;
  const actual = await derive(secret, Buffer.from(salt, "base64url"), cost);
  return timingSafeEqual(actual, expected);
}
