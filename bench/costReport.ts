/**
 * From what a cost run counted to the bench's `cost` section: per-product usage (realtime as
 * counted; async = realtime plus what async inference adds per model request, modelled from the
 * code in functions/shared/asyncInference; re-tag as counted), priced with bench/prices.json at
 * 100k, 1M and 10M products a month on the dev environment's shapes (lib/config/environments.ts).
 */
import { readFileSync } from 'node:fs';
import { ENVIRONMENTS } from '../lib/config/environments.js';
import { costPerMillion, GB, HOURS_PER_MONTH, type Breakdown, type Endpoints, type Prices, type Usage } from './costModel.js';
import type { CostPhase, CostRun } from './costRun.js';

export const VOLUMES = [100_000, 1_000_000, 10_000_000] as const;
/** Event source mappings polling at rest (4 queues; 5 in async mode), 5 long polls of 20 s each at a time: an assumption, see bench/README.md. */
export const IDLE_POLLERS_PER_QUEUE = 5;
/** API reads per product a month, as the deployment guide's cost assumptions (1 M requests for 100,000 products). */
export const API_READS_PER_PRODUCT = 10;
/** inference-result per batch of 10 notifications: not run locally; assumed. */
export const INFERENCE_RESULT_MS = 300;

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

export const loadPrices = (file = new URL('./prices.json', import.meta.url)): Prices => JSON.parse(readFileSync(file, 'utf8')) as Prices;

/** Per-product request counts of one phase, by service and command (and Lambda GB-s from measured durations). */
export const phaseUsage = (phase: CostPhase, products: number, memoryMb: Record<string, number>, storedGbMonth = { s3: 0, dynamodb: 0 }): Usage & { detail: Record<string, number> } => {
  const per = (n: number): number => n / products;
  let get = 0, put = 0, list = 0, head = 0, sqs = 0, rru = 0, wru = 0, express = 0;
  const detail: Record<string, number> = {};
  for (const [key, c] of Object.entries(phase.counts.calls)) {
    const [, service, command] = key.split(' ');
    detail[key] = per(c.calls);
    if (service === 's3') {
      if (command === 'GetObjectCommand') get += c.calls;
      else if (command === 'PutObjectCommand' || command === 'CopyObjectCommand') put += c.calls;
      else if (command?.startsWith('List')) list += c.calls;
      else if (command === 'HeadObjectCommand') head += c.calls;
      else if (command !== 'DeleteObjectCommand') get += c.calls;
    } else if (service === 'sqs') sqs += c.calls;
    else if (service === 'dynamodb') {
      if (/^(Get|Query|Scan|BatchGet|TransactGet)/.test(command ?? '')) rru += c.units;
      else wru += c.units + c.indexUnits + c.conditionalFailures;
    } else if (service === 'stepfunctions') express += c.calls;
  }
  // The event source mappings: one ReceiveMessage per batch, one DeleteMessageBatch per batch.
  for (const q of Object.values(phase.counts.queues)) sqs += 2 * q.batches;
  let invocations = 0, gbSeconds = 0;
  for (const [fn, inv] of Object.entries(phase.counts.invocations)) {
    if (fn === 'api') continue;
    invocations += inv.invocations;
    gbSeconds += (sum(inv.milliseconds) / 1000) * ((memoryMb[fn] ?? 512) / 1024);
  }
  const rows = (suffix: string): number => sum(Object.entries(phase.modelBatches).filter(([name]) => name.endsWith(suffix)).flatMap(([, r]) => r));
  return {
    s3: { get: per(get), put: per(put), list: per(list), head: per(head), storedGbMonth: storedGbMonth.s3 },
    sqsRequests: per(sqs),
    lambda: { invocations: per(invocations), gbSeconds: per(gbSeconds) },
    dynamodb: { rru: per(rru), wru: per(wru), storedGbMonth: storedGbMonth.dynamodb },
    apiRequests: 0,
    snsPublishes: 0,
    stepFunctionsExpress: per(express),
    model: { imageViews: 0, texts: per(rows('text')), detectorCalls: per(rows('detector')) },
    detail,
  };
};

const add = (a: Usage, b: Usage): Usage => ({
  s3: { get: a.s3.get + b.s3.get, put: a.s3.put + b.s3.put, list: a.s3.list + b.s3.list, head: a.s3.head + b.s3.head, storedGbMonth: a.s3.storedGbMonth + b.s3.storedGbMonth },
  sqsRequests: a.sqsRequests + b.sqsRequests,
  lambda: { invocations: a.lambda.invocations + b.lambda.invocations, gbSeconds: a.lambda.gbSeconds + b.lambda.gbSeconds },
  dynamodb: { rru: a.dynamodb.rru + b.dynamodb.rru, wru: a.dynamodb.wru + b.dynamodb.wru, storedGbMonth: a.dynamodb.storedGbMonth + b.dynamodb.storedGbMonth },
  apiRequests: a.apiRequests + b.apiRequests,
  snsPublishes: a.snsPublishes + b.snsPublishes,
  stepFunctionsExpress: a.stepFunctionsExpress + b.stepFunctionsExpress,
  model: { imageViews: a.model.imageViews + b.model.imageViews, texts: a.model.texts + b.model.texts, detectorCalls: a.model.detectorCalls + b.model.detectorCalls },
});

const scale = (u: Usage, k: number): Usage => add({ ...ZERO, s3: { ...ZERO.s3 }, lambda: { ...ZERO.lambda }, dynamodb: { ...ZERO.dynamodb }, model: { ...ZERO.model } }, {
  s3: { get: u.s3.get * k, put: u.s3.put * k, list: u.s3.list * k, head: u.s3.head * k, storedGbMonth: u.s3.storedGbMonth * k },
  sqsRequests: u.sqsRequests * k,
  lambda: { invocations: u.lambda.invocations * k, gbSeconds: u.lambda.gbSeconds * k },
  dynamodb: { rru: u.dynamodb.rru * k, wru: u.dynamodb.wru * k, storedGbMonth: u.dynamodb.storedGbMonth * k },
  apiRequests: u.apiRequests * k, snsPublishes: u.snsPublishes * k, stepFunctionsExpress: u.stepFunctionsExpress * k,
  model: { imageViews: u.model.imageViews * k, texts: u.model.texts * k, detectorCalls: u.model.detectorCalls * k },
});

export const ZERO: Usage = { s3: { get: 0, put: 0, list: 0, head: 0, storedGbMonth: 0 }, sqsRequests: 0, lambda: { invocations: 0, gbSeconds: 0 }, dynamodb: { rru: 0, wru: 0, storedGbMonth: 0 }, apiRequests: 0, snsPublishes: 0, stepFunctionsExpress: 0, model: { imageViews: 0, texts: 0, detectorCalls: 0 } };

const round4 = (u: Usage): Usage => JSON.parse(JSON.stringify(u, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(4)) : v))) as Usage;

export const costSection = (run: CostRun, prices: Prices, environment: keyof typeof ENVIRONMENTS = 'dev') => {
  const env = ENVIRONMENTS[environment];
  const memoryMb: Record<string, number> = { 'image-ingest': env.functions.imageIngest.memoryMb, 'text-ingest': env.functions.textIngest.memoryMb, api: env.functions.api.memoryMb, 'inference-result': env.functions.inferenceResult.memoryMb, 'retag-batch': 512 };
  const n = run.products;
  // Stored a month: uploads for the whole month they arrive in (they stay), derived views for their retention.
  const storedGbMonth = { s3: (run.stored.uploadBytes + run.stored.derivedBytes * Math.min(1, env.uploads.derivedRetentionDays / 30)) / n / GB, dynamodb: run.stored.dynamodbBytes / n / GB };
  const ingest = phaseUsage(run.ingest, n, memoryMb, storedGbMonth);
  const imageRows = sum(Object.entries(run.ingest.modelBatches).filter(([name]) => name.endsWith('image')).flatMap(([, r]) => r));
  ingest.model.imageViews = (imageRows / n) * run.views;
  const api = phaseUsage(run.api, n, memoryMb);
  const apiInv = run.api.counts.invocations.api;
  const apiPerRequest: Usage = { ...api, apiRequests: 1, lambda: { invocations: 1, gbSeconds: apiInv ? (sum(apiInv.milliseconds) / 1000 / apiInv.invocations) * (memoryMb.api! / 1024) : 0 }, dynamodb: { ...api.dynamodb, rru: api.dynamodb.rru } };
  const apiUsage = scale(apiPerRequest, API_READS_PER_PRODUCT);
  // Idle polling: IDLE_POLLERS_PER_QUEUE long polls of 20 s per queue, around the clock (a fixed monthly count).
  const idlePollsPerMonth = (queues: number): number => queues * IDLE_POLLERS_PER_QUEUE * ((HOURS_PER_MONTH * 3600) / 20);
  const realtime = add(ingest, apiUsage);
  // Async: per model request (image and text; the detector stays real-time) 2 PUTs (payload, sidecar), SageMaker's GET of
  // the input and PUT of the output, 1 SNS publish → 1 SQS send, inference-result's GETs of sidecar and result, and its
  // batch of 10 (receive + delete, one invocation); each source also gets a pending mark (one more write of its units).
  const requests = sum(Object.entries(run.ingest.modelBatches).filter(([name]) => !name.endsWith('detector')).map(([, r]) => r.length)) / n;
  const rows = sum(Object.entries(run.ingest.modelBatches).filter(([name]) => !name.endsWith('detector')).flatMap(([, r]) => r)) / n;
  const sourceWrites = Object.entries(run.ingest.counts.calls).filter(([k]) => / dynamodb UpdateCommand$/.test(k) && !k.startsWith('api'));
  const wruPerUpdate = sum(sourceWrites.map(([, c]) => c.units + c.indexUnits)) / Math.max(1, sum(sourceWrites.map(([, c]) => c.calls)));
  const payloadBytes = sum(Object.values(run.ingest.counts.calls).filter((c) => c.bytes > 0).map(() => 0)) + imageRows * run.views * 224 * 224 * 3;
  const asyncExtra: Usage = {
    ...ZERO,
    s3: { get: 3 * requests, put: 3 * requests, list: 0, head: 0, storedGbMonth: (payloadBytes / n / GB) * Math.min(1, env.inference.asyncResultRetentionDays / 30) },
    sqsRequests: requests + (2 * requests) / 10,
    lambda: { invocations: requests / 10, gbSeconds: (requests / 10) * (INFERENCE_RESULT_MS / 1000) * (memoryMb['inference-result']! / 1024) },
    dynamodb: { rru: 0, wru: rows * wruPerUpdate, storedGbMonth: 0 },
    snsPublishes: requests,
    model: { ...ZERO.model },
  };
  const async = add(realtime, asyncExtra);
  const retag = phaseUsage(run.retag, n, memoryMb);
  const retagImageRows = sum(Object.entries(run.retag.modelBatches).filter(([name]) => name.endsWith('image')).flatMap(([, r]) => r));
  retag.model.imageViews = (retagImageRows / n) * run.views;
  const endpoints: Endpoints = { image: env.inference.image, text: env.inference.text, ...(env.inference.detector ? { detector: env.inference.detector } : {}) };
  const byVolume = (u: Usage, mode: 'realtime' | 'async', queues: number): Record<string, Breakdown> =>
    Object.fromEntries(VOLUMES.map((v) => {
      const withIdle: Usage = { ...u, sqsRequests: u.sqsRequests + idlePollsPerMonth(queues) / v };
      return [String(v), costPerMillion(withIdle, v, endpoints, prices, mode)];
    }));
  const batchSizes = (phase: CostPhase) => Object.fromEntries(Object.entries(phase.modelBatches).map(([name, r]) => [name, { calls: r.length, rows: sum(r), meanBatch: Number((sum(r) / Math.max(1, r.length)).toFixed(2)), max: Math.max(0, ...r) }]));
  const invocations = (phase: CostPhase) => Object.fromEntries(Object.entries(phase.counts.invocations).map(([fn, i]) => [fn, { invocations: i.invocations, records: i.records, meanMs: Number((sum(i.milliseconds) / i.invocations).toFixed(1)), memoryMb: memoryMb[fn] ?? 512 }]));
  return {
    environment,
    pricesRead: prices.read,
    mix: { products: n, imagesPerProduct: run.imagesPerProduct, productJson: 1, views: run.views },
    assumptions: { apiReadsPerProduct: API_READS_PER_PRODUCT, idlePollersPerQueue: IDLE_POLLERS_PER_QUEUE, inferenceResultMsPerBatch: INFERENCE_RESULT_MS, peakToAverage: 3, asyncIdleMinutesPerDay: 20, utilization: prices.throughput.utilization, derivedRetentionDays: env.uploads.derivedRetentionDays },
    stored: run.stored,
    perProduct: { realtime: round4(realtime), async: round4(async), retag: round4(retag), apiRequest: round4(apiPerRequest) },
    counted: {
      ingest: { calls: ingest.detail, queues: run.ingest.counts.queues, invocations: invocations(run.ingest), modelBatches: batchSizes(run.ingest) },
      api: { calls: api.detail, invocations: invocations(run.api) },
      retag: { calls: retag.detail, queues: run.retag.counts.queues, invocations: invocations(run.retag), modelBatches: batchSizes(run.retag), queued: run.retag.queued, batches: run.retag.batches },
    },
    usdPerMillionProducts: { realtime: byVolume(realtime, 'realtime', 4), async: byVolume(async, 'async', 5), retag: byVolume(retag, 'async', 0) },
  };
};
export type CostSection = ReturnType<typeof costSection>;
