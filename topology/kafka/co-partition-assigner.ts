/**
 * The consumer-group assignor of every Lanner group on Kafka: partition NUMBER p of every
 * subscribed topic goes to the same member (co-partitioning: an executor that owns
 * `execution-commands[3]` also owns `worker-results[3]` and the state of partition 3). Numbers
 * are dealt round-robin over the members sorted by id, so the split is even and deterministic.
 */
import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

export const CO_PARTITION_ASSIGNER_NAME = "LannerCoPartition";

export const coPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITION_ASSIGNER_NAME,
  version: 1,
  async assign({ members, topics }) {
    const ids = members.map((m) => m.memberId).sort();
    const counts = new Map<string, number>();
    for (const t of topics) counts.set(t, cluster.findTopicPartitionMetadata(t).length);
    const max = Math.max(0, ...counts.values());
    const plan = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
    for (let p = 0; p < max && ids.length > 0; p++) {
      const target = plan.get(ids[p % ids.length]);
      if (target === undefined) continue;
      for (const t of topics) {
        if (p >= (counts.get(t) ?? 0)) continue;
        (target[t] ??= []).push(p);
      }
    }
    return ids.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: plan.get(memberId) ?? {}, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITION_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
