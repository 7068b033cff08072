/**
 * Records the golden histories under test/fixtures/flows/golden/ (run by hand with
 * `npx tsx test/harness/record-golden.ts` after a deliberate change to the event format).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GOLDEN_SCENARIOS, runScenario } from "./golden.js";

const dir = fileURLToPath(new URL("../fixtures/flows/golden/", import.meta.url));
for (const name of Object.keys(GOLDEN_SCENARIOS)) {
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify(runScenario(name), null, 1)}\n`);
  console.log(`recorded ${name}`);
}
