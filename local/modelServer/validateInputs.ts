/**
 * Checks an inference request against the model manifest before it reaches onnxruntime, so a
 * caller gets "input center: expected UINT8, got FP32" rather than an ORT stack trace.
 */
import type { LoadedManifest } from '../../functions/shared/manifest.js';
import type { Tensor } from '../../functions/shared/inference/triton.js';

export class InvalidInferenceRequest extends Error {
  override readonly name = 'InvalidInferenceRequest';
}

const describeShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Returns the batch size shared by every input. */
export const validateInputs = (manifest: LoadedManifest, inputs: Tensor[]): number => {
  const model = manifest.name;
  const expected = new Map(manifest.inputs.map((spec) => [spec.name, spec]));
  const seen = new Set<string>();
  let batch: number | undefined;
  for (const tensor of inputs) {
    const spec = expected.get(tensor.name);
    if (!spec) {
      throw new InvalidInferenceRequest(`model ${model} has no input "${tensor.name}" (inputs: ${[...expected.keys()].join(', ')})`);
    }
    if (seen.has(tensor.name)) throw new InvalidInferenceRequest(`input ${tensor.name} is given twice`);
    seen.add(tensor.name);
    if (tensor.datatype !== spec.datatype) {
      throw new InvalidInferenceRequest(`input ${tensor.name}: expected datatype ${spec.datatype}, got ${tensor.datatype}`);
    }
    if (tensor.shape.length !== spec.shape.length) {
      throw new InvalidInferenceRequest(`input ${tensor.name}: expected shape ${describeShape(spec.shape)}, got ${describeShape(tensor.shape)}`);
    }
    spec.shape.forEach((dim, i) => {
      if (dim !== -1 && tensor.shape[i] !== dim) {
        throw new InvalidInferenceRequest(`input ${tensor.name}: expected shape ${describeShape(spec.shape)}, got ${describeShape(tensor.shape)} (dimension ${i} must be ${dim})`);
      }
    });
    const rows = tensor.shape[0] ?? 0;
    if (batch !== undefined && rows !== batch) {
      throw new InvalidInferenceRequest(`inputs disagree on the batch size: ${tensor.name} has ${rows} rows, others ${batch}`);
    }
    batch = rows;
  }
  const missing = [...expected.keys()].filter((name) => !seen.has(name));
  if (missing.length > 0) throw new InvalidInferenceRequest(`model ${model}: missing input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  if (!batch) throw new InvalidInferenceRequest(`model ${model}: the batch is empty`);
  if (batch > manifest.triton.maxBatchSize) {
    throw new InvalidInferenceRequest(`model ${model}: batch of ${batch} exceeds max_batch_size ${manifest.triton.maxBatchSize}`);
  }
  return batch;
};

export const validateOutputNames = (manifest: LoadedManifest, names: string[]): void => {
  const known = new Set(manifest.outputs.map((o) => o.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new InvalidInferenceRequest(`model ${manifest.name} has no output ${unknown.join(', ')} (outputs: ${[...known].join(', ')})`);
  }
};
