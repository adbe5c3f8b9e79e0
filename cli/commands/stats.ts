/**
 * `weft stats [--vendor V] [--api URL] [--json]`: the catalog's staleness view from `GET /stats` —
 * products per status, per model version of each modality (the deployed manifest's version
 * marked, and how many products are on another one) and per vendor — as a table, or the API's JSON
 * with `--json`. Through the client typed from the OpenAPI document (cli/api/client.ts), the local
 * stack by default.
 */
import type { Command } from 'commander';
import type { components } from '../../clients/typescript/openapi.js';
import { ApiCallError, apiClient, defaultApiUrl, ok } from '../api/client.js';

export type CatalogStats = components['schemas']['CatalogStats'];
type ModelVersionCounts = components['schemas']['ModelVersionCounts'];

const STATUS_ORDER = ['tagged', 'pending', 'error'];

/** Label column left-aligned, counts right-aligned, one table per section with a blank line between. */
const table = (title: string, rows: readonly (readonly [string, number])[]): string[] => {
  const width = Math.max(title.length, ...rows.map(([label]) => label.length));
  const digits = Math.max('products'.length, ...rows.map(([, n]) => String(n).length));
  return [`${title.padEnd(width)}  ${'products'.padStart(digits)}`, ...rows.map(([label, n]) => `${label.padEnd(width)}  ${String(n).padStart(digits)}`)];
};

const modelRows = (modality: string, counts: ModelVersionCounts): (readonly [string, number])[] => {
  const rows: [string, number][] = [];
  const versions = Object.entries(counts.versions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (counts.deployed !== undefined && !Object.hasOwn(counts.versions, counts.deployed)) versions.unshift([counts.deployed, 0]);
  for (const [version, n] of versions) rows.push([`  ${version}${version === counts.deployed ? '  (deployed)' : ''}`, n]);
  if (counts.mixed > 0) rows.push(['  several versions (mixed)', counts.mixed]);
  rows.push([`  no tagged ${modality} source`, counts.none]);
  rows.push([counts.deployed === undefined ? '  stale (no model deployed)' : `  stale: not on ${counts.deployed}`, counts.stale]);
  return rows;
};

/** The readable form of a `GET /stats` answer. */
export const formatStats = (stats: CatalogStats): string => {
  const status = Object.entries(stats.status).sort(([a], [b]) => STATUS_ORDER.indexOf(a) - STATUS_ORDER.indexOf(b));
  const sections = [
    table(stats.vendor === undefined ? 'status' : `status (vendor ${stats.vendor})`, [...status.map(([s, n]) => [s, n] as const), ['total', stats.products]]),
    ...Object.entries(stats.models).map(([modality, counts]) => table(`${modality} model version`, modelRows(modality, counts))),
    table(
      'vendor',
      Object.entries(stats.vendors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
  ];
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
};

interface Options {
  api: string;
  vendor?: string;
  json?: boolean;
}

export const register = (program: Command): void => {
  program
    .command('stats')
    .description('products per status, per model version of each modality (stale ones against the deployed models) and per vendor')
    .option('--vendor <vendor>', 'only this vendor')
    .option('--json', 'the API’s JSON instead of the table')
    .option('--api <url>', 'API base URL (default $WEFT_API_URL, else the local stack)', defaultApiUrl())
    .action(async (opts: Options) => {
      try {
        const stats = ok(await apiClient(opts.api).GET('/stats', { params: { query: opts.vendor === undefined ? {} : { vendor: opts.vendor } } }));
        process.stdout.write(opts.json ? `${JSON.stringify(stats)}\n` : formatStats(stats));
      } catch (error) {
        const reason = error instanceof ApiCallError ? error.message : `cannot reach ${opts.api} (${(error as Error).message})`;
        console.error(`weft stats: ${reason}`);
        process.exitCode = 1;
      }
    });
};
