/**
 * `weft preprocess <image> --out <dir>`: the two model views of one image as PNG, made by the
 * same prepareViews the image-ingest handler runs, with the models folder's manifest settings.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describeError, isPermanent } from '../../functions/shared/errors.js';
import { prepareViews, viewToPng } from '../../functions/shared/image/prepareViews.js';
import { loadViewSettings } from '../../functions/shared/image/viewSettings.js';

interface Options {
  out: string;
  viewSize?: string;
  centerFraction?: string;
}

export function register(program: Command): void {
  program
    .command('preprocess')
    .description('write the two model views of an image (downsampled.png, center.png) for inspection')
    .argument('<image>', 'image file (jpeg, png, webp, gif, avif, tiff)')
    .requiredOption('--out <dir>', 'folder for downsampled.png and center.png')
    .option('--view-size <pixels>', 'view size (default: image model manifest)')
    .option('--center-fraction <fraction>', 'center crop fraction of each side (default: image model manifest)')
    .action(async (image: string, opts: Options) => {
      const settings = loadViewSettings();
      if (opts.viewSize !== undefined) settings.viewSize = Number(opts.viewSize);
      if (opts.centerFraction !== undefined) settings.centerCropFraction = Number(opts.centerFraction);
      try {
        const views = await prepareViews(await readFile(image), settings);
        const out = resolve(opts.out);
        await mkdir(out, { recursive: true });
        for (const view of ['downsampled', 'center'] as const) {
          await writeFile(join(out, `${view}.png`), await viewToPng(views[view], settings.viewSize));
        }
        const { format, width, height } = views.source;
        process.stdout.write(
          `${image}: ${format} ${width}×${height} → ${join(out, 'downsampled.png')}, ${join(out, 'center.png')} ` +
            `(${settings.viewSize}×${settings.viewSize}, center fraction ${settings.centerCropFraction}${settings.manifest ? `, from ${settings.manifest}` : ', contract defaults'})\n`,
        );
      } catch (error) {
        process.stderr.write(`${image}: ${isPermanent(error) ? `${error.code}: ` : ''}${describeError(error)}\n`);
        process.exitCode = 1;
      }
    });
}
