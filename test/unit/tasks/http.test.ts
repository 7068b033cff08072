import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { httpRequestTask } from "../../../tasks/runnable/http-request.js";
import { httpDownloadTask, downloadFileName } from "../../../tasks/runnable/http-download.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let release: (() => void) | undefined;
let hangArrived: () => void = () => undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const url = new URL(req.url ?? "/", "http://x");
      switch (url.pathname) {
        case "/json":
          res.writeHead(200, { "content-type": "application/json", "x-multi": ["a", "b"] });
          res.end(JSON.stringify({ ok: true }));
          return;
        case "/echo":
          res.writeHead(201, { "content-type": "text/plain; charset=utf-8" });
          res.end(`${req.method} ${body}`);
          return;
        case "/status":
          res.writeHead(Number(url.searchParams.get("code")));
          res.end("status body");
          return;
        case "/redirect":
          res.writeHead(302, { location: "/json" });
          res.end();
          return;
        case "/latin1":
          res.writeHead(200, { "content-type": "text/plain; charset=iso-8859-1" });
          res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
          return;
        case "/file":
          res.writeHead(200, { "content-type": "text/csv", "content-disposition": 'attachment; filename="report 1.csv"' });
          res.write("a,b\n");
          res.end("1,2\n");
          return;
        case "/empty":
          res.writeHead(200);
          res.end();
          return;
        case "/big":
          res.writeHead(200);
          res.end(Buffer.alloc(2048, 120));
          return;
        case "/hang":
          // Answers only when the test releases it: lets a test abort a request in flight.
          release = () => {
            if (!res.headersSent && !res.destroyed) {
              res.writeHead(200);
              res.end("late");
            }
          };
          hangArrived();
          return;
        default:
          res.writeHead(404);
          res.end("not found");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  release?.();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let run: TestRun;
afterEach(async () => {
  await run.cleanup();
});

const req = (extra: Record<string, unknown>) => ({ id: "req", type: "io.kestra.plugin.core.http.Request", ...extra }) as { id: string; type: string };

describe("HTTP Request", () => {
  it("GETs and outputs code, headers and the body as text", async () => {
    run = await makeRunContext();
    const res = await runTask(httpRequestTask, req({ uri: `${base}/json` }), run.ctx);
    expect(res.outputs?.code).toBe(200);
    expect(res.outputs?.body).toBe('{"ok":true}');
    expect(res.outputs?.uri).toBe(`${base}/json`);
    const headers = res.outputs?.headers as Record<string, string[]>;
    expect(headers["content-type"]).toEqual(["application/json"]);
    expect(headers["x-multi"]).toEqual(["a", "b"]);
  });

  it("sends method, body, content type and headers", async () => {
    run = await makeRunContext();
    const res = await runTask(
      httpRequestTask,
      req({ uri: `${base}/echo`, method: "POST", body: '{"a":1}', headers: { "X-Trace": "t1" } }),
      run.ctx,
    );
    expect(res.outputs?.code).toBe(201);
    expect(res.outputs?.body).toBe('POST {"a":1}');
    const s = seen.at(-1);
    expect(s?.headers["content-type"]).toBe("application/json");
    expect(s?.headers["x-trace"]).toBe("t1");
  });

  it("sends formData url-encoded, or multipart when asked", async () => {
    run = await makeRunContext();
    await runTask(httpRequestTask, req({ uri: `${base}/echo`, method: "POST", formData: { a: "1", b: "x y" } }), run.ctx);
    expect(seen.at(-1)?.body).toBe("a=1&b=x+y");
    expect(seen.at(-1)?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const fileUri = await run.ctx.storage.put("in/data.txt", Buffer.from("file-content"));
    await runTask(
      httpRequestTask,
      req({ uri: `${base}/echo`, method: "POST", contentType: "multipart/form-data", formData: { field: "v", upload: fileUri } }),
      run.ctx,
    );
    const last = seen.at(-1);
    expect(last?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(last?.body).toContain('name="field"');
    expect(last?.body).toContain('filename="data.txt"');
    expect(last?.body).toContain("file-content");
  });

  it("adds basic and bearer authentication", async () => {
    run = await makeRunContext();
    await runTask(httpRequestTask, req({ uri: `${base}/json`, options: { auth: { type: "BASIC", username: "u", password: "p" } } }), run.ctx);
    expect(seen.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from("u:p").toString("base64")}`);
    await runTask(httpRequestTask, req({ uri: `${base}/json`, options: { auth: { type: "BEARER", token: "tok" } } }), run.ctx);
    expect(seen.at(-1)?.headers.authorization).toBe("Bearer tok");
    await runTask(httpRequestTask, req({ uri: `${base}/json`, options: { basicAuthUser: "old", basicAuthPassword: "style" } }), run.ctx);
    expect(seen.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from("old:style").toString("base64")}`);
  });

  it("fails on a status >= 400 unless allowFailed", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(httpRequestTask, req({ uri: `${base}/status?code=404` }), run.ctx));
    expect(err.code).toBe("HTTP_STATUS");
    expect(err.message).toContain("'404'");
    expect(err.retriable).toBe(false);
    const e500 = await rejection(runTask(httpRequestTask, req({ uri: `${base}/status?code=503` }), run.ctx));
    expect(e500.retriable).toBe(true);
    const ok = await runTask(httpRequestTask, req({ uri: `${base}/status?code=404`, options: { allowFailed: true } }), run.ctx);
    expect(ok.outputs?.code).toBe(404);
    expect(ok.outputs?.body).toBe("status body");
  });

  it("checks allowedResponseCodes when given", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(httpRequestTask, req({ uri: `${base}/json`, options: { allowedResponseCodes: [201] } }), run.ctx));
    expect(err.message).toContain("'200'");
    const ok = await runTask(httpRequestTask, req({ uri: `${base}/status?code=418`, options: { allowedResponseCodes: [418] } }), run.ctx);
    expect(ok.outputs?.code).toBe(418);
  });

  it("follows redirects by default and not when told so", async () => {
    run = await makeRunContext();
    const followed = await runTask(httpRequestTask, req({ uri: `${base}/redirect` }), run.ctx);
    expect(followed.outputs?.code).toBe(200);
    expect(followed.outputs?.body).toBe('{"ok":true}');
    const stopped = await runTask(httpRequestTask, req({ uri: `${base}/redirect`, options: { followRedirects: false } }), run.ctx);
    expect(stopped.outputs?.code).toBe(302);
  });

  it("decodes the body with the response charset", async () => {
    run = await makeRunContext();
    const res = await runTask(httpRequestTask, req({ uri: `${base}/latin1` }), run.ctx);
    expect(res.outputs?.body).toBe("café");
  });

  it("refuses a body larger than maxContentLength", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(httpRequestTask, req({ uri: `${base}/big`, options: { maxContentLength: 1000 } }), run.ctx));
    expect(err.code).toBe("HTTP_BODY_TOO_LARGE");
  });

  it("reports a connection failure as a retriable error, and a bad URL as invalid", async () => {
    run = await makeRunContext();
    // Port 1 on loopback: nothing listens there.
    const err = await rejection(runTask(httpRequestTask, req({ uri: "http://127.0.0.1:1/" }), run.ctx));
    expect(err.code).toBe("HTTP_REQUEST_FAILED");
    expect(err.retriable).toBe(true);
    const bad = await rejection(runTask(httpRequestTask, req({ uri: "ftp://127.0.0.1/x" }), run.ctx));
    expect(bad.code).toBe("TASK_INVALID_PROPERTY");
  });

  it("stops a request in flight when the signal aborts", async () => {
    run = await makeRunContext();
    const arrived = new Promise<void>((resolve) => {
      hangArrived = resolve;
    });
    const p = runTask(httpRequestTask, req({ uri: `${base}/hang` }), run.ctx);
    // Abort once the server holds the request, so the abort hits a request in flight.
    await arrived;
    run.controller.abort();
    const err = await rejection(p);
    expect(err.code).toBe("TASK_ABORTED");
    release?.();
  });

  it("refuses encryptBody, which needs a secret key Lanner does not have", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(httpRequestTask, req({ uri: `${base}/json`, encryptBody: true }), run.ctx));
    expect(err.code).toBe("TASK_UNSUPPORTED");
  });
});

describe("HTTP Download", () => {
  it("streams the body to internal storage and outputs uri, code, length, headers", async () => {
    run = await makeRunContext();
    const res = await runTask(httpDownloadTask, { id: "dl", type: "io.kestra.plugin.core.http.Download", uri: `${base}/file` }, run.ctx);
    expect(res.outputs?.code).toBe(200);
    expect(res.outputs?.length).toBe(8);
    const uri = String(res.outputs?.uri);
    expect(uri).toBe("lanner:///main/company/team/flow1/executions/exec1/tasks/dl/tr1/report_1.csv");
    expect((await readFileBytes(run.storage, uri)).toString()).toBe("a,b\n1,2\n");
    expect((res.outputs?.headers as Record<string, string[]>)["content-type"]).toEqual(["text/csv"]);
  });

  it("fails on an empty body unless failOnEmptyResponse is false", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(httpDownloadTask, { id: "dl", type: "Download", uri: `${base}/empty` }, run.ctx));
    expect(err.code).toBe("HTTP_EMPTY_RESPONSE");
    expect(await run.storage.list("")).toEqual([]);
    const ok = await runTask(httpDownloadTask, { id: "dl", type: "Download", uri: `${base}/empty`, failOnEmptyResponse: false }, run.ctx);
    expect(ok.outputs?.length).toBe(0);
  });

  it("fails on a status >= 400", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(httpDownloadTask, { id: "dl", type: "Download", uri: `${base}/missing` }, run.ctx));
    expect(err.code).toBe("HTTP_STATUS");
  });

  it("names files safely whatever the server says", () => {
    expect(downloadFileName("http://h/a/b.txt", undefined)).toBe("b.txt");
    expect(downloadFileName("http://h/", 'attachment; filename="../../etc/passwd"')).toBe("passwd");
    expect(downloadFileName("http://h/", "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")).toBe("r_sum_.pdf");
    expect(downloadFileName("http://h/", 'attachment; filename=".."')).toBe("download");
    expect(downloadFileName("http://h/", undefined)).toBe("download");
  });
});
