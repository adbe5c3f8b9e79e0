/**
 * Async inference, both halves: submit (request + sidecar in S3, InvokeEndpointAsync, sources left
 * pending) and inference-result (SageMaker notification → sidecar → decoded result → the same
 * source writes as the realtime path). SDK clients are mocked with aws-sdk-client-mock; DynamoDB is
 * a real dynalite; the manifests are the committed fixtures of models/artifacts/fixtures.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { InvokeEndpointAsyncCommand, InvokeEndpointCommand, SageMakerRuntimeClient, type InvokeEndpointAsyncCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import sharp from 'sharp';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../functions/shared/errors.js';
import { AsyncEndpoint } from '../../functions/shared/asyncInference/asyncEndpoint.js';
import { InferenceResults, UnattributedResultError } from '../../functions/shared/asyncInference/inferenceResults.js';
import { parseNotification } from '../../functions/shared/asyncInference/notification.js';
import type { PendingSource } from '../../functions/shared/asyncInference/pendingSource.js';
import { SidecarSchema, type Sidecar } from '../../functions/shared/asyncInference/sidecar.js';
import { imageInputs } from '../../functions/shared/inference/imageModel.js';
import { ModelEndpoint } from '../../functions/shared/inference/modelEndpoint.js';
import { decodeInferRequest, encodeInferResponse, type Tensor } from '../../functions/shared/inference/triton.js';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import type { ImageViews } from '../../functions/shared/image/prepareViews.js';
import { fakeDetector } from './support/fakeEndpoint.js';
import { useIngestHarness } from './support/ingestHarness.js';
import { s3Notification, sqsEvent, sqsRecord } from './support/s3Events.js';

const FIXTURES = join(process.cwd(), 'models', 'artifacts', 'fixtures');
const IO_BUCKET = 'weft-async-io-test';
const TEXT_ENDPOINT = 'weft-text-test';

type Handler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

const h = useIngestHarness({
  tableName: 'weft-async-test',
  modelsDir: FIXTURES,
  env: { TEXT_ENDPOINT_NAME: TEXT_ENDPOINT, IMAGE_ENDPOINT_NAME: 'weft-image-test', DETECTOR_ENDPOINT_NAME: 'weft-detector-test', WEFT_INFERENCE_MODE: 'async', WEFT_ASYNC_INFERENCE_BUCKET: IO_BUCKET },
  realtime: false,
});
const { s3, sagemaker } = h;
let asyncCalls: InvokeEndpointAsyncCommandInput[] = [];
/** Real-time calls: only the garment detector's, which async mode still invokes directly. */
const realtimeCalls: { endpoint: string; rows: number }[] = [];
/** The detector's answer for every image: a box in view coordinates and its score. */
const DETECTED: [number, number, number, number] = [0.25, 0.125, 0.5, 0.75];
let textIngest: Handler;
let imageIngest: Handler;
let inferenceResult: Handler;
let n = 0;
const fresh = () => `a${++n}`;

const models = loadModelSet(FIXTURES);
const quiet = { logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'WeftTest' }) };

// The mock keeps the PutObject Body as given (the sidecar is written as a string).
const readJson = (key: string): unknown => JSON.parse(Buffer.from(s3.objects.get(key)!).toString('utf8'));
const sidecarOf = (call: InvokeEndpointAsyncCommandInput): Sidecar => SidecarSchema.parse(readJson(`${call.InputLocation!.replace(`s3://${IO_BUCKET}/`, '')}.sources.json`)) as Sidecar;

/** What SageMaker does with a queued request: run the model, store the reply, announce it. */
const completeLikeSageMaker = (call: InvokeEndpointAsyncCommandInput, winner: (task: string, labels: string[]) => string = (_t, labels) => labels[0]!) => {
  const key = call.InputLocation!.replace(`s3://${IO_BUCKET}/`, '');
  const request = decodeInferRequest(s3.objects.get(key)!, call.ContentType);
  const rows = request.inputs[0]!.shape[0]!;
  const sidecar = sidecarOf(call);
  const outputs: Tensor[] = sidecar.outputs.map((o) => {
    const labels = sidecar.tasks.find((t) => t.name === o.task)!.labels;
    const best = winner(o.task, labels);
    const row = labels.map((l) => (l === best ? 0.9 : 0.1 / (labels.length - 1)));
    return { name: o.name, datatype: 'FP32', shape: [rows, labels.length], data: Float32Array.from(Array.from({ length: rows }, () => row).flat()) };
  });
  // Asked for JSON outputs, the container answers application/json.
  expect(request.outputs.every((o) => !o.binary)).toBe(true);
  const reply = encodeInferResponse({ name: sidecar.model.name, version: '1' }, outputs, false);
  const outputKey = `results/${call.EndpointName}/${randomUUID()}.out`;
  s3.objects.set(outputKey, reply.body);
  return notification(call, { invocationStatus: 'Completed', responseParameters: { contentType: reply.contentType, outputLocation: `s3://${IO_BUCKET}/${outputKey}` } });
};

const notification = (call: Pick<InvokeEndpointAsyncCommandInput, 'EndpointName' | 'InputLocation' | 'ContentType' | 'InferenceId'>, extra: Record<string, unknown>) => ({
  awsRegion: 'us-east-1',
  eventTime: '2026-11-28T02:00:00.000Z',
  receivedTime: '2026-11-28T01:59:00.000Z',
  requestParameters: { contentType: call.ContentType, endpointName: call.EndpointName, inputLocation: call.InputLocation },
  inferenceId: call.InferenceId,
  eventVersion: '1.0',
  eventSource: 'aws:sagemaker',
  eventName: 'InferenceResult',
  ...extra,
});

const failed = (call: InvokeEndpointAsyncCommandInput, reason: string) =>
  notification(call, { invocationStatus: 'Failed', failureReason: reason, responseParameters: { contentType: 'text/plain; charset=utf-8' } });

const sources = async (productId: string) => Object.fromEntries((await h.store.readPartition('acme', productId)).filter((i) => i.sk.startsWith('SRC#')).map((i) => [i.sk, i as Record<string, any>]));

const uploadProduct = async (productId: string, document: Record<string, unknown>, sequencer = '0055AED6DCD90281E5') => {
  s3.objects.set(`acme/${productId}/product.json`, new TextEncoder().encode(JSON.stringify(document)));
  return textIngest(sqsEvent(sqsRecord(s3Notification([{ key: `acme/${productId}/product.json`, sequencer }]))));
};

const results = () => new InferenceResults({ s3: new S3Client({ region: 'us-east-1' }), sagemaker: new SageMakerRuntimeClient({ region: 'us-east-1' }), bucket: IO_BUCKET, store: h.store, ...quiet });

beforeAll(async () => {
  ({ handler: textIngest } = await import('../../functions/text-ingest/handler.js'));
  ({ handler: imageIngest } = await import('../../functions/image-ingest/handler.js'));
  ({ handler: inferenceResult } = await import('../../functions/inference-result/handler.js'));
});

beforeEach(() => {
  asyncCalls = [];
  sagemaker.reset();
  realtimeCalls.length = 0;
  sagemaker.on(InvokeEndpointCommand).rejects(new Error('async endpoints reject InvokeEndpoint'));
  if (models.detector) sagemaker.on(InvokeEndpointCommand, { EndpointName: 'weft-detector-test' }).callsFake(fakeDetector(models.detector, DETECTED, 0.9, realtimeCalls));
  sagemaker.on(InvokeEndpointAsyncCommand).callsFake(async (input: InvokeEndpointAsyncCommandInput) => {
    asyncCalls.push(input);
    return { InferenceId: input.InferenceId, OutputLocation: `s3://${IO_BUCKET}/results/${input.EndpointName}/x.out` };
  });
});

describe('AsyncEndpoint.submit', () => {
  const image = models.image!;
  const view = (value: number): ImageViews => {
    const pixels = new Uint8Array(224 * 224 * 3).fill(value);
    return { views: Object.fromEntries(image.preprocessing.image!.views.map((v) => [v.name, pixels])), source: { format: 'jpeg', width: 800, height: 800 } };
  };
  const source = (i: number): PendingSource => ({ ref: { vendor: 'acme', productId: `p${i}`, kind: 'image', name: 'front.jpg' }, seq: `SEQ${i}`.padEnd(40, '0'), key: `acme/p${i}/images/front.jpg`, fields: { weight: 1 } });

  it('writes the request and its sidecar, marks the sources pending, then queues one InvokeEndpointAsync per maxBatchSize rows', async () => {
    const begun: string[] = [];
    const endpoint = new ModelEndpoint({ client: new SageMakerRuntimeClient({ region: 'us-east-1' }), endpointName: 'weft-image-dev', manifest: image });
    let id = 0;
    const submitter = new AsyncEndpoint({
      s3: new S3Client({ region: 'us-east-1' }),
      sagemaker: new SageMakerRuntimeClient({ region: 'us-east-1' }),
      bucket: IO_BUCKET,
      endpoint,
      store: { beginSource: async (ref, seq) => (begun.push(`${ref.productId}@${seq.slice(0, 5)}`), true) },
      newId: () => `req-${++id}`,
      now: () => new Date('2026-11-28T02:00:00Z'),
    });
    const views = Array.from({ length: 10 }, (_, i) => view(i * 20));
    const submitted = await submitter.submit(imageInputs(image, views), views.map((_, i) => source(i)));

    expect(submitted.map((s) => s.rows)).toEqual([8, 2]); // fixture maxBatchSize is 8
    expect(asyncCalls).toEqual([
      expect.objectContaining({ EndpointName: 'weft-image-dev', InputLocation: `s3://${IO_BUCKET}/requests/weft-image-dev/req-1`, InferenceId: 'req-1', Accept: 'application/json' }),
      expect.objectContaining({ EndpointName: 'weft-image-dev', InputLocation: `s3://${IO_BUCKET}/requests/weft-image-dev/req-2`, InferenceId: 'req-2' }),
    ]);
    expect(asyncCalls[0]!.ContentType).toMatch(/^application\/vnd\.sagemaker-triton\.binary\+json;json-header-size=\d+$/);

    // The stored request is exactly the binary tensors of rows 8–9, asking for JSON outputs.
    const request = decodeInferRequest(s3.objects.get('requests/weft-image-dev/req-2')!, asyncCalls[1]!.ContentType);
    expect(request.inputs.map((t) => [t.name, t.shape])).toEqual(image.preprocessing.image!.views.map((v) => [v.input, [2, 224, 224, 3]]));
    expect((request.inputs[0]!.data as Uint8Array)[0]).toBe(160);
    expect(request.outputs).toEqual(image.outputs.map((o) => ({ name: o.name, binary: false })));

    const sidecar = SidecarSchema.parse(readJson('requests/weft-image-dev/req-2.sources.json'));
    expect(sidecar).toMatchObject({
      inferenceId: 'req-2',
      endpointName: 'weft-image-dev',
      model: { name: 'weft-image', version: image.version },
      contentType: asyncCalls[1]!.ContentType,
      submittedAt: '2026-11-28T02:00:00.000Z',
      rows: [source(8), source(9)],
    });
    expect(sidecar.tasks.map((t) => t.name)).toEqual(image.tasks.map((t) => t.name));
    expect(begun).toHaveLength(10);
  });

  it('fails with a TransientError when SageMaker is unavailable, after the request and sidecar are stored', async () => {
    sagemaker.on(InvokeEndpointAsyncCommand).rejects(Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } }));
    const endpoint = new ModelEndpoint({ client: new SageMakerRuntimeClient({ region: 'us-east-1' }), endpointName: 'weft-image-dev', manifest: image });
    const submitter = new AsyncEndpoint({
      s3: new S3Client({ region: 'us-east-1' }),
      sagemaker: new SageMakerRuntimeClient({ region: 'us-east-1' }),
      bucket: IO_BUCKET,
      endpoint,
      store: { beginSource: async () => true },
      newId: () => 'req-down',
    });
    const error = await submitter.submit(imageInputs(image, [view(1)]), [source(1)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).code).toBe('endpoint_unavailable');
    expect(s3.objects.has('requests/weft-image-dev/req-down.sources.json')).toBe(true);
  });
});

describe('async mode end to end (text-ingest → SageMaker notification → inference-result)', () => {
  it('submits instead of invoking, leaves the source pending, and completes it from the success notification', async () => {
    const id = fresh();
    const response = await uploadProduct(id, { title: 'Red cotton tee', description: 'Soft red shirt', brand: 'Acme', color: 'Red' });
    expect(response.batchItemFailures).toEqual([]);
    expect(asyncCalls).toHaveLength(1);
    const call = asyncCalls[0]!;
    expect(call.EndpointName).toBe(TEXT_ENDPOINT);
    expect(call.InputLocation).toBe(`s3://${IO_BUCKET}/requests/${TEXT_ENDPOINT}/${call.InferenceId}`);

    let src = await sources(id);
    expect(src['SRC#text']).toMatchObject({ status: 'pending' });
    expect(src['SRC#rules']).toBeUndefined();
    const sidecar = sidecarOf(call);
    expect(sidecar.rows).toEqual([
      expect.objectContaining({
        ref: { vendor: 'acme', productId: id, kind: 'text' },
        key: `acme/${id}/product.json`,
        fields: expect.objectContaining({ text: 'Red cotton tee\nSoft red shirt\nAcme', vendorColor: { raw: 'Red', normalized: 'red' } }),
      }),
    ]);

    const done = completeLikeSageMaker(call, (task, labels) => (task === 'color' && labels.includes('red') ? 'red' : labels[0]!));
    expect((await inferenceResult(sqsEvent(sqsRecord(done)))).batchItemFailures).toEqual([]);
    src = await sources(id);
    expect(src['SRC#text']).toMatchObject({ status: 'tagged', modelVersion: `weft-text@${models.text!.version}`, text: 'Red cotton tee\nSoft red shirt\nAcme', vendorColor: { raw: 'Red', normalized: 'red' } });
    expect(src['SRC#text']!.predictions.color.red).toBeCloseTo(0.9);
    expect(src['SRC#rules']).toMatchObject({ status: 'tagged' });
    const view = await h.store.getProduct('acme', id);
    expect(view?.text).toMatchObject({ status: 'tagged' });
    expect(view?.attributes.color?.value).toBe('red');

    // SQS delivers at least once: the same notification again changes nothing.
    const before = (await sources(id))['SRC#text']!.updatedAt;
    expect(await results().handleMessage(JSON.stringify(done))).toEqual({ kind: 'tagged', written: 0, stale: 1 });
    expect((await sources(id))['SRC#text']!.updatedAt).toBe(before);
  });

  it('image-ingest submits one request for the batch, each row naming its image, weight, views and box', async () => {
    const [a, b] = [fresh(), fresh()];
    const jpeg = (r: number, g: number, b: number, width: number, height = width) => sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();
    s3.objects.set(`acme/${a}/images/front.jpg`, await jpeg(220, 20, 20, 448));
    // 224×112: letterboxed into the top-to-bottom middle half of the view
    s3.objects.set(`acme/${b}/images/side.jpg`, await jpeg(20, 20, 220, 224, 112));
    const response = await imageIngest(
      sqsEvent(sqsRecord(s3Notification([{ key: `acme/${a}/images/front.jpg` }])), sqsRecord(s3Notification([{ key: `acme/${b}/images/side.jpg` }]))),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(asyncCalls).toHaveLength(1);
    expect(asyncCalls[0]!.EndpointName).toBe('weft-image-test');
    const declared = models.image!.preprocessing.image!.views;
    const garment = declared.some((v) => v.kind === 'garment');
    // The detector stays real-time in async mode: one InvokeEndpoint per image, before the async request.
    expect(realtimeCalls).toEqual(garment ? [{ endpoint: 'weft-detector-test', rows: 1 }, { endpoint: 'weft-detector-test', rows: 1 }] : []);
    const rows = sidecarOf(asyncCalls[0]!).rows;
    const views = declared.map((v) => v.name);
    expect(rows.map((r) => [r.ref, r.fields])).toEqual(
      expect.arrayContaining([
        [{ vendor: 'acme', productId: a, kind: 'image', name: 'front.jpg' }, { weight: 1, views, ...(garment ? { box: { x: 0.25, y: 0.125, w: 0.5, h: 0.75, score: expect.closeTo(0.9, 6) } } : {}) }],
        // view y 0.125..0.875 over content 0.25..0.75 → image y 0..1 (clamped)
        [{ vendor: 'acme', productId: b, kind: 'image', name: 'side.jpg' }, { weight: 0.5, views, ...(garment ? { box: { x: 0.25, y: 0, w: 0.5, h: 1, score: expect.closeTo(0.9, 6) } } : {}) }],
      ]),
    );
    expect((await sources(a))['SRC#image#front.jpg']).toMatchObject({ status: 'pending' });
    // The request holds both images' declared views as uint8 NHWC, in manifest order.
    const request = decodeInferRequest(s3.objects.get(asyncCalls[0]!.InputLocation!.replace(`s3://${IO_BUCKET}/`, ''))!, asyncCalls[0]!.ContentType);
    expect(request.inputs.map((t) => [t.name, t.shape])).toEqual(declared.map((v) => [v.input, [2, 224, 224, 3]]));
    for (const view of views) expect(s3.objects.has(`derived/acme/${a}/images/front.jpg/${view}`), view).toBe(true);

    expect(await results().handleMessage(JSON.stringify(completeLikeSageMaker(asyncCalls[0]!)))).toEqual({ kind: 'tagged', written: 2, stale: 0 });
    expect((await sources(b))['SRC#image#side.jpg']).toMatchObject({ status: 'tagged', weight: 0.5, views, modelVersion: `weft-image@${models.image!.version}` });
    if (garment) expect((await h.store.getProduct('acme', b))?.images[0]?.box).toEqual({ x: 0.25, y: 0, w: 0.5, h: 1, score: expect.closeTo(0.9, 6) });
  });

  it('reads notifications wrapped in the SNS envelope too', async () => {
    const id = fresh();
    await uploadProduct(id, { title: 'Blue dress' });
    const done = completeLikeSageMaker(asyncCalls[0]!);
    const envelope = { Type: 'Notification', MessageId: 'x', TopicArn: 'arn:aws:sns:us-east-1:123456789012:success', Message: JSON.stringify(done) };
    expect(parseNotification(JSON.stringify(envelope)).inferenceId).toBe(asyncCalls[0]!.InferenceId);
    expect(await results().handleMessage(JSON.stringify(envelope))).toEqual({ kind: 'tagged', written: 1, stale: 0 });
  });

  it('a result for an upload that was replaced meanwhile is not written; the newer one is', async () => {
    const id = fresh();
    await uploadProduct(id, { title: 'Old title' }, '0055AED6DCD90281E5');
    await uploadProduct(id, { title: 'New title' }, '0055AED6DCD90281F9');
    expect(asyncCalls).toHaveLength(2);
    const [older, newer] = asyncCalls as [InvokeEndpointAsyncCommandInput, InvokeEndpointAsyncCommandInput];
    expect(await results().handleMessage(JSON.stringify(completeLikeSageMaker(older)))).toEqual({ kind: 'tagged', written: 0, stale: 1 });
    expect((await sources(id))['SRC#text']).toMatchObject({ status: 'pending' });
    expect(await results().handleMessage(JSON.stringify(completeLikeSageMaker(newer)))).toEqual({ kind: 'tagged', written: 1, stale: 0 });
    expect((await sources(id))['SRC#text']).toMatchObject({ status: 'tagged', text: 'New title' });
  });

  it('resubmits a failed request, and records the failure on its sources after the last attempt', async () => {
    const id = fresh();
    await uploadProduct(id, { title: 'Green trousers', color: 'Green' });
    const first = asyncCalls[0]!;
    const reason = 'ModelError: Received server error (500) from model with message "out of memory"';

    expect((await inferenceResult(sqsEvent(sqsRecord(failed(first, reason))))).batchItemFailures).toEqual([]);
    expect(asyncCalls).toHaveLength(2);
    expect(asyncCalls[1]).toMatchObject({ EndpointName: TEXT_ENDPOINT, InputLocation: first.InputLocation, ContentType: first.ContentType, InferenceId: `${first.InferenceId}.2` });
    expect((await sources(id))['SRC#text']).toMatchObject({ status: 'pending' });

    expect(await results().handleMessage(JSON.stringify(failed(asyncCalls[1]!, reason)))).toEqual({ kind: 'resubmitted', inferenceId: `${first.InferenceId}.3` });
    const outcome = await results().handleMessage(JSON.stringify(failed(asyncCalls[2]!, reason)));
    expect(outcome).toEqual({ kind: 'failed', written: 1, stale: 0 });
    const src = await sources(id);
    expect(src['SRC#text']).toMatchObject({ status: 'error', error: { code: 'inference_failed' }, text: 'Green trousers' });
    expect(src['SRC#text']!.error.message).toContain(reason);
    expect(src['SRC#text']!.error.message).toContain(TEXT_ENDPOINT);
    // The vendor color needs no model: it still counts.
    expect(src['SRC#rules']).toMatchObject({ status: 'tagged' });
    expect((await h.store.getProduct('acme', id))?.text).toMatchObject({ status: 'error' });
  });

  it('an unknown inference is a clear error and its message is retried (then dead-lettered), neighbours unaffected', async () => {
    const unknown = { EndpointName: TEXT_ENDPOINT, InputLocation: `s3://${IO_BUCKET}/requests/${TEXT_ENDPOINT}/never-submitted`, ContentType: 'application/json', InferenceId: 'never-submitted' };
    const foreign = { ...unknown, InputLocation: 's3://someone-elses-bucket/requests/x', InferenceId: 'foreign' };
    const id = fresh();
    await uploadProduct(id, { title: 'White tee' });
    const good = sqsRecord(completeLikeSageMaker(asyncCalls[0]!));
    const bad = sqsRecord(notification(unknown, { invocationStatus: 'Completed', responseParameters: { outputLocation: `s3://${IO_BUCKET}/results/x.out` } }));
    const garbage = sqsRecord('{"not": "a notification"}');

    const response = await inferenceResult(sqsEvent(good, bad, garbage));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([bad.messageId, garbage.messageId].sort());
    expect((await sources(id))['SRC#text']).toMatchObject({ status: 'tagged' });

    await expect(results().handleMessage(JSON.stringify(notification(unknown, { invocationStatus: 'Completed' })))).rejects.toThrow(
      /unknown inference never-submitted: no sidecar s3:\/\/.+never-submitted\.sources\.json/,
    );
    await expect(results().handleMessage(JSON.stringify(notification(foreign, { invocationStatus: 'Completed' })))).rejects.toBeInstanceOf(UnattributedResultError);
    await expect(results().handleMessage('{"not": "a notification"}')).rejects.toThrow(/not a SageMaker async inference notification/);
  });

  it('a result that does not match the sidecar is retried, not written', async () => {
    const id = fresh();
    await uploadProduct(id, { title: 'Black tee' });
    const call = asyncCalls[0]!;
    const key = `results/${TEXT_ENDPOINT}/short.out`;
    s3.objects.set(key, encodeInferResponse({ name: 'weft-text', version: '1' }, [{ name: 'color', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([0.5, 0.5]) }], false).body);
    await expect(
      results().handleMessage(JSON.stringify(notification(call, { invocationStatus: 'Completed', responseParameters: { contentType: 'application/json', outputLocation: `s3://${IO_BUCKET}/${key}` } }))),
    ).rejects.toThrow(/output|shape/);
    expect((await sources(id))['SRC#text']).toMatchObject({ status: 'pending' });
  });
});
