import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { normalizeSequencer, productPk, sourceSk } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { InvalidCursorError, attributeScope, decodeCursor } from '../../functions/shared/products/cursor.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const catalog = taskCatalog([{ tasks: [{ name: 'color', labels: ['red', 'blue', 'green'] }, { name: 'pattern', labels: ['solid', 'striped'] }] }]);
const ensemble = EnsembleConfigSchema.parse({
  schemaVersion: 1,
  defaults: { weights: { image: 0.5, text: 0.5, rules: 0.5 }, threshold: 0 },
  tasks: { color: { weights: { image: 0.6, text: 0.2, rules: 0.2 }, threshold: 0.4 } },
});

let table: TestTable;
let store: ProductStore;
let n = 0;
const product = () => ({ vendor: 'acme', productId: `p${++n}` });
const seq = (s: string) => normalizeSequencer(s);

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => {
  await table.stop();
});
beforeEach(() => {
  store = new ProductStore({ client: table.client, tableName: table.tableName, catalog, ensemble });
});

describe('sources guarded by the S3 sequencer', () => {
  it('tags an image, merges it and indexes the value', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    expect(await store.beginSource(ref, seq('01'), `acme/${p.productId}/images/a.jpg`)).toBe(true);
    expect(await store.completeSource(ref, seq('01'), { status: 'tagged', predictions: { color: { red: 0.9, blue: 0.1, green: 0 } }, modelVersion: 'weft-image@1' })).toBe(true);
    const merged = await store.merge(p.vendor, p.productId);
    expect(merged).toMatchObject({ exists: true, changed: true, version: 1 });
    const view = await store.getProduct(p.vendor, p.productId);
    expect(view).toMatchObject({
      vendor: 'acme',
      productId: p.productId,
      attributes: { color: { value: 'red', confidence: 0.9 } },
      images: [{ key: `acme/${p.productId}/images/a.jpg`, status: 'tagged' }],
      text: { status: 'missing' },
      modelVersions: { image: 'weft-image@1' },
    });
    const found = await store.findByAttribute('color', 'red', { vendor: 'acme' });
    expect(found.items).toContainEqual({ vendor: 'acme', productId: p.productId, confidence: 0.9 });
  });

  it('skips a redelivered event once it finished, and a merge of unchanged sources writes nothing', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    await store.beginSource(ref, seq('05'), 'k');
    await store.completeSource(ref, seq('05'), { status: 'tagged', predictions: { color: { red: 1 } } });
    await store.merge(p.vendor, p.productId);
    expect(await store.beginSource(ref, seq('05'), 'k')).toBe(false);
    expect(await store.merge(p.vendor, p.productId)).toMatchObject({ changed: false, version: 1 });
  });

  it('lets a retried (still pending) event continue', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    expect(await store.beginSource(ref, seq('05'), 'k')).toBe(true);
    expect(await store.beginSource(ref, seq('05'), 'k')).toBe(true);
  });

  it('never lets an older event regress a newer one', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    await store.beginSource(ref, seq('0A'), 'k');
    await store.completeSource(ref, seq('0A'), { status: 'tagged', predictions: { color: { blue: 1 } } });
    expect(await store.beginSource(ref, seq('09'), 'k')).toBe(false);
    expect(await store.completeSource(ref, seq('09'), { status: 'tagged', predictions: { color: { red: 1 } } })).toBe(false);
    await store.merge(p.vendor, p.productId);
    expect((await store.getProduct(p.vendor, p.productId))?.attributes.color?.value).toBe('blue');
  });

  it('drops the result of an event superseded while it was processing', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    await store.beginSource(ref, seq('01'), 'k');
    await store.beginSource(ref, seq('02'), 'k');
    expect(await store.completeSource(ref, seq('01'), { status: 'tagged', predictions: { color: { red: 1 } } })).toBe(false);
    expect((await store.getProduct(p.vendor, p.productId))?.images[0]?.status).toBe('pending');
  });

  it('tombstones removed sources so a late older create cannot resurrect them', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    const other = { ...p, kind: 'image' as const, name: 'b.jpg' };
    for (const [r, color] of [[ref, 'red'], [other, 'blue']] as const) {
      await store.beginSource(r, seq('01'), `acme/${p.productId}/images/${r.name}`);
      await store.completeSource(r, seq('01'), { status: 'tagged', predictions: { color: { [color]: 1 } } });
    }
    await store.merge(p.vendor, p.productId);
    expect(await store.removeSource(ref, seq('02'), 'k')).toBe(true);
    expect(await store.beginSource(ref, seq('01'), 'k')).toBe(false);
    await store.merge(p.vendor, p.productId);
    const view = await store.getProduct(p.vendor, p.productId);
    expect(view?.images.map((i) => i.key)).toEqual([`acme/${p.productId}/images/b.jpg`]);
    expect(view?.attributes.color?.value).toBe('blue');
    expect((await store.findByAttribute('color', 'red', { vendor: 'acme' })).items.map((i) => i.productId)).not.toContain(p.productId);
  });

  it('reads for a whole batch which events still have work, and completes a source that was never marked pending', async () => {
    const p = product();
    const ref = (name: string) => ({ ...p, kind: 'image' as const, name });
    await store.completeSource(ref('done.jpg'), seq('05'), { status: 'tagged', predictions: { color: { red: 1 } } }, 'k/done.jpg');
    await store.beginSource(ref('retry.jpg'), seq('05'), 'k/retry.jpg');
    await store.removeSource(ref('gone.jpg'), seq('07'), 'k/gone.jpg');
    const states = await store.sourceStates([
      { ref: ref('new.jpg'), seq: seq('05') },
      { ref: ref('done.jpg'), seq: seq('05') },
      { ref: ref('done.jpg'), seq: seq('06') },
      { ref: ref('done.jpg'), seq: seq('04') },
      { ref: ref('retry.jpg'), seq: seq('05') },
      { ref: ref('gone.jpg'), seq: seq('06') },
    ]);
    expect(states).toEqual([true, false, true, false, true, false]);
    // Without a pending mark the completion is still guarded: once only, never over a newer event.
    expect(await store.completeSource(ref('new.jpg'), seq('05'), { status: 'tagged', predictions: { color: { blue: 1 } } }, 'k/new.jpg')).toBe(true);
    expect(await store.completeSource(ref('new.jpg'), seq('05'), { status: 'tagged', predictions: { color: { red: 1 } } }, 'k/new.jpg')).toBe(false);
    expect(await store.completeSource(ref('gone.jpg'), seq('06'), { status: 'tagged', predictions: { color: { red: 1 } } }, 'k/gone.jpg')).toBe(false);
    expect(await store.completeSource(ref('retry.jpg'), seq('05'), { status: 'tagged', predictions: { color: { blue: 1 } } }, 'k/retry.jpg')).toBe(true);
    await store.merge(p.vendor, p.productId);
    const view = await store.getProduct(p.vendor, p.productId);
    expect(view?.images.map((i) => [i.key, i.status])).toEqual([
      ['k/done.jpg', 'tagged'],
      ['k/new.jpg', 'tagged'],
      ['k/retry.jpg', 'tagged'],
    ]);
    expect(await store.sourceStates([])).toEqual([]);
  });

  it('records an error with its code and shows it', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'bad.jpg' };
    await store.beginSource(ref, seq('01'), 'acme/x/images/bad.jpg');
    await store.completeSource(ref, seq('01'), { status: 'error', error: { code: 'not_an_image', message: 'not an image' } });
    expect((await store.getProduct(p.vendor, p.productId))?.images).toEqual([{ key: 'acme/x/images/bad.jpg', status: 'error', error: 'not an image', errorCode: 'not_an_image' }]);
  });

  it('returns undefined for a product that does not exist or whose sources were all removed', async () => {
    const p = product();
    expect(await store.getProduct(p.vendor, p.productId)).toBeUndefined();
    const ref = { ...p, kind: 'text' as const };
    await store.putSource(ref, seq('01'), 'k', { status: 'tagged', predictions: { pattern: { solid: 1 } } });
    await store.merge(p.vendor, p.productId);
    await store.removeSource(ref, seq('02'), 'k');
    const merged = await store.merge(p.vendor, p.productId);
    expect(merged.attributes).toEqual({});
    expect(await store.getProduct(p.vendor, p.productId)).toBeUndefined();
  });
});

describe('merge under concurrency', () => {
  it('never loses an image or text update when merges race', async () => {
    const p = product();
    const writes = [
      ...['a', 'b', 'c', 'd'].map((name) => ({ ref: { ...p, kind: 'image' as const, name: `${name}.jpg` }, predictions: { color: { red: 1 } } })),
      { ref: { ...p, kind: 'text' as const }, predictions: { pattern: { striped: 1 }, color: { red: 1 } } },
    ];
    await Promise.all(
      writes.map(async ({ ref, predictions }) => {
        const other = new ProductStore({ client: table.client, tableName: table.tableName, catalog, ensemble, maxMergeAttempts: 50 });
        await other.beginSource(ref, seq('01'), 'k');
        await other.completeSource(ref, seq('01'), { status: 'tagged', predictions });
        await other.merge(p.vendor, p.productId);
      }),
    );
    const view = await store.getProduct(p.vendor, p.productId);
    expect(Object.keys(view?.attributes.color?.sources ?? {}).sort()).toEqual(['image:a.jpg', 'image:b.jpg', 'image:c.jpg', 'image:d.jpg', 'text']);
    expect(view?.attributes.pattern?.value).toBe('striped');
  });

  it('rewrites only the index entries whose value changed, serves the current confidence, and repairs an entry left behind', async () => {
    const p = product();
    const sks: string[] = [];
    const counting = { send: (command: { input: { Key?: { sk?: string } } }) => (sks.push(String(command.input.Key?.sk ?? '')), table.client.send(command as never)) };
    const counted = new ProductStore({ client: counting as unknown as typeof table.client, tableName: table.tableName, catalog, ensemble });
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    await counted.completeSource(ref, seq('01'), { status: 'tagged', predictions: { color: { red: 1 }, pattern: { striped: 1 } } }, 'k');
    await counted.merge(p.vendor, p.productId);
    expect(sks.filter((sk) => sk.startsWith('ATTR#')).sort()).toEqual(['ATTR#color', 'ATTR#pattern']);

    // A correction changes pattern only: color's entry is not rewritten.
    sks.length = 0;
    await counted.putCorrection(p.vendor, p.productId, 'pattern', 'solid');
    expect(await counted.merge(p.vendor, p.productId)).toMatchObject({ changed: true, version: 2 });
    expect(sks.filter((sk) => sk.startsWith('ATTR#'))).toEqual(['ATTR#pattern']);
    const ids = async (task: string, value: string) => (await store.findByAttribute(task, value, { vendor: 'acme' })).items.map((i) => i.productId);
    expect(await ids('color', 'red')).toContain(p.productId);
    expect(await ids('pattern', 'solid')).toContain(p.productId);
    expect(await ids('pattern', 'striped')).not.toContain(p.productId);
    expect((await store.getProductItem(p.vendor, p.productId))?.indexVersions).toEqual({ color: 1, pattern: 2 });

    // The pattern write was lost (a crash after the product write): the next merge repairs it, color stays.
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk: `P#acme#${p.productId}`, sk: 'ATTR#pattern' },
        UpdateExpression: 'SET #v = :one, #value = :striped, gsi1pk = :gsi',
        ExpressionAttributeNames: { '#v': 'version', '#value': 'value' },
        ExpressionAttributeValues: { ':one': 1, ':striped': 'striped', ':gsi': 'pattern#striped' },
      }),
    );
    expect(await ids('pattern', 'solid')).not.toContain(p.productId);
    sks.length = 0;
    expect(await counted.merge(p.vendor, p.productId)).toMatchObject({ changed: false, version: 2 });
    expect(sks.filter((sk) => sk.startsWith('ATTR#'))).toEqual(['ATTR#pattern']);
    expect(await ids('pattern', 'striped')).not.toContain(p.productId);
    expect(await ids('pattern', 'solid')).toContain(p.productId);
    expect(await ids('pattern', 'striped')).not.toContain(p.productId);

    // A second image moves color's confidence, not its value: no index write, queries see the new confidence.
    sks.length = 0;
    await counted.completeSource({ ...p, kind: 'image', name: 'b.jpg' }, seq('01'), { status: 'tagged', predictions: { color: { red: 0.6, blue: 0.4 } } }, 'k2');
    const moved = await counted.merge(p.vendor, p.productId);
    expect(moved).toMatchObject({ changed: true, version: 3 });
    expect(sks.filter((sk) => sk.startsWith('ATTR#'))).toEqual([]);
    const found = (await store.findByAttribute('color', 'red', { vendor: 'acme' })).items.find((i) => i.productId === p.productId);
    expect(found?.confidence).toBe(moved.attributes.color?.confidence);
    expect(found?.confidence).toBeLessThan(1);

    // Nothing changed and nothing is behind: no write at all.
    sks.length = 0;
    await counted.merge(p.vendor, p.productId);
    expect(sks.filter((sk) => sk !== '')).toEqual([]);
  });

  it('keeps indexing a product written before index versions existed', async () => {
    const p = product();
    const ref = { ...p, kind: 'image' as const, name: 'a.jpg' };
    await store.completeSource(ref, seq('01'), { status: 'tagged', predictions: { color: { red: 1 }, pattern: { striped: 1 } } }, 'k');
    await store.merge(p.vendor, p.productId);
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await table.client.send(
      new UpdateCommand({ TableName: table.tableName, Key: { pk: `P#acme#${p.productId}`, sk: 'PRODUCT' }, UpdateExpression: 'REMOVE indexVersions' }),
    );
    await store.putCorrection(p.vendor, p.productId, 'color', 'blue');
    await store.merge(p.vendor, p.productId);
    expect((await store.findByAttribute('color', 'blue', { vendor: 'acme' })).items.map((i) => i.productId)).toContain(p.productId);
    expect((await store.findByAttribute('pattern', 'striped', { vendor: 'acme' })).items.map((i) => i.productId)).toContain(p.productId);
    expect((await store.getProductItem(p.vendor, p.productId))?.indexVersions).toEqual({ color: 2, pattern: 1 });
  });

  it('repairs an index left behind by an interrupted merge', async () => {
    const p = product();
    const ref = { ...p, kind: 'text' as const };
    await store.putSource(ref, seq('01'), 'k', { status: 'tagged', predictions: { pattern: { striped: 1 } } });
    await store.merge(p.vendor, p.productId);
    const { DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
    await table.client.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: `P#acme#${p.productId}`, sk: 'ATTR#pattern' } }));
    expect((await store.findByAttribute('pattern', 'striped', { vendor: 'acme' })).items.map((i) => i.productId)).not.toContain(p.productId);
    await store.merge(p.vendor, p.productId);
    expect((await store.findByAttribute('pattern', 'striped', { vendor: 'acme' })).items.map((i) => i.productId)).toContain(p.productId);
  });
});

describe('human corrections', () => {
  it('win, are exported with the product images and text, and can be removed', async () => {
    const p = product();
    const since = new Date(Date.now() - 1000).toISOString();
    await store.beginSource({ ...p, kind: 'image', name: 'a.jpg' }, seq('01'), `acme/${p.productId}/images/a.jpg`);
    await store.completeSource({ ...p, kind: 'image', name: 'a.jpg' }, seq('01'), { status: 'tagged', predictions: { color: { red: 1 } } });
    await store.putSource({ ...p, kind: 'text' }, seq('01'), `acme/${p.productId}/product.json`, {
      status: 'tagged',
      predictions: { color: { red: 1 } },
      text: 'Red tee',
      vendorColor: { raw: 'Ruby', normalized: 'red' },
    });
    await store.putCorrection(p.vendor, p.productId, 'color', 'green');
    await store.merge(p.vendor, p.productId);
    const view = await store.getProduct(p.vendor, p.productId);
    expect(view?.attributes.color).toMatchObject({ value: 'green', confidence: 1 });
    expect(view?.corrections).toEqual({ color: 'green' });
    expect(view?.vendorColor).toEqual({ raw: 'Ruby', normalized: 'red' });

    const exported = await store.listCorrections({ since });
    expect(exported.items).toContainEqual(
      expect.objectContaining({ vendor: 'acme', productId: p.productId, labels: { color: 'green' }, images: [`acme/${p.productId}/images/a.jpg`], text: 'Red tee' }),
    );
    const later = await store.listCorrections({ since: new Date(Date.now() + 60_000).toISOString() });
    expect(later.items.map((i) => i.productId)).not.toContain(p.productId);

    expect(await store.deleteCorrection(p.vendor, p.productId, 'color')).toBe(true);
    expect(await store.deleteCorrection(p.vendor, p.productId, 'color')).toBe(false);
    await store.merge(p.vendor, p.productId);
    expect((await store.getProduct(p.vendor, p.productId))?.attributes.color?.value).toBe('red');
  });
});

describe('rejections and paging', () => {
  it('lists rejections newest first, once per key', async () => {
    await store.recordRejection({ key: 'loose.jpg', code: 'outside_layout', reason: 'r1', eventTime: '2026-01-01T00:00:00.000Z' });
    await store.recordRejection({ key: 'a/b/c/d.jpg', code: 'outside_layout', reason: 'r2', eventTime: '2026-01-02T00:00:00.000Z' });
    await store.recordRejection({ key: 'a/b/c/d.jpg', code: 'outside_layout', reason: 'r2', eventTime: '2026-01-02T00:00:00.000Z' });
    const page = await store.listRejections({ limit: 10 });
    expect(page.items.map((r) => r.key)).toEqual(['a/b/c/d.jpg', 'loose.jpg']);
  });

  it('pages attribute queries with an opaque cursor', async () => {
    for (let i = 0; i < 3; i += 1) {
      const p = { vendor: 'pager', productId: `q${i}` };
      await store.putSource({ ...p, kind: 'text' }, seq('01'), 'k', { status: 'tagged', predictions: { pattern: { solid: 1 } } });
      await store.merge(p.vendor, p.productId);
    }
    const first = await store.findByAttribute('pattern', 'solid', { vendor: 'pager', limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toBeDefined();
    const second = await store.findByAttribute('pattern', 'solid', { vendor: 'pager', limit: 2, cursor: first.nextCursor });
    expect([...first.items, ...second.items].map((i) => i.productId).sort()).toEqual(['q0', 'q1', 'q2']);
    expect(() => decodeCursor('%%%', attributeScope('pattern', 'solid'))).toThrow(InvalidCursorError);
    // A cursor is bound to its query: the next page of one vendor is not a page of another.
    expect(() => decodeCursor(first.nextCursor, attributeScope('pattern', 'solid', 'other'))).toThrow(InvalidCursorError);
    expect(() => decodeCursor(first.nextCursor, attributeScope('pattern', 'striped', 'pager'))).toThrow(InvalidCursorError);
  });
});

describe('batched source-state reads', () => {
  const mocked = () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }));
    return { mock: mockClient(client), store: new ProductStore({ client, tableName: 'weft-mocked', catalog, ensemble }) };
  };
  const ref = (productId: string) => ({ vendor: 'acme', productId, kind: 'text' as const });

  it('retries unprocessed keys and answers from every response', async () => {
    const { mock, store: mockedStore } = mocked();
    const [k1, k2] = [{ pk: productPk('acme', 'a'), sk: sourceSk({ kind: 'text' }) }, { pk: productPk('acme', 'b'), sk: sourceSk({ kind: 'text' }) }];
    mock
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { 'weft-mocked': [{ ...k1, seq: seq('05'), status: 'tagged' }] }, UnprocessedKeys: { 'weft-mocked': { Keys: [k2] } } })
      .resolvesOnce({ Responses: { 'weft-mocked': [{ ...k2, seq: seq('01'), status: 'tagged' }] } });
    expect(await mockedStore.sourceStates([{ ref: ref('a'), seq: seq('05') }, { ref: ref('b'), seq: seq('02') }])).toEqual([false, true]);
    expect(mock.commandCalls(BatchGetCommand)).toHaveLength(2);
    expect(mock.commandCalls(BatchGetCommand)[1]!.args[0].input.RequestItems?.['weft-mocked']).toMatchObject({ Keys: [k2], ConsistentRead: true });
  });

  it('fails as transient when keys stay unprocessed', async () => {
    const { mock, store: mockedStore } = mocked();
    mock.on(BatchGetCommand).callsFake(async (input) => ({ Responses: {}, UnprocessedKeys: { 'weft-mocked': { Keys: input.RequestItems['weft-mocked'].Keys } } }));
    await expect(mockedStore.sourceStates([{ ref: ref('a'), seq: seq('01') }])).rejects.toMatchObject({ code: 'source_states_unprocessed' });
    expect(mock.commandCalls(BatchGetCommand)).toHaveLength(6);
  });
});
