import type { Command } from "commander";

/**
 * Adds every sub-command to the program. Each command module registers itself here;
 * `setExit` lets a command choose the exit code without killing the process.
 */
export function registerCommands(_program: Command, _setExit: (code: number) => void): void {}
