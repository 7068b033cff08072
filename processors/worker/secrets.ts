/**
 * Secrets as Kestra's open-source edition reads them: environment variables holding the value
 * base64-encoded, `SECRET_<NAME>` (Kestra's spelling) or `LANNER_SECRET_<NAME>` (ours, first).
 * The name is tried as written, then upper-cased, so `secret('github_token')` finds
 * `SECRET_GITHUB_TOKEN`.
 */
export function envSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const names = name.toUpperCase() === name ? [name] : [name, name.toUpperCase()];
  for (const n of names) {
    for (const prefix of ["LANNER_SECRET_", "SECRET_"]) {
      const raw = env[`${prefix}${n}`];
      if (raw !== undefined) return Buffer.from(raw.trim(), "base64").toString("utf8");
    }
  }
  return undefined;
}
