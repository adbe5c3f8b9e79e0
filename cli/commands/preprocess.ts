/**
 * `weft preprocess <image> --out <dir>`: every view the image model declares, as PNG, made by the
 * same code the image-ingest handler runs with the models folder's manifest settings — for a
 * garment view, with the models folder's detector (served in-process through the same client),
 * and the box it found printed.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describeError, isPermanent } from '../../functions/shared/errors.js';
import { prepareDeclaredViews } from '../../functions/shared/image/declaredViews.js';
import { viewToPng } from '../../functions/shared/image/prepareViews.js';
import { loadViewSettings } from '../../functions/shared/image/viewSettings.js';
import { ManifestSchema, loadDetectorManifest, loadManifest, resolveModelsDir } from '../../functions/shared/manifest.js';
import { startLocalDetector, type LocalDetector } from '../../local/modelServer/localDetector.js';

interface Options {
  out: string;
  viewSize?: string;
  centerFraction?: string;
}

/** The declared views of the models folder's image model (the contract's two without one). */
const declaredViews = (modelsDir: string) => {
  const file = join(modelsDir, 'image', 'manifest.json');
  if (existsSync(file)) {
    const manifest = loadManifest(file);
    if (manifest.preprocessing.image) return { views: manifest.preprocessing.image.views, manifest };
  }
  return { views: ManifestSchema.shape.preprocessing.shape.image.unwrap().parse({}).views, manifest: undefined };
};

export function register(program: Command): void {
  program
    .command('preprocess')
    .description("write the image model's views of an image (downsampled.png, center.png, garment.png …) for inspection")
    .argument('<image>', 'image file (jpeg, png, webp, gif, avif, tiff)')
    .requiredOption('--out <dir>', 'folder for one PNG per declared view')
    .option('--view-size <pixels>', 'view size (default: image model manifest)')
    .option('--center-fraction <fraction>', 'center crop fraction of each side (default: image model manifest)')
    .action(async (image: string, opts: Options) => {
      const settings = loadViewSettings();
      if (opts.viewSize !== undefined) settings.viewSize = Number(opts.viewSize);
      if (opts.centerFraction !== undefined) settings.centerCropFraction = Number(opts.centerFraction);
      const modelsDir = resolveModelsDir();
      let served: LocalDetector | undefined;
      try {
        const { views: specs, manifest } = declaredViews(modelsDir);
        if (specs.some((v) => v.kind === 'garment')) {
          served = await startLocalDetector(loadDetectorManifest(modelsDir, manifest)!, 1);
        }
        const prepared = await prepareDeclaredViews(
          await readFile(image),
          { views: specs, viewSize: settings.viewSize, centerCropFraction: settings.centerCropFraction },
          settings,
          served?.detector,
        );
        const out = resolve(opts.out);
        await mkdir(out, { recursive: true });
        const files: string[] = [];
        for (const [name, view] of Object.entries(prepared.views)) {
          const file = join(out, `${name}.png`);
          await writeFile(file, await viewToPng(view, settings.viewSize));
          files.push(file);
        }
        const { format, width, height } = prepared.source;
        const box = prepared.box ? `; garment box x ${prepared.box.x} y ${prepared.box.y} w ${prepared.box.w} h ${prepared.box.h} score ${prepared.box.score}` : '';
        process.stdout.write(
          `${image}: ${format} ${width}×${height} → ${files.join(', ')} ` +
            `(${settings.viewSize}×${settings.viewSize}, center fraction ${settings.centerCropFraction}${settings.manifest ? `, from ${settings.manifest}` : ', contract defaults'}${box})\n`,
        );
      } catch (error) {
        process.stderr.write(`${image}: ${isPermanent(error) ? `${error.code}: ` : ''}${describeError(error)}\n`);
        process.exitCode = 1;
      } finally {
        await served?.close();
      }
    });
}
