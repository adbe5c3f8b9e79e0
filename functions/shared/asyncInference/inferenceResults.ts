/**
 * The complete half of async inference, without Lambda: one SageMaker notification at a time.
 *
 * Completed → read the sidecar (which sources the rows are) and the result from S3 → decode the
 *   Triton reply → write each source with the same store calls as the realtime path (sequencer
 *   guarded, so a redelivered notification or a newer upload makes the write a no-op) → merge.
 * Failed → resubmit the same request (InvokeEndpointAsync, same input location, inference id
 *   `<id>.<attempt>`) until `maxAttempts`; a request that failed that often records
 *   `inference_failed`, naming SageMaker's failure reason, on each of its sources, and merges.
 *   Failures are mostly transient for this pipeline (a request that expired while the endpoint
 *   scaled up from zero, an instance replaced mid-request); the attempts absorb those, and a
 *   failure that persists is made visible on the product rather than left pending forever.
 * Anything that cannot be attributed (not a notification, an input outside this bucket's
 * requests/, no sidecar — e.g. it expired with the bucket's lifecycle) or cannot be read now (S3,
 * DynamoDB, an unreadable result) throws: the message is retried and then dead-lettered, where the
 * queue's alarm points an operator at it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { isPermanent } from '../errors.js';
import { setOwn } from '../ownKeys.js';
import { ModelContractError } from '../inference/modelEndpoint.js';
import { decodeInferResponse, JSON_CONTENT_TYPE, TritonProtocolError, type Tensor } from '../inference/triton.js';
import type { TaskProbabilities } from '../inference/types.js';
import { readObject } from '../ingest/readObject.js';
import { ProductSet } from '../ingest/sqsBatch.js';
import type { ProductStore } from '../products/productStore.js';
import { invokeAsync } from './asyncEndpoint.js';
import { parseNotification, type InferenceNotification } from './notification.js';
import { writeFailed, writeTagged } from './pendingSource.js';
import { attemptOf, parseS3Uri, REQUESTS_PREFIX, retryInferenceId, s3Uri, sidecarKey, SidecarSchema, type Sidecar } from './sidecar.js';

/** Submissions of one request, the first included, before its sources record the failure. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Largest sidecar or result read (a result is a few KB per row). */
const MAX_OBJECT_BYTES = 64 * 1024 * 1024;

export class UnattributedResultError extends Error {
  override readonly name = 'UnattributedResultError';
}

export interface InferenceResultsDeps {
  s3: S3Client;
  sagemaker: SageMakerRuntimeClient;
  /** The async inference I/O bucket. */
  bucket: string;
  store: ProductStore;
  logger: Logger;
  metrics: Metrics;
  maxAttempts?: number;
}

export type ResultOutcome =
  | { kind: 'tagged'; written: number; stale: number }
  | { kind: 'resubmitted'; inferenceId: string }
  | { kind: 'failed'; written: number; stale: number };

export class InferenceResults {
  constructor(private readonly deps: InferenceResultsDeps) {}

  async handleMessage(body: string): Promise<ResultOutcome> {
    const notification = parseNotification(body);
    const { key: requestKey, sidecar } = await this.sidecarFor(notification);
    switch (notification.invocationStatus) {
      case 'Completed':
        return this.complete(notification, sidecar);
      case 'Failed':
        return this.fail(notification, requestKey, sidecar);
      default:
        throw new UnattributedResultError(`inference ${notification.inferenceId}: unknown invocationStatus "${notification.invocationStatus}"`);
    }
  }

  private async read(uri: string, what: string): Promise<Uint8Array> {
    const { bucket, key } = parseS3Uri(uri);
    if (bucket !== this.deps.bucket) throw new UnattributedResultError(`${what} ${uri} is outside the async inference bucket ${this.deps.bucket}`);
    return readObject(this.deps.s3, bucket, key, MAX_OBJECT_BYTES);
  }

  private async sidecarFor(n: InferenceNotification): Promise<{ key: string; sidecar: Sidecar }> {
    const input = n.requestParameters.inputLocation;
    const { bucket, key } = parseS3Uri(input);
    if (bucket !== this.deps.bucket || !key.startsWith(REQUESTS_PREFIX)) {
      throw new UnattributedResultError(`inference ${n.inferenceId}: input ${input} is not a Weft request (expected ${s3Uri(this.deps.bucket, REQUESTS_PREFIX)}…)`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.read(s3Uri(bucket, sidecarKey(key)), 'sidecar');
    } catch (error) {
      if (isPermanent(error) && error.code === 'object_missing') {
        throw new UnattributedResultError(
          `unknown inference ${n.inferenceId}: no sidecar ${s3Uri(bucket, sidecarKey(key))} says which sources it tags (not submitted by Weft, or expired with the bucket's retention)`,
          { cause: error },
        );
      }
      throw error;
    }
    let parsed;
    try {
      parsed = SidecarSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    } catch (error) {
      throw new UnattributedResultError(`inference ${n.inferenceId}: sidecar ${sidecarKey(key)} is not JSON`, { cause: error });
    }
    if (!parsed.success) throw new UnattributedResultError(`inference ${n.inferenceId}: sidecar ${sidecarKey(key)} is invalid: ${parsed.error.message}`);
    const sidecar = parsed.data as Sidecar;
    const endpoint = n.requestParameters.endpointName;
    if (endpoint !== undefined && endpoint !== sidecar.endpointName) {
      throw new UnattributedResultError(`inference ${n.inferenceId}: notification is for endpoint ${endpoint}, the sidecar for ${sidecar.endpointName}`);
    }
    return { key, sidecar };
  }

  private async complete(n: InferenceNotification, sidecar: Sidecar): Promise<ResultOutcome> {
    const output = n.responseParameters?.outputLocation;
    if (!output) throw new UnattributedResultError(`inference ${n.inferenceId}: completed without responseParameters.outputLocation`);
    const body = await this.read(output, 'result');
    const rows = this.toRows(n, sidecar, body);
    const model = { ...sidecar.model, tasks: sidecar.tasks };
    let written = 0;
    await Promise.all(
      sidecar.rows.map(async (source, i) => {
        if (await writeTagged(this.deps.store, model, source, rows[i]!)) written += 1;
      }),
    );
    await this.merge(sidecar);
    const stale = sidecar.rows.length - written;
    this.deps.metrics.addMetric('AsyncSourcesTagged', MetricUnit.Count, written);
    this.deps.logger.info('async inference result recorded', { inferenceId: n.inferenceId, endpoint: sidecar.endpointName, rows: sidecar.rows.length, written, stale });
    return { kind: 'tagged', written, stale };
  }

  /** The reply's output tensors → one TaskProbabilities per sidecar row, checked against the sidecar's tasks. */
  private toRows(n: InferenceNotification, sidecar: Sidecar, body: Uint8Array): TaskProbabilities[] {
    let outputs: Tensor[];
    try {
      // JSON outputs were asked for; a binary reply still decodes when the content type says so.
      outputs = decodeInferResponse(body, n.responseParameters?.contentType ?? JSON_CONTENT_TYPE);
    } catch (error) {
      if (error instanceof TritonProtocolError) throw new ModelContractError(`inference ${n.inferenceId}: unreadable result: ${error.message}`, { cause: error });
      throw error;
    }
    const byName = new Map(outputs.map((t) => [t.name, t]));
    const count = sidecar.rows.length;
    const rows: TaskProbabilities[] = Array.from({ length: count }, () => ({}));
    for (const spec of sidecar.outputs) {
      const labels = sidecar.tasks.find((t) => t.name === spec.task)?.labels.length;
      const tensor = byName.get(spec.name);
      if (labels === undefined) throw new ModelContractError(`sidecar output ${spec.name} names unknown task ${spec.task}`);
      if (!tensor) throw new ModelContractError(`inference ${n.inferenceId}: result has no output ${spec.name} (got ${[...byName.keys()].join(', ') || 'none'})`);
      if (tensor.shape.length !== 2 || tensor.shape[0] !== count || tensor.shape[1] !== labels || !(tensor.data instanceof Float32Array)) {
        throw new ModelContractError(`inference ${n.inferenceId}: output ${spec.name} is ${tensor.datatype} [${tensor.shape.join(', ')}], expected FP32 [${count}, ${labels}]`);
      }
      const data = tensor.data;
      rows.forEach((row, r) => {
        setOwn(row, spec.task, Array.from(data.subarray(r * labels, (r + 1) * labels)));
      });
    }
    return rows;
  }

  private async fail(n: InferenceNotification, requestKey: string, sidecar: Sidecar): Promise<ResultOutcome> {
    const { logger, metrics, sagemaker, store } = this.deps;
    const attempt = attemptOf(n.inferenceId);
    const maxAttempts = this.deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const reason = n.failureReason ?? 'no failure reason given';
    if (attempt < maxAttempts) {
      const inferenceId = retryInferenceId(n.inferenceId, attempt + 1);
      await invokeAsync(sagemaker, { endpointName: sidecar.endpointName, inputLocation: s3Uri(this.deps.bucket, requestKey), contentType: sidecar.contentType, inferenceId });
      metrics.addMetric('AsyncRequestsResubmitted', MetricUnit.Count, 1);
      logger.warn('async inference failed; resubmitted', { inferenceId: n.inferenceId, retry: inferenceId, attempt, reason });
      return { kind: 'resubmitted', inferenceId };
    }
    const error = {
      code: 'inference_failed',
      message: `model endpoint ${sidecar.endpointName} failed this request ${attempt} times (async inference ${n.inferenceId}); last failure: ${reason}`,
    };
    let written = 0;
    await Promise.all(
      sidecar.rows.map(async (source) => {
        if (await writeFailed(store, source, error)) written += 1;
      }),
    );
    await this.merge(sidecar);
    metrics.addMetric('AsyncSourcesFailed', MetricUnit.Count, written);
    logger.error('async inference failed for good; recorded on the sources', { inferenceId: n.inferenceId, attempt, reason, rows: sidecar.rows.length, written });
    return { kind: 'failed', written, stale: sidecar.rows.length - written };
  }

  private async merge(sidecar: Sidecar): Promise<void> {
    const products = new ProductSet();
    for (const row of sidecar.rows) products.add(row.ref);
    await Promise.all(products.values().map((p) => this.deps.store.merge(p.vendor, p.productId)));
  }
}
