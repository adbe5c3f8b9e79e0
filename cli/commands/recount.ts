/**
 * `weft recount [--dry-run] [--settle S] [--table T | --endpoint URL]`: recounts every facet
 * counter of the console's listing and every counter of the catalog statistics (`GET /stats`)
 * from the listed product items and corrects the counters that drifted (a merge that died between
 * its product write and its counter ADDs leaves one off by one for good). Prints each correction
 * as `facet value: stored → counted` (statistics: `stats {vendor} status tagged: …`,
 * `stats {vendor} image model {version}: …`). Queries only, no Scan, and
 * safe beside live ingest: a difference is corrected only when two reads `--settle` seconds apart
 * agree, by a conditional ADD of the difference (functions/shared/products/facetRecount.ts).
 *
 * A command of its own rather than an option of `weft reindex`: it merges nothing, needs no
 * models, and reads through the index instead of scanning the table.
 *
 * Target: the local stack's DynamoDB by default, as `weft export`.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { describeError } from '../../functions/shared/errors.js';
import { CatalogIndex } from '../../functions/shared/products/catalogIndex.js';
import { DEFAULT_SETTLE_MS, recountFacets, type FacetFix } from '../../functions/shared/products/facetRecount.js';
import { dynamoTarget } from './export.js';

interface Options {
  table?: string;
  endpoint?: string;
  settle: string;
  dryRun?: boolean;
  concurrency: string;
}

const line = (fix: FacetFix): string => `${fix.facet} ${fix.value}: ${fix.stored} → ${fix.counted}`;

const run = async (opts: Options): Promise<number> => {
  const settle = Number(opts.settle);
  if (!Number.isFinite(settle) || settle < 0 || settle > 600) {
    console.error('weft recount: --settle must be a number of seconds from 0 to 600');
    return 2;
  }
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    console.error('weft recount: --concurrency must be an integer from 1 to 64');
    return 2;
  }
  const target = dynamoTarget(opts);
  const client = DynamoDBDocumentClient.from(target.client);
  const started = Date.now();
  try {
    const report = await recountFacets({
      client,
      tableName: target.tableName,
      index: new CatalogIndex(client, target.tableName),
      settleMs: settle * 1000,
      concurrency,
      dryRun: opts.dryRun ?? false,
    });
    const verb = report.dryRun ? 'would fix' : 'fixed';
    const leftAlone = '(changed while recounting: left alone, run again when ingest is quiet)';
    for (const fix of report.fixed) console.log(`${verb} ${line(fix)}`);
    for (const fix of report.stats.fixed) console.log(`${verb} stats ${line(fix)}`);
    for (const fix of report.moving) console.log(`moving ${line(fix)} ${leftAlone}`);
    for (const fix of report.stats.moving) console.log(`moving stats ${line(fix)} ${leftAlone}`);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const statsOff = report.stats.fixed.length + report.stats.moving.length > 0;
    const moving = report.moving.length + report.stats.moving.length;
    console.log(
      `recounted ${report.products} products of ${report.vendors} vendors (${report.counters + report.stats.counters} counters) in ${target.description}: ` +
        (report.fixed.length === 0 && moving === 0 && !statsOff
          ? 'every count exact'
          : `${report.fixed.length} facet values${statsOff ? ` and ${report.stats.fixed.length} statistics values` : ''} ${report.dryRun ? 'to fix' : `fixed (${report.writes} counter items written)`}, ${moving} moving`) +
        ` (${seconds} s)`,
    );
    return 0;
  } catch (error) {
    const hint = target.local ? ' Is the local stack running (npm start)?' : '';
    console.error(`weft recount: ${describeError(error) || (error as Error).message}.${hint}`);
    return 1;
  } finally {
    target.client.destroy();
  }
};

export function register(program: Command): void {
  program
    .command('recount')
    .description('recount the facet counters and the catalog statistics from the listed products and correct those that drifted')
    .option('--dry-run', 'print what would be corrected, write nothing')
    .option('--settle <seconds>', 'wait between the two reads that must agree before a counter is corrected', String(DEFAULT_SETTLE_MS / 1000))
    .option('--concurrency <n>', "vendors' partitions read at once", '4')
    .option('--table <name>', 'a DynamoDB table in AWS (default: the local stack)')
    .option('--endpoint <url>', 'another DynamoDB endpoint')
    .action(async (opts: Options) => {
      process.exitCode = await run(opts);
    });
}
