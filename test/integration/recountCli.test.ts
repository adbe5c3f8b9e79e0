/**
 * `weft recount` against the running local stack (dynalite behind the real handlers): the sample
 * catalog ingested through S3 (fixture models) and one correction made through the API, then
 * facet counters skewed by direct UpdateItems. One recount restores counts that are exactly what
 * the listed products say (checked against every product the API lists), printing each fix as
 * `facet value: stored → counted`; a second run changes no counter item.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { FACET_SHARDS, facetPk, facetShard } from '../../functions/shared/products/catalogIndex.js';
import { histogramBin, HISTOGRAM_BINS } from '../../functions/shared/products/listing.js';
import { startStack, type RunningStack } from '../../local/stack.js';
import { runWeft } from './support/runCommand.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = resolve(ROOT, 'models/artifacts/fixtures');
/** The sample catalog's products and vendors, from its ground truth (what `npm start` ingests). */
const SAMPLE_TRUTH = readFileSync(resolve(ROOT, 'samples/catalog/.ground-truth.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { vendor: string });
const SAMPLES = SAMPLE_TRUTH.length;
const SAMPLE_VENDORS = new Set(SAMPLE_TRUTH.map((t) => t.vendor)).size;

interface Summary {
  vendor: string;
  productId: string;
  status: string;
  attributes: Record<string, { value: string | null; confidence: number; corrected: boolean }>;
}
interface Facets {
  products: number;
  vendors: Record<string, number>;
  status: Record<string, number>;
  values: Record<string, Record<string, number>>;
  abstained: Record<string, number>;
  confidence: Record<string, number[]>;
}

/** The facets the listed products imply, in the API's shape (zero counts left out, empty histograms too). */
const facetsOf = (products: readonly Summary[]): Facets => {
  const facets: Facets = { products: products.length, vendors: {}, status: {}, values: {}, abstained: {}, confidence: {} };
  const inc = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
  for (const p of products) {
    inc(facets.vendors, p.vendor);
    inc(facets.status, p.status);
    for (const [task, a] of Object.entries(p.attributes)) {
      if (a.value === null) inc(facets.abstained, task);
      else inc((facets.values[task] ??= {}), a.value);
      if (!a.corrected) (facets.confidence[task] ??= Array.from({ length: HISTOGRAM_BINS }, () => 0))[histogramBin(a.confidence)]! += 1;
    }
  }
  return facets;
};
const withoutEmptyHistograms = (facets: Facets): Facets => ({ ...facets, confidence: Object.fromEntries(Object.entries(facets.confidence).filter(([, bins]) => bins.some((n) => n > 0))) });

describe('weft recount on the local stack', () => {
  let home: string;
  let stack: RunningStack;
  let ddb: DynamoDBDocumentClient;

  const weft = (args: string[]) => runWeft(args, { WEFT_DYNAMODB_PORT: new URL(stack.urls.dynamodb).port });

  /** Every listed product (following the cursor) and the facets of the first page. */
  const listing = async (): Promise<{ products: Summary[]; facets: Facets }> => {
    const products: Summary[] = [];
    let facets: Facets | undefined;
    let cursor: string | undefined;
    do {
      const page = (await (await fetch(`${stack.urls.api}/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: Summary[]; nextCursor?: string; facets: Facets };
      products.push(...page.items);
      facets ??= page.facets;
      cursor = page.nextCursor;
    } while (cursor);
    return { products, facets: facets! };
  };

  const counterItems = async (): Promise<string> => {
    const shards = await Promise.all(
      Array.from({ length: FACET_SHARDS }, async (_, shard) => (await ddb.send(new QueryCommand({ TableName: stack.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': facetPk(shard) }, ConsistentRead: true }))).Items ?? []),
    );
    return JSON.stringify(shards);
  };

  const add = (shard: number, membership: string, delta: number) =>
    ddb.send(new UpdateCommand({ TableName: stack.tableName, Key: { pk: facetPk(shard), sk: membership }, UpdateExpression: 'ADD #count :delta', ExpressionAttributeNames: { '#count': 'count' }, ExpressionAttributeValues: { ':delta': delta } }));

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-recount-stack-'));
    stack = await startStack({ home: join(home, 'state'), modelsDir: FIXTURES, ingestSamples: true, quiet: true });
    await stack.dispatcher.idle();
    ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
    // One product corrected by a person: its task counts in the value, not in the confidence histogram.
    const [first] = (await listing()).products;
    const [task, labels] = Object.entries(loadModelSet(FIXTURES).catalog)[0]!;
    const response = await fetch(`${stack.urls.api}/products/${first!.vendor}/${first!.productId}/attributes/${task}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: labels[0] }),
    });
    if (response.status !== 200) throw new Error(`correction failed: ${response.status} ${await response.text()}`);
  }, 300_000);

  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('finds the counts of an ordinary ingest exact', async () => {
    const { products, facets } = await listing();
    expect(products).toHaveLength(SAMPLES);
    expect(withoutEmptyHistograms(facets)).toEqual(facetsOf(products));
    const run = await weft(['recount', '--settle', '0.2']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^recounted ${SAMPLES} products of ${SAMPLE_VENDORS} vendors \\(\\d+ counters\\) in table weft-products on the local stack \\(http://127\\.0\\.0\\.1:\\d+\\): every count exact \\(\\d+\\.\\d s\\)\\n$`));
  });

  it('restores the exact counts after counters were skewed by direct UpdateItems, and a second run changes nothing', async () => {
    const { products } = await listing();
    const truth = facetsOf(products);
    const product = products.find((p) => Object.values(p.attributes).some((a) => a.value !== null && !a.corrected))!;
    const [task, attribute] = Object.entries(product.attributes).find(([, a]) => a.value !== null && !a.corrected)!;
    const label = attribute.value!;
    const shard = facetShard(product.vendor, product.productId);
    await add(shard, `value#${task}#${label}`, 2);
    await add(shard, `vendor#${product.vendor}`, -1);
    await add((shard + 3) % FACET_SHARDS, 'status#error', 1);
    const skewed = (await listing()).facets;
    expect(skewed.values[task]![label]).toBe(truth.values[task]![label]! + 2);
    expect(skewed.vendors[product.vendor]).toBe(truth.vendors[product.vendor]! - 1);

    const run = await weft(['recount', '--settle', '0.2']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.slice(0, -1)).toEqual([
      `fixed status error: ${(truth.status.error ?? 0) + 1} → ${truth.status.error ?? 0}`,
      `fixed ${task} ${label}: ${truth.values[task]![label]! + 2} → ${truth.values[task]![label]}`,
      `fixed vendor ${product.vendor}: ${truth.vendors[product.vendor]! - 1} → ${truth.vendors[product.vendor]}`,
    ]);
    expect(lines.at(-1)).toMatch(new RegExp(`^recounted ${SAMPLES} products of ${SAMPLE_VENDORS} vendors \\(\\d+ counters\\) in table weft-products on the local stack .*: 3 facet values fixed \\(3 counter items written\\), 0 moving \\(\\d+\\.\\d s\\)$`));
    expect(withoutEmptyHistograms((await listing()).facets)).toEqual(truth);

    const settled = await counterItems();
    const again = await weft(['recount', '--settle', '0.2']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/every count exact/);
    expect(await counterItems()).toBe(settled);
  });
});
