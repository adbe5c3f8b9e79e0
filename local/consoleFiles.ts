/**
 * The merchandiser console from the local API server: `GET /` is the built page
 * (console/dist/index.html), `/assets/*` its files, `/console-config.json` where its API is and
 * how it signs in (here: this origin, no sign-in). On AWS CloudFront serves the same files from a
 * private bucket (lib/console/). The page routes with the URL fragment (`/#/products/…`), so no
 * path but these is the console's and the API keeps every other one.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { CONSOLE_CONFIG_PATH, type ConsoleConfig } from '../console/src/api/config.js';
import type { LocalRoute, RawAnswer } from './apiServer.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** The headers CloudFront adds on AWS (lib/console/): only this origin's scripts, styles and pictures, no framing. */
export const CONSOLE_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const answer = (status: number, raw: Buffer, type: string, extra: Record<string, string> = {}): RawAnswer => ({ status, raw, headers: { 'content-type': type, ...CONSOLE_SECURITY_HEADERS, ...extra } });

export const consoleFilesRoute =
  (distDir: string, config: ConsoleConfig = { apiBase: '' }): LocalRoute =>
  async (method, path) => {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    if (path === CONSOLE_CONFIG_PATH) return answer(200, Buffer.from(JSON.stringify(config)), 'application/json', { 'cache-control': 'no-store' });
    const file = path === '/' || path === '/index.html' ? 'index.html' : path.startsWith('/assets/') ? path.slice(1) : undefined;
    if (file === undefined) return undefined;
    const index = join(distDir, 'index.html');
    if (!existsSync(index)) {
      const message = `The console is not built: run npm run build:console (npm ci and npm start build it).`;
      return answer(503, Buffer.from(`<!doctype html><html lang="en"><title>Weft console</title><p>${message}</p></html>`), 'text/html; charset=utf-8');
    }
    const full = normalize(join(distDir, file));
    if (!full.startsWith(`${normalize(distDir)}${sep}`) || !existsSync(full) || !statSync(full).isFile()) return undefined;
    // Hashed asset names never change content; the page itself must be revalidated.
    const caching = file === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
    return answer(200, readFileSync(full), TYPES[extname(full)] ?? 'application/octet-stream', { 'cache-control': caching });
  };
