/**
 * Served throughput of a model folder in the local model server's own runtime (`OnnxModel`,
 * onnxruntime-node on the CPU): images (rows) per second with one intra-op thread, i.e. per core,
 * at several batch sizes, for the image model and, where the folder has one, the garment detector
 * (measured in the same run, so their ratio is what the detector adds per image). The inputs are random tensors of the manifest's shapes; cost does not
 * depend on pixel values. Run: `npx tsx bench/modelThroughput.ts [--models DIR] [--json out.json]`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelsDir } from '../functions/shared/manifest.js';
import type { Tensor } from '../functions/shared/inference/triton.js';
import { OnnxModel } from '../local/modelServer/OnnxModel.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const randomInputs = (model: OnnxModel, rows: number): Tensor[] =>
  model.manifest.inputs.map((spec) => {
    const shape = spec.shape.map((d) => (d < 0 ? rows : d));
    const size = shape.reduce((a, b) => a * b, 1);
    if (spec.datatype !== 'UINT8') throw new Error(`bench/modelThroughput: only UINT8 image inputs are generated, got ${spec.name}`);
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
    return { name: spec.name, datatype: spec.datatype, shape, data };
  });

/** Rows per second for `batch`-row runs, over at least `minMs` after one warm-up run. */
const rowsPerSecond = async (model: OnnxModel, batch: number, minMs = 3000): Promise<number> => {
  const inputs = randomInputs(model, batch);
  await model.infer(inputs);
  let rows = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    await model.infer(inputs);
    rows += batch;
  }
  return (rows * 1000) / (performance.now() - start);
};

const measure = async (file: string): Promise<{ model: string; imagesPerSecondPerCore: Record<string, number> }> => {
  const model = await OnnxModel.load(file, { threads: 1, batchDelayMs: 0 });
  const results: Record<string, number> = {};
  for (const batch of [1, 8, 32]) {
    results[`batch${batch}`] = Math.round((await rowsPerSecond(model, batch)) * 10) / 10;
  }
  await model.close();
  return { model: `${model.manifest.name}@${model.manifest.version}`, imagesPerSecondPerCore: results };
};

const main = async (): Promise<void> => {
  const dir = arg('--models') ?? resolveModelsDir();
  const image = await measure(join(dir, 'image', 'manifest.json'));
  const detectorFile = join(dir, 'detector', 'manifest.json');
  const detector = existsSync(detectorFile) ? await measure(detectorFile) : undefined;
  const report = { ...image, threads: 1, ...(detector ? { detector } : {}) };
  console.log(JSON.stringify(report, null, 2));
  const out = arg('--json');
  if (out) writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
};

await main();
