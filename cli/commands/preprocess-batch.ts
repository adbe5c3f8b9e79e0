/**
 * `weft preprocess-batch --list <paths.txt> --out <views.u8>`: the model views of many images
 * in one process, for training data. Uses the same prepareViews as serving, so the model trains
 * on exactly the pixels it will be served.
 *
 * Output: `<out>` holds raw uint8 of shape (N, 2, S, S, 3) — per image the downsampled view then
 * the center view, RGB — and `<out>.json` = {count, viewSize, centerCropFraction, errors}. A row
 * whose image fails is left zero-filled and listed in `errors` with its index; the run goes on.
 * List lines are image paths (relative ones resolve against the working directory); blank lines
 * are skipped and do not count as rows.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import { describeError, isPermanent } from '../../functions/shared/errors.js';
import { prepareViews } from '../../functions/shared/image/prepareViews.js';
import { loadViewSettings } from '../../functions/shared/image/viewSettings.js';

interface Options {
  list: string;
  out: string;
  viewSize?: string;
  centerFraction?: string;
  concurrency: string;
  quiet?: boolean;
}

const positive = (value: string, name: string, integer: boolean): number => {
  const n = Number(value);
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('preprocess-batch')
    .description('model views of many images into one raw uint8 array (N, 2, S, S, 3) plus <out>.json')
    .requiredOption('--list <paths.txt>', 'file with one image path per line')
    .requiredOption('--out <views.u8>', 'output array file; metadata goes to <out>.json')
    .option('--view-size <pixels>', 'view size (default: image model manifest)')
    .option('--center-fraction <fraction>', 'center crop fraction of each side (default: image model manifest)')
    .option('--concurrency <n>', 'images decoded at once', String(Math.min(2, availableParallelism())))
    .option('--quiet', 'no progress on stderr')
    .action(async (opts: Options) => {
      const settings = loadViewSettings();
      if (opts.viewSize !== undefined) settings.viewSize = positive(opts.viewSize, 'view-size', true);
      if (opts.centerFraction !== undefined) settings.centerCropFraction = positive(opts.centerFraction, 'center-fraction', false);
      const concurrency = positive(opts.concurrency, 'concurrency', true);
      const paths = (await readFile(opts.list, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
      const size = settings.viewSize;
      const viewBytes = size * size * 3;
      const rowBytes = 2 * viewBytes;

      // Images run in parallel with one libvips thread each: less contention than several
      // images each fanning out over all cores.
      sharp.concurrency(1);
      const out = resolve(opts.out);
      const file = await open(out, 'w');
      const errors: { index: number; path: string; error: string }[] = [];
      const started = performance.now();
      let done = 0;
      try {
        // Sized up front: failed rows stay zero without being written.
        await file.truncate(paths.length * rowBytes);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < paths.length) {
            const index = next++;
            const path = paths[index]!;
            try {
              const views = await prepareViews(await readFile(path), settings);
              await file.write(views.downsampled, 0, viewBytes, index * rowBytes);
              await file.write(views.center, 0, viewBytes, index * rowBytes + viewBytes);
            } catch (error) {
              errors.push({ index, path, error: `${isPermanent(error) ? `${error.code}: ` : ''}${describeError(error)}` });
            }
            done++;
            if (!opts.quiet && done % 500 === 0) process.stderr.write(`preprocess-batch: ${done}/${paths.length}\n`);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, paths.length)) }, worker));
      } finally {
        await file.close();
      }
      errors.sort((a, b) => a.index - b.index);
      const meta = { count: paths.length, viewSize: size, centerCropFraction: settings.centerCropFraction, errors };
      await writeFile(`${out}.json`, `${JSON.stringify(meta, null, 2)}\n`);
      const seconds = (performance.now() - started) / 1000;
      if (!opts.quiet) {
        process.stderr.write(
          `preprocess-batch: ${paths.length - errors.length}/${paths.length} images → ${out} (${errors.length} failed) in ${seconds.toFixed(1)} s, ${(paths.length / seconds).toFixed(1)} images/s\n`,
        );
      }
    });
}
