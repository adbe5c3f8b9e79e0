/**
 * One model folder served by onnxruntime-node: the manifest says what the graph expects, the
 * graph file is the very one the Triton repository (and so SageMaker) serves.
 *
 * Concurrent requests are merged along the dynamic batch dimension (Triton's dynamic batching):
 * while one run is in progress, requests queue up, and the next run takes as many as fit in
 * `triton.maxBatchSize`, so many small calls cost about as much as one large one. Like Triton's
 * `max_queue_delay_microseconds`, the first request of an idle model waits `batchDelayMs` for
 * company before it runs.
 */
import * as ort from 'onnxruntime-node';
import { loadManifest, manifestPath, type Datatype, type LoadedManifest } from '../../functions/shared/manifest.js';
import type { Tensor, TensorData } from '../../functions/shared/inference/triton.js';
import { InvalidInferenceRequest, validateInputs, validateOutputNames } from './validateInputs.js';

const ORT_TYPES: Partial<Record<Datatype, ort.Tensor.Type>> = { UINT8: 'uint8', INT64: 'int64', INT32: 'int32', FP32: 'float32', BOOL: 'bool' };
const DATATYPES: Partial<Record<string, Datatype>> = { uint8: 'UINT8', int64: 'INT64', int32: 'INT32', float32: 'FP32', bool: 'BOOL' };

export interface ModelOptions {
  /** onnxruntime intra-op threads (default: its own choice, all cores). */
  threads?: number;
  /** How long a request waits for others to share its run (Triton's max queue delay). */
  batchDelayMs?: number;
}

interface Pending {
  inputs: Tensor[];
  rows: number;
  /** Non-batch dimensions of every input: only requests that agree can share a run. */
  signature: string;
  resolve(outputs: Tensor[]): void;
  reject(error: unknown): void;
}

export class OnnxModel {
  private queue: Pending[] = [];
  private running = false;
  /** Triton's statistics: rows inferred, and graph executions they took (fewer when batched). */
  readonly stats = { inferenceCount: 0, executionCount: 0 };

  private constructor(
    readonly manifest: LoadedManifest,
    private readonly session: ort.InferenceSession,
    private readonly batchDelayMs: number,
  ) {}

  static async load(manifestFile: string, opts: ModelOptions = {}): Promise<OnnxModel> {
    const manifest = loadManifest(manifestFile);
    const session = await ort.InferenceSession.create(manifestPath(manifest, manifest.onnx), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    });
    const missing = manifest.outputs.map((o) => o.name).filter((n) => !session.outputNames.includes(n));
    if (missing.length > 0) throw new Error(`${manifestFile}: ONNX graph lacks output(s) ${missing.join(', ')} named in the manifest`);
    return new OnnxModel(manifest, session, opts.batchDelayMs ?? 2);
  }

  get name(): string {
    return this.manifest.name;
  }

  /** Validates, then runs (possibly together with other requests); returns all outputs in manifest order. */
  infer(inputs: Tensor[]): Promise<Tensor[]> {
    const rows = validateInputs(this.manifest, inputs);
    for (const t of inputs) {
      if (!ORT_TYPES[t.datatype]) throw new InvalidInferenceRequest(`input ${t.name}: datatype ${t.datatype} is not supported by the local model server`);
    }
    const byName = new Map(inputs.map((t) => [t.name, t]));
    const ordered = this.manifest.inputs.map((spec) => byName.get(spec.name)!);
    const signature = ordered.map((t) => t.shape.slice(1).join('x')).join('|');
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs: ordered, rows, signature, resolve, reject });
      void this.drain();
    });
  }

  checkOutputs(names: string[]): void {
    validateOutputNames(this.manifest, names);
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (this.batchDelayMs > 0 && this.queuedRows() < this.manifest.triton.maxBatchSize) {
        await new Promise((resolve) => setTimeout(resolve, this.batchDelayMs));
      }
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        try {
          const outputs = await this.run(group);
          this.stats.executionCount += 1;
          this.stats.inferenceCount += group.reduce((n, g) => n + g.rows, 0);
          let row = 0;
          for (const request of group) {
            request.resolve(outputs.map((t) => sliceRows(t, row, request.rows)));
            row += request.rows;
          }
        } catch (error) {
          for (const request of group) request.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private queuedRows(): number {
    return this.queue.reduce((n, p) => n + p.rows, 0);
  }

  private takeGroup(): Pending[] {
    const first = this.queue[0]!;
    const group: Pending[] = [];
    let rows = 0;
    const rest: Pending[] = [];
    for (const request of this.queue) {
      if (request.signature === first.signature && rows + request.rows <= this.manifest.triton.maxBatchSize) {
        group.push(request);
        rows += request.rows;
      } else {
        rest.push(request);
      }
    }
    this.queue = rest;
    return group;
  }

  private async run(group: Pending[]): Promise<Tensor[]> {
    const feeds: Record<string, ort.Tensor> = {};
    this.manifest.inputs.forEach((spec, i) => {
      const parts = group.map((g) => g.inputs[i]!);
      const merged = concatRows(parts);
      feeds[spec.name] = new ort.Tensor(ORT_TYPES[spec.datatype]!, merged.data as never, merged.shape);
    });
    const names = this.manifest.outputs.map((o) => o.name);
    const results = await this.session.run(feeds, names);
    return names.map((name) => {
      const value = results[name]!;
      const datatype = DATATYPES[value.type];
      if (!datatype) throw new Error(`output ${name}: ONNX type ${value.type} has no v2 datatype here`);
      return { name, datatype, shape: [...value.dims], data: value.data as TensorData };
    });
  }
}

const concatRows = (parts: Tensor[]): Tensor => {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const rows = parts.reduce((n, t) => n + (t.shape[0] ?? 0), 0);
  const Ctor = first.data.constructor as new (length: number) => TensorData;
  const data = new Ctor(parts.reduce((n, t) => n + t.data.length, 0));
  let offset = 0;
  for (const part of parts) {
    (data as unknown as { set(src: ArrayLike<unknown>, at: number): void }).set(part.data as ArrayLike<unknown>, offset);
    offset += part.data.length;
  }
  return { ...first, shape: [rows, ...first.shape.slice(1)], data };
};

const sliceRows = (tensor: Tensor, start: number, rows: number): Tensor => {
  const total = tensor.shape[0] ?? 0;
  if (start === 0 && rows === total) return tensor;
  const perRow = total === 0 ? 0 : tensor.data.length / total;
  return { ...tensor, shape: [rows, ...tensor.shape.slice(1)], data: tensor.data.slice(start * perRow, (start + rows) * perRow) as TensorData };
};
