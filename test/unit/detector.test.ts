/**
 * The garment detector client against a mocked SageMaker runtime: tensor and output names from
 * the detector manifest, one call for the batch, boxes converted from view to image coordinates.
 */
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../functions/shared/errors.js';
import { Detector } from '../../functions/shared/inference/detector.js';
import { ModelContractError, ModelEndpoint } from '../../functions/shared/inference/modelEndpoint.js';
import { decodeInferRequest, encodeInferResponse, type Tensor } from '../../functions/shared/inference/triton.js';
import { parseManifest, type LoadedManifest } from '../../functions/shared/manifest.js';
import { detectorManifest } from './support/models.js';

const S = 32;
const sagemaker = mockClient(SageMakerRuntimeClient);
afterEach(() => sagemaker.reset());

const manifest = (maxBatchSize = 8): LoadedManifest => ({ ...parseManifest({ ...detectorManifest(), triton: { repository: 'triton', modelName: 'weft-detector', maxBatchSize } }, 'test'), dir: '/nonexistent' });
const detector = (m = manifest()) => new Detector(new ModelEndpoint({ client: new SageMakerRuntimeClient({ region: 'us-east-1' }), endpointName: 'weft-detector-dev', manifest: m }));
const view = (fill: number) => new Uint8Array(S * S * 3).fill(fill);

/** Answers every row with a box derived from its first pixel, so row order is visible. */
const answer = (outputs: (rows: number, first: number[]) => Tensor[], seen: Tensor[][] = []) =>
  sagemaker.on(InvokeEndpointCommand).callsFake((input) => {
    const request = decodeInferRequest(input.Body as Uint8Array, input.ContentType);
    seen.push(request.inputs);
    const rows = request.inputs[0]!.shape[0]!;
    const first = Array.from({ length: rows }, (_, r) => (request.inputs[0]!.data as Uint8Array)[r * S * S * 3]!);
    const reply = encodeInferResponse({ name: 'weft-detector', version: 't' }, outputs(rows, first), true);
    return { Body: reply.body as never, ContentType: reply.contentType };
  });

const boxes = (rows: number, first: number[]): Tensor[] => [
  { name: 'garment_box', datatype: 'FP32', shape: [rows, 4], data: Float32Array.from(first.flatMap((f) => [f / 100, 0.25, 0.5, 0.5])) },
  { name: 'garment_score', datatype: 'FP32', shape: [rows], data: Float32Array.from(first.map((f) => f / 50)) },
];

describe('Detector', () => {
  it('sends the whole views under the manifest\'s input name and reads box and score by its output names', async () => {
    const seen: Tensor[][] = [];
    answer(boxes, seen);
    const result = await detector().detect([
      { view: view(10), letterbox: { x: 0, y: 0, w: 1, h: 1 } },
      // the image fills the middle half of the view's height: view y 0.25..0.75 is image y 0..1
      { view: view(20), letterbox: { x: 0, y: 0.25, w: 1, h: 0.5 } },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.map((t) => [t.name, t.datatype, t.shape])).toEqual([['whole_view', 'UINT8', [2, S, S, 3]]]);
    expect(result[0]).toEqual({ x: 0.1, y: 0.25, w: 0.5, h: 0.5, score: 0.2 });
    expect(result[1]).toEqual({ x: 0.2, y: 0, w: 0.5, h: 1, score: 0.4 });
    expect(detector().view).toBe('downsampled');
  });

  it('splits at maxBatchSize and keeps row order; clamps the score to 0..1', async () => {
    const seen: Tensor[][] = [];
    answer(boxes, seen);
    const result = await detector(manifest(2)).detect([1, 2, 3, 60].map((f) => ({ view: view(f), letterbox: { x: 0, y: 0, w: 1, h: 1 } })));
    expect(seen.map((inputs) => inputs[0]!.shape[0])).toEqual([2, 2]);
    expect(result.map((b) => b.x)).toEqual([0.01, 0.02, 0.03, 0.6]);
    expect(result[3]!.score).toBe(1);
    expect(await detector().detect([])).toEqual([]);
  });

  it('a reply that does not fit the manifest is a ModelContractError', async () => {
    answer((rows) => [{ name: 'garment_box', datatype: 'FP32', shape: [rows, 4], data: new Float32Array(rows * 4) }]);
    await expect(detector().detect([{ view: view(1), letterbox: { x: 0, y: 0, w: 1, h: 1 } }])).rejects.toThrow(/no score output garment_score/);
    sagemaker.reset();
    answer((rows) => [
      { name: 'garment_box', datatype: 'FP32', shape: [rows, 2], data: new Float32Array(rows * 2) },
      { name: 'garment_score', datatype: 'FP32', shape: [rows], data: new Float32Array(rows) },
    ]);
    await expect(detector().detect([{ view: view(1), letterbox: { x: 0, y: 0, w: 1, h: 1 } }])).rejects.toBeInstanceOf(ModelContractError);
    sagemaker.reset();
    answer((rows) => [
      { name: 'garment_box', datatype: 'FP32', shape: [rows, 4], data: new Float32Array(rows * 4).fill(Number.NaN) },
      { name: 'garment_score', datatype: 'FP32', shape: [rows], data: new Float32Array(rows) },
    ]);
    await expect(detector().detect([{ view: view(1), letterbox: { x: 0, y: 0, w: 1, h: 1 } }])).rejects.toThrow(/non-finite/);
  });

  it('an endpoint failure keeps its class (a 5xx is transient)', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(Object.assign(new Error('down'), { name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 503 } }));
    await expect(detector().detect([{ view: view(1), letterbox: { x: 0, y: 0, w: 1, h: 1 } }])).rejects.toBeInstanceOf(TransientError);
  });

  it('refuses a manifest that is not a detector\'s', () => {
    const image = { ...manifest(), modality: 'image' as const, preprocessing: {} };
    expect(() => detector(image)).toThrow(/is not a detector/);
  });
});
