/**
 * `npx tsx bench/garmentLatency.ts [--models DIR] [--images 12] [--repeats 7] [--json FILE]`:
 * the latency a garment view adds to preparing one image in image-ingest, side by side with the
 * two-view path in one run.
 *
 * Both sides run image-ingest's own preparation (prepareDeclaredViews) on the same vendor-size
 * image, interleaved (alternating which goes first), wall-clock per image:
 *   two-view  decode once → whole + center views (a legacy manifest)
 *   garment   the same, then one detector call (InvokeEndpoint over HTTP to the local model
 *             server running the detector, onnxruntime on CPU) → the garment view cut
 * The declared views come from the models folder's image manifest when it has a garment view,
 * else from the fixtures' three-view one; the detector is the models folder's detector/ (trained
 * or not yet declared), else the fixtures'.
 * The added part is split into the detector round trip and the garment cut
 * (diagnostics channel weft:image:garmentView). Fetching the upload, writing derived/ and the
 * image model call are the same on both sides and left out.
 */
import { writeFileSync } from 'node:fs';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { prepareDeclaredViews } from '../functions/shared/image/declaredViews.js';
import { garmentViewChannel, type PrepareViewsOptions } from '../functions/shared/image/prepareViews.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../functions/shared/image/viewSettings.js';
import { checkDetectorPair, loadDetectorManifest, loadManifest, resolveModelsDir } from '../functions/shared/manifest.js';
import { startLocalDetector } from '../local/modelServer/localDetector.js';
import { vendorImages } from './images.js';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    images: { type: 'string', default: '12' },
    repeats: { type: 'string', default: '7' },
    json: { type: 'string' },
  },
});
const log = (message: string): void => void process.stderr.write(`${message}\n`);
const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);

const dir = resolve(args.models ?? resolveModelsDir());
const FIXTURES = resolve('models/artifacts/fixtures');
const declared = loadManifest(join(dir, 'image', 'manifest.json'));
const imageManifest = declared.preprocessing.image!.views.some((v) => v.kind === 'garment') ? declared : loadManifest(join(FIXTURES, 'image', 'manifest.json'));
const detectorManifest = loadDetectorManifest(dir, undefined) ?? loadDetectorManifest(FIXTURES, undefined)!;
checkDetectorPair(imageManifest, detectorManifest, detectorManifest.dir);
const image = imageManifest.preprocessing.image!;
const twoViews = { ...image, views: image.views.filter((v) => v.kind !== 'garment') };
const opts: PrepareViewsOptions = { viewSize: image.viewSize, centerCropFraction: image.centerCropFraction, background: image.background, maxInputPixels: DEFAULT_MAX_INPUT_PIXELS };

sharp.cache(false);
// Only the detector is served: the image model's call is the same on both sides.
const served = await startLocalDetector(detectorManifest);
const detector = served.detector;
const images = await vendorImages(Math.max(1, Number(args.images)), resolve('samples/catalog'));
const repeats = Math.max(1, Number(args.repeats));
const detectorName = `${detectorManifest.name}@${detectorManifest.version}`;
log(`[garment] views ${image.views.map((v) => v.name).join(', ')} (${imageManifest.dir}) vs ${twoViews.views.map((v) => v.name).join(', ')}; detector ${detectorName} (${detectorManifest.dir}); ${images.length} images × ${repeats}; ${availableParallelism()} CPUs`);

let lastGarment: { milliseconds: number; detectorMilliseconds: number } | undefined;
const onGarment = (message: unknown): void => void (lastGarment = message as typeof lastGarment);
subscribe(garmentViewChannel.name, onGarment);

const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

const perImage: { name: string; width: number; height: number; twoViewMs: number; garmentPathMs: number; addedMs: number; detectorMs: number; garmentCutMs: number }[] = [];
try {
  for (const img of images) {
    // Warm-up: first-touch costs (codec init, the detector session's first run) belong to neither side.
    await prepareDeclaredViews(img.bytes, twoViews, opts);
    await prepareDeclaredViews(img.bytes, image, opts, detector);
    const two: number[] = [];
    const garment: number[] = [];
    const detect: number[] = [];
    const cut: number[] = [];
    const runGarment = async (): Promise<void> => {
      garment.push(await timed(() => prepareDeclaredViews(img.bytes, image, opts, detector)));
      detect.push(lastGarment!.detectorMilliseconds);
      cut.push(lastGarment!.milliseconds - lastGarment!.detectorMilliseconds);
    };
    for (let r = 0; r < repeats; r++) {
      if (r % 2 === 0) {
        two.push(await timed(() => prepareDeclaredViews(img.bytes, twoViews, opts)));
        await runGarment();
      } else {
        await runGarment();
        two.push(await timed(() => prepareDeclaredViews(img.bytes, twoViews, opts)));
      }
    }
    const row = { name: img.name, width: img.width, height: img.height, twoViewMs: round(median(two)), garmentPathMs: round(median(garment)), detectorMs: round(median(detect)), garmentCutMs: round(median(cut)) };
    perImage.push({ ...row, addedMs: round(row.garmentPathMs - row.twoViewMs) });
  }
} finally {
  unsubscribe(garmentViewChannel.name, onGarment);
  await served.close();
}

const sum = (key: keyof (typeof perImage)[number]): number => perImage.reduce((s, r) => s + (r[key] as number), 0);
const report = {
  generatedAt: new Date().toISOString(),
  imageManifest: imageManifest.dir,
  detector: detectorName,
  detectorDir: detectorManifest.dir,
  views: { garment: image.views.map((v) => v.name), twoView: twoViews.views.map((v) => v.name) },
  images: perImage.length,
  repeats,
  cpus: availableParallelism(),
  /** Σ garment path ÷ Σ two-view path (per image the median of the repeats). */
  ratio: round(sum('garmentPathMs') / sum('twoViewMs'), 3),
  medianImageRatio: round(median(perImage.map((r) => r.garmentPathMs / r.twoViewMs)), 3),
  medianMs: {
    twoView: round(median(perImage.map((r) => r.twoViewMs))),
    garmentPath: round(median(perImage.map((r) => r.garmentPathMs))),
    added: round(median(perImage.map((r) => r.addedMs))),
    detector: round(median(perImage.map((r) => r.detectorMs))),
    garmentCut: round(median(perImage.map((r) => r.garmentCutMs))),
  },
  perImage,
};
log(
  `[garment] per image (median): two-view ${report.medianMs.twoView} ms, with the garment view ${report.medianMs.garmentPath} ms ` +
    `(+${report.medianMs.added} ms: detector ${report.medianMs.detector} ms, garment cut ${report.medianMs.garmentCut} ms); ratio ${report.ratio} (median per image ${report.medianImageRatio})`,
);
const out = `${JSON.stringify(report, null, 2)}\n`;
if (args.json) writeFileSync(args.json, out);
else process.stdout.write(out);

