import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentTypeOf, scanCatalog } from '../../local/upload/catalogFiles.js';

describe('scanCatalog (weft ingest, sample catalog)', () => {
  let dir: string;
  const touch = (path: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), 'x');
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-catalog-'));
    for (const f of ['acme/p1/product.json', 'acme/p1/images/a.jpg', 'acme/p1/images/B.PNG', 'acme/p1/notes.txt', 'acme/bad id/product.json', 'acme/p2/images/x.bmp', 'acme/.hidden/product.json', 'README.md']) touch(f);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('maps <vendor>/<productId>/... to keys and reports what falls outside the layout', () => {
    const scan = scanCatalog(dir);
    expect(scan.files.map((f) => f.key)).toEqual(['acme/p1/images/B.PNG', 'acme/p1/images/a.jpg', 'acme/p1/product.json']);
    expect(scan.files[0]!.bytes).toBe(1);
    const reasons = Object.fromEntries(scan.skipped.map((s) => [s.path.slice(dir.length + 1), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['README.md', 'acme/bad id/product.json', 'acme/p1/notes.txt', 'acme/p2/images/x.bmp']);
    expect(reasons['acme/bad id/product.json']).toMatch(/invalid productId "bad id"/);
    expect(reasons['acme/p2/images/x.bmp']).toMatch(/unsupported image extension ".bmp"/);
  });

  it('prefixes the vendor when given one', () => {
    const scan = scanCatalog(join(dir, 'acme'), { vendor: 'shop' });
    expect(scan.files.map((f) => f.key)).toEqual(['shop/p1/images/B.PNG', 'shop/p1/images/a.jpg', 'shop/p1/product.json']);
  });

  it('refuses a path that is not a folder', () => {
    expect(() => scanCatalog(join(dir, 'README.md'))).toThrow(/is not a directory/);
  });

  it('sends a content type for every layout extension', () => {
    expect(contentTypeOf('a/b/images/x.JPG')).toBe('image/jpeg');
    expect(contentTypeOf('a/b/images/x.tif')).toBe('image/tiff');
    expect(contentTypeOf('a/b/product.json')).toBe('application/json');
  });
});
