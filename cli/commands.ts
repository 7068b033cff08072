import type { Command } from "commander";
import { registerAuthCommands } from "./auth-commands.js";
import { registerClientCommands } from "./client-commands.js";
import { registerFlowCommands } from "./flow-commands.js";
import { registerServerCommands } from "./server-commands.js";
import { registerTenantCommands } from "./tenant-commands.js";
import { registerSysCommands } from "./sys-commands.js";
import { registerTriggerCommands } from "./trigger-commands.js";

/**
 * Adds every sub-command to the program. Each command module registers itself here;
 * `setExit` lets a command choose the exit code without killing the process.
 */
export function registerCommands(program: Command, setExit: (code: number) => void): void {
  registerFlowCommands(program, setExit);
  registerServerCommands(program, setExit);
  registerSysCommands(program, setExit);
  registerClientCommands(program, setExit);
  registerTenantCommands(program, setExit);
  registerAuthCommands(program, setExit);
  registerTriggerCommands(program, setExit);
}
