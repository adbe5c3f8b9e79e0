/**
 * `weft corrections export` as a person runs it (a child process) against the local stack: every
 * page of GET /corrections in one document of a page's shape, written atomically; the image keys
 * it lists are the upload keys, read back from the stack's S3 by `weft_models.corrections`.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../local/handlerEnv.js';
import { runCommand, runWeft } from './support/runCommand.js';
import { startSeededStack, type SeededStack } from './support/seededStack.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON = join(ROOT, 'models/.venv/bin/python');

interface Entry {
  vendor: string;
  productId: string;
  correctedAt: string;
  labels: Record<string, string>;
  images: string[];
  text?: string;
}

const weft = (args: string[]) => runWeft(args);

/** Every page of GET /corrections, read here, concatenated. */
const listPages = async (api: string, query: Record<string, string>): Promise<{ items: Entry[]; pages: number }> => {
  const items: Entry[] = [];
  let pages = 0;
  let cursor: string | undefined;
  do {
    const params = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${api}/corrections?${params}`);
    if (response.status !== 200) throw new Error(`GET /corrections: ${response.status} ${await response.text()}`);
    const page = (await response.json()) as { items: Entry[]; nextCursor?: string };
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== undefined);
  return { items, pages };
};

describe('weft corrections export', () => {
  let seeded: SeededStack;
  let api: string;
  let dir: string;
  /** What the API lists in pages of 100 (one page here). */
  let listed: Entry[];

  beforeAll(async () => {
    seeded = await startSeededStack({ perVendor: 1 });
    api = seeded.stack.urls.api;
    dir = mkdtempSync(join(tmpdir(), 'weft-corrections-export-'));
    listed = (await listPages(api, { limit: '100' })).items;
  });
  afterAll(async () => {
    await seeded?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes every page as one document of a page’s shape, with the image keys', async () => {
    expect(listed.length).toBeGreaterThan(2);
    const out = join(dir, 'corrections.json');
    const result = await weft(['corrections', 'export', '--out', out, '--api', api]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const document = JSON.parse(readFileSync(out, 'utf8')) as { items: Entry[]; exportedAt: string; api: string; nextCursor?: string };
    expect(document.items).toEqual(listed);
    expect(document.nextCursor).toBeUndefined();
    expect(document.api).toBe(api);
    expect(Number.isNaN(Date.parse(document.exportedAt))).toBe(false);
    for (const entry of document.items) {
      expect(entry.images.length).toBeGreaterThan(0);
      for (const key of entry.images) expect(key.startsWith(`${entry.vendor}/${entry.productId}/images/`), key).toBe(true);
    }
    const images = new Set(listed.flatMap((e) => e.images)).size;
    const products = new Set(listed.map((e) => `${e.vendor}/${e.productId}`)).size;
    expect(result.stderr.trim()).toBe(`weft corrections export: ${listed.length} entries, ${products} products, ${images} images (1 page) → ${out}`);
    expect(readdirSync(dir)).toEqual(['corrections.json']);

    // The lines `weft corrections --all` prints (one page at the API's default size here): one format, two layouts.
    const lines = await weft(['corrections', '--all', '--api', api]);
    expect(lines.code, lines.stderr).toBe(0);
    expect(lines.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry)).toEqual(document.items);
  });

  it('follows nextCursor to the last page, keeping every entry of every page', async () => {
    const out = join(dir, 'paged.json');
    // Two index items a request: many pages, and a product whose corrections span pages is listed on each.
    const expected = await listPages(api, { limit: '2' });
    expect(expected.pages).toBeGreaterThan(2);
    const result = await weft(['corrections', 'export', '--out', out, '--limit', '2', '--api', api]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(readFileSync(out, 'utf8')) as { items: Entry[] };
    expect(document.items).toEqual(expected.items);
    const products = new Set(expected.items.map((e) => `${e.vendor}/${e.productId}`));
    expect([...products].sort()).toEqual(listed.map((e) => `${e.vendor}/${e.productId}`).sort());
    expect(result.stderr).toContain(`${expected.items.length} entries, ${products.size} products, `);
    expect(result.stderr).toContain(`(${expected.pages} pages)`);
  });

  it('passes --since on (also given before the subcommand)', async () => {
    const since = listed[1]!.correctedAt;
    const expected = (await listPages(api, { since, limit: '100' })).items;
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(listed.length);
    for (const args of [['corrections', 'export', '--since', since], ['corrections', '--since', since, 'export']]) {
      const out = join(dir, 'since.json');
      const result = await weft([...args, '--out', out, '--api', api]);
      expect(result.code, result.stderr).toBe(0);
      const document = JSON.parse(readFileSync(out, 'utf8')) as { items: Entry[]; since?: string };
      expect(document.items).toEqual(expected);
      expect(document.since).toBe(since);
    }
  });

  it('exits 1 when the API cannot be reached, leaving the file as it was', async () => {
    const out = join(dir, 'kept.json');
    writeFileSync(out, '{"items": []}\n');
    const result = await weft(['corrections', 'export', '--out', out, '--api', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^weft corrections export: cannot reach http:\/\/127\.0\.0\.1:9/);
    expect(readFileSync(out, 'utf8')).toBe('{"items": []}\n');
    expect(existsSync(`${out}.tmp`)).toBe(false);
    const unwritable = await weft(['corrections', 'export', '--out', join(dir, 'no-such-folder', 'c.json'), '--api', api]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/^weft corrections export: cannot write .*no-such-folder/);
  });

  it('exits 2 on bad arguments', async () => {
    const out = join(dir, 'bad.json');
    for (const [args, message] of [
      [[], /required option '--out <file>'/],
      [['--out', out, '--since', 'yesterday'], /--since must be an ISO 8601 time/],
      [['--out', out, '--limit', '0'], /--limit must be an integer from 1 to 100/],
      [['--out', out, '--api', 'not a url'], /--api must be a URL/],
      [['--out', out, '--bogus'], /unknown option '--bogus'/],
      [['extra', '--out', out], /too many arguments for 'export'/],
    ] as [string[], RegExp][]) {
      const result = await weft(['corrections', 'export', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(!existsSync(PYTHON))('the exported image keys are read from the stack’s S3 by weft_models.corrections (AWS_ENDPOINT_URL)', async () => {
    const out = join(dir, 'for-python.json');
    expect((await weft(['corrections', 'export', '--out', out, '--api', api])).code).toBe(0);
    const script = [
      'import json, sys',
      'from weft_models.corrections import BucketImages, read_corrections',
      'images = BucketImages(sys.argv[2], sys.argv[3])',
      'keys = [k for r in read_corrections(sys.argv[1]) for k in r["images"]]',
      'print(json.dumps({k: images.path(k).stat().st_size for k in keys}))',
    ].join('\n');
    const result = await runCommand(PYTHON, ['-c', script, out, `s3://${seeded.stack.bucket}`, join(dir, 'images')], {
      AWS_ENDPOINT_URL: seeded.stack.urls.s3,
      AWS_ENDPOINT_URL_S3: '',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      PYTHONPATH: join(ROOT, 'models'),
    });
    expect(result.code, result.stderr).toBe(0);
    const sizes = JSON.parse(result.stdout) as Record<string, number>;
    expect(Object.keys(sizes).sort()).toEqual([...new Set(listed.flatMap((e) => e.images))].sort());
    for (const [key, size] of Object.entries(sizes)) {
      const [vendor, productId, , name] = key.split('/');
      expect(size, key).toBe(readFileSync(join(ROOT, 'samples/catalog', vendor!, productId!, 'images', name!)).length);
    }
  });
});
