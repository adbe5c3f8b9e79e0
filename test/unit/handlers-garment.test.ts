/**
 * image-ingest with a garment view: the detector's box (one real-time call per image with the
 * whole view) is cut into the third view, the image model gets every declared view, each view is
 * kept under derived/ and removed with the image, and the source keeps the box. SageMaker is
 * mocked (the detector answers a box in view coordinates); DynamoDB is a real dynalite.
 */
import { InvokeEndpointCommand, type InvokeEndpointCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import sharp from 'sharp';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WHOLE_IMAGE, cutView, decodeImage, letterboxBox, type ImageBox } from '../../functions/shared/image/prepareViews.js';
import { decodeInferRequest, type Tensor } from '../../functions/shared/inference/triton.js';
import { fakeDetector } from './support/fakeEndpoint.js';
import { useIngestHarness } from './support/ingestHarness.js';
import { GARMENT_VIEWS, detectorManifest, writeModelsDir } from './support/models.js';
import { s3Notification, sqsEvent, sqsRecord } from './support/s3Events.js';

const h = useIngestHarness({ tableName: 'weft-garment-test', modelsDir: writeModelsDir(undefined, { garment: true }) });
const { s3, sagemaker, calls } = h;
let handler: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
let n = 0;
const fresh = () => `g${++n}`;
const S = 32;
const SETTINGS = { viewSize: S, centerCropFraction: 0.4, background: [255, 255, 255] as [number, number, number], maxInputPixels: 80_000_000 };
const GARMENT = { name: 'garment', input: 'garment', kind: 'garment' as const, padding: 0.1, minScore: 0.3 };

/** 96×64 white with a red block: letterboxed into rows 5..25 of the 32×32 whole view. */
const photo = (block: { r: number; g: number; b: number } = { r: 220, g: 20, b: 20 }) =>
  sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite([{ input: { create: { width: 24, height: 32, channels: 3, background: block } }, left: 48, top: 16 }])
    .png()
    .toBuffer();

/** The garment in image coordinates, and as the detector reports it: in the whole view's. */
const IMAGE_BOX: ImageBox = { x: 0.5, y: 0.25, w: 0.25, h: 0.5 };
const content = letterboxBox(96, 64, S);
const VIEW_BOX: [number, number, number, number] = [IMAGE_BOX.x * content.w + content.x, IMAGE_BOX.y * content.h + content.y, IMAGE_BOX.w * content.w, IMAGE_BOX.h * content.h];

const detectorCalls: { endpoint: string; rows: number }[] = [];
const detectAs = (box: [number, number, number, number], score: number) =>
  sagemaker.on(InvokeEndpointCommand, { EndpointName: 'weft-detector' }).callsFake(fakeDetector(detectorManifest(), box, score, detectorCalls));

const rawOf = async (png: Uint8Array) => new Uint8Array(await sharp(png).raw().toBuffer());

beforeAll(async () => {
  ({ handler } = await import('../../functions/image-ingest/handler.js'));
});

beforeEach(() => {
  detectorCalls.length = 0;
  detectAs(VIEW_BOX, 0.9);
});

describe('image-ingest with a garment view', () => {
  it('detects, cuts the garment view, sends all three views and keeps the box and views', async () => {
    const id = fresh();
    const key = `acme/${id}/images/front.png`;
    const bytes = await photo();
    s3.objects.set(key, bytes);
    const seen: Tensor[][] = [];
    const imageModel = sagemaker.on(InvokeEndpointCommand, { EndpointName: 'weft-image' });
    const answer = (await import('./support/fakeEndpoint.js')).fakeInvoke(calls);
    imageModel.callsFake(async (input: InvokeEndpointCommandInput) => {
      seen.push(decodeInferRequest(input.Body as Uint8Array, input.ContentType).inputs);
      return answer(input);
    });

    expect((await handler(sqsEvent(sqsRecord(s3Notification([{ key }]))))).batchItemFailures).toEqual([]);
    expect(detectorCalls).toEqual([{ endpoint: 'weft-detector', rows: 1 }]);
    expect(calls).toEqual([{ endpoint: 'weft-image', rows: 1 }]);
    expect(seen[0]!.map((t) => [t.name, t.shape])).toEqual(GARMENT_VIEWS.map((v) => [v.input, [1, S, S, 3]]));

    const view = await h.store.getProduct('acme', id);
    const image = view!.images[0]!;
    expect(image.views).toEqual(Object.fromEntries(GARMENT_VIEWS.map((v) => [v.name, `derived/${key}/${v.name}`])));
    expect(image.box!.score).toBeCloseTo(0.9, 6);
    for (const side of ['x', 'y', 'w', 'h'] as const) expect(image.box![side]).toBeCloseTo(IMAGE_BOX[side], 5);

    // The stored garment view is the padded, squared box cut from the decoded image, as sent to the model.
    const decoded = await decodeImage(bytes, SETTINGS);
    const expected = await cutView(decoded, GARMENT, SETTINGS, image.box);
    expect(await rawOf(s3.objects.get(`derived/${key}/garment`)!)).toEqual(expected);
    expect(new Uint8Array(seen[0]![2]!.data as Uint8Array)).toEqual(expected);
    // The garment fills the view: red in the middle, where the whole view is white at that spot.
    const at = (v: Uint8Array, x: number, y: number) => Array.from(v.subarray((y * S + x) * 3, (y * S + x) * 3 + 3));
    expect(at(expected, S / 2, S / 2)).toEqual([220, 20, 20]);
  });

  it('below minScore cuts the garment view from the whole image but keeps the detector\'s box and score', async () => {
    const id = fresh();
    const key = `acme/${id}/images/doubtful.png`;
    const bytes = await photo();
    s3.objects.set(key, bytes);
    sagemaker.reset();
    h.answerRealtime();
    detectAs(VIEW_BOX, 0.1);
    expect((await handler(sqsEvent(sqsRecord(s3Notification([{ key }]))))).batchItemFailures).toEqual([]);
    const image = (await h.store.getProduct('acme', id))!.images[0]!;
    expect(image.box!.score).toBeCloseTo(0.1, 6);
    expect(image.box!.x).toBeCloseTo(IMAGE_BOX.x, 5);
    const decoded = await decodeImage(bytes, SETTINGS);
    expect(await rawOf(s3.objects.get(`derived/${key}/garment`)!)).toEqual(await cutView(decoded, GARMENT, SETTINGS, WHOLE_IMAGE));
  });

  it('a detector failure fails only the message of that image; the others are tagged', async () => {
    const [good, bad] = [fresh(), fresh()];
    s3.objects.set(`acme/${good}/images/a.png`, await photo());
    s3.objects.set(`acme/${bad}/images/a.png`, await photo({ r: 20, g: 20, b: 220 }));
    const detect = fakeDetector(detectorManifest(), VIEW_BOX, 0.9, detectorCalls);
    sagemaker.on(InvokeEndpointCommand, { EndpointName: 'weft-detector' }).callsFake(async (input: InvokeEndpointCommandInput) => {
      const pixels = decodeInferRequest(input.Body as Uint8Array, input.ContentType).inputs[0]!.data as Uint8Array;
      let [r, b] = [0, 0];
      for (let i = 0; i < pixels.length; i += 3) [r, b] = [r + pixels[i]!, b + pixels[i + 2]!];
      if (b > r) throw Object.assign(new Error('internal failure'), { name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 500 } });
      return detect(input);
    });
    const goodRecord = sqsRecord(s3Notification([{ key: `acme/${good}/images/a.png` }]));
    const badRecord = sqsRecord(s3Notification([{ key: `acme/${bad}/images/a.png` }]));
    const response = await handler(sqsEvent(goodRecord, badRecord));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: badRecord.messageId }]);
    expect((await h.store.getProduct('acme', good))?.images[0]).toMatchObject({ status: 'tagged', box: expect.any(Object) });
    expect((await h.store.getProduct('acme', bad))?.images[0]).toMatchObject({ status: 'pending', lastErrorCode: 'endpoint_unavailable' });
    expect(calls).toEqual([{ endpoint: 'weft-image', rows: 1 }]);
  });

  it('removes every declared view with the image', async () => {
    const id = fresh();
    const key = `acme/${id}/images/a.png`;
    s3.objects.set(key, await photo());
    await handler(sqsEvent(sqsRecord(s3Notification([{ key, sequencer: '10' }]))));
    for (const v of GARMENT_VIEWS) expect(s3.objects.has(`derived/${key}/${v.name}`), v.name).toBe(true);
    s3.objects.delete(key);
    await handler(sqsEvent(sqsRecord(s3Notification([{ key, action: 'removed', sequencer: '20' }]))));
    for (const v of GARMENT_VIEWS) expect(s3.objects.has(`derived/${key}/${v.name}`), v.name).toBe(false);
    expect(await h.store.getProduct('acme', id)).toBeUndefined();
  });
});
