/**
 * Lambda entry of retag-batch: the child workflow of the re-tag job's Distributed Map
 * (lib/retag/RetagJob.ts) calls it with one ItemBatcher batch of listed keys and the execution's
 * filters. Wiring only; the work is in shared/retag/retagBatch.ts. Configuration is read at the
 * first invocation: TABLE_NAME, UPLOADS_BUCKET, WEFT_MODELS_DIR (the deployed manifests, the same
 * ones the ingest functions carry), RETAG_IMAGE_QUEUE_URL and RETAG_TEXT_QUEUE_URL.
 *
 * Returns the batch's counts (ResultWriter keeps them in S3). An error fails the child workflow,
 * which Step Functions retries; sending a batch twice is harmless.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { documentClient } from '../shared/awsClients.js';
import { lazy, loadModelSet, modelVersion } from '../shared/ingest/config.js';
import { wrapHandler } from '../shared/ingest/lambda.js';
import { observability } from '../shared/ingest/observability.js';
import { ProductStore } from '../shared/products/productStore.js';
import type { RetagModality } from '../shared/retag/filters.js';
import { sendToQueue } from '../shared/retag/queueSender.js';
import { queuedTotal, runRetagBatch, type RetagBatchInput, type RetagBatchResult } from '../shared/retag/retagBatch.js';

const obs = observability('retag-batch');

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`retag-batch needs ${name}`);
  return value;
};

const runtime = lazy((config) => {
  const models = loadModelSet(config.modelsDir);
  const store = new ProductStore({ client: documentClient(), tableName: config.tableName, catalog: models.catalog, ensemble: models.ensemble });
  const sqs = obs.tracer.captureAWSv3Client(new SQSClient({}));
  const queues: Record<RetagModality, string> = { image: required('RETAG_IMAGE_QUEUE_URL'), text: required('RETAG_TEXT_QUEUE_URL') };
  return {
    deps: {
      readRecords: (refs: Parameters<ProductStore['readSourceRecords']>[0]) => store.readSourceRecords(refs),
      send: (kind: RetagModality, bodies: string[]) => sendToQueue(sqs, queues[kind], bodies),
      deployed: {
        ...(models.image ? { image: modelVersion(models.image) } : {}),
        ...(models.text ? { text: modelVersion(models.text) } : {}),
      },
      bucket: config.bucket,
    },
  };
});

export const handler = wrapHandler('retag-batch', obs, async (event: RetagBatchInput, _context: Context): Promise<RetagBatchResult> => {
  const { deps } = await runtime();
  const result = await runRetagBatch(deps, event);
  obs.metrics.addMetric('RetagKeysChecked', MetricUnit.Count, result.items);
  obs.metrics.addMetric('RetagQueued', MetricUnit.Count, queuedTotal(result));
  obs.logger.info('re-tag batch checked', { ...result });
  return result;
});
