import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../functions/shared/awsClients.js';
import { useIngestHarness } from './support/ingestHarness.js';
import { s3Notification, sqsEvent, sqsRecord } from './support/s3Events.js';

const h = useIngestHarness({ tableName: 'weft-image-test', env: { WEFT_MAX_OBJECT_BYTES: '200000' } });
const { s3, sagemaker, calls } = h;
let handler: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
let n = 0;

const solid = (r: number, g: number, b: number, format: 'png' | 'jpeg', width = 60, height = 40) =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } })[format]().toBuffer();

const upload = (key: string, bytes: Uint8Array) => s3.objects.set(key, bytes);
const fresh = () => `p${++n}`;

beforeAll(async () => {
  ({ handler } = await import('../../functions/image-ingest/handler.js'));
});

describe('image-ingest handler', () => {
  it('tags good images with one model call per batch and records every bad input without failing neighbours', async () => {
    const [red, blue, corrupt, zero, text] = [fresh(), fresh(), fresh(), fresh(), fresh()];
    upload(`acme/${red}/images/front.png`, await solid(220, 20, 20, 'png'));
    upload(`acme/${blue}/images/blue shirt+1.jpg`, await solid(20, 20, 220, 'jpeg'));
    upload(`acme/${corrupt}/images/x.jpg`, new TextEncoder().encode('this is not an image at all'));
    upload(`acme/${zero}/images/empty.png`, new Uint8Array(0));
    upload(`acme/${text}/images/huge.png`, new Uint8Array(300_000));

    const response = await handler(
      sqsEvent(
        sqsRecord(s3Notification([{ key: `acme/${red}/images/front.png` }])),
        sqsRecord(s3Notification([{ key: `acme/${blue}/images/blue shirt+1.jpg` }])),
        sqsRecord(s3Notification([{ key: `acme/${corrupt}/images/x.jpg` }])),
        sqsRecord(s3Notification([{ key: `acme/${zero}/images/empty.png` }])),
        sqsRecord(s3Notification([{ key: `acme/${text}/images/huge.png` }])),
        sqsRecord(s3Notification([{ key: 'stray-upload.jpg' }, { key: `derived/acme/${red}/images/front.png/center` }])),
        sqsRecord({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'weft-uploads' }),
      ),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(calls).toEqual([{ endpoint: 'weft-image', rows: 2 }]);

    const redView = await h.store.getProduct('acme', red);
    expect(redView?.images).toEqual([
      {
        key: `acme/${red}/images/front.png`,
        status: 'tagged',
        views: { downsampled: `derived/acme/${red}/images/front.png/downsampled`, center: `derived/acme/${red}/images/front.png/center` },
      },
    ]);
    expect(redView?.attributes.color).toMatchObject({ value: 'red', sources: { 'image:front.png': { value: 'red' } } });
    expect(redView?.modelVersions).toEqual({ image: 'weft-image@0.0.1-test' });
    const center = s3.objects.get(`derived/acme/${red}/images/front.png/center`);
    expect(await sharp(center!).metadata()).toMatchObject({ format: 'png', width: 32, height: 32 });

    // The URL-encoded key (`+` = space, `%2B` = plus) is decoded before use.
    const blueView = await h.store.getProduct('acme', blue);
    expect(blueView?.images[0]?.key).toBe(`acme/${blue}/images/blue shirt+1.jpg`);
    expect(blueView?.attributes.color?.value).toBe('blue');

    expect((await h.store.getProduct('acme', corrupt))?.images[0]).toMatchObject({ status: 'error', errorCode: 'not_an_image' });
    expect((await h.store.getProduct('acme', zero))?.images[0]).toMatchObject({ status: 'error', errorCode: 'empty_object' });
    expect((await h.store.getProduct('acme', text))?.images[0]).toMatchObject({ status: 'error', errorCode: 'too_large' });

    const rejections = await h.store.listRejections();
    expect(rejections.items).toContainEqual(expect.objectContaining({ key: 'stray-upload.jpg', code: 'outside_layout' }));
    expect(rejections.items.map((r) => r.key)).not.toContain(`derived/acme/${red}/images/front.png/center`);
  });

  it('does not double-count or re-run a redelivered event', async () => {
    const id = fresh();
    upload(`acme/${id}/images/a.png`, await solid(220, 20, 20, 'png'));
    const event = sqsEvent(sqsRecord(s3Notification([{ key: `acme/${id}/images/a.png`, sequencer: '0A' }])));
    await handler(event);
    const first = await h.store.getProductItem('acme', id);
    const again = await handler(event);
    expect(again.batchItemFailures).toEqual([]);
    expect(calls).toHaveLength(1);
    const second = await h.store.getProductItem('acme', id);
    expect(second?.version).toBe(first?.version);
    expect(Object.keys(second?.attributes.color?.sources ?? {})).toEqual(['image:a.png']);
  });

  it('gives small (upscaled) images less weight', async () => {
    const { imageWeight } = await import('../../functions/image-ingest/imageIngest.js');
    expect(imageWeight({ width: 1000, height: 800 }, 224)).toBe(1);
    expect(imageWeight({ width: 112, height: 300 }, 224)).toBe(0.5);
    expect(imageWeight({ width: 10, height: 10 }, 224)).toBe(0.25);
    const id = fresh();
    upload(`acme/${id}/images/big.png`, await solid(220, 20, 20, 'png', 64, 64));
    upload(`acme/${id}/images/thumb.png`, await solid(20, 20, 220, 'png', 8, 8));
    await handler(sqsEvent(sqsRecord(s3Notification([{ key: `acme/${id}/images/big.png` }])), sqsRecord(s3Notification([{ key: `acme/${id}/images/thumb.png` }]))));
    const color = (await h.store.getProduct('acme', id))?.attributes.color;
    expect(color?.value).toBe('red');
    expect(color?.sources['image:big.png']!.weight).toBeGreaterThan(color?.sources['image:thumb.png']!.weight ?? 1);
  });

  it('reads the batch\'s source states once, writes each source once and merges a product once per batch', async () => {
    const id = fresh();
    for (const name of ['1', '2', '3']) upload(`acme/${id}/images/${name}.png`, await solid(220, 20, 20, 'png'));
    const commands: string[] = [];
    const client = documentClient();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: { sk?: string }; Item?: { sk?: string } };
        commands.push(`${context.commandName} ${String(input.Key?.sk ?? input.Item?.sk ?? '').split('#')[0]}`);
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    try {
      const records = ['1', '2', '3'].map((name) => sqsRecord(s3Notification([{ key: `acme/${id}/images/${name}.png` }])));
      expect((await handler(sqsEvent(...records))).batchItemFailures).toEqual([]);
      const count = (c: string) => commands.filter((x) => x === c).length;
      expect(count('BatchGetItemCommand ')).toBe(1);
      expect(count('UpdateItemCommand SRC')).toBe(3);
      expect(count('QueryCommand ')).toBe(1);
      expect(count('PutItemCommand PRODUCT')).toBe(1);
      commands.length = 0;
      // Redelivered: the state read finds every event done; no model call, no source write.
      calls.length = 0;
      expect((await handler(sqsEvent(...records))).batchItemFailures).toEqual([]);
      expect(calls).toEqual([]);
      expect(commands.filter((c) => c.startsWith('UpdateItemCommand SRC') || c.startsWith('PutItemCommand'))).toEqual([]);
    } finally {
      client.middlewareStack.remove('countCommands');
    }
    expect((await h.store.getProduct('acme', id))?.images.map((i) => i.status)).toEqual(['tagged', 'tagged', 'tagged']);
  });

  it('averages several images of one product', async () => {
    const id = fresh();
    upload(`acme/${id}/images/1.png`, await solid(220, 20, 20, 'png'));
    upload(`acme/${id}/images/2.png`, await solid(220, 20, 20, 'png'));
    upload(`acme/${id}/images/3.png`, await solid(20, 20, 220, 'png'));
    await handler(sqsEvent(...['1', '2', '3'].map((name) => sqsRecord(s3Notification([{ key: `acme/${id}/images/${name}.png` }])))));
    const view = await h.store.getProduct('acme', id);
    expect(view?.attributes.color?.value).toBe('red');
    expect(Object.keys(view?.attributes.color?.sources ?? {}).sort()).toEqual(['image:1.png', 'image:2.png', 'image:3.png']);
  });

  it('retries only the messages hit by an endpoint failure, then succeeds on redelivery', async () => {
    const [good, bad] = [fresh(), fresh()];
    upload(`acme/${good}/images/a.png`, await solid(20, 200, 20, 'png'));
    upload(`acme/${bad}/images/a.png`, new Uint8Array([1, 2, 3]));
    sagemaker.reset();
    sagemaker.on(InvokeEndpointCommand).rejects(Object.assign(new Error('internal failure'), { name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 500 } }));
    const goodRecord = sqsRecord(s3Notification([{ key: `acme/${good}/images/a.png` }]));
    const badRecord = sqsRecord(s3Notification([{ key: `acme/${bad}/images/a.png` }]));
    const malformed = sqsRecord('this is not an S3 notification');
    const response = await handler(sqsEvent(goodRecord, badRecord, malformed));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([goodRecord.messageId, malformed.messageId].sort());
    expect((await h.store.getProduct('acme', good))?.images[0]?.status).toBe('pending');
    expect((await h.store.getProduct('acme', bad))?.images[0]?.status).toBe('error');

    sagemaker.reset();
    h.answerRealtime();
    expect((await handler(sqsEvent(goodRecord))).batchItemFailures).toEqual([]);
    expect((await h.store.getProduct('acme', good))?.attributes.color?.value).toBe('green');
  });

  it('removes a deleted image and ignores a late older create', async () => {
    const id = fresh();
    const key = `acme/${id}/images/a.png`;
    upload(key, await solid(220, 20, 20, 'png'));
    upload(`acme/${id}/images/b.png`, await solid(20, 20, 220, 'png'));
    await handler(sqsEvent(sqsRecord(s3Notification([{ key, sequencer: '10' }])), sqsRecord(s3Notification([{ key: `acme/${id}/images/b.png`, sequencer: '10' }]))));
    expect(s3.objects.has(`derived/${key}/center`)).toBe(true);

    s3.objects.delete(key);
    await handler(sqsEvent(sqsRecord(s3Notification([{ key, action: 'removed', sequencer: '20' }]))));
    let view = await h.store.getProduct('acme', id);
    expect(view?.images.map((i) => i.key)).toEqual([`acme/${id}/images/b.png`]);
    expect(view?.attributes.color?.value).toBe('blue');
    expect(s3.objects.has(`derived/${key}/center`)).toBe(false);

    upload(key, await solid(220, 20, 20, 'png'));
    await handler(sqsEvent(sqsRecord(s3Notification([{ key, sequencer: '18' }]))));
    view = await h.store.getProduct('acme', id);
    expect(view?.images.map((i) => i.key)).toEqual([`acme/${id}/images/b.png`]);
  });
});
