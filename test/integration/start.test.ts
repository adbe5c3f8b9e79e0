/**
 * `npm start` as a person runs it: a child process that prints where everything is, loads the
 * sample catalog on its first start only, keeps state across a restart, stops cleanly on SIGTERM,
 * and says which port is busy instead of crashing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';

const ROOT = resolve(import.meta.dirname, '../..');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const start = (env: Record<string, string>): Started => {
  let out = '';
  let err = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, WEFT_API_PORT: '0', WEFT_S3_PORT: '0', WEFT_DYNAMODB_PORT: '0', WEFT_MODELS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
};

const ready = async (s: Started): Promise<string> => {
  await expect.poll(() => s.stdout() + (s.child.exitCode !== null ? `exited ${s.child.exitCode}: ${s.stderr()}` : ''), { timeout: 60_000, interval: 100 }).toMatch(/Ctrl-C stops everything|exited/);
  const api = /API\s+(http:\/\/\S+)/.exec(s.stdout());
  expect(api, s.stdout() + s.stderr()).not.toBeNull();
  return api![1]!;
};

describe('npm start (local/start.ts)', () => {
  let home: string;
  let samples: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-start-'));
    samples = join(home, 'catalog');
    mkdirSync(join(samples, 'demo', 'scarf-1', 'images'), { recursive: true });
    writeFileSync(join(samples, 'demo', 'scarf-1', 'product.json'), JSON.stringify({ title: 'Green wool scarf', color: 'forest green' }));
    await sharp({ create: { width: 300, height: 300, channels: 3, background: '#2a7a3a' } }).jpeg().toFile(join(samples, 'demo', 'scarf-1', 'images', 'a.jpg'));
  });

  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('starts, ingests the samples once, keeps state across restarts and stops cleanly', async () => {
    const env = { WEFT_HOME: join(home, 'state'), WEFT_SAMPLES_DIR: samples };
    const first = start(env);
    try {
      const api = await ready(first);
      expect(first.stdout()).toMatch(/S3\s+http:\/\/127\.0\.0\.1:\d+\s+bucket weft-uploads/);
      expect(first.stdout()).toMatch(/aws --endpoint-url http:\/\/127\.0\.0\.1:\d+ s3 cp/);
      expect(first.stdout()).toMatch(/uploaded 2 files \(1 products\)/);
      // The console's address is printed first, and the console is served there.
      expect(first.stdout()).toMatch(/Console\s+http:\/\/127\.0\.0\.1:\d+\/\s+open in a browser/);
      const page = await fetch(`${api}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Weft console</title>');
      await expect
        .poll(async () => (await fetch(`${api}/products/demo/scarf-1`)).status === 200 && ((await (await fetch(`${api}/products/demo/scarf-1`)).json()) as { text: { status: string } }).text.status, { timeout: 30_000, interval: 200 })
        .toBe('tagged');
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toMatch(/weft: stopped/);
    expect(existsSync(join(home, 'state', 'samples-ingested.json'))).toBe(true);

    const second = start(env);
    try {
      const api = await ready(second);
      expect(second.stdout()).toMatch(/Samples\s+loaded on/);
      const product = (await (await fetch(`${api}/products/demo/scarf-1`)).json()) as { images: { status: string }[] };
      expect(product.images).toEqual([expect.objectContaining({ status: 'tagged' })]);
    } finally {
      second.child.kill('SIGINT');
    }
    expect(await second.exited).toBe(0);
  }, 240_000);

  it('a signal repeated at once (as the tsx CLI relays the one a terminal sends) still stops cleanly', async () => {
    const run = start({ WEFT_HOME: join(home, 'twice'), WEFT_SAMPLES_DIR: join(home, 'none') });
    await ready(run);
    run.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 5));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toMatch(/weft: stopped/);
    expect(run.stderr()).not.toMatch(/forcefully/);
  }, 120_000);

  it('refuses a second stack on the same WEFT_HOME while the first runs', async () => {
    const env = { WEFT_HOME: join(home, 'shared'), WEFT_SAMPLES_DIR: join(home, 'none') };
    const first = start(env);
    try {
      await ready(first);
      const second = start(env);
      expect(await second.exited).toBe(1);
      expect(second.stderr()).toMatch(/weft: .*shared is in use by another running stack \(pid \d+\)/);
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
  }, 120_000);

  it('names the busy port and the variable that moves it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const run = start({ WEFT_HOME: join(home, 'busy'), WEFT_SAMPLES_DIR: join(home, 'none'), WEFT_API_PORT: String(port) });
      expect(await run.exited).toBe(1);
      expect(run.stderr()).toContain(`weft: API: port ${port} is already in use (set WEFT_API_PORT to use another port)`);
    } finally {
      blocker.close();
    }
  }, 120_000);
});
