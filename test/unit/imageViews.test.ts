/**
 * The view geometry (letterbox rectangle, view box → image box, garment region) and the cuts by
 * kind: pure helpers checked against what sharp actually draws.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  WHOLE_IMAGE,
  cutCenter,
  cutGarment,
  cutView,
  cutWhole,
  decodeImage,
  detailFraction,
  garmentBox,
  garmentRegion,
  letterboxBox,
  letterboxRect,
  prepareViews,
  viewBoxToImageBox,
  type PrepareViewsOptions,
} from '../../functions/shared/image/prepareViews.js';

const S = 64;
const opts: PrepareViewsOptions = { viewSize: S, centerCropFraction: 0.4, background: [255, 255, 255], maxInputPixels: 80_000_000 };
type RGB = [number, number, number];
const RED: RGB = [200, 30, 40];
const at = (view: Uint8Array, x: number, y: number, size = S): number[] => Array.from(view.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));

/** Bounding box of the pixels that differ from `background` in a size×size view. */
const contentOf = (view: Uint8Array, size: number, background: RGB) => {
  let [x0, y0, x1, y1] = [size, size, -1, -1];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (at(view, x, y, size).some((v, c) => v !== background[c])) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return { left: x0, top: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
};

describe('letterboxRect', () => {
  it.each([
    [900, 600, 224],
    [300, 500, 224],
    [1000, 999, 224],
    [449, 224, 224],
    [225, 11, 224],
    [37, 91, 32],
    [100, 100, 64],
    [3, 7, 64],
  ])('is where sharp contains %i×%i in a %i-pixel square', async (width, height, size) => {
    const raw = { raw: { width, height, channels: 3 as const } };
    const view = await sharp(Buffer.alloc(width * height * 3, 128), raw).resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0 } }).raw().toBuffer();
    expect(letterboxRect(width, height, size)).toEqual(contentOf(new Uint8Array(view), size, [0, 0, 0]));
  });

  it('normalizes to the view (letterboxBox)', () => {
    expect(letterboxBox(400, 100, 64)).toEqual({ x: 0, y: 24 / 64, w: 1, h: 16 / 64 });
    expect(letterboxBox(100, 100, 64)).toEqual(WHOLE_IMAGE);
  });
});

describe('viewBoxToImageBox', () => {
  const content = { x: 0, y: 0.25, w: 1, h: 0.5 };

  it('undoes the letterbox', () => {
    expect(viewBoxToImageBox({ x: 0.5, y: 0.375, w: 0.25, h: 0.25 }, content)).toEqual({ x: 0.5, y: 0.25, w: 0.25, h: 0.5 });
    expect(viewBoxToImageBox({ x: 0.1, y: 0.2, w: 0.3, h: 0.4 }, WHOLE_IMAGE)).toEqual({ x: 0.1, y: 0.2, w: expect.closeTo(0.3, 12), h: expect.closeTo(0.4, 12) });
  });

  it('clamps what falls on the bars or outside the view', () => {
    expect(viewBoxToImageBox({ x: -0.1, y: 0, w: 0.6, h: 1 }, content)).toEqual({ x: 0, y: 0, w: 0.5, h: 1 });
    // entirely on the top bar: no area left
    expect(viewBoxToImageBox({ x: 0.2, y: 0, w: 0.2, h: 0.1 }, content)).toMatchObject({ h: 0 });
  });
});

describe('garmentRegion', () => {
  it('pads by the box size on each side and squares around the center on the longer side', () => {
    // 0.2 × 0.5 of a 1000×500 image is 200×250 px; padded by 0.1 → 240×300; squared → 300×300
    expect(garmentRegion({ x: 0.5, y: 0.25, w: 0.2, h: 0.5 }, 0.1, 1000, 500)).toEqual({ left: 450, top: 100, width: 300, height: 300 });
    expect(garmentRegion({ x: 0.5, y: 0.25, w: 0.2, h: 0.5 }, 0, 1000, 500)).toEqual({ left: 475, top: 125, width: 250, height: 250 });
  });

  it('may reach outside the image (the whole image, squared)', () => {
    expect(garmentRegion(WHOLE_IMAGE, 0, 400, 100)).toEqual({ left: 0, top: -150, width: 400, height: 400 });
    expect(garmentRegion(WHOLE_IMAGE, 0.1, 100, 100)).toEqual({ left: -10, top: -10, width: 120, height: 120 });
  });
});

describe('garmentBox', () => {
  const box = { x: 0.1, y: 0.2, w: 0.3, h: 0.4, score: 0.5 };
  it('uses the detected box unless its score is below minScore', () => {
    expect(garmentBox(box, 0.3)).toEqual({ x: 0.1, y: 0.2, w: expect.closeTo(0.3, 12), h: expect.closeTo(0.4, 12) });
    expect(garmentBox(box, 0.6)).toEqual(WHOLE_IMAGE);
    // a box without a score (preprocess-batch's) is always used
    expect(garmentBox({ x: 0.1, y: 0.2, w: 0.3, h: 0.4 }, 0.6)).toMatchObject({ x: 0.1, y: 0.2 });
  });
  it('takes the whole image for no box or a box without area, and clamps the rest', () => {
    expect(garmentBox(null, 0)).toEqual(WHOLE_IMAGE);
    expect(garmentBox({ ...box, w: 0 }, 0)).toEqual(WHOLE_IMAGE);
    expect(garmentBox({ x: 0.8, y: -0.1, w: 0.4, h: 0.5, score: 1 }, 0)).toEqual({ x: 0.8, y: 0, w: expect.closeTo(0.2, 9), h: 0.4 });
  });
});

describe('decode size for the declared views', () => {
  it('keeps the center crop\'s resolution when any detail view is declared, and shrinks to the view otherwise', () => {
    expect(detailFraction([{ kind: 'whole' }, { kind: 'center' }], 0.4)).toBe(0.4);
    expect(detailFraction([{ kind: 'whole' }, { kind: 'garment' }], 0.4)).toBe(0.4);
    expect(detailFraction([{ kind: 'whole' }], 0.4)).toBe(1);
  });

  it('decodes a large image smaller for whole views only', async () => {
    const jpeg = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: { r: RED[0], g: RED[1], b: RED[2] } } }).jpeg().toBuffer();
    const detail = await decodeImage(jpeg, opts);
    const whole = await decodeImage(jpeg, opts, 1);
    expect(Math.min(detail.width, detail.height)).toBeGreaterThanOrEqual(S / 0.4);
    expect(Math.min(whole.width, whole.height)).toBeGreaterThanOrEqual(S);
    expect(whole.width * whole.height).toBeLessThan(detail.width * detail.height);
    expect(whole.source).toEqual({ format: 'jpeg', width: 1600, height: 1200 });
  });
});

describe('cuts by kind', () => {
  const picture = async (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: { r: 240, g: 240, b: 240 } } })
      .composite([{ input: { create: { width: Math.round(width / 4), height: Math.round(height / 2), channels: 3, background: { r: RED[0], g: RED[1], b: RED[2] } } }, left: Math.round(width / 2), top: Math.round(height / 4) }])
      .png()
      .toBuffer();

  it('prepareViews is exactly decode once + whole + center (the legacy two views)', async () => {
    const bytes = await picture(1200, 800);
    const legacy = await prepareViews(bytes, opts);
    const decoded = await decodeImage(bytes, opts);
    expect(await cutWhole(decoded, opts)).toEqual(legacy.downsampled);
    expect(await cutCenter(decoded, opts)).toEqual(legacy.center);
    expect(await cutView(decoded, { name: 'downsampled', input: 'd', kind: 'whole' }, opts)).toEqual(legacy.downsampled);
  });

  it('a garment view inside the image is the padded square, resized like the center view', async () => {
    const decoded = await decodeImage(await picture(400, 400), opts);
    // decoded at 160×160; the red block is x 0.5..0.75, y 0.25..0.75: with padding 0 the square is 80×80 at (60, 40)
    expect([decoded.width, decoded.height]).toEqual([160, 160]);
    const view = await cutGarment(decoded, { x: 0.5, y: 0.25, w: 0.25, h: 0.5 }, 0, opts);
    const region = garmentRegion({ x: 0.5, y: 0.25, w: 0.25, h: 0.5 }, 0, 160, 160);
    expect(region).toEqual({ left: 60, top: 40, width: 80, height: 80 });
    const expected = await sharp(decoded.data, { raw: { width: 160, height: 160, channels: 3 } }).extract(region).resize(S, S, { fit: 'fill' }).raw().toBuffer();
    expect(view).toEqual(new Uint8Array(expected));
    expect(at(view, S / 2, S / 2)).toEqual(RED);
    expect(at(view, 2, S / 2)).toEqual([240, 240, 240]);
  });

  it('fills what lies outside the image with the background, and stays small for a huge region', async () => {
    const background: RGB = [10, 128, 250];
    const decoded = await decodeImage(await picture(400, 100), { ...opts, background });
    // the whole image squared: 400×400 around a 400×100 image → bars above and below, like the whole view
    const view = await cutGarment(decoded, WHOLE_IMAGE, 0, { ...opts, background });
    expect(at(view, S / 2, 2)).toEqual(background);
    expect(at(view, S / 2, S - 2)).toEqual(background);
    expect(at(view, 2, S / 2)).toEqual([240, 240, 240]);
    expect(contentOf(view, S, background)).toEqual(letterboxRect(400, 100, S));
    // padding 2 on each side: a 2000×2000 region around the image, still one S×S view
    const far = await cutGarment(decoded, WHOLE_IMAGE, 2, { ...opts, background });
    expect(far).toHaveLength(S * S * 3);
    expect(at(far, 0, 0)).toEqual(background);
    expect(at(far, S / 2, S / 2)).not.toEqual(background);
  });

  it('a garment view needs its box', async () => {
    const decoded = await decodeImage(await picture(100, 100), opts);
    expect(() => cutView(decoded, { name: 'garment', input: 'g', kind: 'garment', padding: 0.1, minScore: 0 }, opts)).toThrow(/needs a box/);
  });
});
