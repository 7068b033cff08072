import { Command, CommanderError } from "commander";
import { describeError } from "../common/errors.js";
import { registerCommands } from "./commands.js";

/** Runs the `lanner` command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("lanner")
    .description("Lanner: an event-sourced workflow orchestrator that runs Kestra flows")
    .exitOverride()
    .showHelpAfterError();
  let exitCode = 0;
  registerCommands(program, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`lanner: ${describeError(err)}\n`);
    return 1;
  }
}
