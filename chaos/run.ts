/**
 * `npm run chaos -- --json <file>`: fault injection against the stack as `npm start` runs it —
 * load, SIGKILL and SIGTERM of its process group during uploads, model-server and DynamoDB
 * faults, an outage followed by a dead-letter redrive — and a reconciliation of every
 * acknowledged upload against the API. Not a test and not a benchmark of speed: it reports, per
 * scenario, what was tried, tagged, recorded as an error, lost, duplicated or wedged, and how long
 * draining took. See chaos/README.md for the definitions.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderImages } from './catalog.js';
import { runRound, type RoundResult, type RoundSettings } from './round.js';
import { SCENARIOS } from './scenarios.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// The SDK's Node 20 notice (docs/environment) would bury the progress lines.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    products: { type: 'string', default: '12' },
    concurrency: { type: 'string', default: '4' },
    'images-per-product': { type: 'string', default: '2' },
    scenarios: { type: 'string', default: SCENARIOS.map((s) => s.name).join(',') },
    'fault-rate': { type: 'string', default: '0.3' },
    'fault-timeout-ms': { type: 'string', default: '1000' },
    'bad-rate': { type: 'string', default: '0.1' },
    kills: { type: 'string', default: '1' },
    'drain-timeout': { type: 'string', default: '180' },
    'start-timeout': { type: 'string', default: '120' },
    'stop-timeout': { type: 'string', default: '60' },
    'max-minutes': { type: 'string', default: '60' },
    models: { type: 'string', default: 'models/artifacts/fixtures' },
    keep: { type: 'string', default: 'failed' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run chaos -- [--json FILE] [--seed 1] [--rounds 1] [--products 12] [--concurrency 4] [--images-per-product 2]
                 [--scenarios ${SCENARIOS.map((s) => s.name).join(',')}]
                 [--fault-rate 0.3] [--fault-timeout-ms 1000] [--bad-rate 0.1] [--kills 1]
                 [--drain-timeout 180] [--start-timeout 120] [--stop-timeout 60] [--max-minutes 60]
                 [--models models/artifacts/fixtures] [--keep failed|all|none]\n`);
  process.exit(0);
}

const log = (message: string): void => void process.stderr.write(`${message}\n`);
const fail = (message: string): never => {
  log(`chaos: ${message}`);
  process.exit(2);
};
const int = (name: keyof typeof args, min: number): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}`);
  return n;
};
const share = (name: keyof typeof args): number => {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n < 0 || n > 1) fail(`--${name} must be a number from 0 to 1`);
  return n;
};

const wanted = String(args.scenarios).split(',').map((s) => s.trim()).filter(Boolean);
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
if (unknown.length > 0) fail(`unknown scenario(s) ${unknown.join(', ')} (scenarios: ${SCENARIOS.map((s) => s.name).join(', ')})`);
const scenarios = SCENARIOS.filter((s) => wanted.includes(s.name));
const keep = String(args.keep) as RoundSettings['keep'];
if (!['failed', 'all', 'none'].includes(keep)) fail('--keep must be failed, all or none');

const seed = int('seed', -(2 ** 31));
const rounds = int('rounds', 1);
const maxMinutes = int('max-minutes', 1);
const settings: RoundSettings = {
  root: ROOT,
  modelsDir: resolve(String(args.models)),
  products: int('products', 1),
  imagesPerProduct: int('images-per-product', 0),
  concurrency: int('concurrency', 1),
  badRate: share('bad-rate'),
  faultRate: share('fault-rate'),
  faultTimeoutMs: int('fault-timeout-ms', 1),
  kills: int('kills', 1),
  drainTimeoutMs: int('drain-timeout', 1) * 1000,
  startTimeoutMs: int('start-timeout', 1) * 1000,
  stopTimeoutMs: int('stop-timeout', 1) * 1000,
  images: await renderImages(),
  keep,
  log,
};

/** The seed of one round: the run's seed, the scenario and the round, mixed (32-bit FNV-1a). */
const roundSeed = (scenario: string, round: number): number => {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${scenario}/${round}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h | 0;
};

log(`[chaos] ${scenarios.map((s) => s.name).join(', ')}: ${rounds} round(s) of ${settings.products} products × (${settings.imagesPerProduct} images + product.json), concurrency ${settings.concurrency}, seed ${seed}, fault rate ${settings.faultRate}, models ${settings.modelsDir}`);
const started = Date.now();
const results: RoundResult[] = [];
let skipped = 0;
for (let round = 1; round <= rounds; round++) {
  for (const scenario of scenarios) {
    if (Date.now() - started > maxMinutes * 60_000) {
      skipped++;
      continue;
    }
    const s = roundSeed(scenario.name, round);
    log(`[chaos] ${scenario.name} round ${round}/${rounds} (seed ${s})`);
    const r = await runRound(scenario, round, s, settings);
    results.push(r);
    log(
      `[chaos]   tried ${r.tried}, acknowledged ${r.acknowledged}, tagged ${r.tagged}, recorded errors ${r.recordedErrors} (expected ${r.expectedErrors}), dead-lettered ${r.deadLetteredBeforeRedrive} → redriven ${r.redriven}, lost ${r.lost}, duplicated ${r.duplicated}, wedged ${r.wedged}, drain ${r.drainSeconds === null ? (r.error ? '-' : 'timed out') : `${r.drainSeconds} s`}` +
        (r.error ? `\n[chaos]   ERROR: ${r.error}` : '') +
        (r.home ? `\n[chaos]   kept ${r.home}` : ''),
    );
    for (const [what, list] of Object.entries(r.details)) if (list.length > 0) log(`[chaos]   ${what}: ${list.slice(0, 10).join('; ')}${list.length > 10 ? ` … (${list.length})` : ''}`);
  }
}
if (skipped > 0) log(`[chaos] --max-minutes ${maxMinutes} reached: ${skipped} round(s) not run`);

const sum = (rs: RoundResult[], pick: (r: RoundResult) => number): number => rs.reduce((n, r) => n + pick(r), 0);
const percentile = (values: number[], p: number): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const summary = Object.fromEntries(
  scenarios.map((scenario) => {
    const rs = results.filter((r) => r.scenario === scenario.name);
    const drains = rs.flatMap((r) => (r.drainSeconds === null ? [] : [r.drainSeconds]));
    const ran = rs.filter((r) => !r.error);
    const kills = rs.flatMap((r) => r.kills);
    return [
      scenario.name,
      {
        description: scenario.description,
        rounds: rs.length,
        roundErrors: rs.filter((r) => r.error).length,
        tried: sum(rs, (r) => r.tried),
        acknowledged: sum(rs, (r) => r.acknowledged),
        tagged: sum(rs, (r) => r.tagged),
        recordedErrors: sum(rs, (r) => r.recordedErrors),
        expectedErrors: sum(rs, (r) => r.expectedErrors),
        unexpectedErrors: sum(rs, (r) => r.unexpectedErrors),
        badTagged: sum(rs, (r) => r.badTagged),
        deadLetteredBeforeRedrive: sum(rs, (r) => r.deadLetteredBeforeRedrive),
        redriven: sum(rs, (r) => r.redriven),
        deadLettered: sum(rs, (r) => r.deadLettered),
        lost: sum(rs, (r) => r.lost),
        duplicated: sum(rs, (r) => r.duplicated),
        wedged: sum(rs, (r) => r.wedged),
        unmerged: sum(rs, (r) => r.unmerged),
        notAcknowledged: sum(rs, (r) => r.notAcknowledged.length),
        drainSeconds: { p50: percentile(drains, 50), max: drains.length ? Math.max(...drains) : null, timedOut: ran.filter((r) => r.drainSeconds === null).length },
        ...(kills.length > 0
          ? { kills: { count: kills.length, stopSecondsMax: Math.max(...kills.map((k) => k.stopSeconds)), stopTimedOut: kills.filter((k) => !k.stoppedInTime).length, restartSecondsMax: Math.max(...kills.map((k) => k.restartSeconds)), forcefulStops: kills.filter((k) => k.stopMessages.some((m) => /forcefully/.test(m))).length } }
          : {}),
      },
    ];
  }),
);
const missed = Object.entries(summary).filter(([, s]) => s.lost + s.duplicated + s.wedged + s.roundErrors > 0 || s.rounds === 0);
const report = {
  generatedAt: new Date().toISOString(),
  machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
  settings: { seed, rounds, products: settings.products, imagesPerProduct: settings.imagesPerProduct, concurrency: settings.concurrency, badRate: settings.badRate, faultRate: settings.faultRate, faultTimeoutMs: settings.faultTimeoutMs, kills: settings.kills, drainTimeoutSeconds: settings.drainTimeoutMs / 1000, models: settings.modelsDir, scenarios: scenarios.map((s) => s.name) },
  seconds: Math.round((Date.now() - started) / 100) / 10,
  target: { lost: 0, duplicated: 0, wedged: 0, met: missed.length === 0 },
  scenarios: summary,
  rounds: results,
};
if (args.json) {
  const file = resolve(String(args.json));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`[chaos] report written to ${file}`);
}
log('');
log(`scenario          rounds  tried  acked  tagged  errors(exp)  dlq→redriven  lost  dup  wedged  drain p50/max s`);
for (const [name, s] of Object.entries(summary)) {
  log(
    `${name.padEnd(18)}${String(s.rounds).padStart(6)}${String(s.tried).padStart(7)}${String(s.acknowledged).padStart(7)}${String(s.tagged).padStart(8)}${`${s.recordedErrors}(${s.expectedErrors})`.padStart(13)}${`${s.deadLetteredBeforeRedrive}→${s.redriven}`.padStart(14)}${String(s.lost).padStart(6)}${String(s.duplicated).padStart(5)}${String(s.wedged).padStart(8)}   ${s.drainSeconds.p50 ?? '-'}/${s.drainSeconds.max ?? '-'}${s.drainSeconds.timedOut ? ` (${s.drainSeconds.timedOut} timed out)` : ''}${s.roundErrors ? `  ${s.roundErrors} round(s) failed to run` : ''}`,
  );
}
log(missed.length === 0 ? '\n[chaos] target met: nothing lost, duplicated or wedged' : `\n[chaos] target missed in: ${missed.map(([n]) => n).join(', ')}`);
process.exit(missed.length === 0 ? 0 : 1);
