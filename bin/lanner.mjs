#!/usr/bin/env node
// Entry point of the `lanner` command: loads the TypeScript sources through tsx's loader,
// so the program runs from a clean clone with no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
