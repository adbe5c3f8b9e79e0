/**
 * The local model server against the committed fixture models (real ONNX graphs of the production
 * contract): KServe v2 JSON and binary, the SageMaker runtime client with only `endpoint`
 * overridden, dynamic batching, and the 4xx answers for requests the manifest rules out.
 * Inputs are built from each manifest, so the test knows no task, label or model name.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient, ValidationError } from '@aws-sdk/client-sagemaker-runtime';
import { loadManifest, type LoadedManifest, type TensorSpec } from '../../functions/shared/manifest.js';
import {
  INFERENCE_HEADER_LENGTH_HEADER,
  decodeInferResponse,
  encodeInferRequest,
  type Tensor,
} from '../../functions/shared/inference/triton.js';
import { findManifests } from '../../local/modelServer/modelRepository.js';
import { startModelServer, type RunningModelServer } from '../../local/modelServer/server.js';

// WEFT_TEST_MODELS_DIR points the test at another model folder (e.g. the trained artifacts).
const FIXTURES = resolve(process.env.WEFT_TEST_MODELS_DIR ?? resolve(import.meta.dirname, '../../models/artifacts/fixtures'));

/** Deterministic inputs of the manifest's shapes: pixels for images, token ids with a mask for text. */
const inputFor = (spec: TensorSpec, rows: number, seed: number): Tensor => {
  const shape = spec.shape.map((d, i) => (i === 0 ? rows : d === -1 ? 16 : d));
  const count = shape.reduce((a, b) => a * b, 1);
  let state = seed * 7919 + 1;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  switch (spec.datatype) {
    case 'UINT8':
      return { name: spec.name, datatype: 'UINT8', shape, data: Uint8Array.from({ length: count }, () => next() % 256) };
    case 'INT64': {
      const mask = /mask/.test(spec.name);
      // Token 101/102 are [CLS]/[SEP] in BERT vocabularies; any id below the vocabulary size works.
      return { name: spec.name, datatype: 'INT64', shape, data: BigInt64Array.from({ length: count }, (_, i) => (mask ? 1n : BigInt(i % shape[1]! === 0 ? 101 : 1000 + (next() % 500)))) };
    }
    case 'INT32':
      return { name: spec.name, datatype: 'INT32', shape, data: Int32Array.from({ length: count }, () => next() % 100) };
    default:
      return { name: spec.name, datatype: 'FP32', shape, data: Float32Array.from({ length: count }, () => (next() % 1000) / 1000) };
  }
};

const inputsFor = (manifest: LoadedManifest, rows: number, seed = 1): Tensor[] => manifest.inputs.map((spec) => inputFor(spec, rows, seed));

const toJsonInput = (t: Tensor) => ({
  name: t.name,
  datatype: t.datatype,
  shape: t.shape,
  data: Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v)),
});

const rowsOf = (t: Tensor): number[][] => {
  const [rows = 0, cols = 0] = t.shape;
  const data = Array.from(t.data as Float32Array);
  return Array.from({ length: rows }, (_, r) => data.slice(r * cols, (r + 1) * cols));
};

const manifests = findManifests(FIXTURES).map((file) => loadManifest(file));

describe('local model server', () => {
  let server: RunningModelServer;
  let sagemaker: SageMakerRuntimeClient;

  beforeAll(async () => {
    expect(manifests.length, `fixture models under ${FIXTURES}`).toBeGreaterThanOrEqual(2);
    // A longer queue delay than the default makes the batching test independent of machine load.
    server = await startModelServer({ modelsDir: FIXTURES, port: 0, batchDelayMs: 50 });
    sagemaker = new SageMakerRuntimeClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
  });

  afterAll(async () => {
    sagemaker?.destroy();
    await server?.stop();
  });

  it('is ready and serves every model folder under its manifest name', async () => {
    const ready = await fetch(`${server.url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    expect(server.models.sort()).toEqual(manifests.map((m) => m.name).sort());
  });

  it('describes a model from its manifest and 404s an unknown one', async () => {
    for (const manifest of manifests) {
      const meta = (await (await fetch(`${server.url}/v2/models/${manifest.name}`)).json()) as Record<string, unknown>;
      expect(meta).toMatchObject({
        name: manifest.name,
        versions: [manifest.version],
        platform: 'onnxruntime_onnx',
        inputs: manifest.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
        outputs: manifest.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      });
    }
    const missing = await fetch(`${server.url}/v2/models/no-such-model`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/unknown model: 'no-such-model'/);
  });

  describe.each(manifests.map((m) => [m.name, m] as const))('%s', (_name, manifest) => {
    const inputs = inputsFor(manifest, 3);

    const inferJson = async () => {
      const res = await fetch(`${server.url}/v2/models/${manifest.name}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: inputs.map(toJsonInput) }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      return decodeInferResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type') ?? undefined);
    };

    it.runIf(manifest.modality === 'detector')('answers a detector\'s box [x, y, w, h] and score per input row, in 0..1', async () => {
      const outputs = await inferJson();
      const spec = manifest.preprocessing.detector!;
      const box = outputs.find((o) => o.name === spec.box)!;
      const score = outputs.find((o) => o.name === spec.score)!;
      expect(box.shape).toEqual([3, 4]);
      expect(score.shape[0]).toBe(3);
      for (const v of [...(box.data as Float32Array), ...(score.data as Float32Array)]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    });

    it.runIf(manifest.modality !== 'detector')('answers v2 JSON with one probability row per input row and task', async () => {
      const outputs = await inferJson();
      expect(outputs.map((o) => o.name).sort()).toEqual(manifest.outputs.map((o) => o.name).sort());
      for (const output of outputs) {
        const task = manifest.tasks.find((t) => t.name === manifest.outputs.find((o) => o.name === output.name)!.task)!;
        expect(output.shape).toEqual([3, task.labels.length]);
        for (const row of rowsOf(output)) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      }
    });

    it('answers v2 binary tensors identically to JSON', async () => {
      const outputNames = manifest.outputs.map((o) => o.name);
      const request = encodeInferRequest(inputs, outputNames);
      const res = await fetch(`${server.url}/v2/models/${manifest.name}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_LENGTH_HEADER]: String(request.headerLength) },
        body: request.body,
      });
      expect(res.status).toBe(200);
      const headerLength = res.headers.get(INFERENCE_HEADER_LENGTH_HEADER);
      expect(headerLength).toMatch(/^\d+$/);
      const binary = decodeInferResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type') ?? undefined, headerLength ?? undefined);
      const json = await inferJson();
      for (const output of binary) {
        const same = json.find((o) => o.name === output.name)!;
        expect(output.datatype).toBe('FP32');
        expect(Array.from(output.data as Float32Array)).toEqual(Array.from(same.data as Float32Array).map((v) => Math.fround(v)));
      }
    });

    it('serves the SageMaker runtime client (InvokeEndpoint, binary+json content type)', async () => {
      const request = encodeInferRequest(inputs, manifest.outputs.map((o) => o.name));
      const reply = await sagemaker.send(
        new InvokeEndpointCommand({ EndpointName: manifest.name, ContentType: request.contentType, Accept: request.contentType, Body: request.body }),
      );
      expect(reply.ContentType).toMatch(/^application\/vnd\.sagemaker-triton\.binary\+json;json-header-size=\d+$/);
      expect(reply.InvokedProductionVariant).toBe('AllTraffic');
      const outputs = decodeInferResponse(reply.Body!, reply.ContentType);
      expect(outputs).toHaveLength(manifest.outputs.length);
      expect(outputs[0]!.shape[0]).toBe(3);
    });

    it('merges concurrent requests along the batch dimension without mixing rows', async () => {
      const single: Tensor[][] = [];
      for (const seed of [1, 2, 3, 4, 5, 6]) single.push(await callBinary(manifest, inputsFor(manifest, 1, seed)));
      const stats = async () => ((await (await fetch(`${server.url}/v2/models/${manifest.name}/stats`)).json()) as { model_stats: { inference_count: number; execution_count: number }[] }).model_stats[0]!;
      const before = await stats();
      const concurrent = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => callBinary(manifest, inputsFor(manifest, 1, seed))));
      const after = await stats();
      expect(after.inference_count - before.inference_count).toBe(6);
      // The first request runs alone; the others queue behind it and share executions.
      expect(after.execution_count - before.execution_count).toBeLessThan(6);
      concurrent.forEach((outputs, i) => {
        for (const output of outputs) {
          const expected = single[i]!.find((o) => o.name === output.name)!;
          Array.from(output.data as Float32Array).forEach((v, j) => expect(v).toBeCloseTo((expected.data as Float32Array)[j]!, 5));
        }
      });
    });

    it('rejects requests the manifest rules out with 400 and a clear message', async () => {
      const first = manifest.inputs[0]!;
      const wrongType: Tensor = first.datatype === 'FP32'
        ? { name: first.name, datatype: 'INT32', shape: inputs[0]!.shape, data: new Int32Array(inputs[0]!.data.length) }
        : { name: first.name, datatype: 'FP32', shape: inputs[0]!.shape, data: new Float32Array(inputs[0]!.data.length) };
      const cases: [Tensor[], RegExp][] = [
        [[wrongType, ...inputs.slice(1)], new RegExp(`input ${first.name}: expected datatype ${first.datatype}`)],
        [inputs.slice(1), /missing input/],
        [[...inputs, { ...inputs[0]!, name: 'bogus' }], /has no input "bogus"/],
        [inputsFor(manifest, manifest.triton.maxBatchSize + 1), /exceeds max_batch_size/],
      ];
      const fixed = first.shape.findIndex((d, i) => i > 0 && d !== -1);
      if (fixed > 0) {
        const shape = [...inputs[0]!.shape];
        shape[fixed] = shape[fixed]! + 1;
        const count = shape.reduce((a, b) => a * b, 1);
        const bad = inputFor({ ...first, shape: shape.map((d, i) => (i === 0 ? -1 : d)) }, shape[0]!, 1);
        expect(bad.data.length).toBe(count);
        cases.push([[bad, ...inputs.slice(1)], /expected shape/]);
      }
      for (const [tensors, message] of cases) {
        const request = encodeInferRequest(tensors, []);
        const res = await fetch(`${server.url}/v2/models/${manifest.name}/infer`, { method: 'POST', headers: { 'content-type': request.contentType }, body: request.body });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: string }).error).toMatch(message);
      }
      const garbage = await fetch(`${server.url}/v2/models/${manifest.name}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": 5' });
      expect(garbage.status).toBe(400);
    });

    it('returns SageMaker errors the SDK understands', async () => {
      const request = encodeInferRequest(inputs.slice(1), []);
      const error = await sagemaker
        .send(new InvokeEndpointCommand({ EndpointName: manifest.name, ContentType: request.contentType, Body: request.body }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelError);
      expect((error as ModelError).OriginalStatusCode).toBe(400);
      expect((error as ModelError).message).toMatch(/missing input/);
    });
  });

  it('answers an unknown endpoint like SageMaker does', async () => {
    const error = await sagemaker.send(new InvokeEndpointCommand({ EndpointName: 'no-such-endpoint', ContentType: 'application/json', Body: '{}' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/Endpoint no-such-endpoint of account \d+ not found/);
  });

  const callBinary = async (manifest: LoadedManifest, tensors: Tensor[]) => {
    const request = encodeInferRequest(tensors, manifest.outputs.map((o) => o.name));
    const reply = await sagemaker.send(new InvokeEndpointCommand({ EndpointName: manifest.name, ContentType: request.contentType, Body: request.body }));
    return decodeInferResponse(reply.Body!, reply.ContentType);
  };
});
