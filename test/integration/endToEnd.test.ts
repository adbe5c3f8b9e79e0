/**
 * End to end on the embedded default, nothing mocked: objects uploaded with the AWS SDK S3 client
 * to s3rver → notifications → dispatcher → the real image-ingest / text-ingest handlers → the
 * local model server (fixture ONNX models) → dynalite → the api handler behind the local API
 * server. Images are encoded here with sharp (real JPEG/PNG/WebP bytes), never canned.
 * Tasks and labels are read from the fixture manifests; none is named in this file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { decodeS3Key } from '../../functions/shared/layout.js';
import { loadManifest } from '../../functions/shared/manifest.js';
import { startStack, type RunningStack } from '../../local/stack.js';

const FIXTURES = resolve(import.meta.dirname, '../../models/artifacts/fixtures');
const TASKS = [...new Set(['image', 'text'].flatMap((m) => loadManifest(join(FIXTURES, m, 'manifest.json')).tasks.map((t) => t.name)))];
/** The views the fixture image model declares (a garment view makes image-ingest call the detector). */
const VIEWS = loadManifest(join(FIXTURES, 'image', 'manifest.json')).preprocessing.image!.views;
/** Small enough for the good images (≤ 0.3 MP), small enough to make a 1.2 MP image "too big". */
const MAX_INPUT_PIXELS = 1_000_000;

interface ProductView {
  vendor: string;
  productId: string;
  attributes: Record<string, { value: string | null; confidence: number; sources: Record<string, { value: string; confidence: number }> }>;
  images: { key: string; status: string; error?: string; errorCode?: string; views?: Record<string, string>; box?: { x: number; y: number; w: number; h: number; score: number } }[];
  text: { status: string; key?: string; error?: string; errorCode?: string };
  modelVersions: Record<string, string>;
}

const photo = (color: { r: number; g: number; b: number }, format: 'jpeg' | 'png' | 'webp', width = 480, height = 600) =>
  sharp({ create: { width, height, channels: 3, background: color, noise: { type: 'gaussian', mean: 128, sigma: 20 } } })
    .composite([{ input: { create: { width: Math.round(width / 2), height: Math.round(height / 2), channels: 3, background: color } }, gravity: 'centre' }])
    [format]()
    .toBuffer();

/** A real (tiny) Windows bitmap: a format sharp cannot read, so it must be refused as unsupported. */
const bmp = (): Buffer => {
  const header = Buffer.alloc(54);
  header.write('BM', 0);
  header.writeUInt32LE(54 + 16, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(16, 34);
  return Buffer.concat([header, Buffer.alloc(16, 0x80)]);
};

const productJson = (title: string, extra: Record<string, unknown> = {}) => JSON.stringify({ title, description: `${title}, a product for the end-to-end test.`, brand: 'Weft', ...extra });

describe('end to end: upload → handlers → models → DynamoDB → API', () => {
  let home: string;
  let stack: RunningStack;
  const records: S3EventRecord[] = [];
  let teeFront: Buffer;

  const put = (key: string, body: Uint8Array | string) => stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
  const del = (key: string) => stack.s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${stack.urls.api}${path}`);
    return { status: res.status, body: await res.json() };
  };
  const product = async (vendor: string, id: string): Promise<ProductView> => {
    const res = await get(`/products/${vendor}/${id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as ProductView;
  };
  const imageOf = (view: ProductView, key: string) => view.images.find((i) => i.key === key);

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-e2e-'));
    process.env.WEFT_MAX_INPUT_PIXELS = String(MAX_INPUT_PIXELS);
    stack = await startStack({
      home,
      modelsDir: FIXTURES,
      quiet: true,
      delivery: { maxReceiveCount: 3, backoffMs: 100, maxBackoffMs: 400, batchWindowMs: 100 },
      onS3Record: (record) => records.push(record),
    });
  });

  afterAll(async () => {
    await stack?.stop();
    delete process.env.WEFT_MAX_INPUT_PIXELS;
    rmSync(home, { recursive: true, force: true });
  });

  it('tags uploaded products: attributes for every manifest task through the API within seconds', async () => {
    teeFront = await photo({ r: 200, g: 20, b: 30 }, 'jpeg');
    const started = Date.now();
    await Promise.all([
      put('acme/tee-1/images/front.jpg', teeFront),
      put('acme/tee-1/images/back view.png', await photo({ r: 190, g: 30, b: 40 }, 'png')),
      put('acme/tee-1/product.json', productJson('Red cotton t-shirt', { color: 'Crimson' })),
      put('acme/dress-2/images/main.webp', await photo({ r: 20, g: 40, b: 180 }, 'webp')),
      put('acme/dress-2/product.json', productJson('Blue summer dress', { color: 'navy' })),
    ]);
    // Poll the API as a user would, rather than waiting on the dispatcher.
    await expect
      .poll(async () => (await get('/products/acme/tee-1')).body as ProductView, { timeout: 30_000, interval: 100 })
      .toMatchObject({ text: { status: 'tagged' }, images: [{ status: 'tagged' }, { status: 'tagged' }] });
    const elapsed = Date.now() - started;
    console.info(`end to end: product tagged via the API ${elapsed} ms after its upload started`);
    // A source's status is written before the merge that folds it into the attributes; let the
    // merges of this wave finish before looking at the merged view.
    await stack.dispatcher.idle();

    const tee = await product('acme', 'tee-1');
    expect(Object.keys(tee.attributes).sort()).toEqual([...TASKS].sort());
    for (const task of TASKS) {
      const attribute = tee.attributes[task]!;
      expect(attribute.confidence).toBeGreaterThan(0);
      expect(Object.keys(attribute.sources).length).toBeGreaterThanOrEqual(2);
    }
    expect(tee.images.map((i) => i.key).sort()).toEqual(['acme/tee-1/images/back view.png', 'acme/tee-1/images/front.jpg']);
    expect(tee.modelVersions).toMatchObject({ image: expect.stringMatching(/^weft-image@/), text: expect.stringMatching(/^weft-text@/) });
    // Every declared model view is kept under derived/ for audit.
    const front = imageOf(tee, 'acme/tee-1/images/front.jpg')!;
    expect(Object.keys(front.views!)).toEqual(VIEWS.map((v) => v.name));
    for (const key of Object.values(front.views!)) {
      const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
      expect(head.ContentLength).toBeGreaterThan(0);
    }
    // With a garment view, the fixture detector's box (image coordinates) is on the source.
    if (VIEWS.some((v) => v.kind === 'garment')) {
      const box = front.box!;
      for (const v of [box.x, box.y, box.w, box.h, box.score]) expect(v).toBeGreaterThanOrEqual(0);
      expect(box.x + box.w).toBeLessThanOrEqual(1 + 1e-6);
      expect(box.y + box.h).toBeLessThanOrEqual(1 + 1e-6);
      expect(box.score).toBeLessThanOrEqual(1);
    } else {
      expect(front.box).toBeUndefined();
    }
    expect((await product('acme', 'dress-2')).images[0]).toMatchObject({ status: 'tagged' });
    // A task value lookup finds the product under the value it was given.
    const task = TASKS[0]!;
    const value = tee.attributes[task]!.value;
    if (value !== null) {
      const found = (await get(`/attributes/${task}/${encodeURIComponent(value)}?vendor=acme`)).body as { items: { productId: string }[] };
      expect(found.items.map((i) => i.productId)).toContain('tee-1');
    }
  });

  it('records each bad input as its error while the neighbours in the same batch are tagged', async () => {
    const good = await photo({ r: 30, g: 160, b: 60 }, 'jpeg');
    const fullJpeg = await photo({ r: 120, g: 120, b: 120 }, 'jpeg', 800, 800);
    const bad: [string, Uint8Array | string, string][] = [
      ['bad/zero/images/a.jpg', new Uint8Array(0), 'empty_object'],
      ['bad/text-file/images/a.jpg', 'this is a plain text file, not an image\n', 'not_an_image'],
      ['bad/truncated/images/a.jpg', fullJpeg.subarray(0, Math.floor(fullJpeg.length * 0.5)), 'corrupt_image'],
      ['bad/huge/images/a.png', await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#888' } }).png().toBuffer(), 'over_pixel_limit'],
      ['bad/bitmap/images/a.png', bmp(), 'unsupported_format'],
    ];
    await Promise.all([
      ...bad.map(([key, body]) => put(key, body)),
      ...bad.map(([key]) => put(key.replace(/images\/a\.\w+$/, 'images/neighbour.jpg'), good)),
      ...bad.map(([key], i) => put(key.replace(/images\/a\.\w+$/, 'product.json'), productJson(`Neighbour ${i}`))),
      put('bad/not-json/product.json', '{"title": "broken'),
      put('bad/not-json/images/a.jpg', good),
      put('bad/no-title/product.json', JSON.stringify({ description: 'no title here' })),
      put('bad/no-title/images/a.jpg', good),
      put('bad/outside-layout/photo.jpg', good),
      put('bad/deep/images/sub/dir.jpg', good),
    ]);
    await stack.dispatcher.idle();

    for (const [key, , code] of bad) {
      const [vendor, id] = key.split('/');
      const view = await product(vendor!, id!);
      const image = imageOf(view, key);
      expect(image, key).toMatchObject({ status: 'error', errorCode: code });
      expect(image?.error, key).toBeTruthy();
      expect(imageOf(view, key.replace(/images\/a\.\w+$/, 'images/neighbour.jpg')), `neighbour of ${key}`).toMatchObject({ status: 'tagged' });
      expect(view.text.status).toBe('tagged');
    }
    for (const id of ['not-json', 'no-title']) {
      const view = await product('bad', id);
      expect(view.text.status, id).toBe('error');
      expect(view.text.error, id).toMatch(id === 'not-json' ? /JSON/i : /title/i);
      expect(imageOf(view, `bad/${id}/images/a.jpg`)).toMatchObject({ status: 'tagged' });
    }
    const rejections = (await get('/rejections?limit=50')).body as { items: { key: string; reason: string }[] };
    for (const key of ['bad/outside-layout/photo.jpg', 'bad/deep/images/sub/dir.jpg']) {
      const rejection = rejections.items.find((r) => r.key === key);
      expect(rejection, key).toBeDefined();
      expect(rejection!.reason).toMatch(/key must be/);
    }
    // Permanent errors are recorded, not retried into the dead-letter store.
    expect(await stack.dispatcher.deadLetters()).toEqual([]);
  });

  it('processes unusual but valid input instead of refusing it', async () => {
    const base = () => sharp({ create: { width: 320, height: 400, channels: 3, background: { r: 180, g: 120, b: 40 } } });
    const images: [string, Buffer][] = [
      ['cmyk.jpg', await base().toColourspace('cmyk').jpeg().toBuffer()],
      ['sixteen-bit.png', await base().toColourspace('rgb16').png().toBuffer()],
      ['grey.png', await base().greyscale().png().toBuffer()],
      ['alpha.png', await sharp({ create: { width: 300, height: 300, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0.3 } } }).png().toBuffer()],
      ['rotated.jpg', await base().jpeg().withMetadata({ orientation: 6 }).toBuffer()],
      ['first-frame.gif', await base().gif().toBuffer()],
      ['scan.tiff', await base().tiff().toBuffer()],
      ['modern.avif', await base().avif({ effort: 0 }).toBuffer()],
      ['modern.webp', await base().webp().toBuffer()],
      ['UPPER.JPG', await base().jpeg().toBuffer()],
    ];
    // Invalid UTF-8 inside a JSON string (a Latin-1 "é") and a description far past any cap.
    const json = Buffer.concat([Buffer.from('{"title": "Caf'), Buffer.from([0xe9]), Buffer.from(`", "description": "${'long text '.repeat(20_000)}"}`)]);
    await Promise.all([...images.map(([name, body]) => put(`odd/all-kinds/images/${name}`, body)), put('odd/all-kinds/product.json', json)]);
    await stack.dispatcher.idle();
    const view = await product('odd', 'all-kinds');
    for (const [name] of images) expect(imageOf(view, `odd/all-kinds/images/${name}`), name).toMatchObject({ status: 'tagged' });
    expect(view.text).toMatchObject({ status: 'tagged' });
  });

  it('does not double-count a redelivered notification or a re-upload of the same object', async () => {
    await stack.dispatcher.idle();
    const before = await product('acme', 'tee-1');
    const again = records.filter((r) => decodeS3Key(r.s3.object.key).startsWith('acme/tee-1/') && r.eventName.startsWith('ObjectCreated'));
    expect(again.length).toBeGreaterThanOrEqual(3);
    for (const record of again) stack.dispatcher.publish(record);
    // Same bytes again: a new notification (new sequencer) for an unchanged source.
    await put('acme/tee-1/images/front.jpg', teeFront);
    await stack.dispatcher.idle();
    const after = await product('acme', 'tee-1');
    expect(after.images.map((i) => i.key).sort()).toEqual(before.images.map((i) => i.key).sort());
    for (const task of TASKS) {
      expect(Object.keys(after.attributes[task]!.sources).sort()).toEqual(Object.keys(before.attributes[task]!.sources).sort());
      expect(after.attributes[task]!.value).toBe(before.attributes[task]!.value);
      expect(after.attributes[task]!.confidence).toBeCloseTo(before.attributes[task]!.confidence, 5);
    }
  });

  it('deleting an image removes that source and re-merges; deleting product.json removes the text', async () => {
    const before = await product('acme', 'tee-1');
    const sourceIds = (view: ProductView) => new Set(Object.values(view.attributes).flatMap((a) => Object.keys(a.sources)));
    const derived = Object.values(imageOf(before, 'acme/tee-1/images/back view.png')!.views!);
    expect(derived).toHaveLength(VIEWS.length);
    await del('acme/tee-1/images/back view.png');
    await stack.dispatcher.idle();
    // Every derived view goes with its image.
    for (const key of derived) {
      await expect(stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key })), key).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    }
    const after = await product('acme', 'tee-1');
    expect(after.images.map((i) => i.key)).toEqual(['acme/tee-1/images/front.jpg']);
    const removed = [...sourceIds(before)].filter((id) => !sourceIds(after).has(id));
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatch(/back view/);

    await del('acme/tee-1/product.json');
    await stack.dispatcher.idle();
    const noText = await product('acme', 'tee-1');
    expect(noText.text.status).toBe('missing');
    for (const task of TASKS) {
      for (const id of Object.keys(noText.attributes[task]?.sources ?? {})) expect(id).toMatch(/^image/);
    }
  });

  it('retries when the model endpoint is down, then dead-letters the message with its error', async () => {
    await stack.stopService('models');
    await put('late/shoe-9/images/side.jpg', await photo({ r: 10, g: 10, b: 10 }, 'jpeg'));
    await stack.dispatcher.idle();
    const letter = (await stack.dispatcher.deadLetters()).find((l) => l.keys.includes('late/shoe-9/images/side.jpg'));
    expect(letter).toMatchObject({ queue: 'image', receiveCount: 3 });
    expect(letter!.attempts).toHaveLength(3);
    const view = await get('/products/late/shoe-9');
    // The image never got a permanent error: it is waiting to be redriven, not refused.
    if (view.status === 200) expect(imageOf(view.body as ProductView, 'late/shoe-9/images/side.jpg')?.status).not.toBe('error');
  });
});
