/**
 * Flows as a zip archive: export with `Accept: application/zip` gives one `<namespace>.<id>.yml`
 * per flow; import takes a zip body or a zip in a multipart upload, all or nothing, with errors
 * naming the file; unreadable or oversized archives are refused.
 */
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFlowsZip } from "../../../api/flow-archive.js";
import { ApiFixture } from "./api-fixture.js";

const flow = (id: string, extra = "") => `id: ${id}
namespace: archive.team
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "${id}"${extra}
`;

describe("flows as a zip archive", () => {
  let f: ApiFixture;
  let app: FastifyInstance;

  beforeAll(async () => {
    f = await new ApiFixture().start();
    app = f.webserver.fastify;
  });
  afterAll(async () => {
    await f.stop();
  });

  const importZip = (bytes: Uint8Array) =>
    app.inject({ method: "POST", url: "/api/v1/flows/import", payload: Buffer.from(bytes), headers: { "content-type": "application/zip" } });

  it("imports a zip of YAML files, all or nothing, and exports one file per flow", async () => {
    const broken = zipSync({ "archive.team.one.yml": strToU8(flow("one")), "archive.team.two.yaml": strToU8(flow("two", "\n    formatt: oops")), "README.txt": strToU8("ignored") });
    const refused = await importZip(broken);
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: "FLOW_INVALID", errors: [{ path: expect.stringMatching(/^archive\.team\.two\.yaml:documents\[0\]/), line: 7 }] });
    expect((await app.inject({ method: "GET", url: "/api/v1/flows/archive.team/one" })).statusCode).toBe(404);

    const good = zipSync({ "archive.team.one.yml": strToU8(flow("one")), "nested/both.yml": strToU8(`${flow("two")}---\n${flow("three")}`) });
    const imported = await importZip(good);
    expect(imported.statusCode).toBe(200);
    expect(imported.json()).toMatchObject({ count: 3 });

    const exported = await app.inject({ method: "GET", url: "/api/v1/flows/export/by-query?namespace=archive.team", headers: { accept: "application/zip" } });
    expect(exported.statusCode).toBe(200);
    expect(exported.headers["content-type"]).toMatch(/application\/zip/);
    const files = unzipSync(new Uint8Array(exported.rawPayload));
    expect(Object.keys(files).sort()).toEqual(["archive.team.one.yml", "archive.team.three.yml", "archive.team.two.yml"]);
    expect(strFromU8(files["archive.team.two.yml"])).toBe(flow("two"));

    // The export imports back unchanged: no new revision.
    const again = await importZip(new Uint8Array(exported.rawPayload));
    expect(again.json()).toMatchObject({ count: 3, flows: [{ revision: 1 }, { revision: 1 }, { revision: 1 }] });
  });

  it("takes a zip in a multipart upload", async () => {
    const boundary = "----lannerzip";
    const zip = Buffer.from(zipSync({ "archive.team.four.yml": strToU8(flow("four")) }));
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="fileUpload"; filename="flows.zip"\r\nContent-Type: application/zip\r\n\r\n`),
      zip, Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const r = await app.inject({ method: "POST", url: "/api/v1/flows/import", payload: body, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ count: 1, flows: [{ id: "four" }] });
  });

  it("refuses an unreadable archive, one without flows, and one that inflates too far", async () => {
    const garbage = await importZip(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]));
    expect(garbage.statusCode).toBe(422);
    expect(garbage.json()).toMatchObject({ code: "ARCHIVE_INVALID" });
    const empty = await importZip(zipSync({ "notes.txt": strToU8("no flows") }));
    expect(empty.statusCode).toBe(422);
    expect(empty.json().message).toMatch(/no \.yml or \.yaml file/);
    // 1 MiB of spaces compresses to a few KiB; a 64 KiB budget refuses it.
    const bomb = zipSync({ "big.yml": strToU8(" ".repeat(1024 * 1024)) });
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(() => readFlowsZip(bomb, 64 * 1024)).toThrow(/inflate beyond/);
  });
});
