import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../functions/shared/awsClients.js';
import { useIngestHarness } from './support/ingestHarness.js';
import { s3Notification, sqsEvent, sqsRecord } from './support/s3Events.js';

const h = useIngestHarness({ tableName: 'weft-text-test' });
const { s3, calls } = h;
let handler: (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
let n = 0;

const fresh = () => `t${++n}`;
const put = (key: string, content: string | Uint8Array) => s3.objects.set(key, typeof content === 'string' ? new TextEncoder().encode(content) : content);
const created = (key: string, sequencer?: string) => sqsRecord(s3Notification([{ key, ...(sequencer ? { sequencer } : {}) }]));
const textItem = async (id: string) => (await h.store.readPartition('acme', id)).find((item) => item.sk === 'SRC#text') as Record<string, any> | undefined;

beforeAll(async () => {
  ({ handler } = await import('../../functions/text-ingest/handler.js'));
});

/**
 * Throttles the next `times` writes of the rules source made through the handlers' DynamoDB client
 * (before the SDK's own retries, so each one reaches the handler).
 */
const throttleRulesWrites = (times: number): (() => void) => {
  const name = 'throttleRulesWrites';
  let left = times;
  const stack = documentClient().middlewareStack;
  stack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: { sk?: unknown } }).Key;
      const sk = typeof key?.sk === 'string' ? key.sk : (key?.sk as { S?: string } | undefined)?.S;
      if (context.commandName === 'UpdateItemCommand' && sk === 'SRC#rules' && left > 0) {
        left -= 1;
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      }
      return next(args);
    },
    { step: 'build', name },
  );
  return () => stack.remove(name);
};

describe('text-ingest handler', () => {
  it('tags valid product.json files in one model call and records each bad one on its product', async () => {
    const [tee, navy, broken, untitled, latin1, array] = [fresh(), fresh(), fresh(), fresh(), fresh(), fresh()];
    put(`acme/${tee}/product.json`, JSON.stringify({ title: 'Red cotton <b>tee</b>', description: '<p>Soft&nbsp;red shirt</p>', brand: 'Acme', color: 'Oxblood', sku: 'A-1' }));
    put(`acme/${navy}/product.json`, JSON.stringify({ title: 'Dress', color: 'Navy', description: 'x'.repeat(50_000) }));
    put(`acme/${broken}/product.json`, '{"title": "Tee",');
    put(`acme/${untitled}/product.json`, JSON.stringify({ description: 'no title here' }));
    // Invalid UTF-8 (a lone 0xE9 byte, Latin-1 "é") inside an otherwise valid document.
    put(`acme/${latin1}/product.json`, Uint8Array.from([...new TextEncoder().encode('{"title": "Caf'), 0xe9, ...new TextEncoder().encode(' blue tee"}')]));
    put(`acme/${array}/product.json`, '[1, 2]');

    const response = await handler(sqsEvent(...[tee, navy, broken, untitled, latin1, array].map((id) => created(`acme/${id}/product.json`))));
    expect(response.batchItemFailures).toEqual([]);
    expect(calls).toEqual([{ endpoint: 'weft-text', rows: 3 }]);

    const view = await h.store.getProduct('acme', tee);
    expect(view?.text).toEqual({ status: 'tagged', key: `acme/${tee}/product.json` });
    expect(view?.vendorColor).toEqual({ raw: 'Oxblood', normalized: 'red' });
    expect(view?.attributes.color?.sources).toMatchObject({ text: { value: 'red' }, rules: { value: 'red', confidence: 1 } });
    expect(view?.attributes.color?.value).toBe('red');
    const stored = await textItem(tee);
    expect(stored?.text).toBe('Red cotton tee\nSoft red shirt\nAcme');
    expect(JSON.parse(stored?.document)).toMatchObject({ sku: 'A-1', color: 'Oxblood' });

    // Navy normalizes to blue; a long description is capped, not refused.
    const navyView = await h.store.getProduct('acme', navy);
    expect(navyView?.vendorColor).toEqual({ raw: 'Navy', normalized: 'blue' });
    expect(navyView?.attributes.color?.sources.rules).toMatchObject({ value: 'blue' });
    expect(((await textItem(navy))?.text as string).length).toBeLessThanOrEqual(4_000);

    expect((await h.store.getProduct('acme', broken))?.text).toMatchObject({ status: 'error', errorCode: 'invalid_json' });
    expect((await h.store.getProduct('acme', untitled))?.text).toMatchObject({ status: 'error', errorCode: 'missing_title' });
    expect((await h.store.getProduct('acme', array))?.text).toMatchObject({ status: 'error', errorCode: 'invalid_product' });
    expect((await h.store.getProduct('acme', latin1))?.text.status).toBe('tagged');
    expect((await textItem(latin1))?.text).toBe('Caf\uFFFD blue tee');
  });

  it('keeps unusual but valid JSON (empty keys, huge numbers, nesting) without failing', async () => {
    const id = fresh();
    put(`acme/${id}/product.json`, '{"title": "Tee", "": "empty key", "weight": 1e400, "variants": [{"size": "M", "stock": null}], "brand": 42}');
    const response = await handler(sqsEvent(created(`acme/${id}/product.json`)));
    expect(response.batchItemFailures).toEqual([]);
    expect((await h.store.getProduct('acme', id))?.text.status).toBe('tagged');
    const stored = await textItem(id);
    expect(JSON.parse(stored?.document)).toMatchObject({ '': 'empty key', variants: [{ size: 'M', stock: null }] });
    expect(stored?.text).toBe('Tee\n42');
  });

  it('removes the text and rules sources when product.json is deleted, and ignores an older create', async () => {
    const id = fresh();
    put(`acme/${id}/product.json`, JSON.stringify({ title: 'Green tee', color: 'emerald' }));
    await handler(sqsEvent(created(`acme/${id}/product.json`, '10')));
    expect((await h.store.getProduct('acme', id))?.attributes.color?.sources.rules).toMatchObject({ value: 'green' });

    await handler(sqsEvent(sqsRecord(s3Notification([{ key: `acme/${id}/product.json`, action: 'removed', sequencer: '20' }]))));
    expect(await h.store.getProduct('acme', id)).toBeUndefined();

    await handler(sqsEvent(created(`acme/${id}/product.json`, '15')));
    expect(await h.store.getProduct('acme', id)).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it('replaces the rules source when a new product.json drops the color', async () => {
    const id = fresh();
    put(`acme/${id}/product.json`, JSON.stringify({ title: 'Tee', color: 'Black' }));
    await handler(sqsEvent(created(`acme/${id}/product.json`, '01')));
    put(`acme/${id}/product.json`, JSON.stringify({ title: 'Tee' }));
    await handler(sqsEvent(created(`acme/${id}/product.json`, '02')));
    const view = await h.store.getProduct('acme', id);
    expect(view?.vendorColor).toBeUndefined();
    expect(view?.attributes.color?.sources.rules).toBeUndefined();
  });

  it('records a deeply nested product.json as its own error without stalling the rest of its batch', async () => {
    const ids = Array.from({ length: 10 }, fresh);
    const [bomb, ...valid] = ids as [string, ...string[]];
    for (const id of valid) put(`acme/${id}/product.json`, JSON.stringify({ title: `Red tee ${id}`, color: 'red' }));
    // JSON.parse takes any depth; re-serializing 200,000 nested arrays overflows the stack.
    put(`acme/${bomb}/product.json`, `{"title": "Tee", "specs": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`);

    const response = await handler(sqsEvent(...ids.map((id) => created(`acme/${id}/product.json`))));
    expect(response.batchItemFailures).toEqual([]);
    // One model call for the batch (the test model takes 8 rows per request).
    expect(calls.map((c) => c.rows)).toEqual([8, 1]);
    for (const id of valid) expect((await h.store.getProduct('acme', id))?.text.status).toBe('tagged');
    expect((await h.store.getProduct('acme', bomb))?.text).toMatchObject({ status: 'error', errorCode: 'document_too_deep' });
  }, 20_000);

  it('rewrites the vendor-color vote on the retry of a message whose rules write failed', async () => {
    const id = fresh();
    put(`acme/${id}/product.json`, JSON.stringify({ title: 'Tee', color: 'Red' }));
    await handler(sqsEvent(created(`acme/${id}/product.json`, '10')));
    expect((await h.store.getProduct('acme', id))?.attributes.color?.sources.rules).toMatchObject({ value: 'red' });

    put(`acme/${id}/product.json`, JSON.stringify({ title: 'Tee', color: 'navy blue' }));
    const message = created(`acme/${id}/product.json`, '20');
    const restore = throttleRulesWrites(1);
    try {
      expect((await handler(sqsEvent(message))).batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    } finally {
      restore();
    }
    expect((await handler(sqsEvent(message))).batchItemFailures).toEqual([]);
    const view = await h.store.getProduct('acme', id);
    expect(view?.vendorColor).toEqual({ raw: 'navy blue', normalized: 'blue' });
    expect(view?.attributes.color?.sources.rules).toMatchObject({ value: 'blue' });
  });

  it('withdraws the vendor-color vote when product.json becomes invalid, also when the first withdrawal failed', async () => {
    const id = fresh();
    put(`acme/${id}/product.json`, JSON.stringify({ title: 'Tee', color: 'Red' }));
    await handler(sqsEvent(created(`acme/${id}/product.json`, '10')));
    expect((await h.store.getProduct('acme', id))?.attributes.color?.sources.rules).toMatchObject({ value: 'red' });

    put(`acme/${id}/product.json`, '{"title": "Tee", "color": "navy"');
    const message = created(`acme/${id}/product.json`, '20');
    const restore = throttleRulesWrites(1);
    try {
      expect((await handler(sqsEvent(message))).batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    } finally {
      restore();
    }
    expect((await handler(sqsEvent(message))).batchItemFailures).toEqual([]);
    const view = await h.store.getProduct('acme', id);
    expect(view?.text).toMatchObject({ status: 'error', errorCode: 'invalid_json' });
    expect(view?.vendorColor).toBeUndefined();
    expect(view?.attributes.color?.sources.rules).toBeUndefined();
  });

  it('shows a source waiting on a failing model as pending with its last error and attempt count', async () => {
    const id = fresh();
    const key = `acme/${id}/product.json`;
    put(key, JSON.stringify({ title: 'Red tee' }));
    h.sagemaker.reset();
    h.sagemaker.on(InvokeEndpointCommand).rejects(Object.assign(new Error('upstream connect error'), { name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 500 } }));
    const delivery = (receiveCount: number) => ({ ...message, attributes: { ...message.attributes, ApproximateReceiveCount: String(receiveCount) } });
    const message = created(key);

    expect((await handler(sqsEvent(delivery(1)))).batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    const first = (await h.store.getProduct('acme', id))?.text;
    expect(first).toMatchObject({ status: 'pending', key, attempts: 1, lastErrorCode: 'endpoint_unavailable', lastError: expect.stringContaining('upstream connect error') });
    expect(Date.parse(first?.lastAttemptAt ?? '')).not.toBeNaN();
    await handler(sqsEvent(delivery(2)));
    expect((await h.store.getProduct('acme', id))?.text).toMatchObject({ status: 'pending', attempts: 2, lastErrorCode: 'endpoint_unavailable' });

    h.sagemaker.reset();
    h.answerRealtime();
    expect((await handler(sqsEvent(delivery(3)))).batchItemFailures).toEqual([]);
    // Once tagged, nothing of the failures is left; the existing fields are as they always were.
    expect((await h.store.getProduct('acme', id))?.text).toEqual({ status: 'tagged', key });
  });

  it('retries a message whose DynamoDB writes are throttled, without failing its neighbours', async () => {
    const ddb = mockClient(DynamoDBDocumentClient);
    try {
      put('acme/throttled/product.json', JSON.stringify({ title: 'Tee' }));
      ddb.on(UpdateCommand).rejects(Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
      ddb.on(PutCommand).resolves({});
      ddb.on(QueryCommand).resolves({ Items: [] });
      const throttled = created('acme/throttled/product.json');
      const stray = created('stray/product.json');
      const response = await handler(sqsEvent(throttled, stray));
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: throttled.messageId }]);
      expect(ddb.commandCalls(PutCommand).some((call) => (call.args[0].input.Item as { key?: string }).key === 'stray/product.json')).toBe(true);
    } finally {
      ddb.restore();
    }
  });
});
