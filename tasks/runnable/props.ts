import { z } from "zod";
import { LannerError } from "../../common/errors.js";

/**
 * The fields every task has whatever its type. The flow schema validates them; a runnable's own
 * schema only lets them through so that it can be applied to the whole task object.
 */
export const COMMON_TASK_FIELDS = [
  "id",
  "type",
  "description",
  "retry",
  "timeout",
  "disabled",
  "workerGroup",
  "logLevel",
  "logToFile",
  "allowFailure",
  "allowWarning",
  "runIf",
] as const;

/**
 * Builds the strict schema of a runnable type's own properties: unknown keys are rejected, the
 * common task fields pass through untouched (they are checked by the flow schema).
 */
export function runnableProps<S extends z.ZodRawShape>(shape: S) {
  const common = Object.fromEntries(COMMON_TASK_FIELDS.map((name) => [name, z.unknown().optional()])) as {
    [K in (typeof COMMON_TASK_FIELDS)[number]]: z.ZodOptional<z.ZodUnknown>;
  };
  return z.strictObject({ ...common, ...shape });
}

/*
 * Kestra properties are "dynamic": any scalar may be written as an expression string that only
 * gets its real type once rendered. These schemas accept the typed value or a string; the task
 * coerces after rendering (see `coerce.ts`).
 */
export const dynString = z.string();
export const dynBool = z.union([z.boolean(), z.string()]);
export const dynNumber = z.union([z.number(), z.string()]);
export const dynStringList = z.union([z.array(z.string()), z.string()]);
export const dynStringMap = z.union([z.record(z.string(), z.unknown()), z.string()]);
export const level = z.union([z.enum(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]), z.string()]);

/**
 * Reads a task's properties with its schema at run time. The flow parser has already checked
 * them; this guards against a task that reached the worker some other way, with a readable error
 * (`message: expected string`) instead of a raw validation dump.
 */
export function parseProps<T extends z.ZodType>(schema: T, task: unknown): z.output<T> {
  const res = schema.safeParse(task);
  if (res.success) return res.data;
  const issues = res.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(task)"}: ${i.message}`);
  throw new LannerError("TASK_INVALID_PROPERTY", `invalid task properties: ${issues.join("; ")}`);
}
