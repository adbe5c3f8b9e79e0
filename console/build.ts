/**
 * Builds the console (Vite) into console/dist, only when a source file is newer than the last
 * build: `npm ci` (prepare) and `npm start` call it, so a person never runs a separate build or
 * dev server. `tsx console/build.ts --force` rebuilds regardless.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CONSOLE_DIR = fileURLToPath(new URL('.', import.meta.url));
export const CONSOLE_DIST = join(CONSOLE_DIR, 'dist');

const newest = (path: string): number => {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
};

/** Whether console/dist is missing or older than any of its sources. */
export const consoleIsStale = (): boolean => {
  const built = join(CONSOLE_DIST, 'index.html');
  if (!existsSync(built)) return true;
  const sources = Math.max(newest(join(CONSOLE_DIR, 'src')), newest(join(CONSOLE_DIR, 'index.html')), newest(join(CONSOLE_DIR, 'vite.config.ts')));
  return sources > statSync(built).mtimeMs;
};

export const buildConsole = async ({ force = false, log = (m: string) => console.error(m) }: { force?: boolean; log?: (message: string) => void } = {}): Promise<boolean> => {
  if (!force && !consoleIsStale()) return false;
  const started = performance.now();
  const { build } = await import('vite');
  await build({ configFile: join(CONSOLE_DIR, 'vite.config.ts') });
  log(`console built into ${CONSOLE_DIST} in ${Math.round(performance.now() - started)} ms`);
  return true;
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildConsole({ force: process.argv.includes('--force') });
}
