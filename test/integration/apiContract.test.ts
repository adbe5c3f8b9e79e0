/**
 * The API checked against its own OpenAPI document from the outside, as an API user's tooling
 * would: schemathesis (models/.venv) reads GET /openapi.json from the local stack and sends
 * generated valid and invalid requests to every operation with a fixed seed and a bounded number
 * of examples each, then walks the document's links (list corrections → get product → correct →
 * corrections export, and undo). Every check runs (schemathesis.toml names the few exceptions the
 * document cannot express): no 5xx, every response and its content type as documented, invalid
 * input refused with a documented 4xx, HEAD/OPTIONS as documented.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSeededStack, type SeededStack } from './support/seededStack.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SCHEMATHESIS = join(ROOT, 'models/.venv/bin/schemathesis');
const SEED = 1;
const EXAMPLES_PER_OPERATION = 25;

interface RunReport {
  exit_code: number;
  stop_reason: string;
  running_time: number;
  phases: Record<string, { status: string; skip_reason: string | null }>;
  failures: { code: string; title: string; operations: string[] }[];
  errors: unknown[];
  operations: { total: number; tested: number; errored: number };
  test_cases: { generated: number };
}

/** `link id → count` of the document's links the stateful phase followed to a 2xx answer. */
const followedLinks = (ndjson: string): Map<string, number> => {
  const followed = new Map<string, number>();
  for (const line of ndjson.split('\n').filter(Boolean)) {
    const finished = (JSON.parse(line) as { ScenarioFinished?: { phase: string; recorder: { cases?: Record<string, any>; interactions?: Record<string, any> } } }).ScenarioFinished;
    if (finished?.phase !== 'stateful') continue;
    for (const [id, step] of Object.entries(finished.recorder.cases ?? {})) {
      const transition = step.transition as { id: string; is_inferred: boolean } | undefined;
      const status = finished.recorder.interactions?.[id]?.response?.status_code as number | undefined;
      if (transition && !transition.is_inferred && status !== undefined && status >= 200 && status < 300) followed.set(transition.id, (followed.get(transition.id) ?? 0) + 1);
    }
  }
  return followed;
};

describe('the API against its OpenAPI document (schemathesis)', () => {
  let seeded: SeededStack;
  let reports: string;

  beforeAll(async () => {
    // `npm test` has built the venv already (test:py); a lone `vitest run` on a fresh clone has not.
    if (!existsSync(SCHEMATHESIS)) execFileSync('bash', [join(ROOT, 'models/scripts/venv.sh')], { stdio: 'inherit' });
    seeded = await startSeededStack({ perVendor: 1 });
    reports = mkdtempSync(join(tmpdir(), 'weft-schemathesis-'));
  });

  afterAll(async () => {
    await seeded?.stop();
    if (reports) rmSync(reports, { recursive: true, force: true });
  });

  it('finds no server error, no schema violation and no undocumented answer; the links hold', { timeout: 600_000 }, async () => {
    const api = seeded.stack.urls.api;
    const args = [
      '--config-file', join(ROOT, 'test/integration/schemathesis.toml'),
      'run', `${api}/openapi.json`, '--url', api,
      '--seed', String(SEED), '--max-examples', String(EXAMPLES_PER_OPERATION), '--workers', '1',
      // No --max-time: with one, schemathesis repeats fuzzing and stateful runs until it is spent.
      '--no-color',
      '--report', 'json,ndjson', '--report-json-path', join(reports, 'run.json'), '--report-ndjson-path', join(reports, 'events.ndjson'),
    ];
    let output = '';
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn(SCHEMATHESIS, args, { cwd: reports, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      // A bound of our own instead: a run this long means something hangs.
      const limit = setTimeout(() => child.kill('SIGKILL'), 480_000);
      child.on('error', fail);
      child.on('exit', (status) => {
        clearTimeout(limit);
        done(status);
      });
    });
    const report = JSON.parse(readFileSync(join(reports, 'run.json'), 'utf8')) as RunReport;
    // What schemathesis printed (reproducing curl commands included) is the message of any failure.
    const context = output.slice(-20_000);
    expect(report.failures, context).toEqual([]);
    expect(report.errors, context).toEqual([]);
    expect(code, context).toBe(0);
    expect(report.stop_reason, context).toBe('completed');
    expect(report.operations.tested).toBe(report.operations.total);
    expect(report.operations.errored).toBe(0);
    for (const phase of ['examples', 'coverage', 'fuzzing', 'stateful']) expect(report.phases[phase]?.status, phase).toBe('success');

    const followed = followedLinks(readFileSync(join(reports, 'events.ndjson'), 'utf8'));
    console.log(
      `schemathesis: ${report.test_cases.generated} requests over ${report.operations.tested} operations in ${report.running_time.toFixed(1)} s, seed ${SEED}; links followed: ${JSON.stringify(Object.fromEntries(followed))}`,
    );
    for (const link of [
      'GET /corrections -> [200] getProduct -> GET /products/{vendor}/{productId}',
      'GET /products/{vendor}/{productId} -> [200] correctAttribute -> PUT /products/{vendor}/{productId}/attributes/{task}',
      'PUT /products/{vendor}/{productId}/attributes/{task} -> [200] listCorrections -> GET /corrections',
      'PUT /products/{vendor}/{productId}/attributes/{task} -> [200] removeCorrection -> DELETE /products/{vendor}/{productId}/attributes/{task}',
      'GET /review -> [200] acceptCandidate -> PUT /products/{vendor}/{productId}/attributes/{task}',
    ]) {
      expect(followed.get(link) ?? 0, `${link} (followed: ${JSON.stringify([...followed])})`).toBeGreaterThan(0);
    }
  });
});
