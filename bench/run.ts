/**
 * `npm run bench -- --json <file>`: preprocessing cost, request payload size and end-to-end
 * throughput of the image pipeline. A benchmark, not a test: it reports numbers (and whether
 * they meet their targets) and fails only when it cannot measure. See bench/README.md.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadManifest, resolveModelsDir } from '../functions/shared/manifest.js';
import { encodeInferRequest, type Tensor } from '../functions/shared/inference/triton.js';
import { loadViewSettings } from '../functions/shared/image/viewSettings.js';
import { PHOTO_PACKAGES, asBaseline, findPhotos, vendorImages } from './images.js';
import { measureRatio, measureThroughput } from './preprocessBench.js';
import { round } from './stats.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    photos: { type: 'string', multiple: true },
    'max-photos': { type: 'string', default: '8' },
    'vendor-images': { type: 'string', default: '12' },
    repeats: { type: 'string', default: '5' },
    products: { type: 'string', default: '24' },
    'images-per-product': { type: 'string', default: '2' },
    'throughput-seconds': { type: 'string', default: '4' },
    'skip-e2e': { type: 'boolean', default: false },
    'skip-cost': { type: 'boolean', default: false },
    'cost-products': { type: 'string' },
    'cost-images-per-product': { type: 'string', default: '4' },
    'cost-json': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench -- [--json FILE] [--photos DIR]... [--max-photos 8] [--vendor-images 12] [--repeats 5]
                 [--products 24] [--images-per-product 2] [--throughput-seconds 4] [--skip-e2e]
                 [--skip-cost] [--cost-products N] [--cost-images-per-product 4] [--cost-json FILE]\n`);
  process.exit(0);
}

const int = (name: keyof typeof args): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
};
const log = (message: string): void => void process.stderr.write(`${message}\n`);

const RATIO_TARGET = 0.7;
const settings = loadViewSettings();
const viewBytes = settings.viewSize * settings.viewSize * 3;
/** Every declared view travels as raw uint8 (two for a legacy manifest, three with a garment view). */
const viewCount = settings.views.length;
const PAYLOAD_TARGET = 1.05 * viewCount * viewBytes;

log(`[bench] views ${settings.viewSize}×${settings.viewSize}, center fraction ${settings.centerCropFraction} (${settings.manifest ?? 'contract defaults'}); sharp concurrency ${sharp.concurrency()}, ${availableParallelism()} CPUs`);

// --- preprocessing: photographs -------------------------------------------------------------
// The libvips operation cache would let repeated decodes of one buffer skip work; off, so every
// measured decode (ours and the reference) does all of it.
sharp.cache(false);
const photoDirs = args.photos?.length ? args.photos.map((d) => resolve(d)) : undefined;
const photoSource = photoDirs ? photoDirs.join(', ') : `Debian packages ${PHOTO_PACKAGES.join(', ')}`;
const photos = await findPhotos(photoDirs, int('max-photos'));
if (photos.length === 0) {
  log(`[bench] NO PHOTOGRAPHS of 8 MP or more found (${photoSource}).`);
  log(`[bench] Install them with \`apt-get install ${PHOTO_PACKAGES.join(' ')}\` or pass --photos <dir>. Photo figures are reported as null.`);
} else {
  log(`[bench] ${photos.length} photographs: ${photos.map((p) => `${p.name} (${p.width}×${p.height}, ${p.origin})`).join(', ')}`);
}
const repeats = Math.max(1, int('repeats'));
const photoRatio = photos.length ? await measureRatio(photos, settings, repeats) : undefined;
if (photoRatio) log(`[bench] photos as shipped: views/full-decode CPU = ${photoRatio.cpuRatioVsFullDecode} (median per image ${photoRatio.medianImageRatio}; target ≤ ${RATIO_TARGET})`);
const baselinePhotos = photos.length ? await asBaseline(photos) : [];
const baselineRatio = baselinePhotos.length ? await measureRatio(baselinePhotos, settings, repeats) : undefined;
if (baselineRatio) log(`[bench] same photos as baseline JPEG: views/full-decode CPU = ${baselineRatio.cpuRatioVsFullDecode} (median per image ${baselineRatio.medianImageRatio})`);

// --- preprocessing: vendor-size product images ----------------------------------------------
const vendor = await vendorImages(Math.max(1, int('vendor-images')), resolve('samples/catalog'));
log(`[bench] ${vendor.length} vendor-size images (${[...new Set(vendor.map((v) => v.origin))].join(', ')})`);
const vendorRatio = await measureRatio(vendor, settings, repeats);
log(`[bench] vendor-size: views/full-decode CPU = ${vendorRatio.cpuRatioVsFullDecode} (median per image ${vendorRatio.medianImageRatio})`);

const concurrency = availableParallelism();
const seconds = Number(args['throughput-seconds']);
const vendorThroughput = await measureThroughput(vendor, settings, concurrency, seconds);
const photoThroughput = photos.length ? await measureThroughput(photos, settings, concurrency, seconds) : undefined;
log(`[bench] throughput: ${vendorThroughput.imagesPerSecond} vendor-size images/s${photoThroughput ? `, ${photoThroughput.imagesPerSecond} photos/s` : ''} (${concurrency} in flight)`);

// --- payload ----------------------------------------------------------------------------------
const imageManifestFile = join(resolveModelsDir(), 'image', 'manifest.json');
const imageManifest = loadManifest(imageManifestFile);
const requestBytesPerImage = (batch: number): number => {
  const inputs: Tensor[] = imageManifest.inputs.map((spec) => ({
    name: spec.name,
    datatype: 'UINT8',
    shape: [batch, settings.viewSize, settings.viewSize, 3],
    data: new Uint8Array(batch * viewBytes),
  }));
  return encodeInferRequest(inputs, imageManifest.outputs.map((o) => o.name)).body.length / batch;
};
const batches = [1, 4, imageManifest.triton.maxBatchSize];
const payloadByBatch = Object.fromEntries(batches.map((b) => [String(b), round(requestBytesPerImage(b))]));
const bytesPerImage = payloadByBatch['1']!;

// --- end to end -------------------------------------------------------------------------------
let endToEnd: Awaited<ReturnType<typeof import('./endToEnd.js').runEndToEnd>> | { skipped: string } = { skipped: '--skip-e2e' };
if (!args['skip-e2e']) {
  const { runEndToEnd } = await import('./endToEnd.js');
  endToEnd = await runEndToEnd({ products: Math.max(1, int('products')), imagesPerProduct: Math.max(1, int('images-per-product')), images: vendor, timeoutSeconds: 300, log });
  log(`[bench] end to end: ${endToEnd.productsPerSecond} products/s, latency p50 ${endToEnd.productLatencyMs.p50} ms p95 ${endToEnd.productLatencyMs.p95} ms; ${JSON.stringify(endToEnd.outcome)}`);
}

// --- cost: what the run counted per product, priced (bench/costReport.ts) ---------------------
let cost: import('./costReport.js').CostSection | { skipped: string } = { skipped: '--skip-cost' };
if (!args['skip-cost']) {
  const { runCost } = await import('./costRun.js');
  const { costSection, loadPrices } = await import('./costReport.js');
  const { ENVIRONMENTS } = await import('../lib/config/environments.js');
  const run = await runCost({ products: Math.max(1, args['cost-products'] ? int('cost-products') : int('products')), imagesPerProduct: Math.max(1, int('cost-images-per-product')), images: vendor, retagBatchSize: ENVIRONMENTS.dev.retag.batchSize, log });
  cost = costSection(run, loadPrices());
  const m = cost.usdPerMillionProducts;
  log(`[bench] cost per million products at 1M/month: realtime $${m.realtime['1000000']!.total} (without GPU $${m.realtime['1000000']!.totalWithoutGpu}), async $${m.async['1000000']!.total}, re-tag $${m.retag['1000000']!.total}`);
  if (args['cost-json']) {
    mkdirSync(dirname(resolve(args['cost-json'])), { recursive: true });
    writeFileSync(args['cost-json'], `${JSON.stringify({ generatedAt: new Date().toISOString(), cost }, null, 2)}\n`);
  }
}

const report = {
  generatedAt: new Date().toISOString(),
  machine: { libvipsCache: false, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, sharp: sharp.versions.sharp, vips: sharp.versions.vips, sharpConcurrency: sharp.concurrency() },
  settings: { viewSize: settings.viewSize, centerCropFraction: settings.centerCropFraction, manifest: settings.manifest ?? null, repeats },
  preprocess: {
    cpuRatioVsFullDecode: photoRatio?.cpuRatioVsFullDecode ?? null,
    vendorCpuRatioVsFullDecode: vendorRatio.cpuRatioVsFullDecode,
    imagesPerSecond: vendorThroughput.imagesPerSecond,
    photosPerSecond: photoThroughput?.imagesPerSecond ?? null,
    target: { cpuRatioVsFullDecode: RATIO_TARGET, met: photoRatio ? photoRatio.cpuRatioVsFullDecode <= RATIO_TARGET : null },
    cpuRatioVsFullDecodeBaselineJpeg: baselineRatio?.cpuRatioVsFullDecode ?? null,
    photoSource,
    photos: photoRatio ?? { images: 0, note: `no photographs of 8 MP or more found (${photoSource})` },
    photosBaselineJpeg: baselineRatio ?? null,
    vendor: vendorRatio,
    throughput: { vendor: vendorThroughput, photos: photoThroughput ?? null },
  },
  payload: {
    bytesPerImage,
    rawViewBytesPerImage: viewCount * viewBytes,
    target: round(PAYLOAD_TARGET),
    met: bytesPerImage <= PAYLOAD_TARGET,
    bytesPerImageByBatch: payloadByBatch,
    endToEndBytesPerImage: 'payload' in endToEnd ? endToEnd.payload.bytesPerImage : null,
  },
  endToEnd,
  cost,
};

const out = JSON.stringify(report, null, 2);
if (args.json) {
  mkdirSync(dirname(resolve(args.json)), { recursive: true });
  writeFileSync(args.json, `${out}\n`);
  log(`[bench] wrote ${args.json}`);
} else process.stdout.write(`${out}\n`);
