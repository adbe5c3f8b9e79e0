/**
 * One round of one scenario: fresh WEFT_HOME, `npm start`, seeded uploads (with kills and
 * restarts where the scenario has them), drain, redrive, reconciliation, clean stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeCatalog, type Product } from './catalog.js';
import { killGroup, startChild, type ChildStack } from './childStack.js';
import { StackApi, reconcile, type Reconciliation } from './reconcile.js';
import type { Scenario } from './scenarios.js';
import { Gate, s3ClientFor, uploadCatalog } from './uploads.js';

export interface RoundSettings {
  root: string;
  modelsDir: string;
  products: number;
  imagesPerProduct: number;
  concurrency: number;
  badRate: number;
  faultRate: number;
  faultTimeoutMs: number;
  kills: number;
  drainTimeoutMs: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  images: Uint8Array[];
  keep: 'all' | 'failed' | 'none';
  log: (message: string) => void;
}

export interface KillRecord {
  signal: string;
  /** Acknowledged uploads when the signal was sent. */
  afterAcks: number;
  stopSeconds: number;
  /** The group was gone within the stop timeout (always true for SIGKILL, which cannot be refused). */
  stoppedInTime: boolean;
  /** What the stack said while stopping (SIGTERM): "stopped", "stopping forcefully", ... */
  stopMessages: string[];
  restartSeconds: number;
}

export interface RoundResult extends Reconciliation {
  scenario: string;
  round: number;
  seed: number;
  faults: string | null;
  products: number;
  tried: number;
  acknowledged: number;
  notAcknowledged: string[];
  failedPuts: number;
  expectedErrors: number;
  /** Last acknowledgement → queues empty (for the outage: redrive → queues empty), seconds. */
  drainSeconds: number | null;
  /** Last acknowledgement → queues empty the first time, before any redrive (the outage: until all is dead-lettered). */
  firstDrainSeconds: number | null;
  queuedAtTimeout: number;
  deadLetteredBeforeRedrive: number;
  redriven: number;
  kills: KillRecord[];
  faultCounts: unknown;
  home: string | null;
  error?: string;
}

/** Bound of the upload phase, restarts included. */
const UPLOAD_TIMEOUT_MS = 10 * 60_000;
const STOP_MESSAGES = [/weft: stopped/, /weft: stopping forcefully/, /weft: error while stopping[^\n]*/, /weft: \w+ received, stopping/];

export const runRound = async (scenario: Scenario, round: number, seed: number, s: RoundSettings): Promise<RoundResult> => {
  const rng = xoroshiro128plus(seed);
  const home = mkdtempSync(join(tmpdir(), `weft-chaos-${scenario.name}-`));
  const logFile = join(home, 'stack.log');
  const faults = scenario.faults?.(s.faultRate, seed, s.faultTimeoutMs);
  const products: Product[] = makeCatalog(rng, { products: s.products, imagesPerProduct: s.imagesPerProduct, badRate: s.badRate, images: s.images });
  const files = products.flatMap((p) => p.files);
  const result: RoundResult = {
    scenario: scenario.name, round, seed, faults: faults ?? null, products: products.length, tried: files.length, acknowledged: 0, notAcknowledged: [], failedPuts: 0,
    expectedErrors: 0, drainSeconds: null, firstDrainSeconds: null, queuedAtTimeout: 0, deadLetteredBeforeRedrive: 0, redriven: 0, kills: [], faultCounts: null, home,
    checked: 0, tagged: 0, recordedErrors: 0, unexpectedErrors: 0, badTagged: 0, deadLettered: 0, lost: 0, duplicated: 0, wedged: 0, unmerged: 0,
    details: { lost: [], duplicated: [], wedged: [], unexpectedErrors: [], unmerged: [], deadLettered: [] },
  };
  const childOptions = { root: s.root, home: join(home, 'state'), modelsDir: s.modelsDir, logFile, startTimeoutMs: s.startTimeoutMs, ...(faults !== undefined ? { faults } : {}) };
  let child: ChildStack | undefined;
  let client: S3Client | undefined;
  try {
    child = await startChild(childOptions);
    client = s3ClientFor(child.urls.s3);
    const gate = new Gate();
    // Kill points: after a random number of acknowledgements, distinct, in (0, all).
    const points = new Set<number>();
    if (scenario.signal && files.length > 1) {
      for (let i = 0; i < s.kills * 4 && points.size < Math.min(s.kills, files.length - 1); i++) points.add(uniformInt(rng, 1, files.length - 1));
    }
    const jitterMs = [...points].map(() => uniformInt(rng, 0, 250));
    const killPoints = [...points].sort((a, b) => a - b);
    let restarting: Promise<void> = Promise.resolve();
    let restartError: Error | undefined;
    // Which run of the stack (1 = the first start) acknowledged each upload, for the details.
    const ackedInRun = new Map<string, number>();
    const kill = async (afterAcks: number, delayMs: number): Promise<void> => {
      await new Promise((r) => setTimeout(r, delayMs));
      gate.close();
      try {
        await killAndRestart(afterAcks);
      } finally {
        // A stack that did not come back fails the round; the uploads waiting must not hang.
        gate.open();
      }
    };
    const killAndRestart = async (afterAcks: number): Promise<void> => {
      const running = child!;
      const outputBefore = running.output().length;
      const stopped = await killGroup(running.pgid, scenario.signal!, scenario.signal === 'SIGKILL' ? 10_000 : s.stopTimeoutMs);
      const said = running.output().slice(outputBefore);
      const started = performance.now();
      client?.destroy();
      child = await startChild(childOptions);
      client = s3ClientFor(child.urls.s3);
      result.kills.push({
        signal: scenario.signal!,
        afterAcks,
        stopSeconds: round3(stopped.seconds),
        stoppedInTime: stopped.inTime,
        stopMessages: STOP_MESSAGES.flatMap((re) => re.exec(said)?.[0] ?? []),
        restartSeconds: round3((performance.now() - started) / 1000),
      });
      s.log(`[chaos]   ${scenario.signal} after ${afterAcks} acknowledged uploads; stopped in ${stopped.seconds.toFixed(1)} s${stopped.inTime ? '' : ' (timed out, killed)'}, restarted in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    };
    const deadline = Date.now() + UPLOAD_TIMEOUT_MS;
    const uploads = await uploadCatalog(products, {
      bucket: 'weft-uploads',
      concurrency: s.concurrency,
      client: () => client!,
      gate,
      maxAttemptsPerFile: 10,
      deadline,
      onAck: (count, key) => {
        ackedInRun.set(key, result.kills.length + 1);
        const i = killPoints.indexOf(count);
        if (i >= 0) {
          restarting = restarting.then(() => kill(count, jitterMs[i] ?? 0)).catch((error: unknown) => {
            restartError ??= error as Error;
          });
        }
      },
    });
    await restarting;
    if (restartError) throw restartError;
    result.acknowledged = uploads.acknowledged.size;
    result.notAcknowledged = [...uploads.failed.entries()].map(([key, error]) => `${key}: ${error}`);
    result.failedPuts = uploads.failedPuts;
    result.expectedErrors = files.filter((f) => f.bad && uploads.acknowledged.has(f.key)).length;

    const api = new StackApi(child.urls.api);
    const drainDeadline = () => Date.now() + s.drainTimeoutMs;
    let drained = await api.drain(drainDeadline());
    result.firstDrainSeconds = drained === undefined ? null : round3(drained);
    if (scenario.outage) {
      // Everything that needed a model is dead-lettered now; the model server comes back.
      await api.setFaults('off');
    }
    result.faultCounts = (await api.faultCounts()) ?? null;
    if (faults !== undefined && !scenario.outage) await api.setFaults('off');
    const letters = await api.deadLetters();
    result.deadLetteredBeforeRedrive = letters.length;
    if (letters.length > 0 && drained !== undefined) {
      result.redriven = await api.redrive();
      const again = await api.drain(drainDeadline());
      drained = again === undefined ? undefined : scenario.outage ? again : drained + again;
    }
    result.drainSeconds = drained === undefined ? null : round3(drained);
    if (drained === undefined) result.queuedAtTimeout = await api.depth();
    Object.assign(result, await reconcile(api, child.urls.dynamodb, products, uploads.acknowledged));
    if (result.kills.length > 0) {
      const runOf = (entry: string): string => {
        const run = ackedInRun.get(entry.split(' ')[0]!);
        return run === undefined ? entry : `${entry} [acknowledged by run ${run} of ${result.kills.length + 1}]`;
      };
      for (const list of [result.details.lost, result.details.wedged, result.details.unexpectedErrors]) list.splice(0, list.length, ...list.map(runOf));
    }
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    client?.destroy();
    if (child) await killGroup(child.pgid, 'SIGTERM', s.stopTimeoutMs);
    const missed = result.error !== undefined || result.lost + result.duplicated + result.wedged > 0;
    if (s.keep === 'none' || (s.keep === 'failed' && !missed)) {
      rmSync(home, { recursive: true, force: true });
      result.home = null;
    }
  }
  return result;
};

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
