/**
 * `weft retag` on AWS with mocked clients (aws-sdk-client-mock): the state machine found from the
 * stack's RetagStateMachineArn output, the execution started with the filters and the listing
 * prefix, the map run followed to its end (items done, failed, ETA), `--status` following an
 * execution again, `--redrive` redriving a failed one, and the usage errors.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeExecutionCommand, DescribeMapRunCommand, ListMapRunsCommand, RedriveExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runRetag, type RetagIo } from '../../cli/commands/retag.js';

const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
afterAll(() => {
  sfn.restore();
  cfn.restore();
});

const MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:weft-retag-dev';
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:weft-retag-dev:retag-acme';
const MAP_RUN = 'arn:aws:states:us-east-1:123456789012:mapRun:weft-retag-dev/Retag:abc';

const io = () => {
  const lines: { out: string[]; err: string[] } = { out: [], err: [] };
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const value: RetagIo = {
    out: (line) => lines.out.push(line),
    err: (line) => lines.err.push(line),
    tty: false,
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
  };
  return { io: value, lines };
};

const counts = (succeeded: number, failed: number, total: number) => ({ pending: total - succeeded - failed, running: 0, succeeded, failed, timedOut: 0, aborted: 0, total, resultsWritten: succeeded + failed });
const mapRun = (succeeded: number, failed: number, total: number, extra: object = {}) => ({
  mapRunArn: MAP_RUN,
  executionArn: EXECUTION,
  status: 'RUNNING' as const,
  startDate: new Date('2026-12-01T10:00:00Z'),
  maxConcurrency: 4,
  toleratedFailurePercentage: 10,
  toleratedFailureCount: 0,
  itemCounts: counts(succeeded, failed, total),
  executionCounts: counts(0, 0, 0),
  ...extra,
});

beforeEach(() => {
  sfn.reset();
  cfn.reset();
  cfn.on(DescribeStacksCommand, { StackName: 'Weft-dev' }).resolves({
    Stacks: [{ StackName: 'Weft-dev', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE', Outputs: [{ OutputKey: 'TableName', OutputValue: 't' }, { OutputKey: 'RetagStateMachineArn', OutputValue: MACHINE }] }],
  });
  sfn.on(ListMapRunsCommand, { executionArn: EXECUTION }).resolves({ mapRuns: [{ mapRunArn: MAP_RUN, executionArn: EXECUTION, stateMachineArn: MACHINE, startDate: new Date() }] });
});

describe('weft retag on AWS', () => {
  it('starts the re-tag job found from the stack outputs with the filters, and follows its map run to the end', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: EXECUTION, stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date() })
      .resolvesOnce({ executionArn: EXECUTION, stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date() })
      .resolves({
        executionArn: EXECUTION,
        stateMachineArn: MACHINE,
        status: 'SUCCEEDED',
        startDate: new Date(),
        output: JSON.stringify({ filters: {}, mapRun: { MapRunArn: MAP_RUN, ResultWriterDetails: { Bucket: 'results', Key: 'retag/abc/manifest.json' } } }),
      });
    sfn.on(DescribeMapRunCommand).resolvesOnce(mapRun(0, 0, 1000)).resolvesOnce(mapRun(400, 0, 1000)).resolves(mapRun(1000, 0, 1000, { status: 'SUCCEEDED' }));
    const { io: out, lines } = io();

    const code = await runRetag({ env: 'dev', vendor: 'acme', modality: 'image', staleOnly: true, interval: '5' }, out);
    expect(code, lines.err.join('\n')).toBe(0);
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start.stateMachineArn).toBe(MACHINE);
    expect(JSON.parse(start.input!)).toEqual({ filters: { vendor: 'acme', modality: 'image', staleOnly: true }, prefix: 'acme/' });
    expect(start.name).toMatch(/^retag-acme-image-stale-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(lines.out[0]).toBe(`started ${EXECUTION}: stale sources (image) of acme`);
    expect(lines.out[1]).toBe(`follow it again with: weft retag --env dev --status ${EXECUTION}`);
    // One line per change: 0/1000, then 400/1000 after 5 s (ETA 7.5 s at that rate), then done.
    expect(lines.err).toEqual(['retag: 0/1000 items, 0 failed, ETA ?', 'retag: 400/1000 items, 0 failed, ETA 8s', 'retag: 1000/1000 items, 0 failed, ETA 0s']);
    expect(lines.out.slice(2)).toEqual([
      'execution succeeded: 1000 of 1000 items succeeded, 0 failed',
      'batch results: s3://results/retag/abc/manifest.json',
      'the ingest functions take the queued re-tags from the re-tag queues (RetagImageQueueUrl, RetagTextQueueUrl)',
    ]);
  });

  it('passes an S3 Inventory manifest and takes the state machine given instead of the stack’s, without following when asked', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    const { io: out } = io();
    expect(await runRetag({ env: 'prod', missingOnly: true, stateMachine: 'arn:aws:states:us-east-1:1:stateMachine:other', inventoryManifest: 'inv/weft-uploads/all/2026-12-01T01-00Z/manifest.json', follow: false }, out)).toBe(0);
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start.stateMachineArn).toBe('arn:aws:states:us-east-1:1:stateMachine:other');
    expect(JSON.parse(start.input!)).toEqual({ filters: { missingOnly: true }, prefix: '', inventoryManifestKey: 'inv/weft-uploads/all/2026-12-01T01-00Z/manifest.json' });
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });

  it('follows an execution again with --status and says how to redrive a failed one', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, stateMachineArn: MACHINE, status: 'FAILED', startDate: new Date(), error: 'States.ExceedToleratedFailureThreshold', cause: 'too many failed items' });
    sfn.on(DescribeMapRunCommand).resolves(mapRun(850, 150, 1000, { status: 'FAILED' }));
    const { io: out, lines } = io();
    expect(await runRetag({ env: 'dev', status: EXECUTION }, out)).toBe(1);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(lines.out).toEqual(['execution failed: 850 of 1000 items succeeded, 150 failed']);
    expect(lines.err).toContain('States.ExceedToleratedFailureThreshold: too many failed items');
    expect(lines.err.at(-1)).toBe(`after fixing the cause: weft retag --env dev --redrive ${EXECUTION}`);
  });

  it('redrives a failed execution and follows it until its failed batches have run again', async () => {
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date('2026-12-01T11:00:00Z') });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: EXECUTION, stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date() })
      .resolves({ executionArn: EXECUTION, stateMachineArn: MACHINE, status: 'SUCCEEDED', startDate: new Date() });
    sfn.on(DescribeMapRunCommand).resolvesOnce(mapRun(850, 0, 1000, { redriveCount: 1 })).resolves(mapRun(1000, 0, 1000, { status: 'SUCCEEDED', redriveCount: 1 }));
    const { io: out, lines } = io();
    expect(await runRetag({ env: 'dev', redrive: EXECUTION, interval: '1' }, out)).toBe(0);
    expect(sfn.commandCalls(RedriveExecutionCommand)[0]!.args[0].input).toEqual({ executionArn: EXECUTION });
    expect(lines.out[0]).toBe(`redriven ${EXECUTION} at 2026-12-01T11:00:00.000Z: its failed batches run again`);
    expect(lines.out[1]).toBe('execution succeeded: 1000 of 1000 items succeeded, 0 failed (redriven 1×)');
  });

  it('names a stack without the output, and refuses what cannot run', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Weft-staging', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE', Outputs: [] }] });
    const missing = io();
    expect(await runRetag({ env: 'staging' }, missing.io)).toBe(1);
    expect(missing.lines.err[0]).toMatch(/stack Weft-staging has no RetagStateMachineArn output/);

    const cases: [object, RegExp][] = [
      [{ env: 'qa' }, /unknown environment "qa"/],
      [{ env: 'dev', staleOnly: true, missingOnly: true }, /exclude each other/],
      [{ env: 'dev', modality: 'video' }, /--modality must be image or text/],
      [{ env: 'dev', vendor: 'a/b' }, /vendor must match/],
      [{ env: 'dev', status: EXECUTION, vendor: 'acme' }, /filters apply when starting/],
      [{ env: 'dev', status: EXECUTION, redrive: EXECUTION }, /exclude each other/],
      [{ env: 'local', redrive: EXECUTION }, /on AWS/],
    ];
    for (const [opts, message] of cases) {
      const { io: out, lines } = io();
      expect(await runRetag(opts, out), JSON.stringify(opts)).toBe(2);
      expect(lines.err[0]).toMatch(message);
    }
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
