/**
 * Image model client: the declared uint8 NHWC views of each product image (manifest order) go to the endpoint as
 * binary tensors (never as JSON floats: normalization lives inside the ONNX graph), all images of
 * a batch in as few calls as the model's batch limit allows.
 */
import type { ImageViews } from '../image/prepareViews.js';
import type { LoadedManifest } from '../manifest.js';
import type { ModelEndpoint } from './modelEndpoint.js';
import { ModelContractError } from './modelEndpoint.js';
import type { Tensor } from './triton.js';
import type { TaskProbabilities } from './types.js';

/** Stacks one view of every image into a [N, S, S, 3] UINT8 tensor. */
const stack = (name: string, views: Uint8Array[], size: number): Tensor => {
  const pixels = size * size * 3;
  const data = new Uint8Array(views.length * pixels);
  views.forEach((view, i) => {
    if (view.length !== pixels) throw new ModelContractError(`view ${i} of ${name} has ${view.length} bytes, expected ${size}×${size}×3`);
    data.set(view, i * pixels);
  });
  return { name, datatype: 'UINT8', shape: [views.length, size, size, 3], data };
};

/** Splits per-task rows back into one TaskProbabilities per input row. */
export const toRows = (byTask: Record<string, number[][]>, rows: number): TaskProbabilities[] =>
  Array.from({ length: rows }, (_, r) => Object.fromEntries(Object.entries(byTask).map(([task, probs]) => [task, probs[r]!])));

/** The model's input tensors for a batch of images (also what async inference writes to S3). */
export const imageInputs = (manifest: LoadedManifest, images: ImageViews[]): Tensor[] => {
  const image = manifest.preprocessing.image;
  if (!image) throw new ModelContractError(`model ${manifest.name} has no image preprocessing in its manifest`);
  return image.views.map((spec) =>
    stack(
      spec.input,
      images.map((row, i) => {
        const view = row.views[spec.name];
        if (!view) throw new ModelContractError(`image ${i} has no ${spec.name} view (model ${manifest.name} takes ${image.views.map((v) => v.name).join(', ')})`);
        return view;
      }),
      image.viewSize,
    ),
  );
};

export const predictImages = async (endpoint: ModelEndpoint, views: ImageViews[]): Promise<TaskProbabilities[]> => {
  if (views.length === 0) return [];
  return toRows(await endpoint.invoke(imageInputs(endpoint.manifest, views)), views.length);
};
