/**
 * The local stack (fixture models, ephemeral ports, a temporary home) with something behind every
 * list: a few sample products ingested through S3 and the real handlers, one upload that fits no
 * product (a rejection) and human corrections made through the API, spread over the labels.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { loadModelSet } from '../../../functions/shared/ingest/config.js';
import { startStack, type RunningStack } from '../../../local/stack.js';

const ROOT = resolve(import.meta.dirname, '../../..');
export const FIXTURE_MODELS = join(ROOT, 'models/artifacts/fixtures');

export interface SeededStack {
  stack: RunningStack;
  /** vendor/productId of the sample products. */
  products: string[];
  stop(): Promise<void>;
}

/** The first `perVendor` sample products of every vendor of samples/catalog. */
const sampleSubset = (perVendor: number): string => {
  const source = join(ROOT, 'samples/catalog');
  const target = mkdtempSync(join(tmpdir(), 'weft-samples-'));
  for (const vendor of readdirSync(source).filter((v) => !v.startsWith('.')).sort()) {
    for (const product of readdirSync(join(source, vendor)).sort().slice(0, perVendor)) cpSync(join(source, vendor, product), join(target, vendor, product), { recursive: true });
  }
  return target;
};

export const startSeededStack = async ({ perVendor = 2 }: { perVendor?: number } = {}): Promise<SeededStack> => {
  const home = mkdtempSync(join(tmpdir(), 'weft-contract-'));
  const samplesDir = sampleSubset(perVendor);
  const stack = await startStack({ home, modelsDir: FIXTURE_MODELS, ingestSamples: true, samplesDir, quiet: true });
  try {
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'stray-upload.jpg', Body: 'not in the layout' }));
    await stack.dispatcher.idle();
    const products = readdirSync(samplesDir)
      .sort()
      .flatMap((vendor) => readdirSync(join(samplesDir, vendor)).sort().map((id) => `${vendor}/${id}`));
    // Corrections spread over the labels, so that most (task, label) lists have a product on them.
    for (const [task, labels] of Object.entries(loadModelSet(FIXTURE_MODELS).catalog)) {
      for (const [i, product] of products.entries()) {
        const response = await fetch(`${stack.urls.api}/products/${product}/attributes/${task}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value: labels[i % labels.length] }),
        });
        if (response.status !== 200) throw new Error(`seeding a correction failed: ${response.status} ${await response.text()}`);
      }
    }
    return {
      stack,
      products,
      stop: async () => {
        await stack.stop();
        rmSync(home, { recursive: true, force: true });
        rmSync(samplesDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stack.stop();
    throw error;
  }
};
