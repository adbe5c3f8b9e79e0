/**
 * The model views of an uploaded image, made the same way for serving (image-ingest) and for
 * training data (`weft preprocess-batch`), so the model sees identical pixels in both. The
 * image manifest declares which views a model takes (ViewSpec, in its input order); each is cut
 * by its kind:
 *
 * - `whole` (the "downsampled" view): the whole image fit into S×S, aspect kept, letterboxed on
 *   the background;
 * - `center`: the central `centerCropFraction` of each side, resized to S×S (detail: fabric,
 *   print, buttons);
 * - `garment`: the detector's box (image coordinates), padded, squared around its center, parts
 *   outside the image filled with the background, resized to S×S like the center view.
 *
 * Cost is dominated by decoding, so the image is decoded once (decodeImage), at the smallest
 * scale that still gives the detail views (center, garment) at least S pixels across
 * `centerCropFraction` of the shorter side. JPEG and WebP decoders can shrink while decoding
 * (libvips picks 1/2, 1/4 or 1/8 from the requested size), so an 8 MP photo is never
 * materialised at full size. Every view is cut from that one raw sRGB buffer (cutView); the
 * garment view is cut later than the others, once the detector has seen the whole view.
 * prepareViews is the two-view path (whole + center) of the legacy manifests, in one call.
 */
import { channel } from 'node:diagnostics_channel';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { PermanentError } from '../errors.js';
import type { ViewSpec } from '../manifest.js';
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

/** A detector's box in image coordinates with its score (the estimated IoU with the garment). */
export interface DetectedBox {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

/** Every declared view of one image, by view name, as image-ingest hands it to the image model. */
export interface ImageViews {
  /** Raw RGB, viewSize × viewSize × 3 (HWC), by the manifest's view name. */
  views: Readonly<Record<string, Uint8Array>>;
  source: { format: string; width: number; height: number };
  /** The detector's box, when the manifest declares a garment view. */
  box?: DetectedBox;
}

/**
 * Timing of each successful preparation, for benchmarks and profiling: subscribers get
 * `{ milliseconds, format, width, height }`. Publishing costs nothing while no one listens.
 */
export const prepareViewsChannel = channel('weft:image:prepareViews');

/**
 * What a garment view adds to an image's preparation in image-ingest, after prepareViewsChannel's
 * part (decode, whole and center views): `{ milliseconds, detectorMilliseconds }`, the detector
 * call and the garment cut together, and the call alone.
 */
export const garmentViewChannel = channel('weft:image:garmentView');

/**
 * Longest side over shortest side accepted. The decode keeps the center crop's shorter side at
 * ≥ viewSize px, so its size grows with the aspect ratio — an 8×10,000,000 PNG is under the pixel
 * limit and would be decoded whole (240 MB). Capped here, a decode holds at most
 * (viewSize / centerCropFraction)² × MAX_ASPECT_RATIO pixels: 6.3 MP (19 MB of RGB) at 224 and 0.4.
 */
export const MAX_ASPECT_RATIO = 20;

/**
 * Fraction of the shorter side that must keep ≥ viewSize pixels after decoding: the center crop's
 * fraction when a detail view (center or garment) is declared, else 1 (only whole views: the
 * decode can shrink all the way to the view). A garment box is usually larger than the center
 * crop; a smaller one is upsampled a little rather than paying for a larger decode of every image.
 */
export const detailFraction = (views: readonly Pick<ViewSpec, 'kind'>[], centerCropFraction: number): number =>
  views.some((v) => v.kind !== 'whole') ? centerCropFraction : 1;

/** Size (after EXIF orientation) the image is decoded to; every view is derived from it. */
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

/** An image decoded once (oriented, sRGB, alpha flattened), from which every view is cut. */
export interface DecodedImage {
  /** Raw RGB, width × height × 3, row-major (HWC). */
  data: Buffer;
  width: number;
  height: number;
  /** The upload as it is displayed: format and size after EXIF orientation. */
  source: { format: string; width: number; height: number };
}

/**
 * Checks, reads and decodes an upload at decodeSize for `fraction` (detailFraction of the declared
 * views; the center crop fraction by default). Refusals are PermanentErrors with stable codes.
 */
export const decodeImage = async (input: Uint8Array, opts: PrepareViewsOptions, fraction = opts.centerCropFraction): Promise<DecodedImage> => {
  const { viewSize: size, background, maxInputPixels } = opts;
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
    // than lanczos3 at this step, and every view is resampled again (lanczos3) or cut
    // pixel-exact from it, so it costs no visible detail.
    if (target.scale < 1) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
    decoded = await toRgb(pipeline, background).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw decodeError(error, format, 'decoding');
  }
  const { width, height, channels } = decoded.info;
  if (channels !== 3) throw new PermanentError('corrupt_image', `${format} image decoded to ${channels} channels, expected RGB`);
  const source = { format: meta.format === 'heif' && format === 'avif' ? 'avif' : (meta.format ?? format), width: oriented.width, height: oriented.height };
  return { data: decoded.data, width, height, source };
};

/** A box in image coordinates: normalized 0..1 to the oriented image, top-left origin. */
export interface ImageBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A pixel rectangle (may reach outside the image it refers to). */
export interface PixelRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The whole image, as a box. */
export const WHOLE_IMAGE: ImageBox = { x: 0, y: 0, w: 1, h: 1 };

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/**
 * Where sharp's `fit: 'contain'` puts a width × height image inside size × size: scaled by the
 * larger of the two shrink factors, each side rounded, centered with integer division
 * (libvips' resize and sharp's CalculateEmbedPosition).
 */
export const letterboxRect = (width: number, height: number, size: number): PixelRect => {
  const shrink = Math.max(width / size, height / size);
  const w = Math.max(1, Math.round(width / shrink));
  const h = Math.max(1, Math.round(height / shrink));
  return { left: Math.floor((size - w) / 2), top: Math.floor((size - h) / 2), width: w, height: h };
};

/** letterboxRect normalized to the view: the content rectangle [x, y, w, h] of a whole view. */
export const letterboxBox = (width: number, height: number, size: number): ImageBox => {
  const r = letterboxRect(width, height, size);
  return { x: r.left / size, y: r.top / size, w: r.width / size, h: r.height / size };
};

/**
 * A box in a whole view's coordinates (normalized to the S×S square, bars included) → image
 * coordinates, undoing the letterbox (`content`, letterboxBox); what falls on the bars is clamped off.
 */
export const viewBoxToImageBox = (box: ImageBox, content: ImageBox): ImageBox => {
  const x0 = clamp01((box.x - content.x) / content.w);
  const y0 = clamp01((box.y - content.y) / content.h);
  const x1 = clamp01((box.x + box.w - content.x) / content.w);
  const y1 = clamp01((box.y + box.h - content.y) / content.h);
  return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
};

/**
 * The square a garment view is cut from, in pixels of a width × height image: the box padded by
 * `padding` × its width and height on each side, squared around its center (side = the longer
 * padded side). It may reach outside the image; cutView fills that part with the background.
 */
export const garmentRegion = (box: ImageBox, padding: number, width: number, height: number): PixelRect => {
  const side = Math.max(1, Math.round(Math.max(box.w * width, box.h * height) * (1 + 2 * padding)));
  const cx = (box.x + box.w / 2) * width;
  const cy = (box.y + box.h / 2) * height;
  return { left: Math.round(cx - side / 2), top: Math.round(cy - side / 2), width: side, height: side };
};

/**
 * The box a garment view is cut from: the detected one, or the whole image when the detector is
 * not confident enough (score below `minScore`) or its box covers no pixel of the image.
 */
export const garmentBox = (box: (ImageBox & { score?: number }) | null | undefined, minScore: number): ImageBox => {
  if (!box || (box.score !== undefined && box.score < minScore)) return WHOLE_IMAGE;
  const clamped = viewBoxToImageBox(box, WHOLE_IMAGE);
  return clamped.w > 0 && clamped.h > 0 ? clamped : WHOLE_IMAGE;
};

const rgb = (background: [number, number, number]) => ({ r: background[0], g: background[1], b: background[2] });

const toView = (buffer: Buffer): Uint8Array => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);

/**
 * `region` (pixels of the decoded image) resized to size × size. Only the part inside the image
 * is resampled, straight to its place in the view; the rest is background, so a region far
 * larger than the image costs no more memory than the view.
 */
const cutRegion = async (decoded: DecodedImage, region: PixelRect, opts: Pick<PrepareViewsOptions, 'viewSize' | 'background'>): Promise<Uint8Array> => {
  const size = opts.viewSize;
  const raw = { raw: { width: decoded.width, height: decoded.height, channels: 3 as const } };
  const x0 = Math.max(0, region.left);
  const y0 = Math.max(0, region.top);
  const x1 = Math.min(decoded.width, region.left + region.width);
  const y1 = Math.min(decoded.height, region.top + region.height);
  if (x0 === region.left && y0 === region.top && x1 === region.left + region.width && y1 === region.top + region.height) {
    return toView(await sharp(decoded.data, raw).extract(region).resize(size, size, { fit: 'fill' }).raw().toBuffer());
  }
  if (x1 <= x0 || y1 <= y0) return toView(Buffer.from(new Uint8Array(size * size * 3).map((_, i) => opts.background[i % 3]!)));
  const sx = size / region.width;
  const sy = size / region.height;
  const place = (from: number, to: number, origin: number, scale: number): [number, number] => {
    const start = Math.min(size - 1, Math.round((from - origin) * scale));
    return [start, Math.max(1, Math.min(size - start, Math.round((to - origin) * scale) - start))];
  };
  const [left, width] = place(x0, x1, region.left, sx);
  const [top, height] = place(y0, y1, region.top, sy);
  const out = await sharp(decoded.data, raw)
    .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
    .resize(width, height, { fit: 'fill' })
    .extend({ left, top, right: size - left - width, bottom: size - top - height, background: rgb(opts.background) })
    .raw()
    .toBuffer();
  return toView(out);
};

/** The whole view: the decoded image fit into S×S, letterboxed on the background. */
export const cutWhole = async (decoded: DecodedImage, opts: Pick<PrepareViewsOptions, 'viewSize' | 'background'>): Promise<Uint8Array> => {
  const raw = { raw: { width: decoded.width, height: decoded.height, channels: 3 as const } };
  const size = opts.viewSize;
  return toView(await sharp(decoded.data, raw).resize(size, size, { fit: 'contain', background: rgb(opts.background) }).raw().toBuffer());
};

/** The center view: the central crop, resized to S×S. */
export const cutCenter = async (decoded: DecodedImage, opts: Pick<PrepareViewsOptions, 'viewSize' | 'centerCropFraction'>): Promise<Uint8Array> => {
  const raw = { raw: { width: decoded.width, height: decoded.height, channels: 3 as const } };
  const size = opts.viewSize;
  return toView(await sharp(decoded.data, raw).extract(centerRegion(decoded.width, decoded.height, opts.centerCropFraction)).resize(size, size, { fit: 'fill' }).raw().toBuffer());
};

/** The garment view of `box` (image coordinates; garmentBox already applied), padded and squared. */
export const cutGarment = (decoded: DecodedImage, box: ImageBox, padding: number, opts: Pick<PrepareViewsOptions, 'viewSize' | 'background'>): Promise<Uint8Array> =>
  cutRegion(decoded, garmentRegion(box, padding, decoded.width, decoded.height), opts);

/** One declared view of a decoded image; a garment view needs the box it is cut from. */
export const cutView = (decoded: DecodedImage, spec: ViewSpec, opts: PrepareViewsOptions, box?: ImageBox): Promise<Uint8Array> => {
  switch (spec.kind) {
    case 'whole':
      return cutWhole(decoded, opts);
    case 'center':
      return cutCenter(decoded, opts);
    case 'garment':
      if (!box) throw new Error(`view ${spec.name} is a garment view and needs a box`);
      return cutGarment(decoded, box, spec.padding, opts);
  }
};

/** The two views of the legacy manifests (whole as `downsampled`, `center`) with one decode. */
export const prepareViews = async (input: Uint8Array, opts: PrepareViewsOptions): Promise<PreparedViews> => {
  const started = prepareViewsChannel.hasSubscribers ? performance.now() : 0;
  const decoded = await decodeImage(input, opts);
  const [downsampled, center] = await Promise.all([cutWhole(decoded, opts), cutCenter(decoded, opts)]);
  if (prepareViewsChannel.hasSubscribers) prepareViewsChannel.publish({ milliseconds: performance.now() - started, ...decoded.source });
  return { downsampled, center, source: decoded.source };
};

/** A raw S×S×3 view as PNG, for the `derived/` audit copies and `weft preprocess`. */
export const viewToPng = (raw: Uint8Array, size: number): Promise<Buffer> =>
  sharp(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
