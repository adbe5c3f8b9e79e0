/**
 * `weft retag [--env <env>] [--vendor V] [--modality image|text] [--stale-only | --missing-only]`:
 * tags the catalog again — every source not tagged at the deployed model version, only the stale
 * ones, or only objects with no source at all (the reconciliation pass) — with a progress bar.
 *
 * - AWS (`--env dev|staging|prod`): starts an execution of the re-tag job (lib/retag/RetagJob.ts),
 *   whose ARN is the stack's `RetagStateMachineArn` output (stack `Weft-<env>`; `--state-machine`
 *   names one directly), and follows its map run (items done, failed, ETA from DescribeMapRun and
 *   DescribeExecution). `--status <executionArn>` follows an execution again, `--redrive
 *   <executionArn>` redrives a failed one (only its failed batches run again).
 * - Locally (`--env local` or no `--env`: the stack of `npm start`): lists the local bucket, sends
 *   it batch by batch to `POST /local/retag` (the job's batch step, same code) and follows the
 *   local re-tag queues until the handlers have taken every message.
 */
import { randomBytes } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListMapRunsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionOutput,
  type DescribeMapRunOutput,
} from '@aws-sdk/client-sfn';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { describeError } from '../../functions/shared/errors.js';
import { batches } from '../../functions/shared/retag/batching.js';
import { parseRetagFilters, RetagFilterError, retagExecutionInput, retagExecutionName, type RetagFilters } from '../../functions/shared/retag/filters.js';
import { formatDuration, etaMs, progressLine, type RetagProgress } from '../../functions/shared/retag/progress.js';
import { addRetagResults, emptyRetagResult, queuedTotal, type RetagBatchResult } from '../../functions/shared/retag/retagBatch.js';
import { listKeys } from '../../functions/shared/retag/targets.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/handlerEnv.js';

export const AWS_ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
/** The stack output `weft retag --env <env>` reads the state machine's ARN from (lib/WeftStack.ts). */
export const STATE_MACHINE_OUTPUT = 'RetagStateMachineArn';
const LOCAL_RETAG_QUEUES = ['image-retag', 'text-retag'];

export interface RetagOptions {
  env?: string;
  vendor?: string;
  modality?: string;
  staleOnly?: boolean;
  missingOnly?: boolean;
  status?: string;
  redrive?: string;
  stateMachine?: string;
  region?: string;
  inventoryManifest?: string;
  follow?: boolean;
  progress?: boolean;
  interval?: string;
  batchSize?: string;
  api?: string;
  s3?: string;
  bucket?: string;
}

/** Where the command writes; the tests collect lines instead of a terminal. */
export interface RetagIo {
  out(line: string): void;
  err(line: string): void;
  /** Draw a progress bar (a terminal); otherwise a line per change. */
  tty: boolean;
  sleep(ms: number): Promise<void>;
  now(): number;
}

const consoleIo = (): RetagIo => ({
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  tty: process.stderr.isTTY === true,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
});

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A progress bar on a terminal, a line per change elsewhere (logs, CI, tests). */
class ProgressView {
  private bar?: SingleBar;
  private last = '';

  constructor(
    private readonly io: RetagIo,
    private readonly label: string,
    private readonly enabled: boolean,
  ) {}

  update(p: RetagProgress): void {
    if (!this.enabled) return;
    if (this.io.tty) {
      if (!this.bar) {
        this.bar = new SingleBar(
          { format: `${this.label} [{bar}] {percentage}% | {value}/{total} items | {failed} failed | ETA {left}`, hideCursor: true, clearOnComplete: false, stream: process.stderr },
          Presets.shades_classic,
        );
        this.bar.start(Math.max(p.total, 1), p.done, { failed: p.failed, left: formatDuration(etaMs(p)) });
      }
      this.bar.setTotal(Math.max(p.total, 1));
      this.bar.update(p.done, { failed: p.failed, left: formatDuration(etaMs(p)) });
      return;
    }
    const line = progressLine(this.label, p);
    if (line !== this.last) this.io.err(line);
    this.last = line;
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

const filtersOf = (opts: RetagOptions): RetagFilters => {
  if (opts.modality !== undefined && opts.modality !== 'image' && opts.modality !== 'text') throw new UsageError('--modality must be image or text');
  if (opts.staleOnly && opts.missingOnly) throw new UsageError('--stale-only and --missing-only exclude each other');
  try {
    return parseRetagFilters({ vendor: opts.vendor, modality: opts.modality, staleOnly: opts.staleOnly === true, missingOnly: opts.missingOnly === true });
  } catch (error) {
    if (error instanceof RetagFilterError) throw new UsageError(error.message.replace(/^invalid re-tag filters: /, ''));
    throw error;
  }
};

const positive = (raw: string | undefined, fallback: number, what: string): number => {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${what} must be a positive number`);
  return value;
};

const describeFilters = (filters: RetagFilters): string =>
  [
    filters.staleOnly ? 'stale sources' : filters.missingOnly ? 'objects without a source' : 'sources not tagged at the deployed version',
    filters.modality ? `(${filters.modality})` : '',
    filters.vendor ? `of ${filters.vendor}` : '',
  ]
    .filter(Boolean)
    .join(' ');

const summarize = (result: RetagBatchResult): string => {
  const states = Object.entries(result.states)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  const ignored = Object.entries(result.ignored)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason.replace(/_/g, ' ')}`);
  return (
    `listed ${result.items} keys; queued ${queuedTotal(result)} (image ${result.queued.image}, text ${result.queued.text})` +
    (states.length > 0 ? `; sources: ${states.join(', ')}` : '') +
    (ignored.length > 0 ? `; not sources: ${ignored.join(', ')}` : '')
  );
};

// --- local ---------------------------------------------------------------------------------

interface QueueDepth {
  visible: number;
  delayed: number;
  inFlight: number;
}

const localJson = async <T>(url: string, init?: RequestInit): Promise<T> => {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new Error(`cannot reach the local stack at ${new URL(url).origin} (${(error as Error).message}); is it running (npm start)?`);
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${new URL(url).pathname} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
};

const retagDeadLetters = async (api: string): Promise<number> => {
  const { items } = await localJson<{ items: { queue: string }[] }>(`${api}/local/dead-letters?limit=100000`);
  return items.filter((l) => LOCAL_RETAG_QUEUES.includes(l.queue)).length;
};

const runLocal = async (opts: RetagOptions, filters: RetagFilters, io: RetagIo): Promise<number> => {
  if (opts.status || opts.redrive) throw new UsageError('--status and --redrive follow executions of the re-tag job on AWS (--env dev|staging|prod)');
  if (opts.inventoryManifest) throw new UsageError('--inventory-manifest is for the re-tag job on AWS');
  const api = (opts.api ?? `http://127.0.0.1:${process.env.WEFT_API_PORT ?? 3000}`).replace(/\/$/, '');
  const s3Url = opts.s3 ?? `http://127.0.0.1:${process.env.WEFT_S3_PORT ?? 4569}`;
  const bucket = opts.bucket ?? 'weft-uploads';
  const batchSize = Math.floor(positive(opts.batchSize, 500, '--batch-size'));
  const s3 = new S3Client({ endpoint: s3Url, forcePathStyle: true, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const started = io.now();
  io.err(`weft retag: ${describeFilters(filters)} on the local stack (${api}, bucket ${bucket})`);
  const deadBefore = await retagDeadLetters(api);
  let total = emptyRetagResult();
  const checking = new ProgressView(io, 'checking', opts.progress !== false);
  try {
    for await (const batch of batches(listKeys(s3, bucket, filters), batchSize)) {
      const result = await localJson<RetagBatchResult>(`${api}/local/retag`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Items: batch, BatchInput: { filters } }),
      });
      total = addRetagResults(total, result);
      checking.update({ done: total.items, failed: 0, total: total.items, elapsedMs: io.now() - started });
    }
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchBucket') throw new Error(`the local S3 at ${s3Url} has no bucket ${bucket}`);
    if (/ECONNREFUSED|fetch failed/.test(String((error as Error).message))) throw new Error(`cannot reach the local S3 at ${s3Url}; is the stack running (npm start)?`);
    throw error;
  } finally {
    checking.stop();
    s3.destroy();
  }
  io.out(summarize(total));

  // The handlers take the re-tag queues' messages: follow them until none is left.
  const queued = queuedTotal(total);
  const tagging = new ProgressView(io, 'tagging', opts.progress !== false && queued > 0);
  const taggingStarted = io.now();
  for (;;) {
    const depth = await localJson<Record<string, QueueDepth>>(`${api}/local/queues`);
    const waiting = LOCAL_RETAG_QUEUES.reduce((n, q) => n + (depth[q]?.visible ?? 0) + (depth[q]?.delayed ?? 0), 0);
    const running = LOCAL_RETAG_QUEUES.some((q) => (depth[q]?.inFlight ?? 0) > 0);
    const dead = (await retagDeadLetters(api)) - deadBefore;
    tagging.update({ done: Math.max(0, queued - waiting - (running ? 1 : 0)), failed: dead, total: queued, elapsedMs: io.now() - taggingStarted });
    if (waiting === 0 && !running) {
      tagging.stop();
      io.out(`re-tagged ${queued - dead} of ${queued} queued sources in ${((io.now() - started) / 1000).toFixed(1)} s${dead > 0 ? `; ${dead} dead-lettered (weft dead-letters)` : ''}`);
      return dead > 0 ? 1 : 0;
    }
    await io.sleep(250);
  }
};

// --- AWS -----------------------------------------------------------------------------------

const stateMachineArnOf = async (env: string, region: string | undefined): Promise<string> => {
  const cfn = new CloudFormationClient(region ? { region } : {});
  try {
    const stackName = `Weft-${env}`;
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    const arn = stack?.Outputs?.find((o) => o.OutputKey === STATE_MACHINE_OUTPUT)?.OutputValue;
    if (!arn) throw new Error(`stack ${stackName} has no ${STATE_MACHINE_OUTPUT} output; deploy this version of the stack (npx cdk deploy -c env=${env}) or pass --state-machine <arn>`);
    return arn;
  } finally {
    cfn.destroy();
  }
};

const TERMINAL_FAILURES = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

const mapRunOf = async (sfn: SFNClient, executionArn: string): Promise<DescribeMapRunOutput | undefined> => {
  const runs = (await sfn.send(new ListMapRunsCommand({ executionArn }))).mapRuns ?? [];
  const arn = runs[0]?.mapRunArn;
  return arn ? sfn.send(new DescribeMapRunCommand({ mapRunArn: arn })) : undefined;
};

const progressOfMapRun = (run: DescribeMapRunOutput | undefined, now: number): RetagProgress => {
  const c = run?.itemCounts;
  const failed = (c?.failed ?? 0) + (c?.timedOut ?? 0) + (c?.aborted ?? 0);
  return { done: (c?.succeeded ?? 0) + failed, failed, total: c?.total ?? 0, elapsedMs: run?.startDate ? now - run.startDate.getTime() : 0 };
};

/** Where the map run's ResultWriter put its manifest, from the execution's output. */
const resultsOf = (execution: DescribeExecutionOutput): string | undefined => {
  try {
    const details = (JSON.parse(execution.output ?? '{}') as { mapRun?: { ResultWriterDetails?: { Bucket?: string; Key?: string } } }).mapRun?.ResultWriterDetails;
    return details?.Bucket && details.Key ? `s3://${details.Bucket}/${details.Key}` : undefined;
  } catch {
    return undefined;
  }
};

const follow = async (sfn: SFNClient, executionArn: string, opts: RetagOptions, io: RetagIo): Promise<number> => {
  const interval = positive(opts.interval, 5, '--interval') * 1000;
  const view = new ProgressView(io, 'retag', opts.progress !== false);
  const envFlag = opts.env ? `--env ${opts.env} ` : '';
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const run = await mapRunOf(sfn, executionArn);
    const progress = progressOfMapRun(run, io.now());
    view.update(progress);
    const status = execution.status ?? 'UNKNOWN';
    if (status !== 'RUNNING' && status !== 'PENDING_REDRIVE') {
      view.stop();
      const c = run?.itemCounts;
      io.out(
        `execution ${status.toLowerCase()}: ${c?.succeeded ?? 0} of ${c?.total ?? 0} items succeeded, ${progress.failed} failed` +
          (run?.redriveCount ? ` (redriven ${run.redriveCount}×)` : ''),
      );
      const results = resultsOf(execution);
      if (results) io.out(`batch results: ${results}`);
      if (status === 'SUCCEEDED') {
        io.out('the ingest functions take the queued re-tags from the re-tag queues (RetagImageQueueUrl, RetagTextQueueUrl)');
        return 0;
      }
      if (TERMINAL_FAILURES.has(status)) {
        if (execution.error || execution.cause) io.err(`${execution.error ?? ''}${execution.cause ? `: ${execution.cause}` : ''}`);
        io.err(`after fixing the cause: weft retag ${envFlag}--redrive ${executionArn}`);
      }
      return 1;
    }
    await io.sleep(interval);
  }
};

const runAws = async (opts: RetagOptions, filters: RetagFilters | undefined, io: RetagIo): Promise<number> => {
  const sfn = new SFNClient(opts.region ? { region: opts.region } : {});
  try {
    if (opts.status) return await follow(sfn, opts.status, opts, io);
    if (opts.redrive) {
      const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn: opts.redrive }));
      io.out(`redriven ${opts.redrive}${redriveDate ? ` at ${redriveDate.toISOString()}` : ''}: its failed batches run again`);
      return opts.follow === false ? 0 : await follow(sfn, opts.redrive, opts, io);
    }
    const stateMachineArn = opts.stateMachine ?? (await stateMachineArnOf(opts.env!, opts.region));
    const input = retagExecutionInput(filters!, opts.inventoryManifest);
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: retagExecutionName(filters!, new Date(io.now()), randomBytes(3).toString('hex')), input: JSON.stringify(input) }),
    );
    io.out(`started ${executionArn}: ${describeFilters(filters!)}`);
    io.out(`follow it again with: weft retag${opts.env ? ` --env ${opts.env}` : ''} --status ${executionArn}`);
    return opts.follow === false ? 0 : await follow(sfn, executionArn!, opts, io);
  } finally {
    sfn.destroy();
  }
};

export const runRetag = async (opts: RetagOptions, io: RetagIo = consoleIo()): Promise<number> => {
  try {
    const local = opts.env === undefined || opts.env === 'local';
    if (!local && !(AWS_ENVIRONMENTS as readonly string[]).includes(opts.env!)) throw new UsageError(`unknown environment "${opts.env}"; known: local, ${AWS_ENVIRONMENTS.join(', ')}`);
    if (opts.status && opts.redrive) throw new UsageError('--status and --redrive exclude each other');
    const following = opts.status !== undefined || opts.redrive !== undefined;
    if (following && (opts.vendor || opts.modality || opts.staleOnly || opts.missingOnly)) throw new UsageError('filters apply when starting a re-tag, not with --status or --redrive');
    const filters = following ? undefined : filtersOf(opts);
    return local ? await runLocal(opts, filters ?? {}, io) : await runAws(opts, filters, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`weft retag: ${error.message}`);
      return 2;
    }
    io.err(`weft retag: ${describeError(error) || (error as Error).message}`);
    return 1;
  }
};

export const register = (program: Command): void => {
  program
    .command('retag')
    .description('tag the catalog again (sources not at the deployed model version, --stale-only, or --missing-only), with a progress bar: the re-tag job on AWS, the local stack by default')
    .option('--env <env>', `local (default: the stack of npm start) or an AWS environment: ${AWS_ENVIRONMENTS.join(', ')}`)
    .option('--vendor <vendor>', 'only this vendor')
    .option('--modality <modality>', 'image or text')
    .option('--stale-only', 'only sources tagged with another model version than the deployed one')
    .option('--missing-only', 'only objects with no source in the table (reconciliation)')
    .option('--status <executionArn>', 'AWS: follow an execution of the re-tag job')
    .option('--redrive <executionArn>', 'AWS: redrive a failed execution (its failed batches run again) and follow it')
    .option('--state-machine <arn>', `AWS: the re-tag job's state machine (default: the ${STATE_MACHINE_OUTPUT} output of stack Weft-<env>)`)
    .option('--region <region>', 'AWS region (default: the SDK configuration)')
    .option('--inventory-manifest <key>', "AWS: read this S3 Inventory manifest (a key in the environment's inventory bucket) instead of listing the bucket")
    .option('--no-follow', 'AWS: start (or redrive) and return without following')
    .option('--no-progress', 'no progress output')
    .option('--interval <seconds>', 'AWS: seconds between status reads', '5')
    .option('--batch-size <n>', 'local: keys per batch', '500')
    .option('--api <url>', 'local: API of the running stack', `http://127.0.0.1:${process.env.WEFT_API_PORT ?? 3000}`)
    .option('--s3 <url>', 'local: S3 of the running stack', `http://127.0.0.1:${process.env.WEFT_S3_PORT ?? 4569}`)
    .option('--bucket <name>', 'local: uploads bucket', 'weft-uploads')
    .action(async (opts: RetagOptions) => {
      process.exitCode = await runRetag(opts);
    });
};
