/**
 * `weft reindex [--vendor V] [--table T | --endpoint URL]`: merges every product again so each has
 * the index items, listing entries and facet counts of the current item design — run it once after
 * upgrading a table that holds products merged by an earlier version (they would otherwise reach
 * the console's listing and counts only when they next change). Safe beside live ingest.
 *
 * Target: the local stack's DynamoDB by default, as `weft export`.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { describeError } from '../../functions/shared/errors.js';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { ID_PATTERN } from '../../functions/shared/layout.js';
import { resolveModelsDir } from '../../functions/shared/manifest.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { reindexCatalog } from '../../functions/shared/products/reindex.js';
import { dynamoTarget } from './export.js';

interface Options {
  vendor?: string;
  table?: string;
  endpoint?: string;
  concurrency: string;
  modelsDir?: string;
}

const run = async (opts: Options): Promise<number> => {
  if (opts.vendor !== undefined && !ID_PATTERN.test(opts.vendor)) {
    console.error(`weft reindex: invalid vendor "${opts.vendor}": must match ${ID_PATTERN.source}`);
    return 2;
  }
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    console.error('weft reindex: --concurrency must be an integer from 1 to 256');
    return 2;
  }
  const models = loadModelSet(opts.modelsDir ?? resolveModelsDir());
  const target = dynamoTarget(opts);
  const client = DynamoDBDocumentClient.from(target.client);
  const store = new ProductStore({ client, tableName: target.tableName, catalog: models.catalog, ensemble: models.ensemble });
  const started = Date.now();
  try {
    const summary = await reindexCatalog({
      client,
      tableName: target.tableName,
      store,
      concurrency,
      ...(opts.vendor ? { vendor: opts.vendor } : {}),
      onProgress: (p) => {
        if (process.stderr.isTTY && p.products % 100 === 0) process.stderr.write(`\rreindex: ${p.products} products, ${p.rewritten} rewritten`);
      },
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    console.log(
      `reindexed ${summary.products} products${opts.vendor ? ` of ${opts.vendor}` : ''} in ${target.description}: ${summary.rewritten} rewritten, ` +
        `${summary.products - summary.rewritten - summary.failed} already current, ${summary.failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    for (const failure of summary.failures) console.error(`failed ${failure}`);
    return summary.failed > 0 ? 1 : 0;
  } catch (error) {
    const hint = target.local ? ' Is the local stack running (npm start)?' : '';
    console.error(`weft reindex: ${describeError(error) || (error as Error).message}.${hint}`);
    return 1;
  } finally {
    target.client.destroy();
  }
};

export function register(program: Command): void {
  program
    .command('reindex')
    .description("merge every product again so it has the current design's index items, listing entries and facet counts")
    .option('--vendor <vendor>', 'only this vendor')
    .option('--table <name>', 'a DynamoDB table in AWS (default: the local stack)')
    .option('--endpoint <url>', 'another DynamoDB endpoint')
    .option('--concurrency <n>', 'merges at once', '8')
    .option('--models-dir <dir>', 'models folder (tasks, labels, ensemble); default WEFT_MODELS_DIR, trained artifacts, fixtures')
    .action(async (opts: Options) => {
      process.exitCode = await run(opts);
    });
}
