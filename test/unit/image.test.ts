import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../functions/shared/errors.js';
import { MAX_ASPECT_RATIO, centerRegion, decodeSize, prepareViews, viewToPng, type PrepareViewsOptions } from '../../functions/shared/image/prepareViews.js';
import { sniffFormat } from '../../functions/shared/image/sniffFormat.js';

const S = 64;
const opts: PrepareViewsOptions = { viewSize: S, centerCropFraction: 0.4, background: [255, 255, 255], maxInputPixels: 80_000_000 };

type RGB = [number, number, number];
const solid = (width: number, height: number, [r, g, b]: RGB) => sharp({ create: { width, height, channels: 3, background: { r, g, b } } });

/** Left half one colour, right half another: shows orientation and crops. */
const halves = async (width: number, height: number, left: RGB, right: RGB) =>
  solid(width, height, left).composite([{ input: await solid(Math.floor(width / 2), height, right).png().toBuffer(), left: width - Math.floor(width / 2), top: 0 }]);

const pixel = (view: Uint8Array, x: number, y: number, size = S): RGB => {
  const i = (y * size + x) * 3;
  return [view[i]!, view[i + 1]!, view[i + 2]!];
};

const close = (actual: RGB, expected: RGB, tolerance = 8): void => {
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!), `${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
};

const expectCode = async (promise: Promise<unknown>, code: string): Promise<PermanentError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PermanentError);
  expect((error as PermanentError).code, (error as Error).message).toBe(code);
  return error as PermanentError;
};

const RED: RGB = [200, 30, 40];
const BLUE: RGB = [20, 40, 210];

describe('sniffFormat', () => {
  it.each([
    ['jpeg', () => solid(8, 8, RED).jpeg().toBuffer()],
    ['png', () => solid(8, 8, RED).png().toBuffer()],
    ['webp', () => solid(8, 8, RED).webp().toBuffer()],
    ['gif', () => solid(8, 8, RED).gif().toBuffer()],
    ['avif', () => solid(8, 8, RED).avif().toBuffer()],
    ['tiff', () => solid(8, 8, RED).tiff().toBuffer()],
  ] as const)('recognises %s', async (format, make) => {
    expect(sniffFormat(await make())).toEqual({ kind: 'supported', format });
  });

  it('recognises formats it does not decode', () => {
    expect(sniffFormat(Buffer.from('%PDF-1.7\n...'))).toEqual({ kind: 'unsupported', format: 'pdf' });
    expect(sniffFormat(Buffer.from('  <svg xmlns="http://www.w3.org/2000/svg"/>'))).toEqual({ kind: 'unsupported', format: 'svg' });
    expect(sniffFormat(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]))).toEqual({ kind: 'unsupported', format: 'bmp' });
    expect(sniffFormat(Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypheic'), 0, 0, 0, 0, ...Buffer.from('mif1heic')]))).toEqual({ kind: 'unsupported', format: 'heic (HEVC)' });
  });

  it('calls anything else unknown', () => {
    expect(sniffFormat(Buffer.from('{"title": "shirt"}'))).toEqual({ kind: 'unknown' });
    expect(sniffFormat(new Uint8Array([0xff]))).toEqual({ kind: 'unknown' });
  });
});

describe('decode planning', () => {
  it('decodes just large enough for the center crop to keep viewSize pixels', () => {
    const d = decodeSize(5120, 2880, 224, 0.4);
    expect(d.height).toBe(560);
    expect(d.width).toBe(996);
    expect(centerRegion(d.width, d.height, 0.4).height).toBeGreaterThanOrEqual(224);
    expect(centerRegion(d.width, d.height, 0.4).width).toBeGreaterThanOrEqual(224);
  });

  it('keeps small images at full size', () => {
    expect(decodeSize(800, 500, 224, 0.4)).toEqual({ width: 800, height: 500, scale: 1 });
  });

  it('centers the crop', () => {
    expect(centerRegion(1000, 500, 0.4)).toEqual({ left: 300, top: 150, width: 400, height: 200 });
  });
});

describe('prepareViews on valid images', () => {
  it('makes two raw viewSize×viewSize×3 views and reports the source', async () => {
    const views = await prepareViews(await solid(1200, 800, RED).jpeg().toBuffer(), opts);
    expect(views.downsampled).toHaveLength(S * S * 3);
    expect(views.center).toHaveLength(S * S * 3);
    expect(views.source).toEqual({ format: 'jpeg', width: 1200, height: 800 });
  });

  it('serves the production size (224) from a large photo-sized JPEG', async () => {
    const views = await prepareViews(await (await halves(4000, 3000, RED, BLUE)).jpeg().toBuffer(), { ...opts, viewSize: 224 });
    expect(views.downsampled).toHaveLength(224 * 224 * 3);
    expect(views.center).toHaveLength(224 * 224 * 3);
    close(pixel(views.center, 10, 112, 224), RED);
    close(pixel(views.center, 213, 112, 224), BLUE);
  });

  it('letterboxes the downsampled view on the manifest background', async () => {
    const background: RGB = [10, 128, 250];
    const views = await prepareViews(await solid(400, 100, RED).png().toBuffer(), { ...opts, background });
    // 400×100 fit into 64×64 is 64×16, centered: rows 0..23 and 40..63 are background.
    close(pixel(views.downsampled, 32, 2), background, 0);
    close(pixel(views.downsampled, 32, 61), background, 0);
    close(pixel(views.downsampled, 32, 32), RED, 2);
    // the center view has no border: it is all image
    close(pixel(views.center, 0, 0), RED, 2);
  });

  it('center view shows the central crop', async () => {
    // 500×500 white with a green 200×200 square in the middle: exactly the 0.4 crop.
    const green: RGB = [30, 180, 60];
    const image = await solid(500, 500, [255, 255, 255])
      .composite([{ input: await solid(200, 200, green).png().toBuffer(), left: 150, top: 150 }])
      .png()
      .toBuffer();
    const views = await prepareViews(image, opts);
    for (const [x, y] of [[2, 2], [61, 2], [32, 32], [2, 61], [61, 61]] as const) close(pixel(views.center, x, y), green, 6);
    close(pixel(views.downsampled, 2, 2), [255, 255, 255], 2);
    close(pixel(views.downsampled, 32, 32), green, 2);
  });

  it('applies EXIF orientation', async () => {
    // Orientation 6: rotate 90° clockwise for display, so the stored left half ends on top.
    const jpeg = await (await halves(300, 200, RED, BLUE)).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const views = await prepareViews(jpeg, opts);
    expect(views.source).toMatchObject({ width: 200, height: 300 });
    close(pixel(views.downsampled, 32, 8), RED);
    close(pixel(views.downsampled, 32, 56), BLUE);
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const views = await prepareViews(await solid(300, 300, RED).toColourspace('cmyk').jpeg().toBuffer(), opts);
    expect(views.center).toHaveLength(S * S * 3);
    const [r, g, b] = pixel(views.center, 32, 32);
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });

  it('reduces 16-bit PNG to 8-bit', async () => {
    const png16 = await solid(300, 200, RED).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const views = await prepareViews(png16, opts);
    close(pixel(views.center, 32, 32), RED, 3);
  });

  it('expands greyscale to three equal channels', async () => {
    const grey = await solid(300, 200, [120, 120, 120]).toColourspace('b-w').png().toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const [r, g, b] = pixel((await prepareViews(grey, opts)).center, 32, 32);
    expect(r).toBe(g);
    expect(g).toBe(b);
  });

  it('flattens alpha onto the background', async () => {
    const background: RGB = [0, 255, 0];
    const transparent = await sharp({ create: { width: 100, height: 100, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const views = await prepareViews(transparent, { ...opts, background });
    close(pixel(views.center, 32, 32), background, 1);
    close(pixel(views.downsampled, 32, 32), background, 1);
  });

  it('flattens greyscale+alpha onto a coloured background', async () => {
    const background: RGB = [0, 255, 0];
    const greyAlpha = await sharp({ create: { width: 100, height: 100, channels: 4, background: { r: 90, g: 90, b: 90, alpha: 0 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(greyAlpha).metadata()).channels).toBe(2);
    close(pixel((await prepareViews(greyAlpha, { ...opts, background })).center, 32, 32), background, 1);
  });

  it('converts CMYK TIFF to sRGB', async () => {
    const tiff = await solid(120, 90, RED).toColourspace('cmyk').tiff().toBuffer();
    expect((await sharp(tiff).metadata()).space).toBe('cmyk');
    const [r, g, b] = pixel((await prepareViews(tiff, opts)).center, 32, 32);
    expect(r).toBeGreaterThan(150);
    expect(g + b).toBeLessThan(100);
  });

  it('takes the first frame of an animated GIF', async () => {
    const frames = [await solid(60, 60, RED).png().toBuffer(), await solid(60, 60, BLUE).png().toBuffer()];
    const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const views = await prepareViews(gif, opts);
    expect(views.source).toMatchObject({ format: 'gif', width: 60, height: 60 });
    close(pixel(views.center, 32, 32), RED, 12);
  });

  it.each([
    ['webp', (s: Sharp) => s.webp({ quality: 95 })],
    ['avif', (s: Sharp) => s.avif({ quality: 90 })],
    ['tiff', (s: Sharp) => s.tiff()],
    ['png', (s: Sharp) => s.png()],
  ] as const)('processes %s', async (format, encode) => {
    const views = await prepareViews(await encode(solid(320, 240, RED)).toBuffer(), opts);
    expect(views.source).toEqual({ format, width: 320, height: 240 });
    close(pixel(views.center, 32, 32), RED, 10);
  });

  it('viewToPng writes an S×S RGB PNG of the view', async () => {
    const views = await prepareViews(await solid(100, 100, RED).png().toBuffer(), opts);
    const png = await viewToPng(views.center, S);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', S, S, 3]);
    expect(new Uint8Array(await sharp(png).raw().toBuffer())).toEqual(views.center);
  });
});

describe('prepareViews on bad input', () => {
  it('empty object → empty_object', async () => {
    await expectCode(prepareViews(new Uint8Array(0), opts), 'empty_object');
  });

  it('text → not_an_image', async () => {
    await expectCode(prepareViews(Buffer.from('{"title":"not a picture"}'), opts), 'not_an_image');
  });

  it('PDF, BMP and HEVC HEIC → unsupported_format naming the format', async () => {
    expect((await expectCode(prepareViews(Buffer.from('%PDF-1.4 ...'), opts), 'unsupported_format')).message).toMatch(/pdf/);
    const bmp = Buffer.concat([Buffer.from('BM'), Buffer.alloc(100)]);
    expect((await expectCode(prepareViews(bmp, opts), 'unsupported_format')).message).toMatch(/bmp/);
    const heic = Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypheic'), 0, 0, 0, 0, ...Buffer.from('mif1heic'), ...new Array(64).fill(0)]);
    expect((await expectCode(prepareViews(heic, opts), 'unsupported_format')).message).toMatch(/heic/i);
  });

  it('truncated JPEG → corrupt_image', async () => {
    const jpeg = await (await halves(600, 400, RED, BLUE)).jpeg().toBuffer();
    await expectCode(prepareViews(jpeg.subarray(0, Math.floor(jpeg.length / 2)), opts), 'corrupt_image');
  });

  it('truncated PNG → corrupt_image', async () => {
    const png = await (await halves(600, 400, RED, BLUE)).png().toBuffer();
    await expectCode(prepareViews(png.subarray(0, Math.floor(png.length / 2)), opts), 'corrupt_image');
  });

  it('signature only → corrupt_image', async () => {
    await expectCode(prepareViews(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 1, 2, 3]), opts), 'corrupt_image');
    await expectCode(prepareViews(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9, 9, 9, 9]), opts), 'corrupt_image');
  });

  it('over the pixel limit → over_pixel_limit, before decoding', async () => {
    const png = await solid(200, 150, RED).png().toBuffer();
    const error = await expectCode(prepareViews(png, { ...opts, maxInputPixels: 200 * 150 - 1 }), 'over_pixel_limit');
    expect(error.message).toMatch(/30000|pixel limit/);
    await expect(prepareViews(png, { ...opts, maxInputPixels: 200 * 150 })).resolves.toBeDefined();
  });

  it('tall or wide beyond the aspect-ratio limit → extreme_aspect_ratio, before decoding', async () => {
    // Well under the pixel limit, yet its 8-pixel side keeps the decode at full size (24 MB raw).
    const tall = await solid(8, 1_000_000, RED).png().toBuffer();
    const error = await expectCode(prepareViews(tall, opts), 'extreme_aspect_ratio');
    expect(error.message).toMatch(/8×1000000/);
    await expectCode(prepareViews(await solid(1_000, 8, RED).png().toBuffer(), opts), 'extreme_aspect_ratio');
    const limit = MAX_ASPECT_RATIO;
    await expect(prepareViews(await solid(10, 10 * limit, RED).png().toBuffer(), opts)).resolves.toBeDefined();
    await expectCode(prepareViews(await solid(10, 10 * limit + 1, RED).png().toBuffer(), opts), 'extreme_aspect_ratio');
  });

  it('over the byte limit → too_large', async () => {
    const png = await solid(50, 50, RED).png().toBuffer();
    await expectCode(prepareViews(png, { ...opts, maxInputBytes: png.length - 1 }), 'too_large');
  });
});
