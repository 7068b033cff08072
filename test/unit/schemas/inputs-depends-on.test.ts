import { describe, expect, it } from "vitest";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { coerceInputs } from "../../../schemas/inputs.js";

const flow = parseFlowOrThrow(`
id: deploy
namespace: company.team
inputs:
  - id: bucket
    type: STRING
    dependsOn:
      inputs: [cloud, region]
      condition: "{{ inputs.cloud == 'aws' }}"
  - id: cloud
    type: SELECT
    values: [aws, gcp]
  - id: region
    type: STRING
    defaults: eu-west-1
    dependsOn:
      inputs: [cloud]
  - id: retries
    type: INT
    defaults: 3
    dependsOn:
      inputs: [cloud]
      condition: "{{ inputs.cloud == 'gcp' }}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
`);

describe("coerceInputs: dependsOn", () => {
  it("resolves dependencies first and validates an input whose condition holds", () => {
    const r = coerceInputs(flow, { cloud: "aws", bucket: "logs" });
    expect(r).toEqual({ ok: true, inputs: { bucket: "logs", cloud: "aws", region: "eu-west-1" } });
    expect(Object.keys(r.ok ? r.inputs : {})).toEqual(["bucket", "cloud", "region"]);
  });

  it("requires an enabled input like any other", () => {
    const r = coerceInputs(flow, { cloud: "aws" });
    expect(r).toEqual({ ok: false, errors: [{ input: "bucket", code: "INPUT_REQUIRED", message: "bucket: a value is required (type STRING)" }] });
  });

  it("skips an input whose condition is false: not required, no default, a given value ignored", () => {
    const r = coerceInputs(flow, { cloud: "gcp", retries: "5" });
    expect(r).toEqual({ ok: true, inputs: { cloud: "gcp", region: "eu-west-1", retries: 5 } });
    const aws = coerceInputs(flow, { cloud: "aws", bucket: "b", retries: "not a number" });
    expect(aws).toEqual({ ok: true, inputs: { bucket: "b", cloud: "aws", region: "eu-west-1" } });
  });

  it("skips dependents of an input that has no value, transitively", () => {
    const optional = parseFlowOrThrow(`
id: f
namespace: company.team
inputs:
  - id: a
    type: STRING
    required: false
  - id: b
    type: STRING
    defaults: from-b
    dependsOn: { inputs: [a] }
  - id: c
    type: STRING
    dependsOn: { inputs: [b] }
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
`);
    expect(coerceInputs(optional, { c: "x" })).toEqual({ ok: true, inputs: {} });
    expect(coerceInputs(optional, { a: "set" })).toEqual({ ok: false, errors: [{ input: "c", code: "INPUT_REQUIRED", message: "c: a value is required (type STRING)" }] });
    expect(coerceInputs(optional, { a: "set", c: "x" })).toEqual({ ok: true, inputs: { a: "set", b: "from-b", c: "x" } });
  });

  it("skips dependents of an invalid input and reports only the invalid one", () => {
    const r = coerceInputs(flow, { cloud: "azure", bucket: "b" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => [e.input, e.code])).toEqual([["cloud", "INPUT_INVALID"]]);
  });

  it("renders the condition over vars with the inputs resolved so far, and reports one that cannot render", () => {
    const withVars = parseFlowOrThrow(`
id: f
namespace: company.team
inputs:
  - id: env
    type: STRING
  - id: approver
    type: STRING
    dependsOn:
      inputs: [env]
      condition: "{{ inputs.env == 'prod' and flow.namespace == 'company.team' }}"
  - id: broken
    type: STRING
    dependsOn:
      inputs: [env]
      condition: "{{ inputs.env | nosuchfilter }}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
`);
    const vars = { flow: { namespace: "company.team" } };
    const prod = coerceInputs(withVars, { env: "prod" }, { vars });
    expect(prod.ok).toBe(false);
    if (!prod.ok) {
      expect(prod.errors.map((e) => [e.input, e.code])).toEqual([["approver", "INPUT_REQUIRED"], ["broken", "INPUT_INVALID"]]);
      expect(prod.errors[1].message).toMatch(/^broken: the dependsOn condition .* could not be rendered/);
    }
    const dev = coerceInputs(withVars, { env: "dev" }, { vars: { ...vars } });
    expect(dev.ok).toBe(false);
    if (!dev.ok) expect(dev.errors.map((e) => e.input)).toEqual(["broken"]);
  });

  it("never loops on a cycle that reached it without the parser", () => {
    const cyclic = {
      inputs: [
        { id: "a", type: "STRING" as const, required: true, dependsOn: { inputs: ["b"] } },
        { id: "b", type: "STRING" as const, required: true, dependsOn: { inputs: ["a"] } },
        { id: "c", type: "STRING" as const, required: true },
      ],
    };
    expect(coerceInputs(cyclic, { a: "1", b: "2", c: "3" })).toEqual({ ok: true, inputs: { c: "3" } });
  });
});
