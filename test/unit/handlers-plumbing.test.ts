import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { BatchCollector, createLimiter } from '../../functions/shared/ingest/batchCollector.js';
import { IngestStep } from '../../functions/shared/ingest/ingestStep.js';
import type { IngestBatch } from '../../functions/shared/ingest/ingestBatch.js';
import type { RowOutcome, SourceRow } from '../../functions/shared/asyncInference/inferenceMode.js';
import type { ProductStore } from '../../functions/shared/products/productStore.js';
import type { LoadedManifest } from '../../functions/shared/manifest.js';
import { MalformedMessageError, parseS3Notification } from '../../functions/shared/ingest/s3Events.js';
import { MergeCoalescer } from '../../functions/shared/ingest/mergeCoalescer.js';
import { MergeBarrier } from '../../functions/shared/ingest/mergeBarrier.js';
import { normalizeSequencer, sequencerFromTime } from '../../functions/shared/products/keys.js';
import { PermanentError } from '../../functions/shared/errors.js';
import { buildModelText, parseProductDocument, vendorColorEvidence } from '../../functions/text-ingest/productDocument.js';
import { s3Notification } from './support/s3Events.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('S3 notifications', () => {
  it('decodes keys and orders events by sequencer', () => {
    const [change] = parseS3Notification(JSON.stringify(s3Notification([{ key: 'acme/p 1/images/a+b (2).jpg', sequencer: '0055aed6' }])));
    expect(change).toMatchObject({ action: 'created', key: 'acme/p 1/images/a+b (2).jpg', bucket: 'weft-uploads', order: normalizeSequencer('0055AED6') });
  });

  it('maps removals and lifecycle expirations, and skips other event types and test events', () => {
    const body = s3Notification([{ key: 'a/b/product.json', action: 'removed' }, { key: 'a/b/product.json' }]);
    body.Records[1]!.eventName = 'ObjectRestore:Completed';
    expect(parseS3Notification(JSON.stringify(body)).map((c) => c.action)).toEqual(['removed']);
    body.Records[0]!.eventName = 'LifecycleExpiration:Delete';
    expect(parseS3Notification(JSON.stringify(body)).map((c) => c.action)).toEqual(['removed']);
    expect(parseS3Notification(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }))).toEqual([]);
  });

  it('rejects bodies that are not S3 notifications', () => {
    expect(() => parseS3Notification('nope')).toThrow(MalformedMessageError);
    expect(() => parseS3Notification('{"Records": [{"eventName": 1}]}')).toThrow(MalformedMessageError);
  });

  it('compares sequencers of different lengths after right-padding, and falls back to event time', () => {
    expect(normalizeSequencer('0A') > normalizeSequencer('09FF')).toBe(true);
    expect(normalizeSequencer('abc')).toBe(normalizeSequencer('ABC0'));
    expect(() => normalizeSequencer('xyz')).toThrow();
    expect(sequencerFromTime('2026-01-01T00:00:01Z') > sequencerFromTime('2026-01-01T00:00:00Z')).toBe(true);
  });
});

describe('BatchCollector', () => {
  it('sends one call once every participant submitted or left, and slices results back', async () => {
    const calls: number[][] = [];
    const collector = new BatchCollector<number, number>(3, async (inputs) => {
      calls.push(inputs);
      return inputs.map((x) => x * 10);
    });
    const a = collector.submit([1, 2]);
    collector.leave();
    const b = collector.submit([3]);
    expect(await a).toEqual([10, 20]);
    expect(await b).toEqual([30]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('fails every submitter when the call fails, and makes no call when nobody submitted', async () => {
    let called = 0;
    const failing = new BatchCollector<number, number>(2, async () => {
      called += 1;
      throw new Error('endpoint down');
    });
    const a = failing.submit([1]);
    const b = failing.submit([]);
    await expect(a).rejects.toThrow('endpoint down');
    expect(await b).toEqual([]);
    const idle = new BatchCollector<number, number>(1, async () => {
      called += 1;
      return [];
    });
    idle.leave();
    expect(called).toBe(1);
  });

  it('limits concurrency', async () => {
    const limit = createLimiter(2);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        limit(async () => {
          active += 1;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 5));
          active -= 1;
        }),
      ),
    );
    expect(peak).toBe(2);
  });
});

describe('MergeCoalescer', () => {
  it('runs at most one merge per product at a time and never lets a request ride on a merge already running', async () => {
    const log: string[] = [];
    const gates: (() => void)[] = [];
    const coalescer = new MergeCoalescer(async (vendor, productId) => {
      log.push(`start ${vendor}/${productId}`);
      await new Promise<void>((resolve) => gates.push(resolve));
      log.push(`end ${vendor}/${productId}`);
      return log.length;
    });
    const first = coalescer.merge('a', '1');
    const second = coalescer.merge('a', '1');
    const third = coalescer.merge('a', '1');
    const other = coalescer.merge('a', '2');
    expect(second).toBe(third);
    expect(log).toEqual(['start a/1', 'start a/2']);
    gates.shift()!();
    await first;
    await new Promise((r) => setTimeout(r, 0));
    expect(log).toEqual(['start a/1', 'start a/2', 'end a/1', 'start a/1']);
    gates.shift()!();
    gates.shift()!();
    await Promise.all([second, other]);
    expect(log.filter((l) => l === 'start a/1')).toHaveLength(2);
  });
});

describe('MergeBarrier', () => {
  it('merges each product once, only after every message of the batch asked or left', async () => {
    const started: string[] = [];
    const barrier = new MergeBarrier(4, async (vendor, productId) => {
      started.push(`${vendor}/${productId}`);
      return started.length;
    });
    const first = barrier.merge([{ vendor: 'a', productId: '1' }]);
    const second = barrier.merge([{ vendor: 'a', productId: '1' }, { vendor: 'a', productId: '2' }]);
    barrier.leave();
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual([]);
    const third = barrier.merge([]);
    await Promise.all([first, second, third]);
    expect(started.sort()).toEqual(['a/1', 'a/2']);
  });

  it('fails exactly the messages whose product failed to merge', async () => {
    const barrier = new MergeBarrier(2, async (_vendor, productId) => {
      if (productId === 'bad') throw new Error('contention');
      return 1;
    });
    const bad = barrier.merge([{ vendor: 'a', productId: 'bad' }]);
    const good = barrier.merge([{ vendor: 'a', productId: 'good' }]);
    await expect(bad).rejects.toThrow('contention');
    await expect(good).resolves.toBeUndefined();
  });

  it('serves a caller beyond the expected count without waiting', async () => {
    const merged: string[] = [];
    const barrier = new MergeBarrier(0, async (_vendor, productId) => void merged.push(productId));
    await barrier.merge([{ vendor: 'a', productId: '1' }]);
    expect(merged).toEqual(['1']);
  });
});

describe('product.json', () => {
  it('keeps unknown fields and requires a title', () => {
    expect(parseProductDocument(bytes('{"title":"Tee","fit":"slim"}'))).toEqual({ title: 'Tee', fit: 'slim' });
    const codeOf = (input: string) => {
      try {
        parseProductDocument(bytes(input));
      } catch (error) {
        return (error as PermanentError).code;
      }
      return undefined;
    };
    expect(codeOf('')).toBe('empty_object');
    expect(codeOf('{')).toBe('invalid_json');
    expect(codeOf('"tee"')).toBe('invalid_product');
    expect(codeOf('{"title": "   "}')).toBe('missing_title');
    expect(codeOf('{"title": 5}')).toBe('missing_title');
    // The document itself is level 1: 63 nested arrays inside it are the most accepted.
    const nested = (levels: number) => `{"title": "Tee", "a": ${'['.repeat(levels)}${']'.repeat(levels)}}`;
    expect(codeOf(nested(63))).toBeUndefined();
    expect(codeOf(nested(64))).toBe('document_too_deep');
    expect(codeOf('{"constructor": "Tee"}')).toBe('missing_title');
  });

  it('builds the model text from the manifest fields, cleaned, in order, capped', () => {
    const text = buildModelText({ brand: 'Acme', title: 'Women\u00e2\u20ac\u2122s <i>tee</i>', description: 'Soft\u200b  cotton' }, ['title', 'description', 'brand']);
    expect(text).toBe('Women\u2019s tee\nSoft cotton\nAcme');
    expect(buildModelText({ title: 'a '.repeat(5000) }, ['title'], 100).length).toBeLessThanOrEqual(100);
  });

  it('turns the vendor color into a rules vote only for labels of a color task', () => {
    expect(vendorColorEvidence({ color: 'Heather Grey' }, { color: ['grey', 'red'] })).toEqual({
      vendorColor: { raw: 'Heather Grey', normalized: 'grey' },
      rules: { color: { grey: 1 } },
    });
    expect(vendorColorEvidence({ color: 'Heather Grey' }, { color: ['red', 'blue'] })).toEqual({ vendorColor: { raw: 'Heather Grey', normalized: 'grey' } });
    expect(vendorColorEvidence({ color: 'Rainbow' }, { color: ['grey', 'red'] }).rules).toBeUndefined();
    expect(vendorColorEvidence({ color: 7 }, { color: ['grey'] })).toEqual({});
  });
});

describe('IngestStep', () => {
  /** A batch of `size` messages over an in-memory store; `modelInputs` records what the one model call got. */
  const harness = (size: number) => {
    const modelInputs: string[][] = [];
    const store = {
      catalog: {},
      completeSource: async () => true,
      beginSource: async () => true,
      putSource: async () => true,
      removeSource: async () => true,
    } as unknown as ProductStore;
    const batch: IngestBatch<string> = {
      gate: new BatchCollector(size, async (events) => events.map(() => true)),
      model: new BatchCollector<SourceRow<string>, RowOutcome>(size, async (rows) => {
        modelInputs.push(rows.map((r) => r.input));
        return rows.map(() => ({ color: [1] }));
      }),
      merges: new MergeBarrier(size, async () => undefined),
    };
    const manifest = { name: 'm', version: '1', tasks: [{ name: 'color', labels: ['red'] }] } as unknown as LoadedManifest;
    return { store, batch, manifest, modelInputs };
  };

  it('fails only the message whose model row cannot be built; the others get the batch call without waiting', async () => {
    const { store, batch, manifest, modelInputs } = harness(3);
    const step = new IngestStep(
      { manifest, store, logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'test' }) },
      {
        kind: 'image',
        sourceRef: ({ vendor, productId, name }) => ({ vendor, productId, kind: 'image', name }),
        remove: async () => undefined,
        prepare: async ({ ref }) => ref.name!,
        row: (_event, name) => {
          if (name === 'bad.jpg') throw new RangeError('Maximum call stack size exceeded');
          return { input: name, source: {} };
        },
        recordError: async () => undefined,
        taggedMetric: 'Tagged',
      },
    );
    const body = (name: string) => JSON.stringify(s3Notification([{ key: `acme/p1/images/${name}` }]));
    const stalled = new Promise<'stalled'>((resolve) => setTimeout(() => resolve('stalled'), 2_000).unref());
    const outcome = await Promise.race([Promise.allSettled(['a.jpg', 'bad.jpg', 'c.jpg'].map((name) => step.handleMessage(body(name), batch))), stalled]);
    expect(outcome).not.toBe('stalled');
    expect((outcome as PromiseSettledResult<void>[]).map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(modelInputs).toEqual([['a.jpg', 'c.jpg']]);
  });
});
