/**
 * Browser tests of the console (`npm run test:browser`, part of `npm test`): Playwright drives
 * Debian's Chromium (/usr/bin/chromium, installed by .ci/run; no browser download) against the
 * real local stack on ephemeral ports, started once by the global setup.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'test/browser',
  testMatch: '*.spec.ts',
  globalSetup: './test/browser/support/globalSetup.ts',
  // One stack, one browser: the tests share its catalog and change it in order.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  // Failure screenshots and traces stay out of the work tree.
  outputDir: join(tmpdir(), 'weft-playwright'),
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    launchOptions: { executablePath: process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] },
    trace: 'off',
  },
});
