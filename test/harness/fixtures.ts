import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../fixtures/flows/", import.meta.url));

/** The YAML text of `test/fixtures/flows/<name>.yaml`. */
export function flowYaml(name: string): string {
  return readFileSync(`${dir}${name}.yaml`, "utf8");
}
