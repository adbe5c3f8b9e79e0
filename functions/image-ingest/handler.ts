/**
 * Lambda entry of image-ingest: S3 → SQS → here. Wiring only; the work is in imageIngest.ts.
 * Configuration is read at the first invocation (cold start), not at import.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { documentClient, s3Client, sageMakerClient } from '../shared/awsClients.js';
import type { ImageViews } from '../shared/image/prepareViews.js';
import { inferenceFor } from '../shared/asyncInference/inferenceMode.js';
import { Detector } from '../shared/inference/detector.js';
import { imageInputs, predictImages } from '../shared/inference/imageModel.js';
import { ModelEndpoint } from '../shared/inference/modelEndpoint.js';
import { createLimiter } from '../shared/ingest/batchCollector.js';
import { lazy, loadModelSet } from '../shared/ingest/config.js';
import { createIngestBatch } from '../shared/ingest/ingestBatch.js';
import { wrapHandler } from '../shared/ingest/lambda.js';
import { observability } from '../shared/ingest/observability.js';
import { processSqsBatch, receiveCount } from '../shared/ingest/sqsBatch.js';
import { ProductStore } from '../shared/products/productStore.js';
import { ImageIngest } from './imageIngest.js';

const obs = observability('image-ingest');

/** Concurrent decodes per invocation: sharp already uses the cores; more only adds memory. */
const DECODE_CONCURRENCY = 2;

const runtime = lazy((config) => {
  const models = loadModelSet(config.modelsDir);
  if (!models.image) throw new Error(`no image model manifest under ${config.modelsDir}`);
  const sagemaker = obs.tracer.captureAWSv3Client(sageMakerClient());
  const endpoint = new ModelEndpoint({ client: sagemaker, endpointName: config.imageEndpointName, manifest: models.image });
  const store = new ProductStore({ client: documentClient(), tableName: config.tableName, catalog: models.catalog, ensemble: models.ensemble });
  const manifest = models.image;
  // A garment view needs the detector's box first: always InvokeEndpoint, whatever the mode below.
  const detector = models.detector ? new Detector(new ModelEndpoint({ client: sagemaker, endpointName: config.detectorEndpointName, manifest: models.detector })) : undefined;
  // realtime: InvokeEndpoint per batch; async: request + sidecar to S3, InvokeEndpointAsync (WEFT_INFERENCE_MODE).
  const infer = inferenceFor<ImageViews>(config, {
    endpoint,
    predict: (views) => predictImages(endpoint, views),
    tensors: (views) => imageInputs(manifest, views),
    s3: s3Client(),
    sagemaker,
    store,
  });
  return { config, manifest, endpoint, store, s3: s3Client(), infer, ...(detector ? { detector } : {}) };
});

export const handler = wrapHandler('image-ingest', obs, async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  obs.metrics.addMetric('MessagesReceived', MetricUnit.Count, event.Records.length);
  const rt = await runtime();
  const ingest = new ImageIngest({ ...rt, logger: obs.logger, metrics: obs.metrics, limit: createLimiter(DECODE_CONCURRENCY) });
  // One source-state read, one model call and one merge per product for the whole batch.
  const batch = createIngestBatch<ImageViews>(event.Records.length, rt.store, rt.infer);
  return processSqsBatch(event, context, obs.logger, (record) => ingest.handleMessage(record.body, batch, receiveCount(record)));
});
