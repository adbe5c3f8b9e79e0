/**
 * `npm run screenshots`: the console's pictures in README.md, regenerated from the sample catalog
 * tagged by the committed (trained) models on a fresh local stack — the grid filtered by two
 * attributes, a product page and the review queue — into docs/console-*.png.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { resolveModelsDir } from '../functions/shared/manifest.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'docs');
const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';

const child = spawn(process.execPath, ['--import', 'tsx', 'test/browser/support/serveStack.ts'], {
  cwd: ROOT,
  env: { ...process.env, WEFT_MODELS_DIR: resolveModelsDir(process.env, ROOT), WEFT_SAMPLES_PER_VENDOR: '1000', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const api = await new Promise<string>((ready, fail) => {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const line = /^READY (.*)$/m.exec(out);
    if (line) ready((JSON.parse(line[1]!) as { api: string }).api);
  });
  child.on('exit', (code) => fail(new Error(`the stack exited (${code})`)));
});

try {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const listing = (await (await fetch(`${api}/products?limit=100`)).json()) as { items: { vendor: string; productId: string; attributes: Record<string, { value: string | null }> }[] };
  // The most common pair of two tasks' values among the samples: a filter that finds several products.
  const pairs = new Map<string, number>();
  for (const p of listing.items) {
    const values = Object.entries(p.attributes).filter(([, a]) => a.value !== null);
    for (let i = 0; i < values.length; i += 1) for (let j = i + 1; j < values.length; j += 1) {
      const key = `${values[i]![0]}=${values[i]![1].value}&${values[j]![0]}=${values[j]![1].value}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
  }
  const filter = [...pairs].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  await page.goto(`${api}/#/?${filter}`);
  await page.locator('.card').first().waitFor();
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: join(OUT, 'console-grid.png') });

  await page.locator('.card a').first().click();
  await page.locator('.attribute').first().waitFor();
  await page.waitForLoadState('networkidle');
  await page.setViewportSize({ width: 1280, height: 1500 });
  await page.screenshot({ path: join(OUT, 'console-product.png') });

  await page.setViewportSize({ width: 1280, height: 640 });
  const { tasks } = (await (await fetch(`${api}/tasks`)).json()) as { tasks: { name: string }[] };
  await page.goto(`${api}/#/review?task=${encodeURIComponent(tasks.at(-1)?.name ?? '')}`);
  await page.locator('.review-item').waitFor();
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: join(OUT, 'console-review.png') });
  await browser.close();
  console.log(`wrote ${['grid', 'product', 'review'].map((n) => `docs/console-${n}.png`).join(', ')} (grid filter: ${filter || 'none'})`);
} finally {
  child.kill('SIGTERM');
}
