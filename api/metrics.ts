/**
 * Prometheus metrics of the process (prom-client's default registry: the executor's, liveness's
 * and these HTTP ones), served as text at `/metrics` and `/api/v1/metrics`.
 */
import type { FastifyInstance } from "fastify";
import { Counter, Histogram, register } from "prom-client";

function counter(): Counter<"method" | "route" | "status"> {
  const existing = register.getSingleMetric("lanner_http_requests_total");
  if (existing) return existing as Counter<"method" | "route" | "status">;
  return new Counter({ name: "lanner_http_requests_total", help: "HTTP requests answered, by method, route pattern and status", labelNames: ["method", "route", "status"] });
}

function histogram(): Histogram<"method" | "route"> {
  const existing = register.getSingleMetric("lanner_http_request_duration_seconds");
  if (existing) return existing as Histogram<"method" | "route">;
  return new Histogram({
    name: "lanner_http_request_duration_seconds", help: "HTTP request duration, by method and route pattern", labelNames: ["method", "route"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  });
}

/** Counts every answered request and serves the registry at `paths`. */
export function installMetrics(app: FastifyInstance, paths: string[]): void {
  const requests = counter();
  const durations = histogram();
  app.addHook("onResponse", async (req, reply) => {
    // The route pattern, never the raw URL: ids would make the label set unbounded.
    const route = req.routeOptions.url ?? "unmatched";
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    durations.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  for (const path of paths) {
    app.get(path, async (_req, reply) => reply.type(register.contentType).send(await register.metrics()));
  }
}
