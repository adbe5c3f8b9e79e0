/**
 * Answers InvokeEndpoint the way the real models' contract does (Triton binary tensors, one
 * softmax output per task), with probabilities that follow the input so tests can check the
 * whole path: images vote for the color of their dominant RGB channel, texts for the first color
 * word they contain.
 */
import type { InvokeEndpointCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { decodeInferRequest, encodeInferResponse, type Tensor } from '../../../functions/shared/inference/triton.js';
import { TEST_TASKS, TEST_VOCAB } from './models.js';

const COLOR_LABELS = TEST_TASKS.find((t) => t.name === 'color')!.labels;

const distribution = (labels: readonly string[], winner: string | undefined, p = 0.8): number[] => {
  if (winner === undefined || !labels.includes(winner)) return labels.map(() => 1 / labels.length);
  return labels.map((l) => (l === winner ? p : (1 - p) / (labels.length - 1)));
};

const dominantColor = (pixels: Uint8Array): string => {
  const sum = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 1) sum[i % 3]! += pixels[i]!;
  const [r, g, b] = sum as [number, number, number];
  if (r > g * 1.5 && r > b * 1.5) return 'red';
  if (b > r * 1.5 && b > g * 1.5) return 'blue';
  if (g > r * 1.5 && g > b * 1.5) return 'green';
  return r + g + b > pixels.length * 128 ? 'white' : 'black';
};

export const fakeInvoke = (calls: { endpoint: string; rows: number }[]) => async (input: InvokeEndpointCommandInput) => {
  const request = decodeInferRequest(input.Body as Uint8Array, input.ContentType);
  const first = request.inputs[0]!;
  const rows = first.shape[0]!;
  calls.push({ endpoint: input.EndpointName!, rows });
  const colors: (string | undefined)[] = [];
  for (let row = 0; row < rows; row += 1) {
    if (first.datatype === 'UINT8') {
      const size = first.data.length / rows;
      colors.push(dominantColor((first.data as Uint8Array).subarray(row * size, (row + 1) * size)));
    } else {
      const width = first.shape[1]!;
      const ids = Array.from((first.data as BigInt64Array).subarray(row * width, (row + 1) * width), Number);
      colors.push(ids.map((id) => TEST_VOCAB[id]).find((token) => token !== undefined && COLOR_LABELS.includes(token)));
    }
  }
  const outputs: Tensor[] = TEST_TASKS.map((task) => ({
    name: task.name,
    datatype: 'FP32',
    shape: [rows, task.labels.length],
    data: Float32Array.from(colors.flatMap((color) => (task.name === 'color' ? distribution(task.labels, color) : distribution(task.labels, task.labels[0], 0.9)))),
  }));
  const reply = encodeInferResponse({ name: input.EndpointName!, version: '1' }, outputs, true);
  return { Body: reply.body, ContentType: reply.contentType } as never;
};

/**
 * Answers InvokeEndpoint as a garment detector whose manifest is `detector` does: the same box
 * (view coordinates) and score for every row, under the manifest's output names.
 */
export const fakeDetector =
  (detector: { preprocessing: { detector?: { box: string; score: string } } }, box: [number, number, number, number], score: number, calls?: { endpoint: string; rows: number }[]) =>
  async (input: InvokeEndpointCommandInput) => {
    const request = decodeInferRequest(input.Body as Uint8Array, input.ContentType);
    const rows = request.inputs[0]!.shape[0]!;
    calls?.push({ endpoint: input.EndpointName!, rows });
    const names = detector.preprocessing.detector!;
    const outputs: Tensor[] = [
      { name: names.box, datatype: 'FP32', shape: [rows, 4], data: Float32Array.from(Array.from({ length: rows }, () => box).flat()) },
      { name: names.score, datatype: 'FP32', shape: [rows], data: new Float32Array(rows).fill(score) },
    ];
    const reply = encodeInferResponse({ name: input.EndpointName!, version: '1' }, outputs, true);
    return { Body: reply.body, ContentType: reply.contentType } as never;
  };
