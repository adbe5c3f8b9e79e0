/**
 * `weft retag` against the real local stack (s3rver, dynalite, model server, dispatcher, the real
 * handlers; fixture models copied to a temporary folder): four products are uploaded and tagged,
 * the stack is restarted on the same home with a models folder whose image model has another
 * version (what the stack then considers deployed), and one more product is uploaded and tagged at
 * that version. `weft retag --stale-only` re-tags exactly the image sources of the first four —
 * not their text, not the fifth product — and a second run finds nothing stale; `--missing-only`
 * finds the one object whose source item was deleted from the table, and a second run none.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productPk } from '../../functions/shared/products/keys.js';
import { RECONCILE_SEQUENCER } from '../../functions/shared/retag/selection.js';
import { startStack, type RunningStack } from '../../local/stack.js';
import { runWeft } from './support/runCommand.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = resolve(ROOT, 'models/artifacts/fixtures');
const SAMPLES = resolve(ROOT, 'samples/catalog');

interface Product {
  vendor: string;
  productId: string;
}
/** Source items of a product by sort key: what the re-tag reads and writes. */
type Sources = Record<string, { seq?: string; status?: string; modelVersion?: string; updatedAt?: string }>;

/** Image file names of a sample product. */
const imagesOf = ({ vendor, productId }: Product): string[] => readdirSync(join(SAMPLES, vendor, productId, 'images')).sort();
const count = (products: readonly Product[]) => products.reduce((n, p) => n + imagesOf(p).length, 0);
/** The fixture image model declares three views: each image has three derived views under derived/. */
const VIEWS = 3;

const samples = (vendor: string, count: number): Product[] =>
  readdirSync(join(SAMPLES, vendor))
    .filter((id) => !id.startsWith('.'))
    .sort()
    .slice(0, count)
    .map((productId) => ({ vendor, productId }));

/** A models folder the stack serves: the fixtures, with the image model's manifest version set to `version` when given. */
const modelsFolder = (dir: string, imageVersion?: string): string => {
  cpSync(FIXTURES, dir, { recursive: true, filter: (src) => !src.includes('image-two-views') });
  // The fixtures share the artifacts' taxonomy mapping (their parent's); a copy takes it along.
  cpSync(resolve(ROOT, 'models/artifacts/taxonomy.json'), join(dir, 'taxonomy.json'));
  if (imageVersion) {
    const file = join(dir, 'image/manifest.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), version: imageVersion }, null, 2));
  }
  return dir;
};

describe('weft retag on the local stack', () => {
  let home: string;
  let stack: RunningStack;
  let ddb: DynamoDBDocumentClient;
  const before = samples('loomhouse', 4);
  const after = samples('northwind', 1);
  let imageBefore: string;
  let imageDeployed: string;
  let textVersion: string;

  const weft = (args: string[]) => runWeft(['retag', ...args, '--api', stack.urls.api, '--s3', stack.urls.s3, '--batch-size', '3']);

  const upload = async (products: readonly Product[]) => {
    for (const { vendor, productId } of products) {
      const dir = join(SAMPLES, vendor, productId);
      const files = [...readdirSync(join(dir, 'images')).map((name) => `images/${name}`), 'product.json'];
      for (const file of files) await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `${vendor}/${productId}/${file}`, Body: readFileSync(join(dir, file)) }));
    }
    await stack.dispatcher.idle();
  };

  const sources = async ({ vendor, productId }: Product): Promise<Sources> => {
    const page = await ddb.send(new QueryCommand({ TableName: stack.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :src)', ExpressionAttributeValues: { ':pk': productPk(vendor, productId), ':src': 'SRC#' }, ConsistentRead: true }));
    return Object.fromEntries((page.Items ?? []).map((item) => [item.sk as string, { seq: item.seq, status: item.status, modelVersion: item.modelVersion, updatedAt: item.updatedAt }]));
  };
  const allSources = async (products: readonly Product[]) => Object.fromEntries(await Promise.all(products.map(async (p) => [`${p.vendor}/${p.productId}`, await sources(p)] as const)));

  const start = async (modelsDir: string) => {
    stack = await startStack({ home: join(home, 'state'), modelsDir, quiet: true });
    ddb?.destroy();
    ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-retag-stack-'));
    const earlier = modelsFolder(join(home, 'models-earlier'));
    const version = (dir: string, modality: string) => {
      const manifest = JSON.parse(readFileSync(join(dir, modality, 'manifest.json'), 'utf8')) as { name: string; version: string };
      return `${manifest.name}@${manifest.version}`;
    };
    imageBefore = version(earlier, 'image');
    textVersion = version(earlier, 'text');
    await start(earlier);
    await upload(before);
    await stack.stop();

    // The same home, now serving an image model of another version: what the stack considers deployed.
    const deployed = modelsFolder(join(home, 'models-deployed'), `${JSON.parse(readFileSync(join(earlier, 'image/manifest.json'), 'utf8')).version}.retag`);
    imageDeployed = version(deployed, 'image');
    await start(deployed);
    await upload(after);
  }, 300_000);

  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('tagged the first products with the earlier image model and the later one with the deployed', async () => {
    expect(imageDeployed).not.toBe(imageBefore);
    for (const product of before) {
      const found = await sources(product);
      for (const name of imagesOf(product)) expect(found[`SRC#image#${name}`]).toMatchObject({ status: 'tagged', modelVersion: imageBefore });
      expect(found['SRC#text']).toMatchObject({ status: 'tagged', modelVersion: textVersion });
    }
    for (const name of imagesOf(after[0]!)) expect((await sources(after[0]!))[`SRC#image#${name}`]).toMatchObject({ status: 'tagged', modelVersion: imageDeployed });
  });

  it('--stale-only re-tags exactly the stale image sources, and a second run finds none', async () => {
    const earlier = await allSources([...before, ...after]);
    const run = await weft(['--stale-only']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const all = [...before, ...after];
    const [stale, images] = [count(before), count(all)];
    const summary = (queued: number, states: string) => `listed ${images * (1 + VIEWS) + all.length} keys; queued ${queued} (image ${queued}, text 0); sources: ${states}; not sources: ${images * VIEWS} derived`;
    expect(lines[0]).toBe(summary(stale, `${stale} stale, ${all.length + count(after)} current`));
    expect(lines[1]).toBe(`re-tagged ${stale} of ${stale} queued sources in ${lines[1]!.match(/in (\d+\.\d) s$/)?.[1]} s`);
    expect(run.stderr).toMatch(/weft retag: stale sources on the local stack/);
    expect(run.stderr).toContain(`tagging: ${stale}/${stale} items, 0 failed`);

    const now = await allSources([...before, ...after]);
    for (const product of before) {
      const id = `${product.vendor}/${product.productId}`;
      for (const name of imagesOf(product)) {
        // Each image source: the same upload (sequencer kept), now at the deployed version.
        expect(now[id]![`SRC#image#${name}`]).toMatchObject({ status: 'tagged', modelVersion: imageDeployed, seq: earlier[id]![`SRC#image#${name}`]!.seq });
        expect(now[id]![`SRC#image#${name}`]!.updatedAt).not.toBe(earlier[id]![`SRC#image#${name}`]!.updatedAt);
      }
      // Its text and rules sources were current: untouched.
      expect(now[id]!['SRC#text']).toEqual(earlier[id]!['SRC#text']);
      expect(now[id]!['SRC#rules']).toEqual(earlier[id]!['SRC#rules']);
    }
    const later = `${after[0]!.vendor}/${after[0]!.productId}`;
    expect(now[later]).toEqual(earlier[later]);
    const view = (await (await fetch(`${stack.urls.api}/products/${before[0]!.vendor}/${before[0]!.productId}`)).json()) as { modelVersions: Record<string, string> };
    expect(view.modelVersions).toEqual({ image: imageDeployed, text: textVersion });

    const again = await weft(['--stale-only']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual([summary(0, `${images + all.length} current`), expect.stringMatching(/^re-tagged 0 of 0 queued sources in \d+\.\d s$/)]);
    expect(await allSources([...before, ...after])).toEqual(now);
  });

  it('--missing-only finds the object whose source item was deleted from the table, and a second run none', async () => {
    const lost = before[1]!;
    const image = imagesOf(lost)[0]!;
    await ddb.send(new DeleteCommand({ TableName: stack.tableName, Key: { pk: productPk(lost.vendor, lost.productId), sk: `SRC#image#${image}` } }));
    const earlier = await allSources([...before, ...after]);

    const run = await weft(['--missing-only', '--vendor', lost.vendor]);
    expect(run.code, run.stderr).toBe(0);
    const loom = before.filter((p) => p.vendor === lost.vendor);
    expect(run.stdout.trim().split('\n')[0]).toBe(`listed ${count(loom) + loom.length} keys; queued 1 (image 1, text 0); sources: 1 missing, ${count(loom) + loom.length - 1} current`);
    const restored = await sources(lost);
    expect(restored[`SRC#image#${image}`]).toMatchObject({ status: 'tagged', modelVersion: imageDeployed, seq: RECONCILE_SEQUENCER });
    const now = await allSources([...before, ...after]);
    for (const product of [...before, ...after].filter((p) => p !== lost)) expect(now[`${product.vendor}/${product.productId}`]).toEqual(earlier[`${product.vendor}/${product.productId}`]);
    expect(((await (await fetch(`${stack.urls.api}/products/${lost.vendor}/${lost.productId}`)).json()) as { images: unknown[] }).images).toHaveLength(imagesOf(lost).length);

    const again = await weft(['--missing-only']);
    expect(again.code, again.stderr).toBe(0);
    const all = [...before, ...after];
    expect(again.stdout.trim().split('\n')[0]).toBe(`listed ${count(all) * (1 + VIEWS) + all.length} keys; queued 0 (image 0, text 0); sources: ${count(all) + all.length} current; not sources: ${count(all) * VIEWS} derived`);
  });

  it('refuses AWS-only options locally and reports a stack that is not there', async () => {
    const status = await weft(['--status', 'arn:aws:states:us-east-1:1:execution:m:e']);
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/on AWS/);
    const gone = await runWeft(['retag', '--api', 'http://127.0.0.1:9', '--s3', 'http://127.0.0.1:9']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach the local stack/);
  });
});
