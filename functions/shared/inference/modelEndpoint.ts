/**
 * One SageMaker endpoint serving one model manifest (Triton, KServe v2 binary tensors).
 *
 * `invoke` takes batch-major input tensors, splits them into calls no larger than the model's
 * `triton.maxBatchSize` and SageMaker's request payload limit, and returns, per task of the
 * manifest, one probability row per input row in manifest label order. `invokeWith` splits the
 * same way and hands each reply's tensors to a reader (the detector's boxes and scores).
 *
 * Failure classes (see errors.ts for what the pipeline does with each):
 * - 5xx, throttling, model-not-ready, timeouts, dropped connections → TransientError: the same
 *   request can succeed later.
 * - 4xx (an unknown endpoint, or a model that rejects the tensors) → EndpointRequestError, which
 *   is deliberately NOT a PermanentError. The client builds these requests from already
 *   validated views or tokens, so a 4xx means the deployment and the manifest disagree (wrong
 *   endpoint name, a model updated without its manifest) — nothing is wrong with the product.
 *   Marking the product's image or text as failed would lose it; leaving the error retryable lets
 *   the queue dead-letter the message with its error, to be redriven once the deployment is fixed.
 * - A reply that does not match the manifest (missing output, wrong shape) → ModelContractError,
 *   retryable for the same reason.
 */
import { channel } from 'node:diagnostics_channel';
import { InvokeEndpointCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { TransientError } from '../errors.js';
import { taskOutputs, type LoadedManifest } from '../manifest.js';
import { TritonProtocolError, decodeInferResponse, elementCount, encodeInferRequest, type Tensor, type TensorData } from './triton.js';

/**
 * SageMaker real-time endpoints accept request bodies up to 6 MB; the binary header is small, so
 * 5.5 MiB of tensor data per call keeps clear of it (≈ 19 image pairs at 224×224).
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 5.5 * 1024 * 1024;
/** Calls of one split batch in flight at once; the endpoint batches them again server-side. */
const PARALLEL_CALLS = 4;

/**
 * One message per InvokeEndpoint call that got an answer, for benchmarks and profiling:
 * `{ endpointName, rows, requestBytes, milliseconds }`. Free while no one subscribes.
 */
export const invokeChannel = channel('weft:inference:invoke');

export class EndpointRequestError extends Error {
  override readonly name = 'EndpointRequestError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ModelContractError extends Error {
  override readonly name = 'ModelContractError';
}

export interface ModelEndpointOptions {
  client: SageMakerRuntimeClient;
  endpointName: string;
  manifest: LoadedManifest;
  /** Tensor bytes per InvokeEndpoint call (default DEFAULT_MAX_PAYLOAD_BYTES). */
  maxPayloadBytes?: number;
}

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'ModelNotReadyException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const TIMEOUTS = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  OriginalStatusCode?: number;
  OriginalMessage?: string;
}

/** Maps an SDK or network failure of InvokeEndpoint onto the pipeline's error classes. */
export const classifyInvokeError = (error: unknown, endpointName: string): Error => {
  const e = (error ?? {}) as SdkErrorShape;
  const name = e.name ?? 'Error';
  const detail = e.OriginalMessage ?? e.message ?? String(error);
  const status = name === 'ModelError' ? e.OriginalStatusCode : e.$metadata?.httpStatusCode;
  const what = `endpoint ${endpointName}: ${name}${status ? ` (${status})` : ''}: ${detail}`;
  if (THROTTLING.has(name) || status === 429) return new TransientError('endpoint_throttled', what, { cause: error });
  if (TIMEOUTS.has(name) || (e.code !== undefined && NETWORK_CODES.has(e.code))) return new TransientError('endpoint_unreachable', what, { cause: error });
  if ((status !== undefined && status >= 500) || (name !== 'ModelError' && e.$fault === 'server')) {
    return new TransientError('endpoint_unavailable', what, { cause: error });
  }
  if (status !== undefined && status >= 400) return new EndpointRequestError('endpoint_rejected', what, { cause: error });
  // No HTTP status at all: the request never got an answer (socket, DNS, TLS) — try again later.
  return new TransientError('endpoint_unreachable', what, { cause: error });
};

/** Rows [from, to) of a batch-major tensor, sharing its memory. */
export const sliceRows = (tensor: Tensor, from: number, to: number): Tensor => {
  const rowSize = elementCount(tensor.shape.slice(1));
  return {
    ...tensor,
    shape: [to - from, ...tensor.shape.slice(1)],
    data: tensor.data.subarray(from * rowSize, to * rowSize) as TensorData,
  };
};

const bytesPerRow = (inputs: Tensor[]): number =>
  inputs.reduce((n, t) => n + elementCount(t.shape.slice(1)) * t.data.BYTES_PER_ELEMENT * (t.datatype === 'FP16' ? 0.5 : 1), 0);

export class ModelEndpoint {
  readonly manifest: LoadedManifest;
  readonly endpointName: string;
  private readonly client: SageMakerRuntimeClient;
  private readonly maxPayloadBytes: number;

  constructor(opts: ModelEndpointOptions) {
    this.client = opts.client;
    this.endpointName = opts.endpointName;
    this.manifest = opts.manifest;
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Rows per call: the model's batch limit, lowered so one call stays under the payload limit. */
  rowsPerCall(inputs: Tensor[]): number {
    const byPayload = Math.max(1, Math.floor(this.maxPayloadBytes / Math.max(1, bytesPerRow(inputs))));
    return Math.min(this.manifest.triton.maxBatchSize, byPayload);
  }

  async invoke(inputs: Tensor[]): Promise<Record<string, number[][]>> {
    const result: Record<string, number[][]> = Object.fromEntries(this.manifest.tasks.map((t) => [t.name, []]));
    const answers = await this.invokeWith(inputs, (outputs, rows) => this.toProbabilities(outputs, rows));
    for (const answer of answers) for (const task of Object.keys(result)) result[task]!.push(...answer[task]!);
    return result;
  }

  /**
   * The batch split into calls as for `invoke`, each reply's output tensors read by `read` (which
   * checks them against the manifest); one result per call, in row order. For models whose
   * outputs are not task probabilities (a detector's boxes).
   */
  async invokeWith<T>(inputs: Tensor[], read: (outputs: Tensor[], rows: number) => T): Promise<T[]> {
    const rows = this.checkInputs(inputs);
    if (rows === 0) return [];
    const step = this.rowsPerCall(inputs);
    const chunks: [number, number][] = [];
    for (let from = 0; from < rows; from += step) chunks.push([from, Math.min(rows, from + step)]);

    const answers: T[] = new Array(chunks.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const i = next++;
        const [from, to] = chunks[i]!;
        answers[i] = read(await this.call(inputs.map((t) => sliceRows(t, from, to)), to - from), to - from);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_CALLS, chunks.length) }, worker));
    return answers;
  }

  /** Checks the tensors against the manifest's inputs; returns the batch size. */
  checkInputs(inputs: Tensor[]): number {
    const expected = this.manifest.inputs;
    const given = new Map(inputs.map((t) => [t.name, t]));
    for (const spec of expected) {
      const tensor = given.get(spec.name);
      if (!tensor) throw new ModelContractError(`model ${this.manifest.name} needs input ${spec.name}; got ${[...given.keys()].join(', ') || 'none'}`);
      if (tensor.datatype !== spec.datatype) throw new ModelContractError(`input ${spec.name} must be ${spec.datatype}, got ${tensor.datatype}`);
      const fixed = spec.shape.slice(1).every((d, i) => d < 0 || d === tensor.shape[i + 1]);
      if (tensor.shape.length !== spec.shape.length || !fixed) {
        throw new ModelContractError(`input ${spec.name} has shape [${tensor.shape.join(', ')}], model expects [${spec.shape.join(', ')}]`);
      }
    }
    if (given.size !== expected.length) {
      const unknown = [...given.keys()].filter((n) => !expected.some((s) => s.name === n));
      throw new ModelContractError(`model ${this.manifest.name} has no input(s) ${unknown.join(', ')}`);
    }
    const rows = inputs[0]?.shape[0] ?? 0;
    if (inputs.some((t) => t.shape[0] !== rows)) throw new ModelContractError('inputs disagree on the batch size');
    return rows;
  }

  private async call(inputs: Tensor[], rows: number): Promise<Tensor[]> {
    const outputNames = this.manifest.outputs.map((o) => o.name);
    const request = encodeInferRequest(inputs, outputNames);
    const started = performance.now();
    let body: Uint8Array;
    let contentType: string | undefined;
    try {
      const reply = await this.client.send(
        new InvokeEndpointCommand({ EndpointName: this.endpointName, ContentType: request.contentType, Body: request.body }),
      );
      body = reply.Body ?? new Uint8Array(0);
      contentType = reply.ContentType;
    } catch (error) {
      throw classifyInvokeError(error, this.endpointName);
    }
    if (invokeChannel.hasSubscribers) {
      invokeChannel.publish({ endpointName: this.endpointName, rows, requestBytes: request.body.length, milliseconds: performance.now() - started });
    }
    try {
      return decodeInferResponse(body, contentType);
    } catch (error) {
      if (error instanceof TritonProtocolError) throw new ModelContractError(`endpoint ${this.endpointName}: unreadable reply: ${error.message}`, { cause: error });
      throw error;
    }
  }

  /** Output tensors of a reply → per task, one probability row per input row (checked against the manifest). */
  toProbabilities(outputs: Tensor[], rows: number): Record<string, number[][]> {
    const byName = new Map(outputs.map((t) => [t.name, t]));
    const result: Record<string, number[][]> = {};
    for (const spec of taskOutputs(this.manifest)) {
      const labels = this.manifest.tasks.find((t) => t.name === spec.task)!.labels.length;
      const tensor = byName.get(spec.name);
      if (!tensor) throw new ModelContractError(`endpoint ${this.endpointName} returned no output ${spec.name} (got ${[...byName.keys()].join(', ')})`);
      if (tensor.datatype !== 'FP32' && tensor.datatype !== 'FP16') throw new ModelContractError(`output ${spec.name} is ${tensor.datatype}, expected probabilities (FP32)`);
      if (tensor.shape.length !== 2 || tensor.shape[0] !== rows || tensor.shape[1] !== labels) {
        throw new ModelContractError(`output ${spec.name} has shape [${tensor.shape.join(', ')}], expected [${rows}, ${labels}] (task ${spec.task})`);
      }
      const data = tensor.data as Float32Array;
      result[spec.task] = Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * labels, (r + 1) * labels)));
    }
    return result;
  }
}
