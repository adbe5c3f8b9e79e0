/**
 * The seam between the ingest functions and the model: one function from rows (model input +
 * the source it belongs to) to, per row, either the probabilities (realtime: InvokeEndpoint
 * answered) or `undefined` (async: submitted with InvokeEndpointAsync; inference-result writes the
 * source when the result arrives). Chosen once per cold start from WEFT_INFERENCE_MODE; locally
 * and in every test the mode is realtime.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { ModelEndpoint } from '../inference/modelEndpoint.js';
import type { Tensor } from '../inference/triton.js';
import type { TaskProbabilities } from '../inference/types.js';
import type { PipelineConfig } from '../ingest/config.js';
import type { ProductStore } from '../products/productStore.js';
import { AsyncEndpoint } from './asyncEndpoint.js';
import type { PendingSource } from './pendingSource.js';

export interface SourceRow<I> {
  input: I;
  source: PendingSource;
}

/** Probabilities of a row, or undefined when the row was submitted for async inference. */
export type RowOutcome = TaskProbabilities | undefined;

export type InferenceMode<I> = (rows: SourceRow<I>[]) => Promise<RowOutcome[]>;

export const realtimeInference =
  <I>(predict: (inputs: I[]) => Promise<TaskProbabilities[]>): InferenceMode<I> =>
  (rows) =>
    predict(rows.map((r) => r.input));

export const asyncInference =
  <I>(endpoint: AsyncEndpoint, tensors: (inputs: I[]) => Tensor[]): InferenceMode<I> =>
  async (rows) => {
    if (rows.length === 0) return [];
    await endpoint.submit(tensors(rows.map((r) => r.input)), rows.map((r) => r.source));
    return rows.map(() => undefined);
  };

export interface InferenceModeDeps<I> {
  endpoint: ModelEndpoint;
  /** Realtime: inputs → probabilities (predictImages, TextModel.predict). */
  predict: (inputs: I[]) => Promise<TaskProbabilities[]>;
  /** Async: inputs → the model's input tensors (imageInputs, TextModel.inputs). */
  tensors: (inputs: I[]) => Tensor[];
  s3: S3Client;
  sagemaker: SageMakerRuntimeClient;
  store: ProductStore;
}

export const inferenceFor = <I>(config: Pick<PipelineConfig, 'inferenceMode' | 'asyncInferenceBucket'>, deps: InferenceModeDeps<I>): InferenceMode<I> => {
  if (config.inferenceMode === 'realtime') return realtimeInference(deps.predict);
  if (!config.asyncInferenceBucket) throw new Error('async inference needs WEFT_ASYNC_INFERENCE_BUCKET');
  const endpoint = new AsyncEndpoint({ s3: deps.s3, sagemaker: deps.sagemaker, bucket: config.asyncInferenceBucket, endpoint: deps.endpoint, store: deps.store });
  return asyncInference(endpoint, deps.tensors);
};
