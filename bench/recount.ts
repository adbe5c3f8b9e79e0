/**
 * `node --import tsx bench/recount.ts [--samples | --products 2000] [--runs 3]`: how long
 * `weft recount` takes on the embedded stack (a benchmark, not a test). The catalog is either the
 * sample catalog ingested through S3 and the real handlers (`--samples`, fixture models) or
 * `--products` products written straight through the product store as `bench/console.ts` writes
 * them. Then, each `--runs` times: a recount of exact counters (one read of everything, no
 * writes), and a recount after three counters were skewed by direct UpdateItems (both reads and
 * three conditional ADDs; the settle interval set to 0, so the figure is the work alone — add
 * `--settle`, 10 s by default, for the command's wall time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { loadModelSet } from '../functions/shared/ingest/config.js';
import { facetPk } from '../functions/shared/products/catalogIndex.js';
import { recountFacets } from '../functions/shared/products/facetRecount.js';
import { normalizeSequencer } from '../functions/shared/products/keys.js';
import { ProductStore } from '../functions/shared/products/productStore.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/handlerEnv.js';
import { startStack } from '../local/stack.js';
import { summarize } from './stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'models/artifacts/fixtures');
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const SAMPLES = process.argv.includes('--samples');
const PRODUCTS = Number(arg('products', '2000'));
const RUNS = Number(arg('runs', '3'));
const VENDORS = ['acme', 'bazaar', 'loomhouse', 'maison', 'northwind', 'quickshop', 'urban', 'zeta'];
const log = (message: string) => console.error(`[bench:recount] ${message}`);

const distribution = (labels: readonly string[], pick: number, peak: number): Record<string, number> => {
  const rest = (1 - peak) / (labels.length - 1);
  return Object.fromEntries(labels.map((l, i) => [l, i === pick ? peak : rest]));
};

const main = async (): Promise<void> => {
  const home = mkdtempSync(join(tmpdir(), 'weft-bench-recount-'));
  const ack = async () => ({ batchItemFailures: [] });
  const stack = await startStack({ home, modelsDir: FIXTURES, quiet: true, ...(SAMPLES ? { ingestSamples: true } : { handlers: { image: ack, text: ack } }) });
  const raw = new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const models = loadModelSet(FIXTURES);
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const store = new ProductStore({ client, tableName: stack.tableName, catalog: models.catalog, ensemble: models.ensemble });
    const seeded = performance.now();
    if (SAMPLES) await stack.dispatcher.idle();
    else {
      const tasks = Object.entries(models.catalog);
      const seq = normalizeSequencer('0000000001');
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < PRODUCTS) {
            const n = next++;
            const vendor = VENDORS[n % VENDORS.length]!;
            const productId = `P-${String(n).padStart(6, '0')}`;
            const predictions = Object.fromEntries(tasks.map(([task, labels], t) => [task, distribution(labels, (n * (t + 3) + t) % labels.length, 0.35 + (((n * 7919 + t * 104729) % 600) / 1000))]));
            const key = `${vendor}/${productId}`;
            await store.completeSource({ vendor, productId, kind: 'image', name: 'front.jpg' }, seq, { status: 'tagged', predictions, views: ['downsampled', 'center'], weight: 1 }, `${key}/images/front.jpg`);
            await store.completeSource({ vendor, productId, kind: 'text' }, seq, { status: 'tagged', predictions, text: `Product ${n}`, document: JSON.stringify({ title: `Product ${n}` }) }, `${key}/product.json`);
            await store.merge(vendor, productId);
            if (n > 0 && n % 1000 === 0) log(`${n} products written`);
          }
        }),
      );
    }
    log(`catalog ready in ${((performance.now() - seeded) / 1000).toFixed(0)} s`);

    const recount = () => recountFacets({ client, tableName: stack.tableName, index: store.catalogIndex, settleMs: 0 });
    const clean: number[] = [];
    const fixing: number[] = [];
    let products = 0;
    let counters = 0;
    for (let run = 0; run < RUNS; run += 1) {
      let started = performance.now();
      const exact = await recount();
      clean.push(performance.now() - started);
      if (exact.fixed.length > 0 || exact.moving.length > 0) throw new Error(`expected exact counts, found ${JSON.stringify(exact.fixed)}`);
      ({ products, counters } = exact);
      const [first] = [...(await store.catalogIndex.readShardCounters({ consistent: true })).entries()].filter(([, c]) => c.size > 0);
      const memberships = [...first![1].keys()].slice(0, 3);
      for (const membership of memberships) {
        await client.send(new UpdateCommand({ TableName: stack.tableName, Key: { pk: facetPk(first![0]), sk: membership }, UpdateExpression: 'ADD #c :d', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':d': 2 } }));
      }
      started = performance.now();
      const fixed = await recount();
      fixing.push(performance.now() - started);
      if (fixed.writes !== memberships.length) throw new Error(`expected ${memberships.length} corrections, got ${fixed.writes}`);
    }
    console.log(JSON.stringify({ catalog: SAMPLES ? 'samples' : 'written', products, counters, exactMs: summarize(clean), withThreeFixesMs: summarize(fixing) }, null, 2));
  } finally {
    raw.destroy();
    await stack.stop();
    rmSync(home, { recursive: true, force: true });
  }
};

await main();
