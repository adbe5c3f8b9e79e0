/**
 * Lambda entry of text-ingest: S3 (product.json) → SQS → here. Wiring only; the work is in
 * textIngest.ts. Configuration is read at the first invocation (cold start), not at import.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { documentClient, s3Client, sageMakerClient } from '../shared/awsClients.js';
import { ModelEndpoint } from '../shared/inference/modelEndpoint.js';
import { inferenceFor } from '../shared/asyncInference/inferenceMode.js';
import { createTextModel } from '../shared/inference/textModel.js';
import { lazy, loadModelSet } from '../shared/ingest/config.js';
import { createIngestBatch } from '../shared/ingest/ingestBatch.js';
import { wrapHandler } from '../shared/ingest/lambda.js';
import { observability } from '../shared/ingest/observability.js';
import { processSqsBatch, receiveCount } from '../shared/ingest/sqsBatch.js';
import { ProductStore } from '../shared/products/productStore.js';
import { BoilerplateFilter } from '../shared/text/boilerplate.js';
import { DynamoBoilerplateStore } from '../shared/text/dynamoBoilerplateStore.js';
import { TextIngest } from './textIngest.js';

const obs = observability('text-ingest');

const runtime = lazy(async (config) => {
  const models = loadModelSet(config.modelsDir);
  if (!models.text) throw new Error(`no text model manifest under ${config.modelsDir}`);
  const sagemaker = obs.tracer.captureAWSv3Client(sageMakerClient());
  const endpoint = new ModelEndpoint({ client: sagemaker, endpointName: config.textEndpointName, manifest: models.text });
  const model = await createTextModel(endpoint);
  const store = new ProductStore({ client: documentClient(), tableName: config.tableName, catalog: models.catalog, ensemble: models.ensemble });
  // realtime: InvokeEndpoint per batch; async: request + sidecar to S3, InvokeEndpointAsync (WEFT_INFERENCE_MODE).
  const infer = inferenceFor<string>(config, {
    endpoint,
    predict: (texts) => model.predict(texts),
    tensors: (texts) => model.inputs(texts),
    s3: s3Client(),
    sagemaker,
    store,
  });
  // Vendor templates (returns policy, care labels) are learned per vendor and kept from the model.
  const boilerplate = new BoilerplateFilter(new DynamoBoilerplateStore({ client: documentClient(), tableName: config.tableName }));
  const stripBoilerplate = async (vendor: string, productId: string, text: string): Promise<string> => {
    const { text: kept, removed } = await boilerplate.apply(vendor, productId, text);
    if (removed.length > 0) obs.logger.debug('boilerplate removed', { vendor, productId, sentences: removed.length });
    return kept;
  };
  return { config, manifest: models.text, model, store, s3: s3Client(), stripBoilerplate, infer };
});

export const handler = wrapHandler('text-ingest', obs, async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  obs.metrics.addMetric('MessagesReceived', MetricUnit.Count, event.Records.length);
  const rt = await runtime();
  const ingest = new TextIngest({ ...rt, logger: obs.logger, metrics: obs.metrics });
  // One source-state read, one model call and one merge per product for the whole batch.
  const batch = createIngestBatch<string>(event.Records.length, rt.store, rt.infer);
  return processSqsBatch(event, context, obs.logger, (record) => ingest.handleMessage(record.body, batch, receiveCount(record)));
});
