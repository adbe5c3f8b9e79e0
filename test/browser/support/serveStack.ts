/**
 * The local stack the browser tests (and the screenshot script) open: ephemeral ports, a
 * temporary home, sample products ingested through S3 and the real handlers, one upload that fits
 * no product. Prints `READY {"api": …}` once every sample is tagged; SIGTERM stops it.
 *
 *   WEFT_MODELS_DIR      models folder (default: the fixtures, fast and untrained)
 *   WEFT_SAMPLES_PER_VENDOR  sample products per vendor (default 4: 24 products, enough for twenty in a queue)
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildConsole } from '../../../console/build.js';
import { startStack } from '../../../local/stack.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const perVendor = Number(process.env.WEFT_SAMPLES_PER_VENDOR ?? 4);
const modelsDir = process.env.WEFT_MODELS_DIR ?? join(ROOT, 'models/artifacts/fixtures');

const home = mkdtempSync(join(tmpdir(), 'weft-browser-'));
const samplesDir = mkdtempSync(join(tmpdir(), 'weft-browser-samples-'));
const source = join(ROOT, 'samples/catalog');
for (const vendor of readdirSync(source).filter((v) => !v.startsWith('.')).sort()) {
  for (const product of readdirSync(join(source, vendor)).sort().slice(0, perVendor)) cpSync(join(source, vendor, product), join(samplesDir, vendor, product), { recursive: true });
}

await buildConsole({ log: () => undefined });
const stack = await startStack({ home, modelsDir, ingestSamples: true, samplesDir, quiet: true });
await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'stray-upload.jpg', Body: 'not in the layout' }));
await stack.dispatcher.idle();

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(samplesDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
console.log(`READY ${JSON.stringify(stack.urls)}`);
