/**
 * `weft export --format jsonl|csv|google|shopify [--vendor V] [--min-confidence X] --out FILE`:
 * the whole catalog (or one vendor's) from the products table, streamed, with a progress bar.
 *
 * Target: the local stack's DynamoDB (http://127.0.0.1:$WEFT_DYNAMODB_PORT, table weft-products)
 * by default; `--table T` reads that table in AWS with the default credential chain; `--endpoint
 * URL` points at any other DynamoDB endpoint. Task names, labels and taxonomy ids come from the
 * models folder (WEFT_MODELS_DIR, else the trained artifacts, else the fixtures).
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { describeError } from '../../functions/shared/errors.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../functions/shared/export/formats.js';
import { runExport } from '../../functions/shared/export/runExport.js';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { ID_PATTERN } from '../../functions/shared/layout.js';
import { resolveModelsDir } from '../../functions/shared/manifest.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { loadTaxonomy } from '../../functions/shared/taxonomy/loadTaxonomy.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/handlerEnv.js';

interface ExportOptions {
  format: string;
  out: string;
  vendor?: string;
  minConfidence: string;
  table?: string;
  endpoint?: string;
  segments: string;
  googleId: string;
  modelsDir?: string;
  progress: boolean;
}

const LOCAL_TABLE = 'weft-products';

export interface DynamoTarget {
  client: DynamoDBClient;
  tableName: string;
  description: string;
  local: boolean;
}

export const dynamoTarget = (opts: { table?: string; endpoint?: string }): DynamoTarget => {
  if (opts.endpoint) {
    const isLocal = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(opts.endpoint);
    const tableName = opts.table ?? LOCAL_TABLE;
    return {
      client: new DynamoDBClient({ endpoint: opts.endpoint, region: process.env.AWS_REGION ?? LOCAL_REGION, ...(isLocal ? { credentials: LOCAL_CREDENTIALS } : {}) }),
      tableName,
      description: `table ${tableName} at ${opts.endpoint}`,
      local: isLocal,
    };
  }
  if (opts.table) return { client: new DynamoDBClient({}), tableName: opts.table, description: `table ${opts.table} (AWS)`, local: false };
  const endpoint = `http://127.0.0.1:${process.env.WEFT_DYNAMODB_PORT ?? 4567}`;
  return {
    client: new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    tableName: LOCAL_TABLE,
    description: `table ${LOCAL_TABLE} on the local stack (${endpoint})`,
    local: true,
  };
};

const fail = (message: string): number => {
  console.error(`weft export: ${message}`);
  return 2;
};

const run = async (opts: ExportOptions): Promise<number> => {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) return fail(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
  if (opts.vendor !== undefined && !ID_PATTERN.test(opts.vendor)) return fail(`invalid vendor "${opts.vendor}": must match ${ID_PATTERN.source}`);
  const minConfidence = Number(opts.minConfidence);
  if (!Number.isFinite(minConfidence) || minConfidence < 0 || minConfidence > 1) return fail('--min-confidence must be a number from 0 to 1');
  const segments = Number(opts.segments);
  if (!Number.isInteger(segments) || segments < 1 || segments > 1000) return fail('--segments must be an integer from 1 to 1000');

  const modelsDir = opts.modelsDir ?? resolveModelsDir();
  const models = loadModelSet(modelsDir);
  const taxonomy = loadTaxonomy(modelsDir, models.catalog, {
    warn: (message, extra) => console.error(`weft export: ${message} ${JSON.stringify(extra)}`),
    error: (message, extra) => console.error(`weft export: ${message} ${JSON.stringify(extra)}`),
  });
  if ((opts.format === 'google' || opts.format === 'shopify') && !taxonomy) return fail(`--format ${opts.format} needs the taxonomy mapping (taxonomy.json) of the models in ${modelsDir}`);

  const target = dynamoTarget(opts);
  let itemCount: number | undefined;
  try {
    itemCount = (await target.client.send(new DescribeTableCommand({ TableName: target.tableName }))).Table?.ItemCount;
  } catch (error) {
    target.client.destroy();
    const hint = target.local ? ' Is the local stack running (npm start)?' : '';
    console.error(`weft export: cannot read ${target.description}: ${describeError(error) || (error as Error).name}.${hint}`);
    return 1;
  }
  const client = DynamoDBDocumentClient.from(target.client);
  const store = new ProductStore({ client, tableName: target.tableName, catalog: models.catalog, ensemble: models.ensemble });

  // The bar counts items scanned against the table's item count (DynamoDB refreshes that about
  // every six hours, so in AWS it is an estimate); it goes to stderr and only to a terminal.
  const bar = new SingleBar(
    { format: 'exporting [{bar}] {percentage}% | {products} products, {written} written | {value} items scanned', hideCursor: true, clearOnComplete: false, noTTYOutput: false, stream: process.stderr },
    Presets.shades_classic,
  );
  const showBar = opts.progress && process.stderr.isTTY;
  if (showBar) bar.start(Math.max(itemCount ?? 1, 1), 0, { products: 0, written: 0 });
  const started = Date.now();
  try {
    const summary = await runExport({
      client,
      tableName: target.tableName,
      store,
      format: opts.format as ExportFormat,
      out: opts.out,
      catalog: models.catalog,
      taxonomy,
      minConfidence,
      googleId: opts.googleId,
      segments,
      ...(opts.vendor ? { vendor: opts.vendor } : {}),
      onProgress: (p) => {
        if (!showBar) return;
        if (p.scanned > bar.getTotal()) bar.setTotal(p.scanned);
        bar.update(p.scanned, { products: p.products, written: p.written });
      },
    });
    if (showBar) bar.stop();
    const skipped = Object.entries(summary.skipped).map(([code, n]) => `${n} ${code}`);
    console.log(
      `exported ${summary.written} of ${summary.products} products${opts.vendor ? ` of ${opts.vendor}` : ''} from ${target.description} to ${opts.out} (${opts.format}) in ${((Date.now() - started) / 1000).toFixed(1)} s` +
        (skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : ''),
    );
    for (const example of summary.examples) console.error(`skipped ${example}`);
    if (taxonomy) console.log(`taxonomy: Shopify ${taxonomy.release.version}, Google ${taxonomy.release.google}`);
    return 0;
  } catch (error) {
    if (showBar) bar.stop();
    console.error(`weft export: ${describeError(error) || (error as Error).message}`);
    return 1;
  } finally {
    target.client.destroy();
  }
};

export const register = (program: Command): void => {
  program
    .command('export')
    .description('write the catalog from the products table as jsonl (API shape), csv, a Google Merchant Center supplemental feed or a Shopify bulk-update file')
    .requiredOption('--format <format>', EXPORT_FORMATS.join('|'))
    .requiredOption('--out <file>', 'file to write (replaced only once the export is complete)')
    .option('--vendor <vendor>', 'only this vendor')
    .option('--min-confidence <x>', 'leave attributes below this confidence empty (0 to 1; human corrections count 1)', '0')
    .option('--table <name>', 'read this table in AWS (default: weft-products on the local stack)')
    .option('--endpoint <url>', 'DynamoDB endpoint to use instead (e.g. another local port)')
    .option('--segments <n>', 'parallel Scan segments', '4')
    .option('--google-id <template>', 'Google feed item id; {vendor} and {productId} are replaced (must match your primary feed)', '{productId}')
    .option('--models-dir <dir>', 'models folder with the manifests and taxonomy.json')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: ExportOptions) => {
      process.exitCode = await run(opts);
    });
};
