/**
 * `weft stats` against the running local stack (fixture models, ephemeral ports): sample products
 * ingested through S3 and the real handlers, then a second image of one product, a product whose
 * only image is refused (status error) and a product.json deleted. `weft stats --json` (and
 * `--vendor`) must say exactly what the API lists product by product — status, vendor, and per
 * modality the model version of the product's tagged sources against the deployed one — and the
 * table marks the deployed versions.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSeededStack, type SeededStack } from './support/seededStack.js';
import { runWeft } from './support/runCommand.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface ModelVersionCounts {
  deployed?: string;
  versions: Record<string, number>;
  mixed: number;
  stale: number;
  none: number;
}
interface Stats {
  vendor?: string;
  products: number;
  status: Record<string, number>;
  models: { image: ModelVersionCounts; text: ModelVersionCounts };
  vendors: Record<string, number>;
}
interface ProductView {
  vendor: string;
  productId: string;
  images: { status: string }[];
  text: { status: string };
  modelVersions: Record<string, string>;
}

const weft = (args: string[]) => runWeft(args);

describe('weft stats on the local stack', () => {
  let seeded: SeededStack;
  let api: string;

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${api}${path}`);
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };

  /** The statistics as the API's own answers imply them: every listed product, read one by one. */
  const fromProducts = async (vendor?: string): Promise<Stats> => {
    const listed: { vendor: string; productId: string; status: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await get<{ items: typeof listed; nextCursor?: string }>(`/products?limit=100${vendor ? `&vendor=${vendor}` : ''}${cursor ? `&cursor=${cursor}` : ''}`);
      listed.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    const { modelVersions: deployed } = await get<{ modelVersions: Record<string, string> }>('/tasks');
    const blank = (modality: string): ModelVersionCounts => ({ ...(deployed[modality] ? { deployed: deployed[modality] } : {}), versions: {}, mixed: 0, stale: 0, none: 0 });
    const stats: Stats = { ...(vendor ? { vendor } : {}), products: listed.length, status: {}, models: { image: blank('image'), text: blank('text') }, vendors: {} };
    for (const item of listed) {
      stats.status[item.status] = (stats.status[item.status] ?? 0) + 1;
      stats.vendors[item.vendor] = (stats.vendors[item.vendor] ?? 0) + 1;
      const product = await get<ProductView>(`/products/${item.vendor}/${item.productId}`);
      const tagged = { image: product.images.some((i) => i.status === 'tagged'), text: product.text.status === 'tagged' };
      for (const modality of ['image', 'text'] as const) {
        const counts = stats.models[modality];
        // One model version per modality on this stack: the product's is the one its tagged sources record.
        const version = tagged[modality] ? product.modelVersions[modality] : undefined;
        if (version === undefined) counts.none += 1;
        else {
          counts.versions[version] = (counts.versions[version] ?? 0) + 1;
          if (version !== counts.deployed) counts.stale += 1;
        }
      }
    }
    return stats;
  };

  beforeAll(async () => {
    seeded = await startSeededStack({ perVendor: 1 });
    api = seeded.stack.urls.api;
    const { s3, bucket } = seeded.stack;
    const [withSecondImage, withoutText] = seeded.products;
    // A second image of one product (same model version: the product stays on it).
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${withSecondImage}/images/side.jpg`, Body: readFileSync(join(ROOT, 'samples/catalog', withSecondImage!, 'images/front.jpg')) }));
    // A product whose only image is refused for good: status error, no tagged source at all.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'northwind/BROKEN-1/images/front.jpg', Body: 'not a picture' }));
    // A product.json deleted: that product keeps its image, and leaves the text counts.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${withoutText}/product.json` }));
    await seeded.stack.dispatcher.idle();
  }, 300_000);

  afterAll(async () => {
    await seeded?.stop();
  });

  it('prints as JSON exactly what the API lists per product', async () => {
    const run = await weft(['stats', '--json', '--api', api]);
    expect(run.code, run.stderr).toBe(0);
    const stats = JSON.parse(run.stdout) as Stats;
    expect(stats).toEqual(await fromProducts());
    // What the scenario built: every status but pending, a product without text, one without any tagged source.
    expect(stats.products).toBe(seeded.products.length + 1);
    expect(stats.status.error).toBe(1);
    expect(stats.models.image).toMatchObject({ mixed: 0, stale: 0, none: 1 });
    expect(stats.models.text).toMatchObject({ mixed: 0, stale: 0, none: 2 });
    expect(Object.keys(stats.models.image.versions)).toEqual([stats.models.image.deployed]);
  });

  it('restricts to one vendor with --vendor', async () => {
    for (const vendor of ['northwind', seeded.products[1]!.split('/')[0]!]) {
      const run = await weft(['stats', '--vendor', vendor, '--json', '--api', api]);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual(await fromProducts(vendor));
    }
  });

  it('prints a table with the deployed versions marked and the stale counts', async () => {
    const stats = await fromProducts();
    const run = await weft(['stats', '--api', api]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^status\s+products$/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^total\\s+${stats.products}$`)));
    for (const modality of ['image', 'text'] as const) {
      const { deployed } = stats.models[modality];
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^  ${deployed!.replace(/[.+]/g, '\\$&')}  \\(deployed\\)\\s+${stats.models[modality].versions[deployed!]}$`)));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^  stale: not on ${deployed!.replace(/[.+]/g, '\\$&')}\\s+0$`)));
    }
    for (const [vendor, n] of Object.entries(stats.vendors)) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${vendor}\\s+${n}$`)));
  });

  it('reports an invalid vendor as the API answers it, with exit code 1', async () => {
    const run = await weft(['stats', '--vendor', 'no spaces', '--api', api]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^weft stats: 400 invalid vendor "no spaces"/);
  });
});
