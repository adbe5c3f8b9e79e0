/**
 * Where async inference keeps its objects in the I/O bucket, and the sidecar that says which
 * sources the rows of a request belong to:
 *
 *   requests/<endpoint>/<id>               Triton request body (binary input tensors, JSON outputs asked for)
 *   requests/<endpoint>/<id>.sources.json  the sidecar: one PendingSource per batch row, the model's tasks
 *   results/<endpoint>/…                   written by SageMaker (its own object names, given in the notification)
 *   failures/<endpoint>/…                  written by SageMaker for failed requests
 *
 * The sidecar carries the tasks, labels and output names the request was built against, so a
 * result is read with exactly that contract even if a new model version has rolled out meanwhile.
 */
import { z } from 'zod';
import { PendingSourceSchema, type PendingSource } from './pendingSource.js';

export const REQUESTS_PREFIX = 'requests/';
export const SIDECAR_SUFFIX = '.sources.json';

export const SidecarSchema = z.object({
  schemaVersion: z.literal(1),
  /** Inference id of the first submission; a resubmission appends `.<attempt>`. */
  inferenceId: z.string().min(1),
  endpointName: z.string().min(1),
  model: z.object({ name: z.string().min(1), version: z.string().min(1) }),
  tasks: z.array(z.object({ name: z.string().min(1), labels: z.array(z.string()).min(1) })).min(1),
  /** Output tensor name → task, as in the manifest. */
  outputs: z.array(z.object({ name: z.string().min(1), task: z.string().min(1) })).min(1),
  /** Content type of the request body (carries its JSON header size), for resubmission. */
  contentType: z.string().min(1),
  submittedAt: z.string(),
  rows: z.array(PendingSourceSchema).min(1),
});

export type Sidecar = Omit<z.infer<typeof SidecarSchema>, 'rows'> & { rows: PendingSource[] };

export const requestKey = (endpointName: string, inferenceId: string): string => `${REQUESTS_PREFIX}${endpointName}/${inferenceId}`;
export const sidecarKey = (requestObjectKey: string): string => `${requestObjectKey}${SIDECAR_SUFFIX}`;

export const s3Uri = (bucket: string, key: string): string => `s3://${bucket}/${key}`;

export const parseS3Uri = (uri: string): { bucket: string; key: string } => {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`not an s3:// location: "${uri}"`);
  return { bucket: match[1]!, key: match[2]! };
};

/** `<uuid>` is attempt 1; resubmissions are `<uuid>.2`, `<uuid>.3`. */
export const attemptOf = (inferenceId: string): number => {
  const match = /\.(\d+)$/.exec(inferenceId);
  return match ? Number(match[1]) : 1;
};

export const retryInferenceId = (inferenceId: string, attempt: number): string => `${inferenceId.replace(/\.\d+$/, '')}.${attempt}`;
