// The Restate peer's service: `bench/chain` runs N sequential durable `ctx.run` steps (the
// `chain` equivalent), `bench/two` runs 2 (the `throughput` equivalent). Each step returns a
// small string, as Lanner's Return task does. Usage: node restate-service.mjs <port>
// Prints `restate-service ready <port>` once it listens.
import "./with-resolvers-shim.mjs";
import * as restate from "@restatedev/restate-sdk";

const steps = async (ctx, n) => {
  let last = "";
  for (let i = 1; i <= n; i++) last = await ctx.run(`t${i}`, async () => `step ${i}`);
  return last;
};

const bench = restate.service({
  name: "bench",
  handlers: {
    chain: async (ctx, n) => steps(ctx, typeof n === "number" ? n : 40),
    two: async (ctx) => steps(ctx, 2),
  },
});

const port = Number(process.argv[2] ?? 9080);
const bound = await restate.serve({ services: [bench], port });
process.stdout.write(`restate-service ready ${bound}\n`);
