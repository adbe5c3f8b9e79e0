/**
 * `weft ingest` as a person runs it (a child process) against a running local stack: both folder
 * layouts, files outside the layout skipped with a reason, a summary, and a clear failure when the
 * endpoint is not there.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startStack, type RunningStack } from '../../local/stack.js';
import { runWeft } from './support/runCommand.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = resolve(ROOT, 'models/artifacts/fixtures');

const weft = (args: string[]) => runWeft(args);

const writeProduct = async (dir: string, title: string, images: string[]) => {
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'product.json'), JSON.stringify({ title }));
  for (const name of images) {
    await sharp({ create: { width: 256, height: 320, channels: 3, background: '#3355aa' } }).jpeg().toFile(join(dir, 'images', name));
  }
};

describe('weft ingest', () => {
  let home: string;
  let stack: RunningStack;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-ingest-'));
    stack = await startStack({ home: join(home, 'state'), modelsDir: FIXTURES, quiet: true });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const keys = async (prefix: string) =>
    ((await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key).sort();

  it('uploads <dir>/<productId>/... under --vendor and the products get tagged', async () => {
    const dir = join(home, 'flat');
    await writeProduct(join(dir, 'jacket-1'), 'Blue denim jacket', ['front.jpg', 'back.jpg']);
    await writeProduct(join(dir, 'jeans-2'), 'Slim jeans', ['a.jpg']);
    writeFileSync(join(dir, 'README.txt'), 'not part of the catalog');
    const run = await weft(['ingest', dir, '--vendor', 'denimco', '--endpoint', stack.urls.s3]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/uploaded 5 of 5 files .* for 2 products to s3:\/\/weft-uploads at http:\/\/127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/skipped 1 files outside the layout/);
    expect(run.stderr).toMatch(/skipped .*README\.txt: key must be/);
    expect(await keys('denimco/')).toEqual([
      'denimco/jacket-1/images/back.jpg',
      'denimco/jacket-1/images/front.jpg',
      'denimco/jacket-1/product.json',
      'denimco/jeans-2/images/a.jpg',
      'denimco/jeans-2/product.json',
    ]);
    await stack.dispatcher.idle();
    const product = (await (await fetch(`${stack.urls.api}/products/denimco/jacket-1`)).json()) as { images: { status: string }[]; text: { status: string } };
    expect(product.images.map((i) => i.status)).toEqual(['tagged', 'tagged']);
    expect(product.text.status).toBe('tagged');
  });

  it('takes <dir>/<vendor>/<productId>/... without --vendor', async () => {
    const dir = join(home, 'nested');
    await writeProduct(join(dir, 'vendor-a', 'p1'), 'Hat', ['x.jpg']);
    await writeProduct(join(dir, 'vendor-b', 'p2'), 'Scarf', ['y.jpg']);
    const run = await weft(['ingest', dir, '--endpoint', stack.urls.s3]);
    expect(run.code, run.stderr).toBe(0);
    expect(await keys('vendor-')).toEqual(['vendor-a/p1/images/x.jpg', 'vendor-a/p1/product.json', 'vendor-b/p2/images/y.jpg', 'vendor-b/p2/product.json']);
  });

  it('fails clearly when there is nothing to upload or no endpoint to upload to', async () => {
    const empty = join(home, 'empty');
    mkdirSync(empty);
    const nothing = await weft(['ingest', empty, '--vendor', 'v', '--endpoint', stack.urls.s3]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/nothing to upload .*expected <productId>\/\{product\.json,images\/\*\}/);

    const dir = join(home, 'flat');
    const down = await weft(['ingest', dir, '--vendor', 'v', '--endpoint', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach s3:\/\/weft-uploads at http:\/\/127\.0\.0\.1:9: .*Is the local stack running \(npm start\)\?/);

    const badVendor = await weft(['ingest', dir, '--vendor', 'no spaces']);
    expect(badVendor.code).toBe(2);
    expect(badVendor.stderr).toMatch(/invalid vendor "no spaces"/);
  });
});
