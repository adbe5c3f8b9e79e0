import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeEndpointCommand, ModelError, ModelNotReadyException, SageMakerRuntimeClient, ValidationError } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../functions/shared/errors.js';
import type { ImageViews } from '../../functions/shared/image/prepareViews.js';
import { parseManifest, type LoadedManifest } from '../../functions/shared/manifest.js';
import { predictImages } from '../../functions/shared/inference/imageModel.js';
import { EndpointRequestError, ModelContractError, ModelEndpoint, classifyInvokeError } from '../../functions/shared/inference/modelEndpoint.js';
import { createTextModel } from '../../functions/shared/inference/textModel.js';
import {
  TRITON_BINARY_CONTENT_TYPE,
  decodeInferRequest,
  encodeInferResponse,
  type Tensor,
} from '../../functions/shared/inference/triton.js';
import { wordPieceTokenizerJson } from './support/models.js';

const S = 8;
const sagemaker = mockClient(SageMakerRuntimeClient);
afterEach(() => sagemaker.reset());

const imageManifest = (maxBatchSize = 32): LoadedManifest => ({
  ...parseManifest(
    {
      schemaVersion: 1,
      name: 'weft-image',
      version: 'test',
      modality: 'image',
      tasks: [
        { name: 'category', labels: ['a', 'b', 'c'] },
        { name: 'color', labels: ['x', 'y'] },
      ],
      onnx: 'triton/weft-image/1/model.onnx',
      inputs: [
        { name: 'whole', datatype: 'UINT8', shape: [-1, S, S, 3] },
        { name: 'detail', datatype: 'UINT8', shape: [-1, S, S, 3] },
      ],
      outputs: [
        { name: 'category_probs', task: 'category', datatype: 'FP32', shape: [-1, 3] },
        { name: 'color_probs', task: 'color', datatype: 'FP32', shape: [-1, 2] },
      ],
      preprocessing: { image: { viewSize: S, centerCropFraction: 0.4, views: { downsampled: 'whole', center: 'detail' } } },
      triton: { repository: 'triton', modelName: 'weft-image', maxBatchSize },
    },
    'test',
  ),
  dir: '/nonexistent',
});

/** A fake model: row r's category is one-hot at (first byte of its `whole` view) mod 3. */
const fakeImageModel = (seen: Tensor[][] = []) => (input: { Body?: unknown; ContentType?: string }) => {
  const request = decodeInferRequest(input.Body as Uint8Array, input.ContentType);
  seen.push(request.inputs);
  const whole = request.inputs.find((t) => t.name === 'whole')!;
  const rows = whole.shape[0]!;
  const rowBytes = S * S * 3;
  const category = new Float32Array(rows * 3);
  const color = new Float32Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    category[r * 3 + (whole.data[r * rowBytes]! as number) % 3] = 1;
    color.set([0.25, 0.75], r * 2);
  }
  const reply = encodeInferResponse({ name: 'weft-image', version: 'test' }, [
    { name: 'category_probs', datatype: 'FP32', shape: [rows, 3], data: category },
    { name: 'color_probs', datatype: 'FP32', shape: [rows, 2], data: color },
  ], request.outputs.every((o) => o.binary));
  return { Body: reply.body as never, ContentType: reply.contentType };
};

const views = (n: number): ImageViews[] =>
  Array.from({ length: n }, (_, i) => ({
    views: { downsampled: new Uint8Array(S * S * 3).fill(i), center: new Uint8Array(S * S * 3).fill(100 + i) },
    source: { format: 'png', width: 10, height: 10 },
  }));

const endpoint = (manifest: LoadedManifest, extra: Partial<ConstructorParameters<typeof ModelEndpoint>[0]> = {}) =>
  new ModelEndpoint({ client: new SageMakerRuntimeClient({ region: 'us-east-1' }), endpointName: 'weft-image', manifest, ...extra });

describe('predictImages', () => {
  it('sends both views as uint8 NHWC binary tensors and maps outputs to tasks in label order', async () => {
    const seen: Tensor[][] = [];
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeImageModel(seen));
    const result = await predictImages(endpoint(imageManifest()), views(3));
    expect(result).toEqual([
      { category: [1, 0, 0], color: [0.25, 0.75] },
      { category: [0, 1, 0], color: [0.25, 0.75] },
      { category: [0, 0, 1], color: [0.25, 0.75] },
    ]);
    const call = sagemaker.commandCalls(InvokeEndpointCommand)[0]!.args[0].input;
    expect(call.EndpointName).toBe('weft-image');
    expect(call.ContentType).toMatch(new RegExp(`^${TRITON_BINARY_CONTENT_TYPE.replace(/[.+]/g, '\\$&')};json-header-size=\\d+$`));
    const headerSize = Number(/json-header-size=(\d+)/.exec(call.ContentType!)![1]);
    // raw bytes: no JSON numbers, no floats — payload is the header plus exactly 2 views per image
    expect((call.Body as Uint8Array).length).toBe(headerSize + 3 * 2 * S * S * 3);
    expect(seen[0]!.map((t) => [t.name, t.datatype, t.shape])).toEqual([
      ['whole', 'UINT8', [3, S, S, 3]],
      ['detail', 'UINT8', [3, S, S, 3]],
    ]);
    expect(seen[0]![1]!.data[S * S * 3]).toBe(101);
  });

  it('splits a batch larger than triton.maxBatchSize and keeps row order', async () => {
    const seen: Tensor[][] = [];
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeImageModel(seen));
    const result = await predictImages(endpoint(imageManifest(2)), views(5));
    expect(seen.map((inputs) => inputs[0]!.shape[0])).toEqual([2, 2, 1]);
    expect(result.map((r) => r.category!.indexOf(1))).toEqual([0, 1, 2, 0, 1]);
  });

  it('also splits to stay under the request payload limit', async () => {
    const seen: Tensor[][] = [];
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeImageModel(seen));
    await predictImages(endpoint(imageManifest(32), { maxPayloadBytes: 3 * 2 * S * S * 3 }), views(7));
    expect(seen.map((inputs) => inputs[0]!.shape[0])).toEqual([3, 3, 1]);
  });

  it('reads JSON replies too', async () => {
    sagemaker.on(InvokeEndpointCommand).callsFake((input) => {
      const rows = decodeInferRequest(input.Body as Uint8Array, input.ContentType).inputs[0]!.shape[0]!;
      const reply = encodeInferResponse({ name: 'weft-image', version: 't' }, [
        { name: 'category_probs', datatype: 'FP32', shape: [rows, 3], data: new Float32Array(rows * 3).fill(0.5) },
        { name: 'color_probs', datatype: 'FP32', shape: [rows, 2], data: new Float32Array(rows * 2).fill(0.5) },
      ], false);
      return { Body: reply.body as never, ContentType: reply.contentType };
    });
    expect(await predictImages(endpoint(imageManifest()), views(1))).toEqual([{ category: [0.5, 0.5, 0.5], color: [0.5, 0.5] }]);
  });

  it('makes no call for an empty batch', async () => {
    expect(await predictImages(endpoint(imageManifest()), [])).toEqual([]);
    expect(sagemaker.commandCalls(InvokeEndpointCommand)).toHaveLength(0);
  });

  it('rejects a reply whose output does not fit the manifest', async () => {
    sagemaker.on(InvokeEndpointCommand).callsFake(() => {
      const reply = encodeInferResponse({ name: 'weft-image', version: 't' }, [
        { name: 'category_probs', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) },
        { name: 'color_probs', datatype: 'FP32', shape: [1, 2], data: new Float32Array(2) },
      ], true);
      return { Body: reply.body as never, ContentType: reply.contentType };
    });
    await expect(predictImages(endpoint(imageManifest()), views(1))).rejects.toThrow(ModelContractError);
    await expect(predictImages(endpoint(imageManifest()), views(1))).rejects.toThrow(/expected \[1, 3\]/);
  });

  it('rejects a reply that is not a v2 body', async () => {
    sagemaker.on(InvokeEndpointCommand).resolves({ Body: Buffer.from('<html>bad gateway</html>') as never, ContentType: 'text/html' });
    await expect(predictImages(endpoint(imageManifest()), views(1))).rejects.toThrow(ModelContractError);
  });
});

describe('endpoint error classification', () => {
  const meta = (status: number) => ({ $metadata: { httpStatusCode: status } });
  const cases: [string, unknown, 'transient' | 'request'][] = [
    ['container 500', new ModelError({ message: 'boom', OriginalStatusCode: 500, ...meta(424) }), 'transient'],
    ['container 503', new ModelError({ message: 'busy', OriginalStatusCode: 503, ...meta(424) }), 'transient'],
    ['container 400', new ModelError({ message: 'bad input', OriginalStatusCode: 400, ...meta(424) }), 'request'],
    ['throttling', Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', ...meta(400) }), 'transient'],
    ['model not ready', new ModelNotReadyException({ message: 'loading', ...meta(429) }), 'transient'],
    ['unknown endpoint', new ValidationError({ message: 'Endpoint weft-image not found', ...meta(400) }), 'request'],
    ['timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'transient'],
    ['connection reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient'],
    ['server fault', Object.assign(new Error('internal'), { name: 'InternalFailure', $fault: 'server', ...meta(500) }), 'transient'],
  ];

  it.each(cases)('%s', (_name, error, kind) => {
    const classified = classifyInvokeError(error, 'weft-image');
    expect(classified).not.toBeInstanceOf(PermanentError);
    if (kind === 'transient') expect(classified).toBeInstanceOf(TransientError);
    else expect(classified).toBeInstanceOf(EndpointRequestError);
    expect(classified.message).toContain('weft-image');
  });

  it('surfaces SDK failures through invoke', async () => {
    sagemaker.on(InvokeEndpointCommand).rejects(new ModelError({ message: 'x', OriginalStatusCode: 502, $metadata: {} }));
    await expect(predictImages(endpoint(imageManifest()), views(1))).rejects.toBeInstanceOf(TransientError);
  });
});

// The vocabulary of the text model tests' tokenizer.
const tokenizerJson = wordPieceTokenizerJson(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'blue', 'denim', 'jacket', 'red', 'shirt', '##s', 'with', 'pockets']);

const textManifest = (dir: string, maxLength: number, withTypeIds: boolean): LoadedManifest => ({
  ...parseManifest(
    {
      schemaVersion: 1,
      name: 'weft-text',
      version: 'test',
      modality: 'text',
      tasks: [{ name: 'category', labels: ['a', 'b'] }],
      onnx: 'triton/weft-text/1/model.onnx',
      inputs: [
        { name: 'input_ids', datatype: 'INT64', shape: [-1, maxLength] },
        { name: 'attention_mask', datatype: 'INT64', shape: [-1, maxLength] },
        ...(withTypeIds ? [{ name: 'token_type_ids', datatype: 'INT64', shape: [-1, maxLength] }] : []),
      ],
      outputs: [{ name: 'category', task: 'category', datatype: 'FP32', shape: [-1, 2] }],
      preprocessing: { text: { tokenization: 'client', tokenizer: 'tokenizer/tokenizer.json', tokenizerConfig: 'tokenizer/tokenizer_config.json', maxLength } },
      triton: { repository: 'triton', modelName: 'weft-text', maxBatchSize: 16 },
    },
    'test',
  ),
  dir,
});

describe('text model', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-text-'));
    mkdirSync(join(dir, 'tokenizer'));
    writeFileSync(join(dir, 'tokenizer/tokenizer.json'), JSON.stringify(tokenizerJson));
    writeFileSync(join(dir, 'tokenizer/tokenizer_config.json'), JSON.stringify({ do_lower_case: true, pad_token: '[PAD]', tokenizer_class: 'BertTokenizer' }));
  });

  const fakeTextModel = (seen: Tensor[][]) => (input: { Body?: unknown; ContentType?: string }) => {
    const request = decodeInferRequest(input.Body as Uint8Array, input.ContentType);
    seen.push(request.inputs);
    const rows = request.inputs[0]!.shape[0]!;
    const probs = new Float32Array(rows * 2).fill(0.5);
    const reply = encodeInferResponse({ name: 'weft-text', version: 'test' }, [{ name: 'category', datatype: 'FP32', shape: [rows, 2], data: probs }], true);
    return { Body: reply.body as never, ContentType: reply.contentType };
  };

  it('tokenizes client-side, pads and truncates to maxLength, sends INT64 ids and mask', async () => {
    const seen: Tensor[][] = [];
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeTextModel(seen));
    const model = await createTextModel(endpoint(textManifest(dir, 6, false)));
    const result = await model.predict(['Blue denim', 'RED shirts with pockets and zips']);
    expect(result).toEqual([{ category: [0.5, 0.5] }, { category: [0.5, 0.5] }]);
    const [ids, mask] = seen[0]!;
    expect(seen[0]!.map((t) => [t.name, t.datatype, t.shape])).toEqual([
      ['input_ids', 'INT64', [2, 6]],
      ['attention_mask', 'INT64', [2, 6]],
    ]);
    // [CLS] blue denim [SEP] [PAD] [PAD] | [CLS] red shirt ##s with [SEP] (cut, [SEP] kept)
    expect(Array.from(ids!.data as BigInt64Array, Number)).toEqual([2, 4, 5, 3, 0, 0, 2, 7, 8, 9, 10, 3]);
    expect(Array.from(mask!.data as BigInt64Array, Number)).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
  });

  it('adds token_type_ids when the graph declares them', async () => {
    const seen: Tensor[][] = [];
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeTextModel(seen));
    const model = await createTextModel(endpoint(textManifest(dir, 8, true)));
    await model.predict(['unknownword']);
    expect(seen[0]!.map((t) => t.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(Array.from(seen[0]![0]!.data as BigInt64Array, Number)).toEqual([2, 1, 3, 0, 0, 0, 0, 0]);
    expect(Array.from(seen[0]![2]!.data as BigInt64Array, Number)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('splits large batches by maxBatchSize', async () => {
    const seen: Tensor[][] = [];
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeTextModel(seen));
    const model = await createTextModel(endpoint(textManifest(dir, 8, false)));
    const result = await model.predict(Array.from({ length: 40 }, (_, i) => `blue shirt ${i}`));
    expect(result).toHaveLength(40);
    expect(seen.map((inputs) => inputs[0]!.shape[0])).toEqual([16, 16, 8]);
  });
});

describe('tokenizer of the committed fixture text model', () => {
  // Expected ids from the Python `tokenizers` library on the same tokenizer.json with
  // truncation (64) and fixed padding (64): client-side tokenization must match training.
  const pad = (ids: number[]) => [...ids, ...new Array(64 - ids.length).fill(0)];
  it.each([
    ['Slim-fit Denim Jacket — washed BLUE, 100% cotton', [101, 11754, 1011, 4906, 26762, 6598, 1517, 8871, 2630, 1010, 2531, 1003, 6557, 102]],
    ['Café crème striped T-shirt', [101, 7668, 13675, 21382, 17983, 1056, 1011, 3797, 102]],
    [`${'long '.repeat(80)}end`, [101, ...new Array(62).fill(2146), 102]],
  ])('%s', async (text, ids) => {
    const { ManifestTokenizer } = await import('../../functions/shared/inference/tokenizer.js');
    const { loadManifest } = await import('../../functions/shared/manifest.js');
    const tokenizer = await ManifestTokenizer.fromManifest(loadManifest('models/artifacts/fixtures/text/manifest.json'));
    const batch = tokenizer.encodeBatch([text]);
    expect(Array.from(batch.inputIds, Number)).toEqual(pad(ids));
    expect(Array.from(batch.attentionMask, Number)).toEqual(pad(ids.map(() => 1)));
  });
});
