/**
 * Preprocessing cost, measured side by side: CPU time of prepareViews (both views) against a
 * plain full-resolution decode of the same JPEG, interleaved in one run so machine noise hits
 * both alike. CPU time (process.cpuUsage) counts libvips' worker threads too.
 */
import sharp from 'sharp';
import { prepareViews, type PrepareViewsOptions } from '../functions/shared/image/prepareViews.js';
import type { BenchImage } from './images.js';
import { cpuMs, percentile, round } from './stats.js';

const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);

export interface ImageRatio {
  name: string;
  origin: string;
  width: number;
  height: number;
  progressive: boolean;
  fullDecodeCpuMs: number;
  viewsCpuMs: number;
  ratio: number;
}

export interface RatioResult {
  images: number;
  repeats: number;
  /** Σ views CPU ÷ Σ full-decode CPU over all images (per image the median of the repeats). */
  cpuRatioVsFullDecode: number;
  /** Median of the per-image ratios (less swayed by one heavy image). */
  medianImageRatio: number;
  fullDecodeCpuMs: number;
  viewsCpuMs: number;
  perImage: ImageRatio[];
}

const fullDecode = (bytes: Buffer) => sharp(bytes).raw().toBuffer();

export const measureRatio = async (images: BenchImage[], settings: PrepareViewsOptions, repeats: number): Promise<RatioResult> => {
  const perImage: ImageRatio[] = [];
  for (const image of images) {
    // Warm-up: first-touch costs (page faults, codec init) belong to neither side.
    await fullDecode(image.bytes);
    await prepareViews(image.bytes, settings);
    const full: number[] = [];
    const views: number[] = [];
    for (let r = 0; r < repeats; r++) {
      // Alternate which side goes first, so cache warmth favours neither.
      if (r % 2 === 0) {
        full.push(await cpuMs(() => fullDecode(image.bytes)));
        views.push(await cpuMs(() => prepareViews(image.bytes, settings)));
      } else {
        views.push(await cpuMs(() => prepareViews(image.bytes, settings)));
        full.push(await cpuMs(() => fullDecode(image.bytes)));
      }
    }
    const meta = await sharp(image.bytes).metadata();
    perImage.push({
      name: image.name,
      origin: image.origin,
      width: image.width,
      height: image.height,
      progressive: meta.isProgressive ?? false,
      // Medians: on a shared machine a single preempted or page-faulting run is an outlier.
      fullDecodeCpuMs: round(median(full)),
      viewsCpuMs: round(median(views)),
      ratio: round(median(views) / median(full), 3),
    });
  }
  const fullTotal = perImage.reduce((s, i) => s + i.fullDecodeCpuMs, 0);
  const viewsTotal = perImage.reduce((s, i) => s + i.viewsCpuMs, 0);
  const ratios = perImage.map((i) => i.ratio);
  return {
    images: images.length,
    repeats,
    cpuRatioVsFullDecode: round(viewsTotal / fullTotal, 3),
    medianImageRatio: round(median(ratios), 3),
    fullDecodeCpuMs: round(fullTotal),
    viewsCpuMs: round(viewsTotal),
    perImage,
  };
};

/** Wall-clock throughput of prepareViews with `concurrency` images in flight. */
export const measureThroughput = async (
  images: BenchImage[],
  settings: PrepareViewsOptions,
  concurrency: number,
  minSeconds: number,
): Promise<{ imagesPerSecond: number; images: number; seconds: number; concurrency: number }> => {
  let done = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + minSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline || next % images.length !== 0) {
      const image = images[next++ % images.length]!;
      await prepareViews(image.bytes, settings);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { imagesPerSecond: round(done / seconds), images: done, seconds: round(seconds), concurrency };
};
