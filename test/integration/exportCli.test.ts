/**
 * `weft export` against the running local stack, as a catalog team runs it: products uploaded to
 * the local bucket and tagged by the pipeline (fixture models), then exported by the command with
 * its default target (the stack's DynamoDB port). The JSONL lines are what the API answers for the
 * same products; the Google feed and the Shopify file name the taxonomy ids the API shows.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../../local/stack.js';
import { runWeft } from './support/runCommand.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = resolve(ROOT, 'models/artifacts/fixtures');

describe('weft export on the local stack', () => {
  let home: string;
  let stack: RunningStack;

  const weft = (args: string[]) => runWeft(args, { WEFT_MODELS_DIR: FIXTURES, WEFT_DYNAMODB_PORT: new URL(stack.urls.dynamodb).port });

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-export-stack-'));
    stack = await startStack({ home: join(home, 'state'), modelsDir: FIXTURES, quiet: true });
    const products = [
      { id: 'tee-1', title: 'Striped cotton tee', color: 'Toasted Walnut', rgb: '#6b4a2f' },
      { id: 'dress-2', title: 'Navy midi dress', color: 'Navy', rgb: '#1f2a55' },
    ];
    for (const p of products) {
      const image = await sharp({ create: { width: 300, height: 360, channels: 3, background: p.rgb } }).jpeg().toBuffer();
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `shop/${p.id}/images/front.jpg`, Body: image }));
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `shop/${p.id}/product.json`, Body: JSON.stringify({ title: p.title, color: p.color }) }));
    }
    await stack.dispatcher.idle();
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('writes JSONL lines that are what the API answers for each product', async () => {
    const out = join(home, 'catalog.jsonl');
    const run = await weft(['export', '--format', 'jsonl', '--vendor', 'shop', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/exported 2 of 2 products of shop from table weft-products on the local stack \(http:\/\/127\.0\.0\.1:\d+\)/);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { vendor: string; productId: string });
    expect(lines.map((l) => l.productId).sort()).toEqual(['dress-2', 'tee-1']);
    for (const line of lines) {
      const api = await (await fetch(`${stack.urls.api}/products/${line.vendor}/${line.productId}`)).json();
      expect(line).toEqual(api);
    }
  });

  it('writes a Google feed and a Shopify file with the ids the API shows', async () => {
    const google = join(home, 'feed.tsv');
    const shopify = join(home, 'shopify.csv');
    expect((await weft(['export', '--format', 'google', '--out', google])).code).toBe(0);
    expect((await weft(['export', '--format', 'shopify', '--out', shopify])).code).toBe(0);
    const feed = new Map(readFileSync(google, 'utf8').trim().split('\n').slice(1).map((row) => [row.split('\t')[0]!, row.split('\t')]));
    const bulk = new Map(readFileSync(shopify, 'utf8').trim().split('\n').slice(1).map((row) => [row.split(',')[1]!, row.split(',')]));
    for (const id of ['tee-1', 'dress-2']) {
      const api = (await (await fetch(`${stack.urls.api}/products/shop/${id}`)).json()) as any;
      const category = api.attributes.category;
      if (feed.has(id)) {
        expect(feed.get(id)![1]).toBe(category.value === null ? '' : category.taxonomy.google.id);
        expect(feed.get(id)![2]).toBe(api.colors.google?.value ?? '');
      }
      if (bulk.has(id)) expect(bulk.get(id)![2]).toBe(category.value === null ? '' : category.taxonomy.shopify.id);
    }
    // The vendor's own names reach Google: both are color names within Google's limits.
    expect([...feed.values()].map((r) => r[2]).sort()).toEqual(['Navy', 'Toasted Walnut']);
  });

  it('says which table it could not read', async () => {
    mkdirSync(join(home, 'x'), { recursive: true });
    writeFileSync(join(home, 'x', 'keep'), '');
    const run = await weft(['export', '--format', 'csv', '--endpoint', stack.urls.dynamodb, '--table', 'no-such-table', '--out', join(home, 'x', 'out.csv')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot read table no-such-table at http:\/\/127\.0\.0\.1:\d+: /);
  });
});
