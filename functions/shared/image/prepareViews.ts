/**
 * The two model views of an uploaded image, made the same way for serving (image-ingest) and
 * for training data (`weft preprocess-batch`), so the model sees identical pixels in both.
 *
 * - `downsampled`: the whole image fit into S×S, aspect kept, letterboxed on the background;
 * - `center`: the central `centerCropFraction` of each side, resized to S×S (detail: fabric,
 *   print, buttons).
 *
 * Cost is dominated by decoding, so the image is decoded once, at the smallest scale that still
 * gives the center crop at least S pixels per side. JPEG and WebP decoders can shrink while
 * decoding (libvips picks 1/2, 1/4 or 1/8 from the requested size), so an 8 MP photo is never
 * materialised at full size. Both views are cut from that one raw sRGB buffer.
 */
import { channel } from 'node:diagnostics_channel';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { PermanentError } from '../errors.js';
import { sniffFormat, type ImageFormat } from './sniffFormat.js';

export interface PrepareViewsOptions {
  viewSize: number;
  centerCropFraction: number;
  background: [number, number, number];
  /** Width × height above which the image is refused without being decoded. */
  maxInputPixels: number;
  /** Bytes above which the input is refused (`too_large`); the caller usually stops earlier, when fetching. */
  maxInputBytes?: number;
}

export interface PreparedViews {
  /** Raw RGB, viewSize × viewSize × 3, row-major (HWC). */
  downsampled: Uint8Array;
  center: Uint8Array;
  source: { format: string; width: number; height: number };
}

/**
 * Timing of each successful preparation, for benchmarks and profiling: subscribers get
 * `{ milliseconds, format, width, height }`. Publishing costs nothing while no one listens.
 */
export const prepareViewsChannel = channel('weft:image:prepareViews');

/**
 * Longest side over shortest side accepted. The decode keeps the center crop's shorter side at
 * ≥ viewSize px, so its size grows with the aspect ratio — an 8×10,000,000 PNG is under the pixel
 * limit and would be decoded whole (240 MB). Capped here, a decode holds at most
 * (viewSize / centerCropFraction)² × MAX_ASPECT_RATIO pixels: 6.3 MP (19 MB of RGB) at 224 and 0.4.
 */
export const MAX_ASPECT_RATIO = 20;

/** Size (after EXIF orientation) the image is decoded to; both views are derived from it. */
export const decodeSize = (
  width: number,
  height: number,
  viewSize: number,
  centerCropFraction: number,
): { width: number; height: number; scale: number } => {
  // The center crop spans fraction·side; it must keep ≥ viewSize pixels on its shorter side.
  const scale = Math.min(1, viewSize / (centerCropFraction * Math.min(width, height)));
  if (scale === 1) return { width, height, scale };
  return { width: Math.max(1, Math.ceil(width * scale)), height: Math.max(1, Math.ceil(height * scale)), scale };
};

/** The central crop of a decoded image, in its pixel coordinates. */
export const centerRegion = (width: number, height: number, fraction: number): { left: number; top: number; width: number; height: number } => {
  const w = Math.max(1, Math.min(width, Math.round(width * fraction)));
  const h = Math.max(1, Math.min(height, Math.round(height * fraction)));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
};

const checkBytes = (input: Uint8Array, opts: PrepareViewsOptions): ImageFormat => {
  if (input.length === 0) throw new PermanentError('empty_object', 'the object is empty (0 bytes)');
  if (opts.maxInputBytes !== undefined && input.length > opts.maxInputBytes) {
    throw new PermanentError('too_large', `the object is ${input.length} bytes, more than the limit of ${opts.maxInputBytes}`);
  }
  const sniffed = sniffFormat(input);
  if (sniffed.kind === 'unsupported') {
    throw new PermanentError('unsupported_format', `${sniffed.format} images are not supported (supported: JPEG, PNG, WebP, GIF, AVIF, AV1 HEIF, TIFF)`);
  }
  if (sniffed.kind === 'unknown') throw new PermanentError('not_an_image', 'the object is not an image (no known image signature)');
  return sniffed.format;
};

/** libvips messages are the only signal of why a decode failed; map them onto stable codes. */
const decodeError = (error: unknown, format: ImageFormat, stage: string): PermanentError => {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new PermanentError('over_pixel_limit', `image exceeds the pixel limit: ${message}`, { cause: error });
  if (/compression format.*not (built|supported)|unsupported (codec|compression)|no decoder|not a known|unsupported image format/i.test(message)) {
    return new PermanentError('unsupported_format', `${format} variant cannot be decoded here: ${message.split('\n')[0]}`, { cause: error });
  }
  return new PermanentError('corrupt_image', `${format} image is truncated or corrupt (${stage}): ${message.split('\n')[0]}`, { cause: error });
};

const toRgb = (pipeline: Sharp, background: [number, number, number]): Sharp =>
  pipeline
    .flatten({ background: { r: background[0], g: background[1], b: background[2] } })
    .toColourspace('srgb')
    .removeAlpha();

export const prepareViews = async (input: Uint8Array, opts: PrepareViewsOptions): Promise<PreparedViews> => {
  const started = prepareViewsChannel.hasSubscribers ? performance.now() : 0;
  const { viewSize: size, centerCropFraction: fraction, background, maxInputPixels } = opts;
  const format = checkBytes(input, opts);
  // sharp wants a Buffer; wrapping shares the memory rather than copying it.
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // 'error' rather than the stricter 'warning': benign warnings (stray bytes before a marker,
  // odd EXIF) are common in real uploads, while truncated or broken pixel data still fails.
  const loadOptions: SharpOptions = { failOn: 'error', limitInputPixels: maxInputPixels, pages: 1, page: 0, autoOrient: true };

  let meta: Metadata;
  try {
    meta = await sharp(bytes, loadOptions).metadata();
  } catch (error) {
    throw decodeError(error, format, 'reading header');
  }
  if (!meta.width || !meta.height) throw new PermanentError('corrupt_image', `${format} image has no dimensions`);
  const pixels = meta.width * meta.height;
  if (pixels > maxInputPixels) {
    throw new PermanentError('over_pixel_limit', `image is ${meta.width}×${meta.height} (${pixels} pixels), more than the limit of ${maxInputPixels}`);
  }
  const aspect = Math.max(meta.width, meta.height) / Math.min(meta.width, meta.height);
  if (aspect > MAX_ASPECT_RATIO) {
    throw new PermanentError('extreme_aspect_ratio', `image is ${meta.width}×${meta.height} (aspect ratio ${Math.round(aspect)}:1), more than the limit of ${MAX_ASPECT_RATIO}:1`);
  }
  const oriented = meta.autoOrient ?? { width: meta.width, height: meta.height };
  const target = decodeSize(oriented.width, oriented.height, size, fraction);

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = sharp(bytes, loadOptions);
    // sharp flattens in the input's colour space: a grey+alpha image would take only the red
    // of the background. Working in sRGB from the start fixes that; it costs shrink-on-load,
    // which only JPEG (never has alpha) and WebP offer, so only images with alpha pay it.
    if (meta.hasAlpha) pipeline = pipeline.pipelineColourspace('srgb');
    // fit 'fill' to the exact target lets libvips shrink on load (JPEG by 2/4/8, WebP by any
    // scale) and finish with one small reduce; with no reduction needed nothing is resampled.
    // That reduce uses a triangle filter (PIL's antialiased "bilinear"): measurably cheaper
    // than lanczos3 at this step, and both views are resampled again (lanczos3) or cut
    // pixel-exact from it, so it costs no visible detail.
    if (target.scale < 1) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
    decoded = await toRgb(pipeline, background).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw decodeError(error, format, 'decoding');
  }
  const { width, height, channels } = decoded.info;
  if (channels !== 3) throw new PermanentError('corrupt_image', `${format} image decoded to ${channels} channels, expected RGB`);

  const raw = { raw: { width, height, channels: 3 as const } };
  const bg = { r: background[0], g: background[1], b: background[2] };
  const [downsampled, center] = await Promise.all([
    sharp(decoded.data, raw).resize(size, size, { fit: 'contain', background: bg }).raw().toBuffer(),
    sharp(decoded.data, raw).extract(centerRegion(width, height, fraction)).resize(size, size, { fit: 'fill' }).raw().toBuffer(),
  ]);
  const source = { format: meta.format === 'heif' && format === 'avif' ? 'avif' : (meta.format ?? format), width: oriented.width, height: oriented.height };
  if (prepareViewsChannel.hasSubscribers) prepareViewsChannel.publish({ milliseconds: performance.now() - started, ...source });
  return {
    downsampled: new Uint8Array(downsampled.buffer, downsampled.byteOffset, downsampled.byteLength),
    center: new Uint8Array(center.buffer, center.byteOffset, center.byteLength),
    source,
  };
};

/** A raw S×S×3 view as PNG, for the `derived/` audit copies and `weft preprocess`. */
export const viewToPng = (raw: Uint8Array, size: number): Promise<Buffer> =>
  sharp(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
