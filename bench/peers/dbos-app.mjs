// The DBOS Transact peer: workflows `chain` (N sequential steps) and `two` (2 steps), each step a
// `DBOS.runStep` returning a small string, as Lanner's Return task does, with the system database
// on the local Postgres. Served over HTTP (node:http) so it is driven as Lanner's API is:
// POST /chain?n=40 and POST /two run one workflow to its end and answer its result.
// Usage: node dbos-app.mjs <port> <systemDatabaseUrl>
// Prints `dbos-app ready <port>` once DBOS is launched and the server listens.
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { URL } from "node:url";
import { DBOS } from "@dbos-inc/dbos-sdk";

const [portArg, systemDatabaseUrl] = process.argv.slice(2);
if (!systemDatabaseUrl) {
  process.stderr.write("usage: node dbos-app.mjs <port> <systemDatabaseUrl>\n");
  process.exit(2);
}

DBOS.setConfig({ name: "lanner-bench", systemDatabaseUrl, logLevel: "warn" });

async function steps(n) {
  let last = "";
  for (let i = 1; i <= n; i++) last = await DBOS.runStep(async () => `step ${i}`, { name: `t${i}` });
  return last;
}
const chain = DBOS.registerWorkflow(async (n) => steps(n), { name: "chain" });
const two = DBOS.registerWorkflow(async () => steps(2), { name: "two" });

await DBOS.launch();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  req.resume();
  const run = url.pathname === "/chain" ? () => chain(Number(url.searchParams.get("n") ?? 40))
    : url.pathname === "/two" ? () => two()
    : undefined;
  if (!run || req.method !== "POST") {
    res.writeHead(404).end();
    return;
  }
  // A workflow id per request, as a client of DBOS would pass for idempotency.
  DBOS.withNextWorkflowID(randomUUID(), run).then(
    (out) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out)),
    (err) => res.writeHead(500, { "content-type": "text/plain" }).end(String(err?.stack ?? err)),
  );
});
server.listen(Number(portArg), "127.0.0.1", () => {
  process.stdout.write(`dbos-app ready ${server.address().port}\n`);
});
const stop = async () => {
  server.close();
  await DBOS.shutdown();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
