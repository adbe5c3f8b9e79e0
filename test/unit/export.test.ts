/**
 * Exports of the sample catalog against golden files. The table is dynalite holding the sample
 * products as the pipeline would leave them: a text source per product whose predictions put the
 * product's true labels first (a task its ground truth lacks, such as material on a catalog product
 * or category on a material product, gets a label picked by position) with a confidence that varies from product to product, the vendor's
 * color name from its product.json (normalized by the real normalizer), a human correction on two
 * products. Set WEFT_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeColor } from '../../functions/shared/color/normalizeColor.js';
import { GOOGLE_LIMITS, type ExportFormat } from '../../functions/shared/export/formats.js';
import { runExport } from '../../functions/shared/export/runExport.js';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { GOOGLE_COLOR_LIMITS } from '../../functions/shared/taxonomy/colors.js';
import { loadTaxonomy } from '../../functions/shared/taxonomy/loadTaxonomy.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SAMPLES = join(ROOT, 'samples/catalog');
const GOLDEN = join(ROOT, 'test/data/export-golden');
const MODELS = join(ROOT, 'models/artifacts/fixtures');
const UPDATE = process.env.WEFT_UPDATE_GOLDEN === '1';

const models = loadModelSet(MODELS);
const silent = { warn: () => {}, error: () => {} };
const taxonomy = loadTaxonomy(MODELS, models.catalog, silent)!;
const ensemble = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0 }, tasks: { color: { weights: { text: 1 }, threshold: 0.6 } } });

let table: TestTable;
let store: ProductStore;
let dir: string;

interface Truth {
  vendor: string;
  productId: string;
  labels: Record<string, string>;
}

/** The true label first with confidence `p`, the rest of the task's labels sharing 1 - p. */
const distribution = (labels: readonly string[], truth: string, p: number): Record<string, number> =>
  Object.fromEntries(labels.map((l) => [l, l === truth ? p : (1 - p) / (labels.length - 1)]));

const truths = readFileSync(join(SAMPLES, '.ground-truth.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Truth);
const SAMPLE_COUNT = truths.length;

const seed = async (): Promise<void> => {
  const seq = normalizeSequencer('01');
  for (const [i, truth] of truths.entries()) {
    const document = JSON.parse(readFileSync(join(SAMPLES, truth.vendor, truth.productId, 'product.json'), 'utf8')) as { title: string; color?: string };
    const predictions = Object.fromEntries(Object.entries(models.catalog).map(([task, labels], t) => [task, distribution(labels, truth.labels[task] ?? labels[(i + t) % labels.length]!, 0.45 + ((i + 3 * t) % 11) * 0.05)]));
    const vendorColor = document.color ? { raw: document.color, normalized: normalizeColor(document.color).normalized } : undefined;
    await store.putSource({ vendor: truth.vendor, productId: truth.productId, kind: 'text' }, seq, `${truth.vendor}/${truth.productId}/product.json`, {
      status: 'tagged',
      predictions,
      modelVersion: 'weft-text@golden',
      text: document.title,
      ...(vendorColor ? { vendorColor } : {}),
    });
    if (i === 0) await store.putCorrection(truth.vendor, truth.productId, 'pattern', 'striped');
    if (i === 1) await store.putCorrection(truth.vendor, truth.productId, 'color', 'purple');
    await store.merge(truth.vendor, truth.productId);
  }
};

beforeAll(async () => {
  table = await startTestTable('weft-export-test');
  store = new ProductStore({ client: table.client, tableName: table.tableName, catalog: models.catalog, ensemble, now: () => new Date('2026-11-28T12:00:00.000Z') });
  await seed();
  dir = mkdtempSync(join(tmpdir(), 'weft-export-'));
  if (UPDATE) mkdirSync(GOLDEN, { recursive: true });
});

afterAll(async () => {
  await table?.stop();
});

/** The mapping's attribute tasks with a Google Merchant Center field that these models serve, in mapping order. */
const googleTasks = () =>
  taxonomy.tasks().flatMap((t) => (t.target === 'attribute' && t.googleField !== undefined && Object.hasOwn(models.catalog, t.name) ? [{ ...t, googleField: t.googleField }] : []));

const GOLDEN_FILES: Record<ExportFormat, string> = { jsonl: 'sample-catalog.jsonl', csv: 'sample-catalog.csv', google: 'sample-catalog.google.tsv', shopify: 'sample-catalog.shopify.csv' };

const exportTo = async (format: ExportFormat, extra: Partial<Parameters<typeof runExport>[0]> = {}) => {
  const out = join(dir, `${format}-${Math.random().toString(36).slice(2)}`);
  const summary = await runExport({ client: table.client, tableName: table.tableName, store, format, out, catalog: models.catalog, taxonomy, minConfidence: 0.5, googleId: '{productId}', segments: 1, ...extra });
  return { out, text: readFileSync(out, 'utf8'), summary };
};

const lines = (text: string) => text.replace(/\n$/, '').split('\n');

describe('weft export on the sample catalog', () => {
  it.each(Object.keys(GOLDEN_FILES) as ExportFormat[])('writes %s as the golden file has it', async (format) => {
    const { text, summary } = await exportTo(format);
    const golden = join(GOLDEN, GOLDEN_FILES[format]);
    if (UPDATE) writeFileSync(golden, text);
    expect(text, `${golden}: rerun with WEFT_UPDATE_GOLDEN=1 after an intended change (the sample catalog is re-drawn when models/ rebuilds it)`).toBe(readFileSync(golden, 'utf8'));
    expect(summary.products).toBe(SAMPLE_COUNT);
  });

  it('reads the same products with parallel Scan segments, and one vendor alone', async () => {
    const one = await exportTo('csv');
    const parallel = await exportTo('csv', { segments: 7, pageSize: 5 });
    expect(lines(parallel.text).sort()).toEqual(lines(one.text).sort());
    const vendor = await exportTo('csv', { vendor: 'loomhouse' });
    const rows = lines(vendor.text).slice(1);
    expect(rows.length).toBe(readdirSync(join(SAMPLES, 'loomhouse')).length);
    expect(rows.every((r) => r.startsWith('loomhouse,'))).toBe(true);
  });

  it('keeps the Google feed within Google\'s field limits, with category ids the mapping derived', async () => {
    const { text } = await exportTo('google', { minConfidence: 0 });
    const [header, ...rows] = lines(text);
    // One column per attribute task of the mapping that has a Google field and that the models serve.
    const columns = ['id', 'google_product_category', ...googleTasks().map((t) => t.googleField)];
    expect(header).toBe(columns.join('\t'));
    expect(columns).toEqual(expect.arrayContaining(['color', 'pattern']));
    const colorColumn = columns.indexOf(googleTasks().find((t) => t.vendorColor)!.googleField);
    const googleIds = new Set(taxonomy.mapping.entries.flatMap((e) => ('google' in e && e.google ? [e.google.id] : [])));
    expect(rows.length).toBe(SAMPLE_COUNT);
    for (const row of rows) {
      const cells = row.split('\t');
      expect(cells).toHaveLength(columns.length);
      const [id, category] = cells as [string, string];
      const color = cells[colorColumn]!;
      expect(id.length).toBeGreaterThan(0);
      expect(id.length).toBeLessThanOrEqual(GOOGLE_LIMITS.id);
      expect(googleIds.has(category), `category ${category}`).toBe(true);
      expect(color.length).toBeLessThanOrEqual(GOOGLE_COLOR_LIMITS.total);
      const colors = color === '' ? [] : color.split('/');
      expect(colors.length).toBeLessThanOrEqual(GOOGLE_COLOR_LIMITS.colors);
      for (const c of colors) expect(c.length, c).toBeLessThanOrEqual(GOOGLE_COLOR_LIMITS.perColor);
      expect(color).not.toMatch(/multi|assorted|various/i);
      for (const [i, cell] of cells.entries()) if (i > 1 && i !== colorColumn) expect(cell.length, `${columns[i]}: ${cell}`).toBeLessThanOrEqual(GOOGLE_LIMITS.default);
    }
  });

  it('leaves low-confidence attributes empty and lets human corrections through at any minimum', async () => {
    const { text } = await exportTo('csv', { minConfidence: 0.99 });
    const [header, ...rows] = lines(text).map((l) => l.split(','));
    const col = (name: string) => header!.indexOf(name);
    const corrected = rows.find((r) => r[col('pattern_source')] === 'human')!;
    expect(corrected[col('pattern')]).toBe('striped');
    expect(corrected[col('pattern_confidence')]).toBe('1.0000');
    expect(rows.filter((r) => r[col('category')] !== '')).toEqual([]);
    const google = await exportTo('google', { minConfidence: 0.99 });
    const [feedHeader, ...feedRows] = lines(google.text);
    const feed = feedRows.map((l) => l.split('\t'));
    const colorColumn = feedHeader!.split('\t').indexOf(googleTasks().find((t) => t.vendorColor)!.googleField);
    // Category and the other attributes only where a human said so; color otherwise only the vendor's own name.
    expect(feed.filter((r) => r.some((cell, i) => i > 0 && i !== colorColumn && cell !== '')), JSON.stringify(feed)).toHaveLength(1);
    const vendorNames = new Set(rows.map((r) => r[col('vendor_color')]));
    const withColor = rows.filter((r) => r[col('google_color')] !== '');
    expect(withColor.length).toBeGreaterThan(0);
    for (const r of withColor) expect(r[col('google_color_from')] === 'vendor' ? vendorNames.has(r[col('google_color')]) : r[col('color_source')] === 'human').toBe(true);
    expect(google.summary.skipped.nothing_to_say).toBe(SAMPLE_COUNT - feed.length);
  });

  it('skips a product whose Google id would break the 50-character limit, by name', async () => {
    const { summary, text } = await exportTo('google', { googleId: '{vendor}-{productId}-{vendor}-{productId}' });
    expect(summary.skipped.id_too_long).toBeGreaterThan(0);
    expect(summary.examples[0]).toMatch(/^[a-z-]+\/[A-Z0-9-]+: id_too_long: ".*" has \d+ characters, Google allows 50$/);
    for (const row of lines(text).slice(1)) expect(row.split('\t')[0]!.length).toBeLessThanOrEqual(50);
  });

  it('never leaves a half file: a failed export removes its partial output', async () => {
    const out = join(dir, 'missing-folder', 'feed.tsv');
    await expect(exportTo('google', { out })).rejects.toThrow(/ENOENT.*missing-folder/);
    const failing = join(dir, 'failing.tsv');
    await expect(exportTo('google', { out: failing, tableName: 'no-such-table' })).rejects.toThrow(/ResourceNotFound|non-existent|not found/i);
    expect(existsSync(failing)).toBe(false);
    expect(existsSync(`${failing}.partial`)).toBe(false);
  });
});

describe('weft export (command line)', () => {
  const weft = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
        cwd: ROOT,
        env: { ...process.env, WEFT_MODELS_DIR: MODELS, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('writes the Google feed and the Shopify file from a table named on the command line', async () => {
    for (const format of ['google', 'shopify'] as const) {
      const out = join(dir, `cli.${format}`);
      const result = await weft(['export', '--format', format, '--endpoint', table.endpoint, '--table', table.tableName, '--min-confidence', '0.5', '--segments', '1', '--out', out]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`exported \\d+ of ${SAMPLE_COUNT} products from table ${table.tableName} at ${table.endpoint} to ${out} \\(${format}\\)`));
      expect(result.stdout).toContain('taxonomy: Shopify 2026-08, Google 2021-09-21');
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(GOLDEN, GOLDEN_FILES[format]), 'utf8'));
    }
  });

  it('refuses bad options by name and says when the table cannot be reached', async () => {
    expect(await weft(['export', '--format', 'xml', '--out', join(dir, 'x')])).toMatchObject({ code: 2, stderr: expect.stringContaining('--format must be one of jsonl, csv, google, shopify') });
    expect(await weft(['export', '--format', 'csv', '--min-confidence', '2', '--out', join(dir, 'x')])).toMatchObject({ code: 2, stderr: expect.stringContaining('--min-confidence must be a number from 0 to 1') });
    const down = await weft(['export', '--format', 'csv', '--endpoint', 'http://127.0.0.1:9', '--out', join(dir, 'x')], { AWS_MAX_ATTEMPTS: '1' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot read table weft-products at http:\/\/127\.0\.0\.1:9: .*Is the local stack running \(npm start\)\?/);
  });
});
