/**
 * The re-tag's domain code (functions/shared/retag), pure: filters and the execution input, keys
 * by the upload layout, batching, source states and the stale/missing selection, the re-tag
 * notification and how the ingest side reads it, the batch step with fake table and queues, the
 * SQS sender against a mocked client, progress and ETA.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseS3Notification } from '../../functions/shared/ingest/s3Events.js';
import { encodeS3Key } from '../../functions/shared/layout.js';
import type { SourceRef } from '../../functions/shared/products/keys.js';
import { batches, chunks } from '../../functions/shared/retag/batching.js';
import { listPrefix, parseRetagFilters, RetagFilterError, retagExecutionInput, retagExecutionName } from '../../functions/shared/retag/filters.js';
import { etaMs, formatDuration, progressLine } from '../../functions/shared/retag/progress.js';
import { sendToQueue } from '../../functions/shared/retag/queueSender.js';
import { addRetagResults, emptyRetagResult, queuedTotal, runRetagBatch, type RetagBatchDeps } from '../../functions/shared/retag/retagBatch.js';
import { RECONCILE_SEQUENCER, retagApplies, retagNotification, retagSequencer, sourceState, wantsState, type SourceRecord } from '../../functions/shared/retag/selection.js';
import { classifyKey, listedKey } from '../../functions/shared/retag/targets.js';

const IMAGE = 'weft-image@2';
const TEXT = 'weft-text@2';
const seq = (hex: string) => hex.padEnd(40, '0');

describe('filters', () => {
  it('keeps only the fields set and refuses what cannot be run', () => {
    expect(parseRetagFilters(undefined)).toEqual({});
    expect(parseRetagFilters({ vendor: 'acme', modality: 'image', staleOnly: true, missingOnly: false })).toEqual({ vendor: 'acme', modality: 'image', staleOnly: true });
    expect(() => parseRetagFilters({ staleOnly: true, missingOnly: true })).toThrow(/exclude each other/);
    expect(() => parseRetagFilters({ vendor: 'a/b' })).toThrow(RetagFilterError);
    expect(() => parseRetagFilters({ modality: 'video' })).toThrow(/modality/);
    expect(() => parseRetagFilters({ vendor: 'acme', extra: 1 })).toThrow(RetagFilterError);
  });

  it('lists under the vendor’s prefix, or the whole bucket, and names executions readably', () => {
    expect(listPrefix({ vendor: 'acme' })).toBe('acme/');
    expect(listPrefix({})).toBe('');
    expect(retagExecutionInput({ vendor: 'acme', staleOnly: true })).toEqual({ filters: { vendor: 'acme', staleOnly: true }, prefix: 'acme/' });
    expect(retagExecutionInput({}, 'inventory/weft-uploads/all/2026-12-01T01-00Z/manifest.json')).toMatchObject({ prefix: '', inventoryManifestKey: 'inventory/weft-uploads/all/2026-12-01T01-00Z/manifest.json' });
    const now = new Date('2026-12-01T10:20:30.456Z');
    expect(retagExecutionName({ vendor: 'acme.eu', modality: 'text', missingOnly: true }, now, 'ab12')).toBe('retag-acme_eu-text-missing-20261201T102030Z-ab12');
    expect(retagExecutionName({}, now, 'x')).toBe('retag-all-both-untagged-20261201T102030Z-x');
    const long = retagExecutionName({ vendor: 'v'.repeat(128) }, now, 'abcd');
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe('keys by the upload layout', () => {
  it('targets images and product.json of the filters’ vendor and modality, and skips derived views and keys outside the layout', () => {
    expect(classifyKey('acme/p1/images/front.jpg', {})).toEqual({ target: { kind: 'image', key: 'acme/p1/images/front.jpg', ref: { vendor: 'acme', productId: 'p1', kind: 'image', name: 'front.jpg' } } });
    expect(classifyKey('acme/p1/product.json', {})).toEqual({ target: { kind: 'text', key: 'acme/p1/product.json', ref: { vendor: 'acme', productId: 'p1', kind: 'text' } } });
    expect(classifyKey('derived/acme/p1/images/front.jpg/center', {})).toEqual({ ignored: 'derived' });
    expect(classifyKey('acme/p1/photo.jpg', {})).toEqual({ ignored: 'outside_layout' });
    expect(classifyKey('acme/p1/images/notes.txt', {})).toEqual({ ignored: 'outside_layout' });
    expect(classifyKey('stray.jpg', {})).toEqual({ ignored: 'outside_layout' });
    expect(classifyKey('other/p1/product.json', { vendor: 'acme' })).toEqual({ ignored: 'other_vendor' });
    expect(classifyKey('acme/p1/product.json', { modality: 'image' })).toEqual({ ignored: 'other_modality' });
  });

  it('decodes keys of an S3 Inventory report and takes listed keys as they are', () => {
    expect(listedKey({ key: 'acme/p+1/images/a%2Bb.jpg' }, true)).toBe('acme/p 1/images/a+b.jpg');
    expect(listedKey({ key: 'acme/p+1/images/a+b.jpg' }, false)).toBe('acme/p+1/images/a+b.jpg');
  });
});

describe('batching', () => {
  it('groups an async iterable into batches of the size, the last one shorter', async () => {
    async function* keys() {
      for (let i = 0; i < 7; i += 1) yield i;
    }
    const out: number[][] = [];
    for await (const batch of batches(keys(), 3)) out.push(batch);
    expect(out).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    const none: number[][] = [];
    for await (const batch of batches([], 3)) none.push(batch);
    expect(none).toEqual([]);
    expect(chunks([1, 2, 3, 4], 2)).toEqual([[1, 2], [3, 4]]);
    await expect(batches([1], 0).next()).rejects.toThrow(RangeError);
  });

  it('loses and repeats nothing, whatever the sizes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer(), { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), async (items, size) => {
        const out: number[][] = [];
        for await (const batch of batches(items, size)) out.push(batch);
        expect(out.flat()).toEqual(items);
        expect(out.every((b, i) => b.length === size || (i === out.length - 1 && b.length > 0 && b.length <= size))).toBe(true);
        expect(chunks(items, size).flat()).toEqual(items);
      }),
    );
  });
});

describe('source states and the selection', () => {
  const states: [SourceRecord | undefined, string][] = [
    [undefined, 'missing'],
    [{ status: 'tagged' }, 'missing'],
    [{ seq: seq('0A'), status: 'tagged', modelVersion: IMAGE }, 'current'],
    [{ seq: seq('0A'), status: 'tagged', modelVersion: 'weft-image@1' }, 'stale'],
    [{ seq: seq('0A'), status: 'tagged' }, 'stale'],
    [{ seq: seq('0A'), status: 'error' }, 'failed'],
    [{ seq: seq('0A'), status: 'pending' }, 'pending'],
    [{ seq: seq('0A'), status: 'deleted' }, 'deleted'],
  ];
  it.each(states)('%j is %s', (record, state) => {
    expect(sourceState(record, IMAGE)).toBe(state);
  });

  it('sends stale only with staleOnly, missing only with missingOnly, and everything not current or deleted otherwise', () => {
    const pick = (filters: object) => (['missing', 'stale', 'failed', 'pending', 'current', 'deleted'] as const).filter((s) => wantsState(s, filters));
    expect(pick({ staleOnly: true })).toEqual(['stale']);
    expect(pick({ missingOnly: true })).toEqual(['missing']);
    expect(pick({})).toEqual(['missing', 'stale', 'failed', 'pending']);
  });

  it('lets a re-tag through only for the source’s own sequencer and a source not tagged at the deployed version', () => {
    const tagged = { seq: seq('0A'), status: 'tagged', modelVersion: 'weft-image@1' };
    expect(retagApplies(tagged, seq('0A'), IMAGE)).toBe(true);
    expect(retagApplies({ ...tagged, modelVersion: IMAGE }, seq('0A'), IMAGE)).toBe(false);
    expect(retagApplies({ ...tagged, seq: seq('0B') }, seq('0A'), IMAGE)).toBe(false);
    expect(retagApplies({ ...tagged, status: 'deleted', modelVersion: undefined }, seq('0A'), IMAGE)).toBe(false);
    expect(retagApplies({ seq: seq('0A'), status: 'pending' }, seq('0A'), IMAGE)).toBe(true);
    expect(retagApplies(undefined, RECONCILE_SEQUENCER, IMAGE)).toBe(true);
    expect(retagApplies(undefined, seq('0A'), IMAGE)).toBe(false);
    expect(retagSequencer(undefined)).toBe(RECONCILE_SEQUENCER);
    expect(retagSequencer(tagged)).toBe(tagged.seq);
    // Below every sequencer S3 (or an event time) can produce.
    expect(RECONCILE_SEQUENCER < seq('00000000000000000001')).toBe(true);
  });
});

describe('re-tag notifications', () => {
  it('are S3 notifications the ingest functions parse as a re-tag of the key, with the sequencer given', () => {
    const key = 'acme/p 1/images/front (1)+b.jpg';
    const body = retagNotification({ bucket: 'weft-uploads', key, sequencer: seq('0A'), eventTime: '2026-12-01T00:00:00.000Z' });
    expect(JSON.parse(body).Records[0].s3.object.key).toBe(encodeS3Key(key));
    expect(parseS3Notification(body)).toEqual([{ action: 'created', eventName: 'ObjectCreated:Retag', eventTime: '2026-12-01T00:00:00.000Z', bucket: 'weft-uploads', key, order: seq('0A'), retag: true }]);
    const reconcile = retagNotification({ bucket: 'b', key: 'acme/p1/product.json', sequencer: RECONCILE_SEQUENCER, eventTime: '2026-12-01T00:00:00.000Z' });
    expect(parseS3Notification(reconcile)[0]?.order).toBe(RECONCILE_SEQUENCER);
  });

  it('are told apart from S3’s own records by their event source only', () => {
    const body = JSON.parse(retagNotification({ bucket: 'b', key: 'acme/p1/product.json', sequencer: seq('0A'), eventTime: '2026-12-01T00:00:00.000Z' }));
    body.Records[0].eventSource = 'aws:s3';
    expect(parseS3Notification(JSON.stringify(body))[0]?.retag).toBeUndefined();
  });
});

describe('one re-tag batch', () => {
  const recordsByKey = new Map<string, SourceRecord>([
    ['acme/p1/images/a.jpg', { seq: seq('01'), status: 'tagged', modelVersion: IMAGE }],
    ['acme/p1/images/b.jpg', { seq: seq('02'), status: 'tagged', modelVersion: 'weft-image@1' }],
    ['acme/p1/product.json', { seq: seq('03'), status: 'tagged', modelVersion: 'weft-text@1' }],
    ['acme/p2/product.json', { seq: seq('04'), status: 'error' }],
    ['acme/p3/images/gone.jpg', { seq: seq('05'), status: 'deleted' }],
  ]);
  const keyOf = (ref: SourceRef) => (ref.kind === 'image' ? `${ref.vendor}/${ref.productId}/images/${ref.name}` : `${ref.vendor}/${ref.productId}/product.json`);
  const fake = () => {
    const sent: { kind: string; bodies: string[] }[] = [];
    const reads: number[] = [];
    const deps: RetagBatchDeps = {
      readRecords: async (refs) => {
        reads.push(refs.length);
        return refs.map((ref) => recordsByKey.get(keyOf(ref)));
      },
      send: async (kind, bodies) => {
        sent.push({ kind, bodies });
      },
      deployed: { image: IMAGE, text: TEXT },
      bucket: 'weft-uploads',
      now: () => new Date('2026-12-01T00:00:00.000Z'),
    };
    return { deps, sent, reads };
  };
  const items = ['acme/p1/images/a.jpg', 'acme/p1/images/b.jpg', 'acme/p1/product.json', 'acme/p2/product.json', 'acme/p3/images/gone.jpg', 'acme/p4/images/new.png', 'derived/acme/p1/images/a.jpg/center', 'acme/p1/readme.md'].map((key) => ({ key }));
  const sentKeys = (sent: { bodies: string[] }[]) => sent.flatMap((s) => s.bodies.flatMap((b) => parseS3Notification(b).map((c) => `${c.key}@${c.order.slice(0, 2)}`)));

  it('queues every source not tagged at the deployed version, each on its modality’s queue, with the sequencer it was written with', async () => {
    const { deps, sent } = fake();
    const result = await runRetagBatch(deps, { Items: items, BatchInput: { filters: {} } });
    expect(sent.map((s) => s.kind)).toEqual(['image', 'text']);
    expect(sentKeys(sent)).toEqual(['acme/p1/images/b.jpg@02', 'acme/p4/images/new.png@00', 'acme/p1/product.json@03', 'acme/p2/product.json@04']);
    expect(result).toEqual({
      items: 8,
      queued: { image: 2, text: 2 },
      states: { missing: 1, stale: 2, failed: 1, pending: 0, current: 1, deleted: 1 },
      ignored: { derived: 1, outside_layout: 1, other_vendor: 0, other_modality: 0, no_model: 0 },
    });
    expect(queuedTotal(result)).toBe(4);
  });

  it('queues only stale sources with staleOnly, only missing ones with missingOnly, of one modality', async () => {
    const stale = fake();
    await runRetagBatch(stale.deps, { Items: items, BatchInput: { filters: { staleOnly: true } } });
    expect(sentKeys(stale.sent)).toEqual(['acme/p1/images/b.jpg@02', 'acme/p1/product.json@03']);
    const missing = fake();
    const result = await runRetagBatch(missing.deps, { Items: items, BatchInput: { filters: { missingOnly: true, modality: 'image' } } });
    expect(sentKeys(missing.sent)).toEqual(['acme/p4/images/new.png@00']);
    expect(result.ignored.other_modality).toBe(2);
  });

  it('reads the table a hundred keys at a time, decodes inventory keys, and skips a modality the deployment has no model for', async () => {
    const { deps, reads, sent } = fake();
    const many = Array.from({ length: 250 }, (_, i) => ({ key: `acme/q${i}/product.json` }));
    await runRetagBatch(deps, { Items: many, BatchInput: { filters: { missingOnly: true } } });
    expect(reads).toEqual([100, 100, 50]);
    expect(sent[0]?.bodies).toHaveLength(250);

    const inventory = fake();
    await runRetagBatch(inventory.deps, { Items: [{ key: 'acme/p9/images/x%2By+z.jpg' }], BatchInput: { filters: {}, keysEncoded: true } });
    expect(sentKeys(inventory.sent)).toEqual(['acme/p9/images/x+y z.jpg@00']);

    const textOnly = fake();
    textOnly.deps.deployed = { text: TEXT };
    const result = await runRetagBatch(textOnly.deps, { Items: items, BatchInput: { filters: {} } });
    expect(result.ignored.no_model).toBe(4);
    expect(textOnly.sent.map((s) => s.kind)).toEqual(['text']);
  });

  it('refuses filters it cannot run before reading or sending anything', async () => {
    const { deps, reads, sent } = fake();
    await expect(runRetagBatch(deps, { Items: items, BatchInput: { filters: { staleOnly: true, missingOnly: true } } })).rejects.toThrow(RetagFilterError);
    expect(reads).toEqual([]);
    expect(sent).toEqual([]);
  });

  it('sums batch results', () => {
    const a = { ...emptyRetagResult(), items: 2, queued: { image: 1, text: 0 } };
    const b = { ...emptyRetagResult(), items: 3, queued: { image: 0, text: 2 } };
    expect(addRetagResults(a, b)).toMatchObject({ items: 5, queued: { image: 1, text: 2 } });
  });
});

describe('sending to a re-tag queue', () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());

  it('sends ten per call and sends again only what SQS reported failed', async () => {
    let calls = 0;
    sqs.on(SendMessageBatchCommand).callsFake(async (input: { Entries: { Id: string }[] }) => {
      calls += 1;
      // The first call of the second chunk loses one entry to throttling.
      if (calls === 2) return { Successful: input.Entries.slice(1).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: '' })), Failed: [{ Id: input.Entries[0]!.Id, Code: 'ThrottlingException', SenderFault: false }] };
      return { Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: '' })), Failed: [] };
    });
    await sendToQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs/q', Array.from({ length: 15 }, (_, i) => `b${i}`), 0);
    const sentEntries = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries!.map((e) => e.MessageBody));
    expect(sentEntries).toEqual([Array.from({ length: 10 }, (_, i) => `b${i}`), ['b10', 'b11', 'b12', 'b13', 'b14'], ['b10']]);
  });

  it('fails on a message SQS refuses, and on entries still failing after the retries', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InvalidMessageContents', SenderFault: true }] });
    await expect(sendToQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs/q', ['x'], 0)).rejects.toThrow(/refused/);
    sqs.reset();
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    await expect(sendToQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs/q', ['x'], 0)).rejects.toThrow(/could not be sent/);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(4);
  });
});

describe('progress', () => {
  it('estimates the time left from the rate so far', () => {
    expect(etaMs({ done: 0, total: 10, elapsedMs: 1000 })).toBeUndefined();
    expect(etaMs({ done: 5, total: 10, elapsedMs: 1000 })).toBe(1000);
    expect(etaMs({ done: 10, total: 10, elapsedMs: 1000 })).toBe(0);
    expect(formatDuration(undefined)).toBe('?');
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(130_000)).toBe('2m10s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    expect(progressLine('retag', { done: 5, failed: 1, total: 10, elapsedMs: 60_000 })).toBe('retag: 5/10 items, 1 failed, ETA 1m00s');
  });
});
