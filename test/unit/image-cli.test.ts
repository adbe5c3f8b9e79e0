import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { prepareViews } from '../../functions/shared/image/prepareViews.js';
import { loadViewSettings } from '../../functions/shared/image/viewSettings.js';
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
    await run(registerBatch, ['preprocess-batch', '--list', list, '--out', out, '--view-size', '32', '--center-fraction', '0.5', '--concurrency', '2']);
    vi.restoreAllMocks();

    const meta = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    expect(meta).toMatchObject({ count: 4, viewSize: 32, centerCropFraction: 0.5 });
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

  it('weft preprocess writes downsampled.png and center.png of the same pixels', async () => {
    const out = join(dir, 'views');
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
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
  });
});
