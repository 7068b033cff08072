import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parseFlow } from "../schemas/flow-parser.js";

/** Output sinks, so tests can capture what a command prints. */
export interface FlowCommandIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: FlowCommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Validates flow files: prints `file: ok` or one `file:line:column: message` line per issue.
 * Resolves to the exit code: 0 all valid, 1 when any flow is invalid, 2 when a file cannot be read.
 */
export async function validateFlowFiles(files: string[], io: FlowCommandIo = processIo): Promise<number> {
  let code = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file"
        : (err as NodeJS.ErrnoException).code === "EISDIR" ? "is a directory, expected a YAML file"
        : (err as NodeJS.ErrnoException).code === "EACCES" ? "permission denied"
        : err instanceof Error ? err.message : String(err);
      io.err(`${file}: cannot read the file: ${reason}`);
      code = 2;
      continue;
    }
    const r = parseFlow(text);
    if (r.ok) io.out(`${file}: ok`);
    else {
      for (const e of r.errors) io.out(`${file}:${e.line}:${e.column}: ${e.message}`);
      if (code === 0) code = 1;
    }
  }
  return code;
}

/** Adds `lanner flow …` (validate) to the program; `setExit` sets the process exit code. */
export function registerFlowCommands(program: Command, setExit: (code: number) => void): void {
  const flow = program.command("flow").description("Work with flow files");
  flow
    .command("validate")
    .description("Check flow YAML files; prints file:line:column: message for each problem")
    .argument("<files...>", "flow files to check")
    .action(async (files: string[]) => {
      setExit(await validateFlowFiles(files));
    });
}
