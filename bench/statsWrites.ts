/**
 * `node --import tsx bench/statsWrites.ts [--products 200]`: what the catalog statistics' counters
 * (`STATS#…`, catalogStats.ts) add to a merge's writes, measured on the embedded stack's dynalite
 * with `ReturnConsumedCapacity: TOTAL` on every write the merges send (a benchmark, not a test).
 * Each product goes through four merges: new (an image and product.json tagged by the first model
 * versions), its image re-tagged by a new image model version, its text pending after a failed
 * message, a human correction. Per step: calls and write capacity units of the product item's Put,
 * of the index items (attribute and listing), of the facet counters and of the statistics
 * counters; and the product item's Put once more without its `stats` field (written to a scratch
 * key), so "before" is the merge as it was without the statistics, measured, not estimated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { loadModelSet } from '../functions/shared/ingest/config.js';
import { normalizeSequencer } from '../functions/shared/products/keys.js';
import { ProductStore } from '../functions/shared/products/productStore.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/handlerEnv.js';
import { startStack } from '../local/stack.js';

const ROOT = resolve(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'models/artifacts/fixtures');
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const PRODUCTS = Number(arg('products', '200'));
const VENDORS = ['acme', 'bazaar', 'loomhouse', 'maison'];
const STEPS = ['new product', 'image re-tagged (new version)', 'text pending (failed message)', 'human correction'] as const;
type Step = (typeof STEPS)[number];
type Part = 'product' | 'productWithoutStats' | 'index' | 'facets' | 'stats';
const PARTS: readonly Part[] = ['product', 'productWithoutStats', 'index', 'facets', 'stats'];

interface Tally {
  calls: number;
  units: number;
}

const distribution = (labels: readonly string[], pick: number, peak: number): Record<string, number> => {
  const rest = (1 - peak) / (labels.length - 1);
  return Object.fromEntries(labels.map((l, i) => [l, i === pick ? peak : rest]));
};

const main = async (): Promise<void> => {
  const home = mkdtempSync(join(tmpdir(), 'weft-bench-stats-'));
  const ack = async () => ({ batchItemFailures: [] });
  const stack = await startStack({ home, modelsDir: FIXTURES, quiet: true, handlers: { image: ack, text: ack } });
  const raw = new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const models = loadModelSet(FIXTURES);
    const base = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const tallies = new Map<Step, Map<Part, Tally>>(STEPS.map((s) => [s, new Map(PARTS.map((p) => [p, { calls: 0, units: 0 }]))]));
    let measuring: Step | undefined;
    const record = (part: Part, units: number | undefined) => {
      const tally = tallies.get(measuring!)!.get(part)!;
      tally.calls += 1;
      tally.units += units ?? 0;
    };
    // Every write of a merge asks for its consumed capacity, classified by the key it writes.
    const client = Object.assign(Object.create(base) as DynamoDBDocumentClient, {
      send: async (command: { input: Record<string, any> }, ...rest: unknown[]) => {
        const write = command instanceof PutCommand || command instanceof UpdateCommand;
        if (!write || measuring === undefined) return (base.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
        command.input.ReturnConsumedCapacity = 'TOTAL';
        const result = (await (base.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest)) as { ConsumedCapacity?: { CapacityUnits?: number } };
        const key = (command instanceof PutCommand ? command.input.Item : command.input.Key) as Record<string, unknown>;
        const pk = String(key.pk);
        const sk = String(key.sk);
        if (pk.startsWith('STATS#')) record('stats', result.ConsumedCapacity?.CapacityUnits);
        else if (pk.startsWith('FACETS#')) record('facets', result.ConsumedCapacity?.CapacityUnits);
        else if (sk === 'PRODUCT') {
          record('product', result.ConsumedCapacity?.CapacityUnits);
          // The same item as the merge wrote it without the statistics, to a scratch key.
          // Same size as the real one but for `stats`: the GSI keys keep their lengths, out of the listing's partitions.
          const { stats: _stats, ...item } = key;
          const scratch = { ...item, pk: `BENCH#${pk}`.slice(0, pk.length).padEnd(pk.length, '#'), ...(typeof item.gsi1pk === 'string' ? { gsi1pk: 'Z'.repeat(item.gsi1pk.length) } : {}) };
          const before = await base.send(new PutCommand({ TableName: stack.tableName, Item: scratch, ReturnConsumedCapacity: 'TOTAL' }));
          record('productWithoutStats', before.ConsumedCapacity?.CapacityUnits);
          await base.send(new DeleteCommand({ TableName: stack.tableName, Key: { pk: scratch.pk, sk } }));
        } else record('index', result.ConsumedCapacity?.CapacityUnits);
        return result;
      },
    });
    const store = new ProductStore({ client, tableName: stack.tableName, catalog: models.catalog, ensemble: models.ensemble });
    const tasks = Object.entries(models.catalog);
    let sequence = 0;
    const seq = () => normalizeSequencer((++sequence).toString(16).padStart(10, '0'));
    const merge = async (step: Step, vendor: string, productId: string) => {
      measuring = step;
      try {
        await store.merge(vendor, productId);
      } finally {
        measuring = undefined;
      }
    };
    for (let n = 0; n < PRODUCTS; n += 1) {
      const vendor = VENDORS[n % VENDORS.length]!;
      const productId = `P-${String(n).padStart(6, '0')}`;
      const key = `${vendor}/${productId}`;
      const predictions = (shift: number) => Object.fromEntries(tasks.map(([task, labels], t) => [task, distribution(labels, (n * (t + 3) + t) % labels.length, 0.4 + (((n * 7919 + t * 104729 + shift) % 550) / 1000))]));
      await store.completeSource({ vendor, productId, kind: 'image', name: 'front.jpg' }, seq(), { status: 'tagged', predictions: predictions(0), modelVersion: 'weft-image@1', views: ['downsampled', 'center'], weight: 1 }, `${key}/images/front.jpg`);
      await store.completeSource({ vendor, productId, kind: 'text' }, seq(), { status: 'tagged', predictions: predictions(0), modelVersion: 'weft-text@1', text: `Product ${n}`, document: JSON.stringify({ title: `Product ${n}` }) }, `${key}/product.json`);
      await merge('new product', vendor, productId);
      await store.completeSource({ vendor, productId, kind: 'image', name: 'front.jpg' }, seq(), { status: 'tagged', predictions: predictions(37), modelVersion: 'weft-image@2', views: ['downsampled', 'center'], weight: 1 }, `${key}/images/front.jpg`);
      await merge('image re-tagged (new version)', vendor, productId);
      await store.beginSource({ vendor, productId, kind: 'text' }, seq(), `${key}/product.json`, { code: 'endpoint_unavailable', message: 'model endpoint unavailable', attempt: 1 });
      await merge('text pending (failed message)', vendor, productId);
      await store.putCorrection(vendor, productId, tasks[0]![0], tasks[0]![1][0]!);
      await merge('human correction', vendor, productId);
    }
    const perProduct = (t: Tally) => ({ calls: Math.round((t.calls / PRODUCTS) * 100) / 100, units: Math.round((t.units / PRODUCTS) * 100) / 100 });
    const report = Object.fromEntries(
      STEPS.map((step) => {
        const parts = tallies.get(step)!;
        const sum = (names: readonly Part[]) => names.reduce((s, p) => s + parts.get(p)!.units, 0) / PRODUCTS;
        const calls = (names: readonly Part[]) => Math.round((names.reduce((s, p) => s + parts.get(p)!.calls, 0) / PRODUCTS) * 100) / 100;
        return [
          step,
          {
            ...Object.fromEntries(PARTS.map((p) => [p, perProduct(parts.get(p)!)])),
            before: { calls: calls(['productWithoutStats', 'index', 'facets']), units: Math.round(sum(['productWithoutStats', 'index', 'facets']) * 100) / 100 },
            after: { calls: calls(['product', 'index', 'facets', 'stats']), units: Math.round(sum(['product', 'index', 'facets', 'stats']) * 100) / 100 },
          },
        ];
      }),
    );
    console.log(JSON.stringify({ products: PRODUCTS, tasks: tasks.length, perMerge: report }, null, 2));
  } finally {
    raw.destroy();
    await stack.stop();
    rmSync(home, { recursive: true, force: true });
  }
};

await main();
