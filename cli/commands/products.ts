/**
 * Lookups and corrections through the HTTP API (local by default, any deployment with --api):
 *
 *   weft product <vendor>/<productId> [--jsonld]
 *   weft find <task> <value> [--vendor V] [--limit N] [--all]    one JSON match per line
 *   weft correct <vendor>/<productId> <task> <value> | --remove
 *   weft corrections [--since TIME] [--all]                      labeled examples as JSON lines
 *
 * Calls go through the client typed from the OpenAPI document (cli/api/client.ts).
 */
import type { Command } from 'commander';
import { ApiCallError, apiClient, defaultApiUrl, ok, productRef, type LabelName, type TaskName, type WeftApi } from '../api/client.js';

interface ApiOption {
  api: string;
}

const withApi = (command: Command): Command => command.option('--api <url>', 'API base URL (default $WEFT_API_URL, else the local stack)', defaultApiUrl());

const run = (name: string, action: (api: WeftApi) => Promise<void>, url: string): Promise<void> =>
  action(apiClient(url)).catch((error: unknown) => {
    const reason = error instanceof ApiCallError ? error.message : `cannot reach ${url} (${(error as Error).message})`;
    console.error(`weft ${name}: ${reason}`);
    process.exitCode = 1;
  });

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

/** Every page of a list (`--all`), or the first one. */
const pages = async <T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string }>, all: boolean, each: (item: T) => void): Promise<void> => {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    page.items.forEach(each);
    cursor = page.nextCursor;
  } while (all && cursor !== undefined);
};

const limitOf = (raw: string | undefined): number | undefined => (raw === undefined ? undefined : Number(raw));

export const register = (program: Command): void => {
  withApi(program.command('product').description('show one product: merged attributes, sources, taxonomy ids').argument('<vendor/productId>'))
    .option('--jsonld', 'schema.org Product JSON-LD instead')
    .action((ref: string, opts: ApiOption & { jsonld?: boolean }) =>
      run(
        'product',
        async (api) => {
          const path = productRef(ref);
          const result = await api.GET('/products/{vendor}/{productId}', { params: { path, ...(opts.jsonld ? { query: { format: 'jsonld' } } : {}) } });
          print(ok(result));
        },
        opts.api,
      ),
    );

  withApi(program.command('find').description('products whose merged value of <task> is <value>').argument('<task>').argument('<value>'))
    .option('--vendor <vendor>', 'only this vendor')
    .option('--limit <n>', 'items per page (1-100)')
    .option('--all', 'follow nextCursor to the last page')
    .action((task: string, value: string, opts: ApiOption & { vendor?: string; limit?: string; all?: boolean }) =>
      run(
        'find',
        (api) =>
          pages(
            async (cursor) =>
              ok(
                await api.GET('/attributes/{task}/{value}', {
                  params: {
                    // The deployment's manifests are the judge of names (404 for an unknown one).
                    path: { task: task as TaskName, value: value as LabelName },
                    query: { ...(opts.vendor ? { vendor: opts.vendor } : {}), ...(opts.limit ? { limit: limitOf(opts.limit) } : {}), ...(cursor ? { cursor } : {}) },
                  },
                }),
              ),
            opts.all ?? false,
            print,
          ),
        opts.api,
      ),
    );

  withApi(program.command('correct').description('set (or --remove) a human correction of one attribute').argument('<vendor/productId>').argument('<task>').argument('[value]'))
    .option('--remove', 'remove the correction instead')
    .action((ref: string, task: string, value: string | undefined, opts: ApiOption & { remove?: boolean }) =>
      run(
        'correct',
        async (api) => {
          const path = { ...productRef(ref), task: task as TaskName };
          if (opts.remove) {
            print(ok(await api.DELETE('/products/{vendor}/{productId}/attributes/{task}', { params: { path } })));
            return;
          }
          if (value === undefined) throw new ApiCallError(0, 'a value is needed (or --remove)');
          print(ok(await api.PUT('/products/{vendor}/{productId}/attributes/{task}', { params: { path }, body: { value: value as LabelName } })));
        },
        opts.api,
      ),
    );

  withApi(program.command('corrections').description('human corrections as labeled examples, one JSON line each (oldest first)'))
    .option('--since <time>', 'only corrections after this ISO 8601 time')
    .option('--all', 'follow nextCursor to the last page')
    .action((opts: ApiOption & { since?: string; all?: boolean }) =>
      run(
        'corrections',
        (api) =>
          pages(
            async (cursor) => ok(await api.GET('/corrections', { params: { query: { ...(opts.since ? { since: opts.since } : {}), ...(cursor ? { cursor } : {}) } } })),
            opts.all ?? false,
            print,
          ),
        opts.api,
      ),
    );
};
