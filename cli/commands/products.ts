/**
 * Lookups and corrections through the HTTP API (local by default, any deployment with --api):
 *
 *   weft product <vendor>/<productId> [--jsonld]
 *   weft find <task> <value> [--vendor V] [--limit N] [--all]    one JSON match per line
 *   weft correct <vendor>/<productId> <task> <value> | --remove
 *   weft corrections [--since TIME] [--all]                      labeled examples as JSON lines
 *   weft corrections export --out FILE [--since TIME]            every page as one GET /corrections document
 *
 * Calls go through the client typed from the OpenAPI document (cli/api/client.ts).
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command, CommanderError } from 'commander';
import type { components } from '../../clients/typescript/openapi.js';
import { MAX_LIMIT } from '../../functions/api/limits.js';
import { ApiCallError, apiClient, defaultApiUrl, ok, productRef, type LabelName, type TaskName, type WeftApi } from '../api/client.js';

type Corrections = components['schemas']['Corrections'];

/** What `weft corrections export` writes: a GET /corrections page holding every entry. */
export interface CorrectionsExport {
  items: Corrections['items'];
  exportedAt: string;
  api: string;
  since?: string;
}

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

/** A bad argument of `corrections export`: exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The export file could not be written (the API was read). */
class WriteError extends Error {
  override readonly name = 'WriteError';
}

/** Commander's own argument errors (unknown option, missing --out) exit 2; help and version stay 0. */
const usageExit = (error: CommanderError): never => process.exit(error.exitCode === 0 ? 0 : 2);

/**
 * Every page of GET /corrections (oldest first), written to `out` as one document in the shape of a
 * page, atomically: `<out>.tmp`, then renamed; nothing is written when a page cannot be read.
 */
export const exportCorrections = async (
  api: WeftApi,
  options: { out: string; apiUrl: string; since?: string; limit?: number; now?: () => Date },
): Promise<{ entries: number; products: number; images: number; pages: number }> => {
  const items: Corrections['items'] = [];
  let cursor: string | undefined;
  let pageCount = 0;
  do {
    const query = { ...(options.since ? { since: options.since } : {}), limit: options.limit ?? MAX_LIMIT, ...(cursor ? { cursor } : {}) };
    const page = ok(await api.GET('/corrections', { params: { query } }));
    items.push(...page.items);
    cursor = page.nextCursor;
    pageCount += 1;
  } while (cursor !== undefined);
  const document: CorrectionsExport = {
    items,
    exportedAt: (options.now?.() ?? new Date()).toISOString(),
    api: options.apiUrl,
    ...(options.since ? { since: options.since } : {}),
  };
  const partial = `${options.out}.tmp`;
  try {
    await writeFile(partial, `${JSON.stringify(document, null, 1)}\n`, 'utf8');
    await rename(partial, options.out);
  } catch (error) {
    await rm(partial, { force: true });
    throw new WriteError(`cannot write ${options.out} (${(error as Error).message})`);
  }
  return {
    entries: items.length,
    products: new Set(items.map((item) => `${item.vendor}/${item.productId}`)).size,
    images: new Set(items.flatMap((item) => item.images)).size,
    pages: pageCount,
  };
};

const exportArguments = (opts: { api: string; since?: string; limit?: string }): { since?: string; limit: number } => {
  if (!URL.canParse(opts.api)) throw new UsageError(`--api must be a URL, got "${opts.api}"`);
  if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) throw new UsageError(`--since must be an ISO 8601 time (e.g. 2026-11-28T00:00:00Z), got "${opts.since}"`);
  const limit = opts.limit === undefined ? MAX_LIMIT : /^[0-9]{1,4}$/.test(opts.limit) ? Number(opts.limit) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw new UsageError(`--limit must be an integer from 1 to ${MAX_LIMIT}, got "${opts.limit}"`);
  return { ...(opts.since !== undefined ? { since: opts.since } : {}), limit };
};

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

  const corrections = withApi(program.command('corrections').description('human corrections as labeled examples, one JSON line each (oldest first)'))
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

  // `--api` and `--since` are the options of `corrections` (commander gives an option both commands
  // define to the parent, wherever it stands), read here through optsWithGlobals.
  corrections
    .command('export')
    .description('every page of GET /corrections as one JSON document of that shape ({"items": [...], oldest first}), written atomically')
    .requiredOption('--out <file>', 'file to write (through <file>.tmp, renamed when complete)')
    .option('--limit <n>', `corrections read per request (1-${MAX_LIMIT}, default ${MAX_LIMIT}); a page lists their products`)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride(usageExit)
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<ApiOption & { out: string; since?: string; limit?: string }>();
      let args: ReturnType<typeof exportArguments>;
      try {
        args = exportArguments(opts);
      } catch (error) {
        console.error(`weft corrections export: ${(error as Error).message}`);
        process.exitCode = 2;
        return;
      }
      try {
        const summary = await exportCorrections(apiClient(opts.api), { out: opts.out, apiUrl: opts.api, ...args });
        console.error(`weft corrections export: ${summary.entries} entries, ${summary.products} products, ${summary.images} images (${summary.pages} page${summary.pages === 1 ? '' : 's'}) → ${opts.out}`);
      } catch (error) {
        const reason = error instanceof ApiCallError || error instanceof WriteError ? error.message : `cannot reach ${opts.api} (${(error as Error).message})`;
        console.error(`weft corrections export: ${reason}`);
        process.exitCode = 1;
      }
    });
};
