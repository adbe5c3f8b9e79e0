/**
 * `npm run bench:console [-- --products 10000 --requests 200 --json bench/results/console.json]`:
 * the console's figures on the embedded stack (a benchmark, not a test). Products are written
 * straight through the product store (two tagged sources each, then the merge that indexes and
 * counts them, as ingest would), then:
 *
 *   listing    GET /products with two attribute filters (answers carry the facet counts), p50/p95
 *              over sequential requests through the local API server; also unfiltered and the
 *              review queue for comparison
 *   bundle     the console's JavaScript, gzipped, as first loaded
 *   grid       Chromium: navigation to an interactive grid (cards shown, listing no longer busy)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chromium } from 'playwright-core';
import { buildConsole, CONSOLE_DIST } from '../console/build.js';
import { loadModelSet } from '../functions/shared/ingest/config.js';
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
const PRODUCTS = Number(arg('products', '10000'));
const REQUESTS = Number(arg('requests', '200'));
const JSON_OUT = arg('json', '');
const VENDORS = ['acme', 'bazaar', 'loomhouse', 'maison', 'northwind', 'quickshop', 'urban', 'zeta'];
const log = (message: string) => console.error(`[bench:console] ${message}`);

/** A deterministic pseudo-random distribution over `labels`, peaked at `pick`. */
const distribution = (labels: readonly string[], pick: number, peak: number): Record<string, number> => {
  const rest = (1 - peak) / (labels.length - 1);
  return Object.fromEntries(labels.map((l, i) => [l, i === pick ? peak : rest]));
};

const main = async (): Promise<void> => {
  await buildConsole({ log });
  const home = mkdtempSync(join(tmpdir(), 'weft-bench-console-'));
  const ack = async () => ({ batchItemFailures: [] });
  const stack = await startStack({ home, modelsDir: FIXTURES, quiet: true, handlers: { image: ack, text: ack } });
  try {
    const models = loadModelSet(FIXTURES);
    const raw = new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const store = new ProductStore({ client, tableName: stack.tableName, catalog: models.catalog, ensemble: models.ensemble });
    const tasks = Object.entries(models.catalog);

    const seeded = performance.now();
    let next = 0;
    const seq = normalizeSequencer('0000000001');
    const one = async (n: number): Promise<void> => {
      const vendor = VENDORS[n % VENDORS.length]!;
      const productId = `P-${String(n).padStart(6, '0')}`;
      // Labels and confidences spread deterministically, so filters match a few percent.
      const predictions = Object.fromEntries(tasks.map(([task, labels], t) => [task, distribution(labels, (n * (t + 3) + t) % labels.length, 0.35 + (((n * 7919 + t * 104729) % 600) / 1000))]));
      const key = `${vendor}/${productId}`;
      await store.completeSource({ vendor, productId, kind: 'image', name: 'front.jpg' }, seq, { status: 'tagged', predictions, views: ['downsampled', 'center'], weight: 1 }, `${key}/images/front.jpg`);
      await store.completeSource({ vendor, productId, kind: 'text' }, seq, { status: 'tagged', predictions, text: `Product ${n}`, document: JSON.stringify({ title: `Product ${n}` }) }, `${key}/product.json`);
      await store.merge(vendor, productId);
    };
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < PRODUCTS) {
          const n = next++;
          await one(n);
          if (n > 0 && n % 1000 === 0) log(`${n} products written`);
        }
      }),
    );
    const seedSeconds = (performance.now() - seeded) / 1000;
    log(`${PRODUCTS} products in ${seedSeconds.toFixed(0)} s`);

    const api = stack.urls.api;
    const timed = async (path: string): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < REQUESTS; i += 1) {
        const started = performance.now();
        const response = await fetch(`${api}${path}`);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
        ms.push(performance.now() - started);
      }
      return ms.slice(Math.min(10, Math.floor(REQUESTS / 10)));
    };
    const [[firstTask, firstLabels], [secondTask, secondLabels]] = tasks as [[string, readonly string[]], [string, readonly string[]]];
    const twoFilters = `/products?limit=50&attribute=${firstTask}:${firstLabels[0]}&attribute=${secondTask}:${secondLabels[1]}`;
    const probe = (await (await fetch(`${api}${twoFilters}`)).json()) as { items: unknown[]; facets: { products: number } };
    const listing = summarize(await timed(twoFilters));
    const unfiltered = summarize(await timed('/products?limit=50'));
    const review = summarize(await timed(`/review?task=${firstTask}&limit=25`));

    const assets = readdirSync(join(CONSOLE_DIST, 'assets'));
    const gzipped = (ext: string) => assets.filter((f) => f.endsWith(ext)).reduce((sum, f) => sum + gzipSync(readFileSync(join(CONSOLE_DIST, 'assets', f)), { level: 9 }).length, 0);
    const jsGzipBytes = gzipped('.js');
    const cssGzipBytes = gzipped('.css');

    const browser = await chromium.launch({ executablePath: process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    const grid: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      // A fresh context each time: nothing cached, as on a first visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${api}/`);
      await page.locator('.card').first().waitFor();
      await page.locator('.results[aria-busy="false"]').waitFor();
      grid.push(performance.now() - started);
      await context.close();
    }
    await browser.close();

    const report = {
      products: PRODUCTS,
      seedSeconds: Math.round(seedSeconds),
      facetsProducts: probe.facets.products,
      listingTwoFilters: { path: twoFilters, itemsOnFirstPage: probe.items.length, ms: listing },
      listingUnfiltered: { ms: unfiltered },
      reviewQueue: { ms: review },
      bundle: { jsGzipBytes, cssGzipBytes },
      timeToInteractiveGridMs: summarize(grid.slice(1)),
    };
    console.log(JSON.stringify(report, null, 2));
    if (JSON_OUT) {
      mkdirSync(dirname(resolve(JSON_OUT)), { recursive: true });
      writeFileSync(resolve(JSON_OUT), `${JSON.stringify(report, null, 2)}\n`);
    }
    raw.destroy();
  } finally {
    await stack.stop();
    rmSync(home, { recursive: true, force: true });
  }
};

await main();
