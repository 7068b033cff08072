/**
 * Where the executor finds the flow of an execution it must create itself (a subflow's child, a
 * retry as a new execution): the deployed revisions on the `flows` topic.
 */
import type { Flow } from "../../../schemas/flow-types.js";
import { parseFlow } from "../../../schemas/flow-parser.js";
import type { Log } from "../../../topology/log.js";
import { KIND, type RecordCodec } from "./records.js";

export interface FlowResolver {
  /**
   * The deployed flow `tenantId/namespace/flowId` at `revision` (the latest when omitted), with
   * `revision` and `tenantId` set; undefined when no such flow (or revision) is deployed, or when
   * the latest revision is a deletion.
   */
  getFlow(tenantId: string, namespace: string, flowId: string, revision?: number): Promise<Flow | undefined>;
}

/** A resolver that can also list what is deployed (for the trigger indexes). */
export interface FlowCatalog extends FlowResolver {
  /**
   * The latest revision of every deployed flow (deleted flows and sources that do not parse left
   * out), after reading what was appended; `version` changes whenever the list may have changed.
   */
  latestFlows(): Promise<{ version: number; flows: Flow[] }>;
}

/** A `flows` topic record: one deployed revision (or a deletion) of a flow. */
export interface FlowRevisionRecord {
  tenantId: string;
  namespace: string;
  id: string;
  revision: number;
  source: string;
  deleted: boolean;
}

/** Resolves flows from a fixed set (tests, embedding). */
export class StaticFlowResolver implements FlowCatalog {
  private readonly flows = new Map<string, Flow[]>();
  private version = 0;

  constructor(flows: Flow[] = []) {
    for (const f of flows) this.add(f);
  }

  /** Adds a revision (its `revision`, default 1). */
  add(flow: Flow): void {
    const key = `${flow.tenantId ?? "main"}/${flow.namespace}/${flow.id}`;
    const list = this.flows.get(key) ?? [];
    list.push(flow);
    this.flows.set(key, list);
    this.version++;
  }

  latestFlows(): Promise<{ version: number; flows: Flow[] }> {
    return Promise.resolve({ version: this.version, flows: [...this.flows.values()].map((list) => list[list.length - 1]) });
  }

  getFlow(tenantId: string, namespace: string, flowId: string, revision?: number): Promise<Flow | undefined> {
    const list = this.flows.get(`${tenantId}/${namespace}/${flowId}`) ?? [];
    const found = revision === undefined ? list[list.length - 1] : list.find((f) => (f.revision ?? 1) === revision);
    return Promise.resolve(found);
  }
}

interface Known {
  revisions: Map<number, { source: string; flow?: Flow }>;
  latest: number;
  deleted: boolean;
}

/**
 * Resolves flows by reading the `flows` topic: before each lookup it reads what was appended
 * since the last one (every partition, from where it stopped), so a flow deployed a moment ago
 * is found. Sources are parsed once per revision, on first use.
 */
export class LogFlowResolver implements FlowCatalog {
  private readonly known = new Map<string, Known>();
  private positions: bigint[] = [];
  private catchingUp: Promise<void> | undefined;
  private version = 0;
  private latest: { version: number; flows: Flow[] } | undefined;

  /**
   * @param decode turns a `flows` record value into a revision (undefined for what it cannot read).
   */
  constructor(
    private readonly log: Log,
    private readonly decode: (value: Uint8Array) => FlowRevisionRecord | undefined,
    private readonly topic = "flows",
  ) {}

  async getFlow(tenantId: string, namespace: string, flowId: string, revision?: number): Promise<Flow | undefined> {
    await this.catchUp();
    return this.resolve(tenantId, namespace, flowId, revision);
  }

  private resolve(tenantId: string, namespace: string, flowId: string, revision?: number): Flow | undefined {
    const k = this.known.get(`${tenantId}/${namespace}/${flowId}`);
    if (!k) return undefined;
    if (revision === undefined && k.deleted) return undefined;
    const rev = revision ?? k.latest;
    const entry = k.revisions.get(rev);
    if (!entry) return undefined;
    if (!entry.flow) {
      const parsed = parseFlow(entry.source);
      if (!parsed.ok) return undefined;
      entry.flow = { ...parsed.flow, revision: rev, tenantId };
    }
    return entry.flow;
  }

  async latestFlows(): Promise<{ version: number; flows: Flow[] }> {
    await this.catchUp();
    if (this.latest?.version === this.version) return this.latest;
    const version = this.version;
    const flows: Flow[] = [];
    for (const key of this.known.keys()) {
      const [tenantId, namespace, flowId] = key.split("/");
      const f = this.resolve(tenantId, namespace, flowId);
      if (f) flows.push(f);
    }
    this.latest = { version, flows };
    return this.latest;
  }

  /** Reads the records appended since the last call (one reader at a time). */
  private catchUp(): Promise<void> {
    this.catchingUp ??= this.readNew().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  private async readNew(): Promise<void> {
    const n = this.log.partitionsOf(this.topic);
    while (this.positions.length < n) this.positions.push(0n);
    for (let p = 0; p < n; p++) {
      const end = await this.log.endOffset(this.topic, p);
      if (end <= this.positions[p]) continue;
      for await (const rec of this.log.readPartition(this.topic, p, this.positions[p])) {
        this.positions[p] = rec.offset + 1n;
        const r = this.decode(rec.value);
        if (r) this.remember(r);
      }
    }
  }

  private remember(r: FlowRevisionRecord): void {
    this.version++;
    const key = `${r.tenantId}/${r.namespace}/${r.id}`;
    let k = this.known.get(key);
    if (!k) {
      k = { revisions: new Map(), latest: 0, deleted: false };
      this.known.set(key, k);
    }
    if (r.deleted) {
      k.deleted = true;
      return;
    }
    k.revisions.set(r.revision, { source: r.source });
    if (r.revision >= k.latest) {
      k.latest = r.revision;
      k.deleted = false;
    }
  }
}

/** Decodes `flows` records written with `codec` (kind `FlowRevision`); undefined for anything else. */
export function flowRecordDecoder(codec: RecordCodec): (value: Uint8Array) => FlowRevisionRecord | undefined {
  return (bytes) => {
    let decoded: { type: string; value: unknown };
    try {
      decoded = codec.decode(bytes);
    } catch {
      return undefined;
    }
    const v = decoded.value;
    if (decoded.type !== KIND.flow || typeof v !== "object" || v === null) return undefined;
    const r = v as Record<string, unknown>;
    if (typeof r.tenantId !== "string" || typeof r.namespace !== "string" || typeof r.id !== "string" || typeof r.revision !== "number") return undefined;
    return { tenantId: r.tenantId, namespace: r.namespace, id: r.id, revision: r.revision, source: typeof r.source === "string" ? r.source : "", deleted: r.deleted === true };
  };
}
