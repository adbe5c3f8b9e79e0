/**
 * The local dispatcher's persistence and timeouts, on a real state folder: what a restart (a new
 * Dispatcher on the same files, without the old one ever stopping, as after a crash) finds, how an
 * unreadable queue file and a failing save are handled, and that a timed-out batch is not
 * delivered again while it is still running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DeadLetterStore } from '../../local/dispatcher/deadLetterStore.js';
import { Dispatcher, type DispatcherOptions } from '../../local/dispatcher/Dispatcher.js';
import type { SqsHandler } from '../../local/dispatcher/types.js';

const notification = (key: string): string =>
  JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'weft-uploads' }, object: { key, sequencer: '0A' } } }] });

const waiting = (d: Dispatcher): number => Object.values(d.depth()).reduce((n, q) => n + q.visible + q.delayed + q.inFlight, 0);

describe('local dispatcher', () => {
  let home: string;
  const dispatchers: Dispatcher[] = [];
  const logs: string[] = [];

  const dispatcher = (overrides: Partial<DispatcherOptions> & { handler?: SqsHandler; timeoutMs?: number } = {}): Dispatcher => {
    const { handler = async () => ({ batchItemFailures: [] }), timeoutMs = 5_000, ...rest } = overrides;
    const queue = { handler, batchSize: 10, batchWindowMs: 0, concurrency: 2, timeoutMs };
    const d = new Dispatcher({
      queues: { image: queue, text: queue },
      maxReceiveCount: 3,
      backoffMs: 10,
      maxBackoffMs: 50,
      deadLetters: new DeadLetterStore(join(home, 'dead-letters')),
      pendingFile: join(home, 'queues.json'),
      region: 'us-east-1',
      log: (message) => logs.push(message),
      ...rest,
    });
    dispatchers.push(d);
    return d;
  };

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'weft-dispatcher-'));
    logs.length = 0;
  });

  afterEach(async () => {
    for (const d of dispatchers.splice(0).reverse()) await d.stop().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });

  it('a message is on disk when send returns: a restart right after finds it', () => {
    const first = dispatcher();
    first.send('image', notification('acme/p1/images/a.jpg'));
    const restarted = dispatcher();
    expect(waiting(restarted)).toBe(1);
  });

  it('a message dead-lettered just before a crash is not restored to its queue as well', async () => {
    // Retries far enough apart that the queue is saved between them, while it still holds the message.
    const first = dispatcher({
      backoffMs: 150,
      maxBackoffMs: 150,
      handler: async (event: SQSEvent): Promise<SQSBatchResponse> => ({ batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) }),
    });
    first.start();
    first.send('text', notification('acme/p1/product.json'));
    await first.idle();
    expect(await first.deadLetters()).toHaveLength(1);
    const restarted = dispatcher();
    expect(waiting(restarted)).toBe(0);
  });

  it('refuses to start on an unreadable queues.json instead of dropping its messages', () => {
    writeFileSync(join(home, 'queues.json'), '{"messages": [{"messageId": "m1", "queue": "image", "bo');
    expect(() => dispatcher()).toThrow(/queues\.json/);
  });

  it('a save that fails is reported and retried, not thrown from a timer', async () => {
    const d = dispatcher();
    // A directory where the queue file goes: every save fails until it is removed.
    rmSync(join(home, 'queues.json'), { force: true });
    mkdirSync(join(home, 'queues.json'));
    d.send('image', notification('acme/p1/images/a.jpg'));
    await expect.poll(() => logs.join('\n'), { timeout: 3_000 }).toMatch(/queues\.json/);
    rmSync(join(home, 'queues.json'), { recursive: true });
    await expect.poll(() => waiting(dispatcher()), { timeout: 5_000 }).toBe(1);
  });

  it('a timed-out batch is not delivered again while its first run is still going', async () => {
    const runs: { receive: number; start: number; end?: number }[] = [];
    const d = dispatcher({
      timeoutMs: 100,
      handler: async (event: SQSEvent) => {
        const receive = Number(event.Records[0]!.attributes.ApproximateReceiveCount);
        const run: { receive: number; start: number; end?: number } = { receive, start: Date.now() };
        runs.push(run);
        if (receive === 1) await new Promise((r) => setTimeout(r, 400));
        run.end = Date.now();
        return { batchItemFailures: [] };
      },
    });
    d.start();
    d.send('image', notification('acme/slow/images/a.jpg'));
    await d.idle();
    expect(runs.map((r) => r.receive)).toEqual([1, 2]);
    expect(runs[1]!.start).toBeGreaterThanOrEqual(runs[0]!.end!);
    expect(logs.join('\n')).toMatch(/timed out/);
  });

  it('a batch that never finishes is given up on after a bounded wait, so its messages are not wedged', async () => {
    const receives: number[] = [];
    const d = dispatcher({
      timeoutMs: 50,
      handler: (event: SQSEvent) => {
        const receive = Number(event.Records[0]!.attributes.ApproximateReceiveCount);
        receives.push(receive);
        return receive === 1 ? new Promise<never>(() => undefined) : Promise.resolve({ batchItemFailures: [] });
      },
    });
    d.start();
    d.send('image', notification('acme/hung/images/a.jpg'));
    await d.idle();
    expect(receives).toEqual([1, 2]);
  });

  it('a stop does not wait out a timed-out run: its messages are saved for the next start', async () => {
    const d = dispatcher({ timeoutMs: 100, handler: () => new Promise<never>(() => undefined) });
    d.start();
    d.send('image', notification('acme/hung/images/b.jpg'));
    await expect.poll(() => logs.join('\n')).toMatch(/timed out/);
    await d.stop();
    expect(logs.join('\n')).not.toMatch(/still running/);
    expect(waiting(dispatcher())).toBe(1);
  });
});
