/**
 * The /docs reference as a person sees it: headless Chromium (Debian's `chromium`, which .ci/run
 * installs) opens the page from the local API server in front of the real api handler, and
 * Swagger UI renders the served OpenAPI document — every operation listed — loading nothing but
 * the API's own files, with no script error and no Content-Security-Policy violation.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentRoutes, openApiDocument } from '../../functions/api/openapi/document.js';
import { API_ROUTES } from '../../functions/api/routeTable.js';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { startApiServer, type RunningApiServer } from '../../local/apiServer.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = resolve(import.meta.dirname, '../../models/artifacts/fixtures');

describe('/docs in Chromium', () => {
  let server: RunningApiServer;
  let browser: Browser;
  let shots: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    process.env.WEFT_MODELS_DIR = FIXTURES;
    const { handler } = (await import('../../functions/api/handler.js')) as { handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2> };
    server = await startApiServer({ handler, routes: API_ROUTES.map((r) => ({ path: r.path, methods: [r.method] })), port: 0, log: () => undefined });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    shots = mkdtempSync(join(tmpdir(), 'weft-docs-'));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    process.env = saved;
    if (shots) rmSync(shots, { recursive: true, force: true });
  });

  it('renders every operation of the served document from the API’s own files', { timeout: 120_000 }, async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requested: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    page.on('request', (request) => requested.push(request.url()));
    page.on('response', (answer) => {
      if (answer.status() >= 400) problems.push(`${answer.status()} for ${answer.url()}`);
    });

    const response = await page.goto(`${server.url}/docs`, { waitUntil: 'networkidle' });
    expect(response?.status()).toBe(200);
    const operations = documentRoutes(openApiDocument({ catalog: loadModelSet(FIXTURES).catalog, authorization: 'none' }));
    const blocks = page.locator('.opblock-summary');
    await expect.poll(() => blocks.count(), { timeout: 30_000 }).toBe(operations.length);
    await expect.poll(() => page.locator('.info .title').first().textContent()).toContain('Weft API');
    // Expanding an operation shows its parameters with the manifests' names.
    await page.locator('#operations-products-listProductsByAttribute .opblock-summary').click();
    await expect.poll(() => page.locator('#operations-products-listProductsByAttribute select').first().textContent()).toContain(Object.keys(loadModelSet(FIXTURES).catalog)[0]!);
    await page.screenshot({ path: join(shots, 'docs.png'), fullPage: false });

    expect(problems).toEqual([]);
    const origin = new URL(server.url).origin;
    expect(requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))).toEqual([]);
    expect(requested.map((url) => new URL(url).pathname)).toEqual(expect.arrayContaining(['/docs', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js', '/openapi.json']));
  });
});
