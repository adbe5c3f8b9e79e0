/**
 * Starts test/browser/support/serveStack.ts as a child process and hands its API address to the
 * tests (WEFT_CONSOLE_URL); the returned function stops it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');
const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/browser/support/serveStack.ts'], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const urls = await new Promise<{ api: string }>((ready, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = /^READY (.*)$/m.exec(out);
      if (line) ready(JSON.parse(line[1]!) as { api: string });
    });
    child.on('exit', (code) => fail(new Error(`the stack exited (${code}) before it was ready:\n${stderr}`)));
  });
  process.env.WEFT_CONSOLE_URL = urls.api;
  return async () => {
    const exited = new Promise((done) => child.on('exit', done));
    child.kill('SIGTERM');
    await exited;
  };
}
