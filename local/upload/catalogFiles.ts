/**
 * Maps a catalog folder on disk to upload keys in the bucket layout:
 *   with a vendor:    <dir>/<productId>/{product.json, images/*}           → <vendor>/<productId>/...
 *   without a vendor: <dir>/<vendor>/<productId>/{product.json, images/*}  → <vendor>/<productId>/...
 * Files that fall outside that shape are reported, not uploaded: the point of the command is to
 * feed the pipeline, and a stray README would only land in the rejection list.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseKey } from '../../functions/shared/layout.js';

export interface CatalogFile {
  path: string;
  key: string;
  bytes: number;
}

export interface CatalogScan {
  files: CatalogFile[];
  skipped: { path: string; reason: string }[];
}

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !entry.name.startsWith('.'))
    .flatMap((entry) => {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) return walk(full);
      return entry.isFile() ? [full] : [];
    })
    .sort();

export const scanCatalog = (dir: string, opts: { vendor?: string } = {}): CatalogScan => {
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const scan: CatalogScan = { files: [], skipped: [] };
  for (const path of walk(dir)) {
    const rel = relative(dir, path).split(sep).join('/');
    const key = opts.vendor ? `${opts.vendor}/${rel}` : rel;
    const parsed = parseKey(key);
    if (parsed.kind === 'image' || parsed.kind === 'text') scan.files.push({ path, key, bytes: statSync(path).size });
    else if (parsed.kind === 'rejected') scan.skipped.push({ path, reason: parsed.reason });
    else scan.skipped.push({ path, reason: 'derived/ is written by the pipeline' });
  }
  return scan;
};

const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  json: 'application/json',
};

export const contentTypeOf = (key: string): string =>
  CONTENT_TYPES[key.slice(key.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream';
