/**
 * Every view an image manifest declares, for one upload, in the order image-ingest makes them:
 * decode once → the whole and center views → when a garment view is declared, one detector call
 * with the detector's (whole) view → the garment views, cut from the same decoded image around
 * the box (the whole image when the score is below the view's minScore). At most one model round
 * trip is added per image, and only for a manifest with a garment view.
 */
import type { ImagePreprocessing } from '../manifest.js';
import {
  cutView,
  decodeImage,
  detailFraction,
  garmentBox,
  garmentViewChannel,
  letterboxBox,
  prepareViewsChannel,
  type DetectedBox,
  type ImageBox,
  type ImageViews,
  type PrepareViewsOptions,
} from './prepareViews.js';

/** What the views need of a garment detector (inference/detector.ts): its view, and boxes in image coordinates. */
export interface ViewDetector {
  /** The declared view the detector takes (a whole view). */
  readonly view: string;
  detect(images: { view: Uint8Array; letterbox: ImageBox }[]): Promise<DetectedBox[]>;
}

/** The upload's declared views by name (manifest order) with the detector's box when one was asked for. */
export const prepareDeclaredViews = async (
  input: Uint8Array,
  image: Pick<ImagePreprocessing, 'views' | 'viewSize' | 'centerCropFraction'>,
  opts: PrepareViewsOptions,
  detector?: ViewDetector,
): Promise<ImageViews> => {
  const started = prepareViewsChannel.hasSubscribers ? performance.now() : 0;
  const decoded = await decodeImage(input, opts, detailFraction(image.views, image.centerCropFraction));
  const cut: Record<string, Uint8Array> = {};
  await Promise.all(image.views.filter((v) => v.kind !== 'garment').map(async (spec) => (cut[spec.name] = await cutView(decoded, spec, opts))));
  if (prepareViewsChannel.hasSubscribers) prepareViewsChannel.publish({ milliseconds: performance.now() - started, ...decoded.source });

  let box: DetectedBox | undefined;
  const garments = image.views.filter((v) => v.kind === 'garment');
  if (garments.length > 0) {
    if (!detector) throw new Error(`garment view ${garments.map((v) => v.name).join(', ')} declared, but no detector was given`);
    const detecting = garmentViewChannel.hasSubscribers ? performance.now() : 0;
    [box] = await detector.detect([{ view: cut[detector.view]!, letterbox: letterboxBox(decoded.width, decoded.height, image.viewSize) }]);
    const detected = garmentViewChannel.hasSubscribers ? performance.now() : 0;
    await Promise.all(garments.map(async (spec) => (cut[spec.name] = await cutView(decoded, spec, opts, garmentBox(box, spec.kind === 'garment' ? spec.minScore : 0)))));
    if (garmentViewChannel.hasSubscribers) garmentViewChannel.publish({ milliseconds: performance.now() - detecting, detectorMilliseconds: detected - detecting });
  }
  // Manifest order, so the derived views and the model inputs line up with the declaration.
  const views = Object.fromEntries(image.views.map((spec) => [spec.name, cut[spec.name]!]));
  return { views, source: decoded.source, ...(box ? { box } : {}) };
};
