/**
 * The submit half of async inference: the same tensors ModelEndpoint would send, written to the
 * I/O bucket with a sidecar naming each row's source, then queued with InvokeEndpointAsync. The
 * sources are marked `pending`; inference-result writes them when SageMaker announces the result.
 *
 * Requests are split at the model's `triton.maxBatchSize` (the async payload limit, 1 GB, is never
 * the constraint). Order per request: payload and sidecar first, then the pending marks, then the
 * invocation — a failure anywhere fails the message (TransientError), which SQS redelivers; a
 * request queued twice that way completes twice, and the second completion is a no-op.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvokeEndpointAsyncCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { TransientError } from '../errors.js';
import { modelVersion } from '../ingest/config.js';
import { classifyInvokeError, sliceRows, type ModelEndpoint } from '../inference/modelEndpoint.js';
import { encodeInferRequest, type Tensor } from '../inference/triton.js';
import { taskOutputs } from '../manifest.js';
import type { ProductStore } from '../products/productStore.js';
import type { PendingSource } from './pendingSource.js';
import { requestKey, s3Uri, sidecarKey, type Sidecar } from './sidecar.js';

export interface AsyncEndpointOptions {
  s3: S3Client;
  sagemaker: SageMakerRuntimeClient;
  /** The async inference I/O bucket (WEFT_ASYNC_INFERENCE_BUCKET). */
  bucket: string;
  /** Endpoint name and manifest; its input checks apply here too. */
  endpoint: Pick<ModelEndpoint, 'endpointName' | 'manifest' | 'checkInputs'>;
  store: Pick<ProductStore, 'beginSource'>;
  newId?: () => string;
  now?: () => Date;
}

export interface SubmittedRequest {
  inferenceId: string;
  inputLocation: string;
  rows: number;
}

/** InvokeEndpointAsync for a payload already in S3 (first submission and resubmission alike). */
export const invokeAsync = async (
  sagemaker: SageMakerRuntimeClient,
  request: { endpointName: string; inputLocation: string; contentType: string; inferenceId: string },
): Promise<void> => {
  try {
    await sagemaker.send(
      new InvokeEndpointAsyncCommand({
        EndpointName: request.endpointName,
        InputLocation: request.inputLocation,
        ContentType: request.contentType,
        Accept: 'application/json',
        InferenceId: request.inferenceId,
      }),
    );
  } catch (error) {
    throw classifyInvokeError(error, request.endpointName);
  }
};

export class AsyncEndpoint {
  readonly endpointName: string;

  constructor(private readonly opts: AsyncEndpointOptions) {
    this.endpointName = opts.endpoint.endpointName;
  }

  /** Queues the rows of `inputs` (batch-major) for inference; `sources[i]` is the source of row i. */
  async submit(inputs: Tensor[], sources: PendingSource[]): Promise<SubmittedRequest[]> {
    const rows = this.opts.endpoint.checkInputs(inputs);
    if (rows !== sources.length) throw new Error(`async submit: ${rows} input rows but ${sources.length} sources`);
    const step = this.opts.endpoint.manifest.triton.maxBatchSize;
    const submitted: SubmittedRequest[] = [];
    for (let from = 0; from < rows; from += step) {
      const to = Math.min(rows, from + step);
      submitted.push(await this.submitOne(inputs.map((t) => sliceRows(t, from, to)), sources.slice(from, to)));
    }
    return submitted;
  }

  private async submitOne(inputs: Tensor[], sources: PendingSource[]): Promise<SubmittedRequest> {
    const { s3, sagemaker, bucket, store, endpoint } = this.opts;
    const manifest = endpoint.manifest;
    const inferenceId = (this.opts.newId ?? randomUUID)();
    // JSON outputs: the stored result is then readable without the reply's content type.
    const request = encodeInferRequest(inputs, manifest.outputs.map((o) => o.name), { binaryOutputs: false });
    const key = requestKey(this.endpointName, inferenceId);
    const sidecar: Sidecar = {
      schemaVersion: 1,
      inferenceId,
      endpointName: this.endpointName,
      model: { name: manifest.name, version: manifest.version },
      tasks: manifest.tasks.map((t) => ({ name: t.name, labels: t.labels })),
      outputs: taskOutputs(manifest).map((o) => ({ name: o.name, task: o.task })),
      contentType: request.contentType,
      submittedAt: (this.opts.now?.() ?? new Date()).toISOString(),
      rows: sources,
    };
    try {
      await Promise.all([
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: request.body, ContentType: request.contentType })),
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: sidecarKey(key), Body: JSON.stringify(sidecar), ContentType: 'application/json' })),
      ]);
    } catch (error) {
      throw new TransientError('async_request_unwritten', `could not write async inference request ${s3Uri(bucket, key)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    // The API shows these sources as pending until inference-result writes them.
    // A re-tag row claims its source under the re-tag's condition (see ProductStore.RetagGuard).
    const retag = { modelVersion: modelVersion(manifest) };
    await Promise.all(sources.map((s) => store.beginSource(s.ref, s.seq, s.key, undefined, s.retag ? retag : undefined)));
    const inputLocation = s3Uri(bucket, key);
    await invokeAsync(sagemaker, { endpointName: this.endpointName, inputLocation, contentType: request.contentType, inferenceId });
    return { inferenceId, inputLocation, rows: sources.length };
  }
}
