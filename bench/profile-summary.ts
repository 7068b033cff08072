/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof` or `bench/profile-chain.ts`): the top
 * frames by self time, with their share of all samples, and the share of each component.
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from "node:fs";
import { summariseProfile, type CpuProfile } from "./lib/profile.js";

const [file, topArg] = process.argv.slice(2);
const top = topArg === undefined ? 25 : Number(topArg);
if (!file || !Number.isInteger(top) || top < 1) {
  process.stderr.write("usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
process.stdout.write(`profile ${file}: ${summariseProfile(profile, top)}`);
