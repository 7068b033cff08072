import { PostgresLog } from "../../topology/postgres/postgres-log.js";
import { createTestSchema } from "../harness/postgres.js";
import { stateStoreContract } from "./state-store.contract.js";

const schema = createTestSchema("state");
const log = schema.then((s) => PostgresLog.open({ url: s.url, schema: s.schema }));

stateStoreContract("postgres", {
  create: async (name, partition) => (await log).stateStore(name, partition),
  async cleanup() {
    await (await log).close();
    await (await schema).drop();
  },
});
