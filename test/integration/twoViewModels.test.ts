/**
 * A models folder whose image model takes the two legacy views (manifest `views` as the
 * `{downsampled, center}` object, no detector) keeps working end to end on the embedded default:
 * assembled from the fixtures' image-two-views model as image/, their text model and
 * ensemble.json; nothing mocked. No detector is served or called, the sources carry no box,
 * and exactly the two views are kept under derived/.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../../functions/shared/manifest.js';
import { startStack, type RunningStack } from '../../local/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../../models/artifacts/fixtures');

describe('a two-view models folder on the local stack', () => {
  let home: string;
  let stack: RunningStack;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-two-views-'));
    const models = join(home, 'models');
    cpSync(join(FIXTURES, 'image-two-views'), join(models, 'image'), { recursive: true });
    cpSync(join(FIXTURES, 'text'), join(models, 'text'), { recursive: true });
    cpSync(join(FIXTURES, 'ensemble.json'), join(models, 'ensemble.json'));
    stack = await startStack({ home: join(home, 'state'), modelsDir: models, quiet: true, delivery: { backoffMs: 100, maxBackoffMs: 400, batchWindowMs: 100 } });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('declares the legacy views and serves no detector', () => {
    const image = loadManifest(join(stack.modelsDir, 'image', 'manifest.json'));
    expect(image.preprocessing.image!.views.map((v) => [v.name, v.kind])).toEqual([
      ['downsampled', 'whole'],
      ['center', 'center'],
    ]);
    expect(image.preprocessing.image!.detector).toBeUndefined();
    expect(stack.models.sort()).toEqual(['weft-image', 'weft-text']);
  });

  it('tags an uploaded product with the two views, keeps both under derived/ and stores no box', async () => {
    const photo = await sharp({ create: { width: 480, height: 600, channels: 3, background: { r: 200, g: 30, b: 40 } } }).jpeg().toBuffer();
    const put = (key: string, body: Uint8Array | string) => stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    await put('acme/legacy-1/images/front.jpg', photo);
    await put('acme/legacy-1/product.json', JSON.stringify({ title: 'Red cotton t-shirt', description: 'A red tee.', brand: 'Weft' }));
    await stack.dispatcher.idle();

    const res = await fetch(`${stack.urls.api}/products/acme/legacy-1`);
    expect(res.status).toBe(200);
    const view = (await res.json()) as { images: { key: string; status: string; views?: Record<string, string>; box?: unknown }[]; text: { status: string }; attributes: Record<string, unknown> };
    expect(view.text.status).toBe('tagged');
    const [image] = view.images;
    expect(image).toMatchObject({ key: 'acme/legacy-1/images/front.jpg', status: 'tagged' });
    expect(image!.views).toEqual({ downsampled: 'derived/acme/legacy-1/images/front.jpg/downsampled', center: 'derived/acme/legacy-1/images/front.jpg/center' });
    expect(image!.box).toBeUndefined();
    for (const key of Object.values(image!.views!)) {
      expect((await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }))).ContentLength).toBeGreaterThan(0);
    }
    await expect(stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'derived/acme/legacy-1/images/front.jpg/garment' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    expect(Object.keys(view.attributes).length).toBeGreaterThan(0);
    expect(await stack.dispatcher.deadLetters()).toEqual([]);
  });
});
