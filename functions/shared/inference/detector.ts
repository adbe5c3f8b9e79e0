/**
 * Garment detector client: the whole (letterboxed) view of each image goes to the detector
 * endpoint in one call; per image it answers a box `[x, y, w, h]` in that view's coordinates
 * (normalized to the S×S square, bars included) and a score (its estimate of the box's IoU with
 * the garment). Tensor and output names come from the detector manifest (`inputs`,
 * `preprocessing.detector`), nothing here is specific to one detector.
 *
 * The box is converted to image coordinates by undoing the letterbox of each image's view, so
 * it can be cut from the decoded image and stored with the source.
 *
 * Always a real-time call (InvokeEndpoint), also in async inference mode: the detector is small,
 * and the image model's request needs the garment view its box gives.
 */
import { viewBoxToImageBox, type DetectedBox, type ImageBox } from '../image/prepareViews.js';
import type { LoadedManifest } from '../manifest.js';
import { ModelContractError, type ModelEndpoint } from './modelEndpoint.js';
import type { Tensor } from './triton.js';

/** One image for the detector: its whole view (S×S×3 RGB) and where the image lies in it. */
export interface DetectorInput {
  view: Uint8Array;
  /** The view's content rectangle, normalized (letterboxBox of the decoded image). */
  letterbox: ImageBox;
}

const detectorSpec = (manifest: LoadedManifest) => {
  const spec = manifest.preprocessing.detector;
  const input = manifest.inputs[0];
  if (manifest.modality !== 'detector' || !spec || !input) throw new ModelContractError(`model ${manifest.name} is not a detector (no preprocessing.detector)`);
  return { spec, input };
};

/** Reads `[rows, 4]` boxes and `[rows]` (or `[rows, 1]`) scores of one reply, in view coordinates. */
export const readDetections = (manifest: LoadedManifest, endpointName: string, outputs: Tensor[], rows: number): (ImageBox & { score: number })[] => {
  const { spec } = detectorSpec(manifest);
  const byName = new Map(outputs.map((t) => [t.name, t]));
  const tensor = (name: string, what: string, shapes: number[][]): Float32Array => {
    const t = byName.get(name);
    if (!t) throw new ModelContractError(`endpoint ${endpointName} returned no ${what} output ${name} (got ${[...byName.keys()].join(', ')})`);
    if (t.datatype !== 'FP32' || !(t.data instanceof Float32Array)) throw new ModelContractError(`${what} output ${name} is ${t.datatype}, expected FP32`);
    if (!shapes.some((s) => s.length === t.shape.length && s.every((d, i) => d === t.shape[i]))) {
      throw new ModelContractError(`${what} output ${name} has shape [${t.shape.join(', ')}], expected ${shapes.map((s) => `[${s.join(', ')}]`).join(' or ')}`);
    }
    return t.data;
  };
  const boxes = tensor(spec.box, 'box', [[rows, 4]]);
  const scores = tensor(spec.score, 'score', [[rows], [rows, 1]]);
  return Array.from({ length: rows }, (_, r) => {
    const [x, y, w, h] = boxes.subarray(r * 4, r * 4 + 4) as unknown as [number, number, number, number];
    const score = scores[r]!;
    if (![x, y, w, h, score].every(Number.isFinite)) throw new ModelContractError(`endpoint ${endpointName} returned a non-finite box or score for row ${r}`);
    return { x, y, w, h, score };
  });
};

/** 1e-6 of the image: far below a pixel, and stored boxes stay short. */
const round = (v: number): number => Math.round(v * 1e6) / 1e6;

export class Detector {
  constructor(readonly endpoint: ModelEndpoint) {
    detectorSpec(endpoint.manifest);
  }

  /** The image view the detector takes (the manifest's `preprocessing.detector.view`). */
  get view(): string {
    return detectorSpec(this.endpoint.manifest).spec.view;
  }

  /** One box per image, in image coordinates (clamped to the image), with the detector's score clamped to 0..1. */
  async detect(images: DetectorInput[]): Promise<DetectedBox[]> {
    if (images.length === 0) return [];
    const { input } = detectorSpec(this.endpoint.manifest);
    const pixels = images[0]!.view.length;
    const size = Math.round(Math.sqrt(pixels / 3));
    const data = new Uint8Array(images.length * pixels);
    images.forEach((image, i) => {
      if (image.view.length !== pixels || size * size * 3 !== pixels) throw new ModelContractError(`detector view ${i} has ${image.view.length} bytes, expected ${size}×${size}×3`);
      data.set(image.view, i * pixels);
    });
    const tensor: Tensor = { name: input.name, datatype: 'UINT8', shape: [images.length, size, size, 3], data };
    const answers = await this.endpoint.invokeWith([tensor], (outputs, rows) => readDetections(this.endpoint.manifest, this.endpoint.endpointName, outputs, rows));
    return answers.flat().map((box, i) => {
      const { x, y, w, h } = viewBoxToImageBox(box, images[i]!.letterbox);
      return { x: round(x), y: round(y), w: round(w), h: round(h), score: round(Math.min(1, Math.max(0, box.score))) };
    });
  }
}
