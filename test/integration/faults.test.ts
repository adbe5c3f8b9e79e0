/**
 * The local stack's fault switch over real HTTP: model-server 5xx and throttling at a rate with
 * the real handlers, SDK clients, dynalite and fixture models (products still get tagged through
 * the SDK's and the queue's retries), and the DynamoDB fault proxy in front of dynalite as the
 * real DynamoDB client sees it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startStack, type RunningStack } from '../../local/stack.js';
import { startDynamo, type RunningDynamo } from '../../local/dynamodb.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/handlerEnv.js';
import { parseFaultSpec } from '../../local/faults/faultSpec.js';
import { FaultSwitch, type FaultState } from '../../local/faults/FaultSwitch.js';
import { startDynamoFaultProxy, type RunningDynamoFaultProxy } from '../../local/faults/dynamoFaultProxy.js';

const FIXTURES = resolve(import.meta.dirname, '../../models/artifacts/fixtures');

describe('model server faults at a rate (WEFT_FAULTS through startStack)', () => {
  let home: string;
  let stack: RunningStack;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-faults-'));
    stack = await startStack({
      home,
      modelsDir: FIXTURES,
      quiet: true,
      faults: 'models.5xx=0.4,models.throttle=0.2,seed=5',
      delivery: { backoffMs: 100, maxBackoffMs: 400, batchWindowMs: 50, maxReceiveCount: 8 },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('tags every product through the retries and counts the injected faults', async () => {
    const products = ['p1', 'p2', 'p3', 'p4'];
    for (const [i, id] of products.entries()) {
      const image = await sharp({ create: { width: 320, height: 400, channels: 3, background: { r: 40 * i, g: 90, b: 200 - 30 * i } } }).jpeg().toBuffer();
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `faulty/${id}/images/front.jpg`, Body: image }));
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `faulty/${id}/product.json`, Body: JSON.stringify({ title: `Shirt ${id}`, color: 'navy' }) }));
    }
    await stack.dispatcher.idle();
    for (const id of products) {
      const view = (await (await fetch(`${stack.urls.api}/products/faulty/${id}`)).json()) as { images: { status: string }[]; text: { status: string } };
      expect({ id, images: view.images.map((i) => i.status), text: view.text.status }).toEqual({ id, images: ['tagged'], text: 'tagged' });
    }
    expect(await stack.dispatcher.deadLetters()).toEqual([]);
    const state = (await (await fetch(`${stack.urls.api}/local/faults`)).json()) as FaultState;
    expect(state.spec).toBe('models.5xx=0.4,models.throttle=0.2,seed=5,timeoutMs=2000');
    // Each of the 4 text and 4 image rows needs at least one answered call; 60 % of calls fail.
    expect(state.counts.models.injected['5xx']).toBeGreaterThan(0);
    expect(state.counts.models.requests).toBeGreaterThan(state.counts.models.injected['5xx']! + (state.counts.models.injected.throttle ?? 0));
    expect(state.counts.dynamodb.injected).toEqual({});
    expect(state.counts.dynamodb.requests).toBeGreaterThan(0);
  });

  it('changes the faults at run time through PUT /local/faults', async () => {
    const put = (body: string, type = 'application/json') => fetch(`${stack.urls.api}/local/faults`, { method: 'PUT', headers: { 'content-type': type }, body });
    expect((await put('{"faults":"off"}', 'text/plain')).status).toBe(415);
    const off = await put('{"faults":"off"}');
    expect(off.status).toBe(200);
    expect(((await off.json()) as FaultState).spec).toBe('off');
  });

  it('refuses a mistyped switch before starting anything', async () => {
    await expect(startStack({ home: join(home, 'other'), modelsDir: FIXTURES, quiet: true, faults: 'models.5xx=2' })).rejects.toThrow("WEFT_FAULTS: 'models.5xx=2' needs a rate from 0 to 1");
  });
});

describe('DynamoDB fault proxy in front of dynalite', () => {
  let home: string;
  let dynamo: RunningDynamo;
  let proxy: RunningDynamoFaultProxy;
  const faults = new FaultSwitch(parseFaultSpec('off'));
  const client = (maxAttempts = 3) => new DynamoDBClient({ endpoint: proxy.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts });
  const direct = () => new DynamoDBClient({ endpoint: dynamo.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const table = 'faults';

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-dynamo-faults-'));
    dynamo = await startDynamo({ directory: join(home, 'dynamodb'), port: 0 });
    proxy = await startDynamoFaultProxy({ upstream: dynamo.url, faults });
    const setup = direct();
    await setup.send(new CreateTableCommand({ TableName: table, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    setup.destroy();
  });

  afterAll(async () => {
    await proxy?.stop();
    await dynamo?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const put = (c: DynamoDBClient, pk: string) => c.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk } } }));
  const stored = async (pk: string) => {
    const c = direct();
    try {
      return (await c.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item !== undefined;
    } finally {
      c.destroy();
    }
  };

  it('passes requests through while no fault is set', async () => {
    const c = client();
    await put(c, 'plain');
    c.destroy();
    expect(await stored('plain')).toBe(true);
  });

  it('answers InternalServerError and throttling as DynamoDB does, and the SDK retries both', async () => {
    for (const [spec, name] of [
      ['dynamodb.5xx=1', 'InternalServerError'],
      ['dynamodb.throttle=1', 'ProvisionedThroughputExceededException'],
    ] as const) {
      faults.set(parseFaultSpec(spec));
      const before = faults.state().counts.dynamodb.requests;
      const c = client(3);
      const error = await put(c, `never-${name}`).catch((e: unknown) => e as Error & { $metadata: { attempts?: number } });
      c.destroy();
      expect(error).toMatchObject({ name, $metadata: { attempts: 3 } });
      expect(faults.state().counts.dynamodb.requests - before).toBe(3);
      expect(await stored(`never-${name}`)).toBe(false);
    }
  });

  it('drops a held request after timeoutMs without carrying it out', async () => {
    faults.set(parseFaultSpec('dynamodb.timeout=1,timeoutMs=100'));
    const c = client(1);
    const started = performance.now();
    await expect(put(c, 'held')).rejects.toThrow(/socket hang up|ECONNRESET/);
    c.destroy();
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(await stored('held')).toBe(false);
  });

  it('leaves a cross-site request to dynalite, which refuses it, and draws no fault for it', async () => {
    faults.set(parseFaultSpec('dynamodb.5xx=1'));
    const before = faults.state().counts.dynamodb;
    const res = await fetch(proxy.url, { method: 'POST', headers: { origin: 'http://attacker.example', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' }, body: '{}' });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/AccessDeniedException/);
    expect(faults.state().counts.dynamodb).toEqual(before);
    faults.set(parseFaultSpec('off'));
  });

  it('carries out a write whose reply it then loses, so the caller retries what already happened', async () => {
    faults.set(parseFaultSpec('dynamodb.lost-reply=1'));
    const c = client(1);
    await expect(put(c, 'lost')).rejects.toThrow(/socket hang up|ECONNRESET/);
    c.destroy();
    expect(await stored('lost')).toBe(true);
    faults.set(parseFaultSpec('off'));
  });
});
