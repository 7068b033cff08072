import { z } from "zod";
import { dynBool, dynNumber, dynString, dynStringMap } from "./props.js";

/*
 * The HTTP options Kestra accepts, in both its current shape (`options.timeout`, `options.auth`)
 * and the older flat one (`options.connectTimeout`, `options.basicAuthUser`), so flows written for
 * either version validate. Proxy and SSL settings are not supported and are rejected.
 */
export const httpOptions = z.strictObject({
  connectTimeout: dynString.optional(),
  readTimeout: dynString.optional(),
  readIdleTimeout: dynString.optional(),
  connectionPoolIdleTimeout: dynString.optional(),
  timeout: z
    .strictObject({ connectTimeout: dynString.optional(), readIdleTimeout: dynString.optional() })
    .optional(),
  maxContentLength: dynNumber.optional(),
  followRedirects: dynBool.optional(),
  allowFailed: dynBool.optional(),
  allowedResponseCodes: z.union([z.array(dynNumber), z.string()]).optional(),
  defaultCharset: dynString.optional(),
  basicAuthUser: dynString.optional(),
  basicAuthPassword: dynString.optional(),
  auth: z
    .strictObject({
      type: z.union([z.enum(["BASIC", "BEARER"]), z.string()]),
      username: dynString.optional(),
      password: dynString.optional(),
      token: dynString.optional(),
    })
    .optional(),
  headers: dynStringMap.optional(),
});

export type HttpOptions = z.infer<typeof httpOptions>;

/** Properties shared by Request and Download. */
export const httpCommonShape = {
  uri: dynString,
  method: z.string().optional(),
  body: z.unknown().optional(),
  formData: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
  contentType: dynString.optional(),
  headers: dynStringMap.optional(),
  options: httpOptions.optional(),
};
