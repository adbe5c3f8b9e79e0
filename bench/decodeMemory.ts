/**
 * Peak memory of one image decode (`prepareViews`, as image-ingest runs it), for sizing the
 * image-ingest Lambda: each case runs in a fresh Node process, which reports how far its peak
 * resident set (getrusage maxRSS) rose over the decode, above the same process with sharp loaded
 * and the upload's bytes in memory. A benchmark, not a test: it measures and reports.
 *
 *   npx tsx bench/decodeMemory.ts [--json <file>] [--repeats 3]
 *
 * Cases: a typical vendor photo, the largest inputs the limits let through (a PNG at the pixel
 * limit, which no decoder can shrink while loading; the widest aspect ratio at full and at
 * shrunk decode), two decodes at once (image-ingest's DECODE_CONCURRENCY), and the tall, thin
 * PNG the aspect-ratio limit refuses — with a full decode of it beside, which is what
 * prepareViews did with it before that limit.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { MAX_ASPECT_RATIO, prepareViews } from '../functions/shared/image/prepareViews.js';
import { readConfig } from '../functions/shared/ingest/config.js';

interface Case {
  name: string;
  width: number;
  height: number;
  format: 'png' | 'jpeg';
  /** `views`: prepareViews; `full`: plain full-size RGB decode (the old path for a thin image). */
  mode: 'views' | 'full';
  /** Decodes of the same image at once. */
  concurrent: number;
}

const CASES: Case[] = [
  { name: 'vendor photo 4000×3000 JPEG', width: 4000, height: 3000, format: 'jpeg', mode: 'views', concurrent: 1 },
  { name: 'pixel limit 8900×8900 PNG', width: 8900, height: 8900, format: 'png', mode: 'views', concurrent: 1 },
  { name: `aspect limit 560×${560 * MAX_ASPECT_RATIO} PNG (decoded at full size)`, width: 560, height: 560 * MAX_ASPECT_RATIO, format: 'png', mode: 'views', concurrent: 1 },
  { name: `aspect and pixel limit 2000×${2000 * MAX_ASPECT_RATIO} PNG`, width: 2000, height: 2000 * MAX_ASPECT_RATIO, format: 'png', mode: 'views', concurrent: 1 },
  { name: `aspect limit 1900×${1900 * MAX_ASPECT_RATIO} JPEG (shrunk while decoding)`, width: 1900, height: 1900 * MAX_ASPECT_RATIO, format: 'jpeg', mode: 'views', concurrent: 1 },
  { name: 'two at once: pixel limit 8900×8900 PNG', width: 8900, height: 8900, format: 'png', mode: 'views', concurrent: 2 },
  { name: `two at once: aspect limit 560×${560 * MAX_ASPECT_RATIO} PNG`, width: 560, height: 560 * MAX_ASPECT_RATIO, format: 'png', mode: 'views', concurrent: 2 },
  { name: 'thin 8×10000000 PNG, prepareViews (refused)', width: 8, height: 10_000_000, format: 'png', mode: 'views', concurrent: 1 },
  { name: 'thin 8×10000000 PNG, full decode (before the aspect limit)', width: 8, height: 10_000_000, format: 'png', mode: 'full', concurrent: 1 },
];

const imageDir = join(tmpdir(), 'weft-decode-memory');

/**
 * JPEGs carry light noise, so their size resembles a photo's; PNGs are flat colour, which is what
 * lets a PNG this large stay under the upload size limit (decode memory does not depend on content).
 */
const makeImage = async ({ width, height, format }: Case): Promise<string> => {
  const file = join(imageDir, `${width}x${height}.${format}`);
  if (existsSync(file)) return file;
  mkdirSync(imageDir, { recursive: true });
  const background = { r: 180, g: 60, b: 70 };
  if (format === 'png') await sharp({ create: { width, height, channels: 3, background } }).png().toFile(file);
  else await sharp({ create: { width, height, channels: 3, background, noise: { type: 'gaussian', mean: 128, sigma: 12 } } }).jpeg({ quality: 88 }).toFile(file);
  return file;
};

const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

/** Child process: one case, reports JSON on stdout. */
const measure = async (file: string, mode: Case['mode'], concurrent: number): Promise<void> => {
  const bytes = readFileSync(file);
  const config = readConfig();
  const options = { viewSize: 224, centerCropFraction: 0.4, background: [255, 255, 255] as [number, number, number], maxInputPixels: config.maxInputPixels, maxInputBytes: config.maxObjectBytes };
  // sharp and libvips loaded and initialised before the baseline.
  await prepareViews(await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer(), options);
  const before = process.resourceUsage().maxRSS;
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: concurrent }, async () => {
      try {
        if (mode === 'full') await sharp(bytes, { limitInputPixels: options.maxInputPixels }).raw().toBuffer();
        else await prepareViews(bytes, options);
        return 'ok';
      } catch (error) {
        return (error as { code?: string }).code ?? (error as Error).message;
      }
    }),
  );
  const after = process.resourceUsage().maxRSS;
  process.stdout.write(`${JSON.stringify({ peakRiseKiB: after - before, baselineKiB: before, milliseconds: performance.now() - started, outcome: outcomes[0] })}\n`);
};

const main = async (): Promise<void> => {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return measure(args[1]!, args[2] as Case['mode'], Number(args[3]));
  const jsonAt = args.indexOf('--json');
  const repeatsAt = args.indexOf('--repeats');
  const repeats = repeatsAt >= 0 ? Number(args[repeatsAt + 1]) : 3;
  const self = fileURLToPath(import.meta.url);
  const results = [];
  for (const c of CASES) {
    const file = await makeImage(c);
    const runs = Array.from({ length: repeats }, () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', file, c.mode, String(c.concurrent)], { encoding: 'utf8', maxBuffer: 1 << 20 });
      return JSON.parse(out.trim().split('\n').at(-1)!) as { peakRiseKiB: number; baselineKiB: number; milliseconds: number; outcome: string };
    });
    const rises = runs.map((r) => r.peakRiseKiB).sort((a, b) => a - b);
    const result = {
      case: c.name,
      fileBytes: readFileSync(file).byteLength,
      outcome: runs[0]!.outcome,
      peakRiseMiB: mib(rises[Math.floor(rises.length / 2)]!),
      peakRiseMaxMiB: mib(rises.at(-1)!),
      baselineMiB: mib(runs[0]!.baselineKiB),
      milliseconds: Math.round(runs.map((r) => r.milliseconds).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!),
    };
    results.push(result);
    process.stderr.write(`${result.case}: ${result.outcome}, peak RSS +${result.peakRiseMiB} MiB (max +${result.peakRiseMaxMiB}), ${result.milliseconds} ms, file ${result.fileBytes} B\n`);
  }
  if (jsonAt >= 0) {
    const out = args[jsonAt + 1]!;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ repeats, node: process.version, results }, null, 2)}\n`);
  }
};

await main();
