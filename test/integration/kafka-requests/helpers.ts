/** Re-exports for the execution-requests tests (the id a request gets). */
export { EXECUTION_REQUEST_SCHEMA } from "../../../processors/requests/execution-request.js";
import type { AppendResult } from "../../../topology/log.js";
import { requestExecutionId } from "../../../processors/requests/execution-requests-processor.js";

/** The execution id the processor gives a request appended at `at`. */
export function requestExecutionIdFor(req: { namespace: string; flowId: string; correlationId?: string }, tenantId: string, at: AppendResult): string {
  return requestExecutionId({ ...req, inputs: {}, labels: [] }, tenantId, at);
}
