import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { cutView, decodeImage, letterboxBox, prepareViews } from '../../functions/shared/image/prepareViews.js';
import { loadViewSettings } from '../../functions/shared/image/viewSettings.js';
import { loadManifest, resolveModelsDir } from '../../functions/shared/manifest.js';
import { register as registerBatch } from '../../cli/commands/preprocess-batch.js';
import { register as registerOne } from '../../cli/commands/preprocess.js';

const run = async (register: (p: Command) => void, args: string[]): Promise<void> => {
  const program = new Command('weft').exitOverride();
  register(program);
  await program.parseAsync(args, { from: 'user' });
};

describe('weft preprocess-batch and weft preprocess', () => {
  let dir: string;
  const images: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-preprocess-'));
    for (const [i, [w, h]] of [[900, 600], [300, 500], [1200, 1200]].entries()) {
      const file = join(dir, `img${i}.${i === 1 ? 'png' : 'jpg'}`);
      await sharp({ create: { width: w!, height: h!, channels: 3, background: { r: 40 * i, g: 120, b: 220 - 50 * i } } }).toFile(file);
      images.push(file);
    }
    writeFileSync(join(dir, 'bad.jpg'), 'not an image');
  });

  it('writes (N, 2, S, S, 3) uint8 identical to prepareViews, zero rows and errors for failures', async () => {
    const list = join(dir, 'list.txt');
    writeFileSync(list, `${images[0]}\n${join(dir, 'bad.jpg')}\n\n${images[1]}\n${images[2]}\n`);
    const out = join(dir, 'views.u8');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await run(registerBatch, ['preprocess-batch', '--list', list, '--out', out, '--views', 'downsampled,center', '--view-size', '32', '--center-fraction', '0.5', '--concurrency', '2']);
    vi.restoreAllMocks();

    const meta = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    expect(meta).toMatchObject({ count: 4, viewSize: 32, centerCropFraction: 0.5, views: ['downsampled', 'center'] });
    expect(meta.rows[1]).toBeNull();
    expect(meta.rows[0]).toEqual({ width: 900, height: 600, letterbox: expect.any(Array) });
    expect(meta.errors).toEqual([{ index: 1, path: join(dir, 'bad.jpg'), error: expect.stringMatching(/^not_an_image: /) }]);
    const data = readFileSync(out);
    const row = 2 * 32 * 32 * 3;
    expect(data.length).toBe(4 * row);
    expect(data.subarray(row, 2 * row).every((b) => b === 0)).toBe(true);
    const settings = { ...loadViewSettings(), viewSize: 32, centerCropFraction: 0.5 };
    for (const [index, image] of [[0, images[0]], [2, images[1]], [3, images[2]]] as const) {
      const views = await prepareViews(readFileSync(image!), settings);
      expect(new Uint8Array(data.subarray(index * row, index * row + row / 2))).toEqual(views.downsampled);
      expect(new Uint8Array(data.subarray(index * row + row / 2, (index + 1) * row))).toEqual(views.center);
    }
  });

  it('weft preprocess writes every declared view; downsampled and center are the pixels prepareViews makes', async () => {
    const out = join(dir, 'views');
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    await run(registerOne, ['preprocess', images[0]!, '--out', out]);
    vi.restoreAllMocks();
    const settings = loadViewSettings();
    const views = await prepareViews(readFileSync(images[0]!), settings);
    for (const view of ['downsampled', 'center'] as const) {
      const file = join(out, `${view}.png`);
      expect(existsSync(file)).toBe(true);
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([settings.viewSize, settings.viewSize, 3]);
      expect(new Uint8Array(data)).toEqual(views[view]);
    }
    const declared = loadManifest(join(resolveModelsDir(), 'image', 'manifest.json')).preprocessing.image!.views;
    for (const spec of declared) expect(existsSync(join(out, `${spec.name}.png`)), spec.name).toBe(true);
    if (declared.some((v) => v.kind === 'garment')) expect(written.join('')).toMatch(/garment box x [\d.]+ y [\d.]+ w [\d.]+ h [\d.]+ score [\d.]+/);
  });

  describe('views, boxes and rows', () => {
    const S = 48;
    const GREEN = { r: 30, g: 180, b: 60 };
    let garmentImage: string;
    beforeAll(async () => {
      // 600×400 grey with a green 120×200 "garment" at (300, 100): box x=0.5 y=0.25 w=0.2 h=0.5.
      garmentImage = join(dir, 'garment.png');
      await sharp({ create: { width: 600, height: 400, channels: 3, background: { r: 128, g: 128, b: 128 } } })
        .composite([{ input: await sharp({ create: { width: 120, height: 200, channels: 3, background: GREEN } }).png().toBuffer(), left: 300, top: 100 }])
        .png()
        .toFile(garmentImage);
    });

    const batch = async (lines: string[], boxes: string[] | undefined, extra: string[]): Promise<{ data: Buffer; meta: any; out: string }> => {
      const list = join(dir, `list-${Math.random().toString(36).slice(2)}.txt`);
      writeFileSync(list, `${lines.join('\n')}\n`);
      const out = `${list}.u8`;
      const args = ['preprocess-batch', '--list', list, '--out', out, '--view-size', String(S), '--quiet', ...extra];
      if (boxes) {
        writeFileSync(`${list}.boxes.jsonl`, `${boxes.join('\n')}\n`);
        args.push('--boxes', `${list}.boxes.jsonl`);
      }
      await run(registerBatch, args);
      return { data: readFileSync(out), meta: JSON.parse(readFileSync(`${out}.json`, 'utf8')), out };
    };

    const at = (view: Uint8Array | Buffer, x: number, y: number): number[] => Array.from(view.subarray((y * S + x) * 3, (y * S + x) * 3 + 3));

    it('writes (N, 3, S, S, 3) in the requested order, the garment view cut from each row\'s box', async () => {
      const box = { x: 0.5, y: 0.25, w: 0.2, h: 0.5, score: 0.9 };
      // a blank list line is skipped, and so is a blank boxes line
      const { data, meta } = await batch([garmentImage, '', images[0]!], [JSON.stringify(box), '', 'null'], ['--views', 'garment,downsampled,center', '--garment-padding', '0']);
      expect(meta).toMatchObject({ count: 2, views: ['garment', 'downsampled', 'center'], garmentPadding: 0, errors: [] });
      const view = S * S * 3;
      expect(data.length).toBe(2 * 3 * view);
      const settings = { ...loadViewSettings(), viewSize: S };
      const spec = { name: 'garment', input: 'garment', kind: 'garment' as const, padding: 0, minScore: 0 };
      const decoded = await decodeImage(readFileSync(garmentImage), settings);
      expect(new Uint8Array(data.subarray(0, view))).toEqual(await cutView(decoded, spec, settings, box));
      expect(new Uint8Array(data.subarray(view, 2 * view))).toEqual(await cutView(decoded, { name: 'downsampled', input: 'downsampled', kind: 'whole' }, settings));
      // padding 0, 120×200 box squared to 200×200: green in the middle, grey at the left and right edges
      const garment = data.subarray(0, view);
      expect(at(garment, S / 2, S / 2)).toEqual([GREEN.r, GREEN.g, GREEN.b]);
      expect(at(garment, 1, S / 2)).toEqual([128, 128, 128]);
      expect(at(garment, S - 2, S / 2)).toEqual([128, 128, 128]);
      // a null box is the whole image, squared: the 900×600 image's garment view has background bars
      const whole = data.subarray(3 * view, 4 * view);
      const decoded2 = await decodeImage(readFileSync(images[0]!), settings);
      expect(new Uint8Array(whole)).toEqual(await cutView(decoded2, spec, settings, { x: 0, y: 0, w: 1, h: 1 }));
      expect(at(whole, S / 2, 1)).toEqual(settings.background);
    });

    it('rows give the source size and the downsampled view\'s content rectangle as sharp drew it', async () => {
      const { data, meta } = await batch([images[0]!, images[1]!, garmentImage], undefined, ['--views', 'downsampled']);
      expect(meta.views).toEqual(['downsampled']);
      expect(meta.garmentPadding).toBeUndefined();
      const background = loadViewSettings().background;
      const sizes = [[900, 600], [300, 500], [600, 400]];
      for (const [i, row] of (meta.rows as { width: number; height: number; letterbox: number[] }[]).entries()) {
        expect([row.width, row.height]).toEqual(sizes[i]);
        const view = data.subarray(i * S * S * 3, (i + 1) * S * S * 3);
        // content = every pixel that is not the letterbox background (the test images are not white)
        let [x0, y0, x1, y1] = [S, S, -1, -1];
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            if (at(view, x, y).some((v, c) => v !== background[c])) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
          }
        }
        expect(row.letterbox.map((v) => Math.round(v * S))).toEqual([x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
        const lb = letterboxBox(sizes[i]![0]!, sizes[i]![1]!, S);
        expect(row.letterbox).toEqual([lb.x, lb.y, lb.w, lb.h]);
      }
    });

    it('refuses a garment view without --boxes, a boxes file of another length, a bad box and an unknown view', async () => {
      await expect(batch([garmentImage], undefined, ['--views', 'downsampled,garment'])).rejects.toThrow(/--boxes is required with a garment view/);
      await expect(batch([garmentImage, images[0]!], ['null'], ['--views', 'garment'])).rejects.toThrow(/1 boxes for 2 list rows/);
      await expect(batch([garmentImage], ['{"x": 0.1, "y": 0.1, "w": "wide", "h": 0.2}'], ['--views', 'garment'])).rejects.toThrow(/box 1 must be/);
      await expect(batch([garmentImage], undefined, ['--views', 'downsampled,sleeve'])).rejects.toThrow(/unknown view sleeve \(known: .*garment/);
      await expect(batch([garmentImage], ['null'], ['--views', 'garment', '--garment-padding', '-1'])).rejects.toThrow(/--garment-padding must be/);
    });
  });
});
