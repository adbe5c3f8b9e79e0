/**
 * Tasks and labels come from the model manifests, never from TypeScript. The proof for the task
 * added from its own data set (material): the served manifests declare it, and no runtime
 * TypeScript file names it or any of its labels — the handlers, API, console, CDK and local stack
 * serve it because the manifest says so.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { resolveModelsDir } from '../../functions/shared/manifest.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** Everything that runs: Lambdas and domain code, CDK, the local stack, the CLI, the console, clients. */
const RUNTIME_DIRS = ['functions', 'lib', 'local', 'cli', 'console/src', 'clients'];
const ADDED_TASK = 'material';

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mts|cts|js|mjs)$/.test(name) ? [path] : [];
  });

describe('tasks come from the manifest', () => {
  const models = loadModelSet(resolveModelsDir());
  const added = models.image?.tasks.find((t) => t.name === ADDED_TASK);

  it('the served image and text models declare the task added from its own data set', () => {
    expect(added, `the image manifest in ${resolveModelsDir()} declares no ${ADDED_TASK} task`).toBeDefined();
    expect(models.text?.tasks.map((t) => t.name)).toContain(ADDED_TASK);
  });

  it('no runtime TypeScript file names that task or any of its labels', () => {
    const words = [ADDED_TASK, ...(added?.labels ?? [])];
    const pattern = new RegExp(`\\b(${words.map((w) => w.replace(/[_-]/g, '[_ -]')).join('|')})\\b`, 'i');
    const hits = RUNTIME_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir)))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${relative(ROOT, file)}:${i + 1}` }))
          .filter(({ line }) => pattern.test(line))
          .map(({ line, at }) => `${at}: ${line.trim()}`),
      );
    expect(hits).toEqual([]);
  });
});
