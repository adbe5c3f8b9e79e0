/**
 * Delivery semantics of the local S3 → SQS → Lambda stand-in, against the real s3rver, dynalite
 * and dispatcher: the handlers here are small real functions that record what they receive and
 * fail on purpose, so the retry, partial batch response and dead-letter paths run end to end.
 */
import { mkdirSync, mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { channel } from 'node:diagnostics_channel';
import { decodeS3Key } from '../../functions/shared/layout.js';
import { RECORD_FAILED_CHANNEL } from '../../local/dispatcher/Dispatcher.js';
import { startStack, type RunningStack } from '../../local/stack.js';

interface Received {
  queue: string;
  messageId: string;
  receiveCount: number;
  eventName: string;
  rawKey: string;
  key: string;
}

const put = (stack: RunningStack, key: string, body = 'x') => stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));

describe('local delivery (s3rver → dispatcher → handlers)', () => {
  let home: string;
  let stack: RunningStack;
  const received: Received[] = [];
  const batches: { queue: string; size: number }[] = [];
  /** Keys whose messages the handlers report as failed (partial batch response) or throw on. */
  const failKeys = new Set<string>();
  const throwKeys = new Set<string>();

  const handler = (queue: string) => async (event: SQSEvent): Promise<SQSBatchResponse> => {
    batches.push({ queue, size: event.Records.length });
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      const body = JSON.parse(record.body) as { Records: { eventName: string; s3: { object: { key: string } } }[] };
      for (const r of body.Records) {
        const key = decodeS3Key(r.s3.object.key);
        received.push({ queue, messageId: record.messageId, receiveCount: Number(record.attributes.ApproximateReceiveCount), eventName: r.eventName, rawKey: r.s3.object.key, key });
        if (throwKeys.has(key)) throw new Error(`simulated crash on ${key}`);
        // Hangs past the Lambda timeout on its first receive only.
        if (key.includes('slow') && record.attributes.ApproximateReceiveCount === '1') await new Promise((r) => setTimeout(r, 2_000));
        if (failKeys.has(key)) {
          failures.push({ itemIdentifier: record.messageId });
          if (key.includes('explained')) channel(RECORD_FAILED_CHANNEL).publish({ messageId: record.messageId, error: `no luck with ${key}` });
        }
      }
    }
    return { batchItemFailures: failures };
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-delivery-'));
    mkdirSync(join(home, 'no-models'));
    stack = await startStack({
      home,
      modelsDir: join(home, 'no-models'),
      quiet: true,
      delivery: { maxReceiveCount: 3, backoffMs: 50, maxBackoffMs: 200, batchWindowMs: 50, batchSize: 5, timeoutMs: 500 },
      handlers: {
        image: handler('image'),
        text: handler('text'),
        api: async () => ({ statusCode: 200, body: '{}' }),
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('routes by the notification filters and URL-encodes keys as S3 does', async () => {
    await put(stack, 'acme/p 1/images/front view (1).JPG');
    await put(stack, 'acme/p1/product.json', '{"title":"t"}');
    await put(stack, 'acme/p1/notes.txt');
    await stack.dispatcher.idle();
    const image = received.find((r) => r.key === 'acme/p 1/images/front view (1).JPG');
    expect(image).toMatchObject({ queue: 'image', eventName: 'ObjectCreated:Put', rawKey: 'acme/p+1/images/front+view+%281%29.JPG' });
    expect(received.find((r) => r.key === 'acme/p1/product.json')?.queue).toBe('text');
    // No notification filter matches .txt, so AWS would never deliver it; neither does the dispatcher.
    expect(received.some((r) => r.key === 'acme/p1/notes.txt')).toBe(false);
  });

  it('batches messages up to the batch size', async () => {
    batches.length = 0;
    await Promise.all(Array.from({ length: 12 }, (_, i) => put(stack, `acme/batch${i}/images/a.png`)));
    await stack.dispatcher.idle();
    const sizes = batches.filter((b) => b.queue === 'image').map((b) => b.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(12);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
    expect(sizes.length).toBeLessThan(12);
  });

  it('emits ObjectRemoved for single and multi-object deletes', async () => {
    await put(stack, 'acme/d1/images/a.jpg');
    await put(stack, 'acme/d2/images/b.jpg');
    await stack.dispatcher.idle();
    await stack.s3.send(new DeleteObjectsCommand({ Bucket: stack.bucket, Delete: { Objects: [{ Key: 'acme/d1/images/a.jpg' }, { Key: 'acme/d2/images/b.jpg' }] } }));
    await stack.dispatcher.idle();
    const removed = received.filter((r) => r.eventName === 'ObjectRemoved:Delete').map((r) => r.key);
    expect(removed).toEqual(expect.arrayContaining(['acme/d1/images/a.jpg', 'acme/d2/images/b.jpg']));
  });

  it('retries only the failed message of a batch, then dead-letters it with its error', async () => {
    failKeys.add('acme/bad/images/x.jpg');
    await Promise.all([put(stack, 'acme/bad/images/x.jpg'), put(stack, 'acme/good/images/y.jpg')]);
    await stack.dispatcher.idle();
    const bad = received.filter((r) => r.key === 'acme/bad/images/x.jpg');
    const good = received.filter((r) => r.key === 'acme/good/images/y.jpg');
    expect(bad.map((r) => r.receiveCount)).toEqual([1, 2, 3]);
    expect(good).toHaveLength(1);
    const letters = await stack.dispatcher.deadLetters();
    const letter = letters.find((l) => l.keys.includes('acme/bad/images/x.jpg'));
    expect(letter).toMatchObject({ queue: 'image', receiveCount: 3 });
    expect(letter?.attempts).toHaveLength(3);
    expect(letter?.error).toMatch(/batchItemFailures/);
    // Persisted, and listed by the API server's local route.
    expect(existsSync(join(home, 'dead-letters', `${letter!.messageId}.json`))).toBe(true);
    const listed = (await (await fetch(`${stack.urls.api}/local/dead-letters`)).json()) as { items: { messageId: string }[] };
    expect(listed.items.map((l) => l.messageId)).toContain(letter!.messageId);
  });

  it('a dead letter carries the error a handler published for the failed record', async () => {
    failKeys.add('acme/explained/images/x.jpg');
    await put(stack, 'acme/explained/images/x.jpg');
    await stack.dispatcher.idle();
    const letter = (await stack.dispatcher.deadLetters()).find((l) => l.keys.includes('acme/explained/images/x.jpg'));
    expect(letter?.error).toBe('no luck with acme/explained/images/x.jpg');
    expect(letter?.attempts.map((a) => a.error)).toEqual(Array(3).fill('no luck with acme/explained/images/x.jpg'));
  });

  it('redrives dead letters back onto their queue', async () => {
    const letter = (await stack.dispatcher.deadLetters()).find((l) => l.keys.includes('acme/bad/images/x.jpg'))!;
    failKeys.delete('acme/bad/images/x.jpg');
    const before = received.filter((r) => r.key === 'acme/bad/images/x.jpg').length;
    const res = await fetch(`${stack.urls.api}/local/dead-letters/redrive?messageId=${letter.messageId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { redriven: { from: string }[] }).redriven.map((r) => r.from)).toEqual([letter.messageId]);
    await stack.dispatcher.idle();
    const after = received.filter((r) => r.key === 'acme/bad/images/x.jpg');
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)!.receiveCount).toBe(1);
    expect((await stack.dispatcher.deadLetters()).some((l) => l.messageId === letter.messageId)).toBe(false);
  });

  it('a handler that throws fails the whole batch and the dead letter carries the error', async () => {
    throwKeys.add('acme/crash/product.json');
    await put(stack, 'acme/crash/product.json', '{}');
    await stack.dispatcher.idle();
    const letter = (await stack.dispatcher.deadLetters()).find((l) => l.keys.includes('acme/crash/product.json'));
    expect(letter?.error).toBe('simulated crash on acme/crash/product.json');
    expect(letter?.queue).toBe('text');
  });

  it('fails a batch that outlives the function timeout and delivers it again', async () => {
    await put(stack, 'acme/slow/product.json', '{}');
    await stack.dispatcher.idle();
    const receipts = received.filter((r) => r.key === 'acme/slow/product.json').map((r) => r.receiveCount);
    expect(receipts).toEqual([1, 2]);
    expect((await stack.dispatcher.deadLetters()).some((l) => l.keys.includes('acme/slow/product.json'))).toBe(false);
  });

  it('persists pending messages, so a restart delivers what was queued', async () => {
    // Stop with a message still waiting for its retry: it must survive in queues.json.
    failKeys.add('acme/later/images/z.jpg');
    await put(stack, 'acme/later/images/z.jpg');
    await new Promise((r) => setTimeout(r, 150));
    await stack.stop();
    const saved = JSON.parse(readFileSync(join(home, 'queues.json'), 'utf8')) as { messages: { body: string }[] };
    expect(saved.messages.some((m) => m.body.includes('acme/later/images/z.jpg'))).toBe(true);
    failKeys.delete('acme/later/images/z.jpg');
    const before = received.filter((r) => r.key === 'acme/later/images/z.jpg').length;
    stack = await startStack({
      home,
      modelsDir: join(home, 'no-models'),
      quiet: true,
      delivery: { maxReceiveCount: 3, backoffMs: 50, maxBackoffMs: 200, batchWindowMs: 50 },
      handlers: { image: handler('image'), text: handler('text'), api: async () => ({ statusCode: 200, body: '{}' }) },
    });
    await stack.dispatcher.idle();
    expect(received.filter((r) => r.key === 'acme/later/images/z.jpg').length).toBeGreaterThan(before);
    expect((await stack.dispatcher.deadLetters()).some((l) => l.keys.includes('acme/later/images/z.jpg'))).toBe(false);
  });
});
