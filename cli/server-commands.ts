/**
 * `lanner server standalone|executor|worker|liveness|scheduler|indexer|webserver`: starts the role(s) in
 * this process, prints one ready line on stdout (`lanner <role> ready on http://HOST:PORT
 * (backend embedded, data ./.lanner)`), and runs until SIGTERM/SIGINT (graceful stop; a second
 * signal exits at once).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, Option } from "commander";
import { request } from "undici";
import { describeError } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import { ROLE_NAMES, startRoles, type RoleName, type RolesHandle } from "../processors/runtime/roles.js";
import { loadConfig, type Config } from "./config.js";

interface ServerFlags {
  backend?: string;
  dataDir?: string;
  postgresUrl?: string;
  postgresSchema?: string;
  kafkaBrokers?: string;
  kafkaPrefix?: string;
  port?: string;
  host?: string;
  threads?: string;
  workerGroup?: string;
  config?: string;
  flows?: string;
}

const SERVER_ROLES = ["standalone", ...ROLE_NAMES] as const;
type ServerRole = (typeof SERVER_ROLES)[number];

/** The roles a `lanner server <role>` command runs. */
export function rolesOf(role: ServerRole): RoleName[] {
  return role === "standalone" ? [...ROLE_NAMES] : [role];
}

/** Configuration from file, environment and flags (flags win). */
export function serverConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    env,
    overrides: [
      [["backend"], flags.backend],
      [["dataDir"], flags.dataDir],
      [["postgres", "url"], flags.postgresUrl],
      [["postgres", "schema"], flags.postgresSchema],
      [["kafka", "brokers"], flags.kafkaBrokers],
      [["kafka", "prefix"], flags.kafkaPrefix],
      [["port"], flags.port],
      [["host"], flags.host],
      [["worker", "threads"], flags.threads],
      [["worker", "group"], flags.workerGroup],
      [["flowsDir"], flags.flows],
    ],
  });
}

/** The line tests and people wait for. */
export function readyLine(role: ServerRole, config: Config, url: string | undefined): string {
  const where =
    config.backend === "postgres"
      ? `backend postgres, schema ${config.postgres.schema}`
      : config.backend === "kafka"
        ? `backend kafka, brokers ${config.kafka.brokers.join(",")}${config.kafka.prefix ? `, prefix ${config.kafka.prefix}` : ""}`
        : `backend embedded, data ${config.dataDir}`;
  return `lanner ${role} ready${url ? ` on ${url}` : ""} (${where})`;
}

/**
 * Deploys every `*.yaml` / `*.yml` file of `dir` through the API at `url`. Problems are reported
 * on stderr (file:line:column: message) and do not stop the server. Resolves with the count deployed.
 */
export async function deployFlowsDir(dir: string, url: string, err: (line: string) => void): Promise<number> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /\.ya?ml$/i.test(f)).sort();
  } catch (e) {
    err(`lanner: cannot read flows directory ${dir}: ${describeError(e)}`);
    return 0;
  }
  let deployed = 0;
  for (const f of files) {
    const path = join(dir, f);
    const source = await readFile(path, "utf8");
    const res = await request(`${url}/api/v1/flows`, { method: "POST", headers: { "content-type": "application/x-yaml" }, body: source });
    const body: unknown = await res.body.json().catch(() => undefined);
    if (res.statusCode === 200) {
      deployed++;
      continue;
    }
    const errors = typeof body === "object" && body !== null && Array.isArray((body as { errors?: unknown }).errors)
      ? ((body as { errors: Array<{ line?: number; column?: number; message?: string }> }).errors)
      : [];
    if (errors.length === 0) {
      const message = typeof body === "object" && body !== null ? String((body as { message?: unknown }).message ?? res.statusCode) : String(res.statusCode);
      err(`${path}: not deployed: ${message}`);
    }
    for (const e of errors) err(`${path}:${e.line ?? 1}:${e.column ?? 1}: ${e.message ?? "invalid"}`);
  }
  return deployed;
}

/**
 * Runs a server role until a signal stops it. Resolves with the exit code (0 after a graceful
 * stop). `signals` lets tests drive it; by default it listens to SIGTERM and SIGINT.
 */
export async function runServer(role: ServerRole, flags: ServerFlags): Promise<number> {
  const config = serverConfig(flags);
  const logger = createLogger({ base: { process: role } });
  const handle: RolesHandle = await startRoles(config, rolesOf(role), { logger });
  if (role === "standalone" && config.flowsDir && handle.url) {
    const n = await deployFlowsDir(config.flowsDir, handle.url, (line) => process.stderr.write(`${line}\n`));
    logger.info({ dir: config.flowsDir, deployed: n }, "flows deployed at start");
  }
  process.stdout.write(`${readyLine(role, config, handle.url)}\n`);

  return await new Promise<number>((resolve) => {
    let signalled = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signalled++;
      if (signalled > 1) {
        process.stderr.write(`lanner: ${sig} again, exiting now\n`);
        process.exit(130);
      }
      process.stderr.write(`lanner: ${sig} received, stopping (send it again to exit now)\n`);
      handle.stop().then(
        () => {
          process.off("SIGTERM", onSignal);
          process.off("SIGINT", onSignal);
          clearInterval(keepAlive);
          logger.flush();
          resolve(0);
        },
        (err: unknown) => {
          process.stderr.write(`lanner: error while stopping: ${describeError(err)}\n`);
          resolve(1);
        },
      );
    };
    // the roles' timers are unref'd and the embedded log holds no socket: keep the process up until told
    const keepAlive = setInterval(() => undefined, 1 << 30);
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

/** Adds `lanner server <role>` to the program. */
export function registerServerCommands(program: Command, setExit: (code: number) => void): void {
  const server = program.command("server").description("Run Lanner server roles (standalone runs them all in one process)");
  const descriptions: Record<ServerRole, string> = {
    standalone: "every role in one process (embedded backend by default)",
    executor: "the executor: drives executions from commands and worker results",
    worker: "a worker: runs tasks of its worker group",
    liveness: "liveness: declares silent workers lost so their attempts are resubmitted",
    scheduler: "the scheduler: starts the executions of Schedule triggers (exactly once per date), catch-up and backfills",
    indexer: "the indexer: folds the log into the read side",
    webserver: "the HTTP API",
  };
  for (const role of SERVER_ROLES) {
    server
      .command(role)
      .description(descriptions[role])
      .addOption(new Option("--backend <name>", "log and state backend").choices(["embedded", "postgres", "kafka"]))
      .option("--data-dir <dir>", "data directory (embedded log and read side, internal storage); default ./.lanner")
      .option("--postgres-url <url>", "Postgres connection URL (backend postgres)")
      .option("--postgres-schema <name>", "Postgres schema of Lanner's tables; default lanner")
      .option("--kafka-brokers <list>", "Kafka bootstrap servers, comma-separated (backend kafka); default 127.0.0.1:9092")
      .option("--kafka-prefix <prefix>", "prefix of Lanner's Kafka topics, groups and transactional ids; default none")
      .option("--port <n>", "HTTP port of the API; default 8080")
      .option("--host <addr>", "HTTP address of the API; default 127.0.0.1")
      .option("--threads <n>", "tasks a worker runs at once; default 8")
      .option("--worker-group <key>", "worker group this worker serves")
      .option("--config <file>", "YAML configuration file (environment LANNER_* and flags override it)")
      .option("--flows <dir>", "standalone: deploy every flow file of this directory at start")
      .action(async (flags: ServerFlags) => {
        setExit(await runServer(role, flags));
      });
  }
}
