/**
 * Lambda entry of inference-result (async mode only): SageMaker success/error topics → SNS → SQS
 * (raw delivery) → here. Wiring only; the work is in shared/asyncInference/inferenceResults.ts.
 * Configuration is read at the first invocation (cold start), not at import.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { documentClient, s3Client, sageMakerClient } from '../shared/awsClients.js';
import { InferenceResults } from '../shared/asyncInference/inferenceResults.js';
import { lazy, loadModelSet } from '../shared/ingest/config.js';
import { wrapHandler } from '../shared/ingest/lambda.js';
import { observability } from '../shared/ingest/observability.js';
import { processSqsBatch } from '../shared/ingest/sqsBatch.js';
import { ProductStore } from '../shared/products/productStore.js';

const obs = observability('inference-result');

const runtime = lazy((config) => {
  if (!config.asyncInferenceBucket) throw new Error('inference-result runs in async inference mode only: set WEFT_INFERENCE_MODE=async and WEFT_ASYNC_INFERENCE_BUCKET');
  // The catalog and ensemble weights drive the merge; the result itself is read with the sidecar's tasks.
  const models = loadModelSet(config.modelsDir);
  const store = new ProductStore({ client: documentClient(), tableName: config.tableName, catalog: models.catalog, ensemble: models.ensemble });
  return new InferenceResults({
    s3: s3Client(),
    sagemaker: obs.tracer.captureAWSv3Client(sageMakerClient()),
    bucket: config.asyncInferenceBucket,
    store,
    logger: obs.logger,
    metrics: obs.metrics,
  });
});

export const handler = wrapHandler('inference-result', obs, async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  obs.metrics.addMetric('NotificationsReceived', MetricUnit.Count, event.Records.length);
  const results = await runtime();
  return processSqsBatch(event, context, obs.logger, async (record) => {
    await results.handleMessage(record.body);
  });
});
