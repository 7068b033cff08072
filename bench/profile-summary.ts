/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`, which writes one per thread, or
 * `bench/profile-chain.ts`): for each, the top frames by self time with their share of all
 * samples, and the share of each component.
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile>… [top=25]
 */
import { readFileSync } from "node:fs";
import { summariseProfile, type CpuProfile } from "./lib/profile.js";

const args = process.argv.slice(2);
const last = args.at(-1);
const top = last !== undefined && /^\d+$/.test(last) ? Number(args.pop()) : 25;
if (args.length === 0 || top < 1) {
  process.stderr.write("usage: npx tsx bench/profile-summary.ts <file.cpuprofile>… [top]\n");
  process.exit(2);
}
for (const file of args) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  process.stdout.write(`profile ${file}: ${summariseProfile(profile, top)}`);
}
