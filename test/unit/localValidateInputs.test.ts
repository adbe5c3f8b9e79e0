import { describe, expect, it } from 'vitest';
import type { LoadedManifest } from '../../functions/shared/manifest.js';
import type { Tensor } from '../../functions/shared/inference/triton.js';
import { validateInputs, validateOutputNames } from '../../local/modelServer/validateInputs.js';

const manifest = {
  name: 'm',
  inputs: [
    { name: 'ids', datatype: 'INT64', shape: [-1, 4] },
    { name: 'mask', datatype: 'INT64', shape: [-1, 4] },
  ],
  outputs: [{ name: 'out', task: 't', datatype: 'FP32', shape: [-1, 2] }],
  triton: { repository: 'triton', modelName: 'm', maxBatchSize: 3 },
} as unknown as LoadedManifest;

const t = (name: string, rows: number, cols = 4, datatype: Tensor['datatype'] = 'INT64'): Tensor =>
  datatype === 'INT64'
    ? { name, datatype, shape: [rows, cols], data: new BigInt64Array(rows * cols) }
    : { name, datatype: 'FP32', shape: [rows, cols], data: new Float32Array(rows * cols) };

describe('validateInputs (model server)', () => {
  it('returns the batch size of a valid request', () => {
    expect(validateInputs(manifest, [t('ids', 2), t('mask', 2)])).toBe(2);
  });

  it.each([
    [[t('ids', 2)], /missing input mask/],
    [[t('ids', 2), t('mask', 2), t('extra', 2)], /has no input "extra" \(inputs: ids, mask\)/],
    [[t('ids', 2), t('mask', 2, 4, 'FP32')], /input mask: expected datatype INT64, got FP32/],
    [[t('ids', 2, 5), t('mask', 2, 5)], /input ids: expected shape \[-1, 4\], got \[2, 5\] \(dimension 1 must be 4\)/],
    [[t('ids', 2), t('mask', 1)], /disagree on the batch size/],
    [[t('ids', 4), t('mask', 4)], /batch of 4 exceeds max_batch_size 3/],
    [[t('ids', 0), t('mask', 0)], /the batch is empty/],
    [[t('ids', 1), t('ids', 1)], /given twice/],
    [[{ name: 'ids', datatype: 'INT64', shape: [4], data: new BigInt64Array(4) } as Tensor, t('mask', 1)], /expected shape \[-1, 4\], got \[4\]/],
  ] as [Tensor[], RegExp][])('rejects %#', (inputs, message) => {
    expect(() => validateInputs(manifest, inputs)).toThrow(message);
  });

  it('rejects unknown output names', () => {
    expect(() => validateOutputNames(manifest, ['out'])).not.toThrow();
    expect(() => validateOutputNames(manifest, ['nope'])).toThrow(/has no output nope \(outputs: out\)/);
  });
});
