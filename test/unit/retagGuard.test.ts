/**
 * The sequencer guard holds for a re-tag: re-tag notifications (functions/shared/retag) through the
 * real image-ingest and text-ingest handlers on dynalite. A source already tagged by its upload at
 * the deployed model version is not tagged again (no model call, no write, no second count); a
 * stale one is tagged once, and a repeated or redelivered re-tag message writes nothing; a newer
 * upload wins over a re-tag built before it; a missing source is tagged under the reconciliation
 * sequencer and its own late notification still counts; a tombstone is never resurrected.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../functions/shared/awsClients.js';
import { productPk } from '../../functions/shared/products/keys.js';
import { RECONCILE_SEQUENCER, retagNotification, retagSequencer } from '../../functions/shared/retag/selection.js';
import { useIngestHarness } from './support/ingestHarness.js';
import { s3Notification, sqsEvent, sqsRecord } from './support/s3Events.js';

const h = useIngestHarness({ tableName: 'weft-retag-guard-test' });
const { s3, calls } = h;
type Handler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
let imageIngest: Handler;
let textIngest: Handler;
let n = 0;

const VENDOR = 'retagco';
const DEPLOYED_IMAGE = 'weft-image@0.0.1-test';
const fresh = () => `r${++n}`;
const red = () => sharp({ create: { width: 60, height: 40, channels: 3, background: { r: 220, g: 20, b: 20 } } }).png().toBuffer();

const sourceItem = async (id: string, sk: string) =>
  (await documentClient().send(new GetCommand({ TableName: 'weft-retag-guard-test', Key: { pk: productPk(VENDOR, id), sk }, ConsistentRead: true }))).Item as Record<string, any> | undefined;

/** What an earlier deployment left: the source tagged with another model version. */
const tagWithEarlierVersion = (id: string, sk: string, version: string) =>
  documentClient().send(
    new UpdateCommand({ TableName: 'weft-retag-guard-test', Key: { pk: productPk(VENDOR, id), sk }, UpdateExpression: 'SET modelVersion = :v', ExpressionAttributeValues: { ':v': version } }),
  );

/** The re-tag job's message for this source, as the batch step builds it from the source item. */
const retagMessage = async (key: string, sk: string, id: string) => {
  const item = await sourceItem(id, sk);
  return sqsRecord(retagNotification({ bucket: 'weft-uploads', key, sequencer: retagSequencer(item?.seq ? { seq: item.seq } : undefined), eventTime: '2026-12-01T00:00:00.000Z' }));
};

const uploadImage = async (id: string, sequencer: string) => {
  const key = `${VENDOR}/${id}/images/front.png`;
  s3.objects.set(key, await red());
  expect((await imageIngest(sqsEvent(sqsRecord(s3Notification([{ key, sequencer }]))))).batchItemFailures).toEqual([]);
  return key;
};

beforeAll(async () => {
  ({ handler: imageIngest } = await import('../../functions/image-ingest/handler.js'));
  ({ handler: textIngest } = await import('../../functions/text-ingest/handler.js'));
});

describe('re-tag through the ingest handlers', () => {
  it('does not tag again, write or count a source already tagged by its upload at the deployed version', async () => {
    const id = fresh();
    const key = await uploadImage(id, '0A');
    calls.length = 0;
    const before = await sourceItem(id, 'SRC#image#front.png');
    const product = await h.store.getProductItem(VENDOR, id);
    expect(before).toMatchObject({ status: 'tagged', modelVersion: DEPLOYED_IMAGE });

    const response = await imageIngest(sqsEvent(await retagMessage(key, 'SRC#image#front.png', id)));
    expect(response.batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);
    expect(await sourceItem(id, 'SRC#image#front.png')).toEqual(before);
    const after = await h.store.getProductItem(VENDOR, id);
    expect(after?.version).toBe(product?.version);
    expect(Object.keys(after?.attributes.color?.sources ?? {})).toEqual(['image:front.png']);
  });

  it('tags a stale source once; the same re-tag message again (redelivered, or from a second run) writes nothing', async () => {
    const id = fresh();
    const key = await uploadImage(id, '0B');
    await tagWithEarlierVersion(id, 'SRC#image#front.png', 'weft-image@0.0.0-earlier');
    calls.length = 0;
    const message = await retagMessage(key, 'SRC#image#front.png', id);

    expect((await imageIngest(sqsEvent(message))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([{ endpoint: 'weft-image', rows: 1 }]);
    const retagged = await sourceItem(id, 'SRC#image#front.png');
    // Same upload (its sequencer kept), now at the deployed version.
    expect(retagged).toMatchObject({ status: 'tagged', modelVersion: DEPLOYED_IMAGE, seq: (await sourceItem(id, 'SRC#image#front.png'))?.seq });
    expect(retagged?.seq.startsWith('0B')).toBe(true);
    const product = await h.store.getProductItem(VENDOR, id);
    expect(product?.modelVersions).toEqual({ image: DEPLOYED_IMAGE });
    expect(Object.keys(product?.attributes.color?.sources ?? {})).toEqual(['image:front.png']);

    calls.length = 0;
    expect((await imageIngest(sqsEvent(message))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);
    expect(await sourceItem(id, 'SRC#image#front.png')).toEqual(retagged);
    expect((await h.store.getProductItem(VENDOR, id))?.version).toBe(product?.version);
  });

  it('lets a newer upload win over a re-tag built before it', async () => {
    const id = fresh();
    const key = await uploadImage(id, '0C');
    await tagWithEarlierVersion(id, 'SRC#image#front.png', 'weft-image@0.0.0-earlier');
    const message = await retagMessage(key, 'SRC#image#front.png', id);
    await uploadImage(id, '0D');
    const newer = await sourceItem(id, 'SRC#image#front.png');
    calls.length = 0;

    expect((await imageIngest(sqsEvent(message))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);
    expect(await sourceItem(id, 'SRC#image#front.png')).toEqual(newer);
    // The write condition decides the same way when the gate let a re-tag through before the upload landed.
    expect(await h.store.completeSource({ vendor: VENDOR, productId: id, kind: 'image', name: 'front.png' }, '0C'.padEnd(40, '0'), { status: 'tagged', predictions: {}, modelVersion: 'weft-image@9' }, key, { modelVersion: 'weft-image@9' })).toBe(false);
  });

  it('tags an object without a source under the reconciliation sequencer, and its own late notification still counts', async () => {
    const id = fresh();
    const key = `${VENDOR}/${id}/images/front.png`;
    s3.objects.set(key, await red());
    calls.length = 0;
    expect((await imageIngest(sqsEvent(await retagMessage(key, 'SRC#image#front.png', id)))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([{ endpoint: 'weft-image', rows: 1 }]);
    expect(await sourceItem(id, 'SRC#image#front.png')).toMatchObject({ status: 'tagged', seq: RECONCILE_SEQUENCER, modelVersion: DEPLOYED_IMAGE });

    // A second reconciliation finds it tagged.
    calls.length = 0;
    const again = sqsRecord(retagNotification({ bucket: 'weft-uploads', key, sequencer: RECONCILE_SEQUENCER, eventTime: '2026-12-01T00:00:00.000Z' }));
    expect((await imageIngest(sqsEvent(again))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);

    await imageIngest(sqsEvent(sqsRecord(s3Notification([{ key, sequencer: '0E' }]))));
    expect(calls).toHaveLength(1);
    expect((await sourceItem(id, 'SRC#image#front.png'))?.seq.startsWith('0E')).toBe(true);
    expect(Object.keys((await h.store.getProductItem(VENDOR, id))?.attributes.color?.sources ?? {})).toEqual(['image:front.png']);
  });

  it('never resurrects a deleted source', async () => {
    const id = fresh();
    const key = await uploadImage(id, '0F');
    await imageIngest(sqsEvent(sqsRecord(s3Notification([{ key, action: 'removed', sequencer: '10' }]))));
    const tombstone = await sourceItem(id, 'SRC#image#front.png');
    expect(tombstone?.status).toBe('deleted');
    calls.length = 0;
    expect((await imageIngest(sqsEvent(await retagMessage(key, 'SRC#image#front.png', id)))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);
    expect(await sourceItem(id, 'SRC#image#front.png')).toEqual(tombstone);
  });

  it('re-tags a stale product.json once without counting its sentences for the vendor again', async () => {
    const id = fresh();
    const key = `${VENDOR}/${id}/product.json`;
    s3.objects.set(key, new TextEncoder().encode(JSON.stringify({ title: 'Red cotton tee', description: 'Soft red shirt. Machine wash cold with like colors.', color: 'Red' })));
    expect((await textIngest(sqsEvent(sqsRecord(s3Notification([{ key, sequencer: '11' }]))))).batchItemFailures).toEqual([]);
    const stats = async () => (await documentClient().send(new GetCommand({ TableName: 'weft-retag-guard-test', Key: { pk: `VENDOR#${VENDOR}`, sk: 'STATS' }, ConsistentRead: true }))).Item;
    const counted = await stats();
    expect(counted?.products).toBe(1);
    const rules = await sourceItem(id, 'SRC#rules');

    // At the deployed version: nothing.
    calls.length = 0;
    await textIngest(sqsEvent(await retagMessage(key, 'SRC#text', id)));
    expect(calls).toEqual([]);

    await tagWithEarlierVersion(id, 'SRC#text', 'weft-text@0.0.0-earlier');
    const message = await retagMessage(key, 'SRC#text', id);
    for (const _ of [1, 2]) expect((await textIngest(sqsEvent(message))).batchItemFailures).toEqual([]);
    expect(calls).toEqual([{ endpoint: 'weft-text', rows: 1 }]);
    expect(await sourceItem(id, 'SRC#text')).toMatchObject({ status: 'tagged', modelVersion: 'weft-text@0.0.1-test' });
    expect(await stats()).toEqual(counted);
    expect((await sourceItem(id, 'SRC#rules'))?.predictions).toEqual(rules?.predictions);
  });
});
