import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  BoilerplateFilter,
  InMemoryBoilerplateStore,
  type BoilerplateStore,
} from '../../functions/shared/text/boilerplate.js';
import { DynamoBoilerplateStore, vendorPk } from '../../functions/shared/text/dynamoBoilerplateStore.js';
import { sentenceHash, sentenceKey, splitSentences } from '../../functions/shared/text/sentences.js';
import { cleanText } from '../../functions/shared/text/cleanText.js';
import { TransientError } from '../../functions/shared/errors.js';
import { parseFaultSpec } from '../../local/faults/faultSpec.js';
import { FaultSwitch } from '../../local/faults/FaultSwitch.js';
import { startDynamoFaultProxy, type RunningDynamoFaultProxy } from '../../local/faults/dynamoFaultProxy.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const RETURNS = 'Free returns within 30 days of purchase, see our returns policy for details.';
const CARE = 'Machine wash cold with like colors, tumble dry low.';
const SHIPPING = 'Orders over $50 ship free!';

const items = [
  'Relaxed crew-neck tee in heavyweight organic cotton jersey.',
  'Slim-fit chinos with a touch of stretch for all-day comfort.',
  'Oversized hoodie with a kangaroo pocket and ribbed cuffs.',
  'Linen camp-collar shirt with coconut buttons.',
  'High-rise straight jeans in rigid selvedge denim.',
  'Merino crew sweater knitted in Italy from fine yarn.',
  'Quilted puffer vest filled with recycled insulation.',
  'Pleated midi skirt in fluid satin with a side zip.',
];

/** Acme pastes its returns policy and care label under every product, as vendors do. */
const acmeDescription = (i: number): string =>
  cleanText(`<p>${items[i % items.length]} Style no. ${1000 + i} has a unique fit.</p><p>${RETURNS} ${CARE}</p><p>Cotton.</p>`);

const runScenarios = (name: string, makeStore: () => Promise<BoilerplateStore>) => {
  describe(name, () => {
    it('learns a vendor\'s boilerplate and removes it once it recurs in enough products', async () => {
      const filter = new BoilerplateFilter(await makeStore(), { minProducts: 5, minShare: 0.3 });
      const early = await filter.apply('acme', 'p0', acmeDescription(0));
      expect(early.removed).toEqual([]);
      for (let i = 1; i < 8; i++) await filter.apply('acme', `p${i}`, acmeDescription(i));

      const later = await filter.apply('acme', 'p8', acmeDescription(8));
      expect(later.removed).toEqual([RETURNS, CARE]);
      expect(later.text).toBe(`${items[0]} Style no. 1008 has a unique fit.\nCotton.`);
    });

    it('keeps statistics per vendor', async () => {
      const filter = new BoilerplateFilter(await makeStore(), { minProducts: 3, minShare: 0.3 });
      for (let i = 0; i < 6; i++) await filter.observe('acme', `p${i}`, acmeDescription(i));
      const other = `${items[1]} ${RETURNS}`;
      const result = await filter.apply('globex', 'g1', other);
      expect(result).toEqual({ text: other, removed: [] });
    });

    it('does not count a redelivered product twice', async () => {
      const filter = new BoilerplateFilter(await makeStore(), { minProducts: 5, minShare: 0.3 });
      for (let delivery = 0; delivery < 6; delivery++) {
        for (let i = 0; i < 3; i++) await filter.observe('acme', `p${i}`, acmeDescription(i));
      }
      // Three products, however often delivered, stay below minProducts = 5.
      expect((await filter.strip('acme', acmeDescription(0))).removed).toEqual([]);
      const stats = await (filter as unknown as { store: BoilerplateStore }).store.stats('acme', [
        sentenceHash(sentenceKey(RETURNS)),
      ]);
      expect(stats.vendorProducts).toBe(3);
      expect(stats.sentenceProducts.get(sentenceHash(sentenceKey(RETURNS)))).toBe(3);
    });

    it('counts concurrent deliveries of one product once', async () => {
      const store = await makeStore();
      const filter = new BoilerplateFilter(store);
      await Promise.all(Array.from({ length: 6 }, () => filter.observe('acme', 'p1', acmeDescription(1))));
      const stats = await store.stats('acme', [sentenceHash(sentenceKey(CARE))]);
      expect(stats).toEqual({ vendorProducts: 1, sentenceProducts: new Map([[sentenceHash(sentenceKey(CARE)), 1]]) });
    });

    it('counts sentences added by a later version of the product, once', async () => {
      const store = await makeStore();
      const filter = new BoilerplateFilter(store);
      await filter.observe('acme', 'p1', items[1] ?? '');
      await filter.observe('acme', 'p1', `${items[1]} ${RETURNS}`);
      await filter.observe('acme', 'p1', `${items[1]} ${RETURNS}`);
      const hashes = [sentenceHash(sentenceKey(items[1] ?? '')), sentenceHash(sentenceKey(RETURNS))];
      const stats = await store.stats('acme', hashes);
      expect(stats.vendorProducts).toBe(1);
      expect([...stats.sentenceProducts.values()]).toEqual([1, 1]);
    });

    it('counts colour variants that copy one description once', async () => {
      const store = await makeStore();
      const filter = new BoilerplateFilter(store, { minProducts: 3, minShare: 0.3 });
      const shared = `Relaxed tee in heavyweight organic cotton jersey.\nDropped shoulders and a boxy fit for layering.`;
      for (const colour of ['navy', 'red', 'black', 'white', 'olive', 'sand']) await filter.observe('small', `tee-${colour}`, shared);
      await filter.observe('small', 'hoodie', 'Oversized hoodie with a kangaroo pocket and ribbed cuffs.');
      // Six variants of one text are one description: 1 of 2 counted products, below minProducts.
      const result = await filter.strip('small', shared);
      expect(result).toEqual({ text: shared, removed: [] });
      const stats = await store.stats('small', []);
      expect(stats.vendorProducts).toBe(2);
      // A variant redelivered, or the owner redelivered, changes nothing.
      await filter.observe('small', 'tee-navy', shared);
      await filter.observe('small', 'tee-red', shared);
      expect((await store.stats('small', [])).vendorProducts).toBe(2);
    });

    it('needs the share threshold as well as the product count', async () => {
      const filter = new BoilerplateFilter(await makeStore(), { minProducts: 5, minShare: 0.3 });
      // SHIPPING appears in 6 of 40 products: 15% < 30%, so it is kept.
      for (let i = 0; i < 40; i++) {
        const text = i < 6 ? `${items[i % items.length]} ${SHIPPING} Item ${i} is special.` : `${items[i % items.length]} Item ${i} is special.`;
        await filter.observe('acme', `p${i}`, text);
      }
      const result = await filter.strip('acme', `${items[0]} ${SHIPPING}`);
      expect(result.removed).toEqual([]);
    });
  });
};

runScenarios('BoilerplateFilter with the in-memory store', async () => new InMemoryBoilerplateStore());

describe('BoilerplateFilter with DynamoDB (dynalite)', () => {
  let table: TestTable;
  let vendorCounter = 0;
  beforeAll(async () => {
    table = await startTestTable();
  });
  afterAll(async () => {
    await table?.stop();
  });

  /** Each scenario gets fresh vendor partitions by prefixing vendors through a thin wrapper. */
  const freshStore = async (): Promise<BoilerplateStore> => {
    const prefix = `t${++vendorCounter}-`;
    const inner = new DynamoBoilerplateStore({ client: table.client, tableName: table.tableName });
    return {
      record: (vendor, productId, sentences, fingerprint) => inner.record(prefix + vendor, productId, sentences, fingerprint),
      stats: (vendor, hashes) => inner.stats(prefix + vendor, hashes),
    };
  };
  runScenarios('scenarios', freshStore);

  it('stores the documented items: STATS, SEEN# per product, SENT# per sentence', async () => {
    const store = new DynamoBoilerplateStore({ client: table.client, tableName: table.tableName });
    const filter = new BoilerplateFilter(store);
    await filter.observe('layout', 'p1', `${items[0]} ${RETURNS}`);
    await filter.observe('layout', 'p1', `${items[0]} ${RETURNS}`);
    const { Items = [] } = await table.client.send(
      new QueryCommand({ TableName: table.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': vendorPk('layout') } }),
    );
    const bySk = new Map(Items.map((item) => [String(item.sk), item]));
    expect(bySk.get('STATS')?.products).toBe(1);
    const seen = bySk.get('SEEN#p1');
    expect(seen?.sentences).toEqual(new Set([sentenceHash(sentenceKey(items[0] ?? '')), sentenceHash(sentenceKey(RETURNS))]));
    const returns = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: { pk: vendorPk('layout'), sk: `SENT#${sentenceHash(sentenceKey(RETURNS))}` } }),
    );
    expect(returns.Item).toMatchObject({ products: 1, text: RETURNS });
    expect(Items.filter((item) => String(item.sk).startsWith('TEXT#')).map((item) => item.owner)).toEqual(['p1']);
    expect(seen?.counted).toBe(true);
    expect(Items.every((item) => item.gsi1pk === undefined)).toBe(true);
  });

  it('takes a new product\'s counts from its own writes (no reads), and reads them again on redelivery', async () => {
    const commands: string[] = [];
    const counting = { send: (command: { constructor: { name: string } }) => (commands.push(command.constructor.name), table.client.send(command as never)) };
    const store = new DynamoBoilerplateStore({ client: counting as unknown as typeof table.client, tableName: table.tableName });
    const filter = new BoilerplateFilter(store, { minProducts: 2, minShare: 0.5 });
    await filter.apply('rt', 'p1', `${items[0]} ${RETURNS}`);
    expect(commands.filter((c) => c === 'GetCommand' || c === 'BatchGetCommand')).toEqual([]);
    // TEXT claim, SEEN claim, two sentence counters, STATS.
    expect(commands).toHaveLength(5);
    commands.length = 0;
    const second = await filter.apply('rt', 'p2', `${items[1]} ${RETURNS}`);
    expect(second.removed).toEqual([RETURNS]);
    expect(commands.filter((c) => c === 'GetCommand' || c === 'BatchGetCommand')).toEqual([]);
    commands.length = 0;
    const again = await filter.apply('rt', 'p2', `${items[1]} ${RETURNS}`);
    expect(again.removed).toEqual([RETURNS]);
    expect(commands).toContain('BatchGetCommand');
    const stats = await store.stats('rt', [sentenceHash(sentenceKey(RETURNS))]);
    expect(stats).toEqual({ vendorProducts: 2, sentenceProducts: new Map([[sentenceHash(sentenceKey(RETURNS)), 2]]) });
  });

  it('reads counts for more sentences than one BatchGetItem allows', async () => {
    const store = new DynamoBoilerplateStore({ client: table.client, tableName: table.tableName });
    const sentences = new Map(Array.from({ length: 150 }, (_, i) => [sentenceHash(`sentence number ${i}`), `Sentence number ${i}.`] as const));
    await store.record('wide', 'p1', sentences, 'fingerprint-wide');
    const stats = await store.stats('wide', [...sentences.keys()]);
    expect(stats.vendorProducts).toBe(1);
    expect([...stats.sentenceProducts.values()].every((count) => count === 1)).toBe(true);
  });
});

/**
 * The counters through the local DynamoDB fault proxy: real dynalite behind it, a real DynamoDB
 * client with the SDK's standard retry in front, the message retried as the queue would retry it.
 */
describe('DynamoBoilerplateStore through DynamoDB faults', () => {
  let table: TestTable;
  let proxy: RunningDynamoFaultProxy;
  const clients: DynamoDBClient[] = [];
  /** The proxy's switch, able to fault just the next request (then none). */
  class Faults extends FaultSwitch {
    private once = false;
    next(spec: string): void {
      this.set(parseFaultSpec(spec));
      this.once = true;
    }
    override draw(target: 'models' | 'dynamodb') {
      const kind = super.draw(target);
      if (kind !== undefined && this.once) {
        this.once = false;
        this.set(parseFaultSpec('off'));
      }
      return kind;
    }
  }
  const faults = new Faults(parseFaultSpec('off'));
  const SHARED = 'Every order ships in recycled packaging from our studio.';
  const own = (i: number): string => `Style no. ${2000 + i} has a unique fit.`;
  const text = (i: number): string => `${items[i % items.length]} ${own(i)} ${SHARED}`;

  beforeAll(async () => {
    table = await startTestTable('weft-faults');
    proxy = await startDynamoFaultProxy({ upstream: table.endpoint, faults });
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await proxy?.stop();
    await table?.stop();
  });

  /** A client of its own per test, so one test's faults do not drain the next one's retry quota. */
  const proxied = (maxAttempts?: number): DynamoDBDocumentClient => {
    const raw = new DynamoDBClient({ endpoint: proxy.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts });
    clients.push(raw);
    return DynamoDBDocumentClient.from(raw);
  };

  const stored = async (vendor: string, sk: string): Promise<number | undefined> => {
    const { Item } = await table.client.send(new GetCommand({ TableName: table.tableName, Key: { pk: vendorPk(vendor), sk }, ConsistentRead: true }));
    return Item?.products === undefined ? undefined : Number(Item.products);
  };
  const counters = async (vendor: string, n: number) => ({
    vendorProducts: (await stored(vendor, 'STATS')) ?? 0,
    shared: (await stored(vendor, `SENT#${sentenceHash(sentenceKey(SHARED))}`)) ?? 0,
    own: await Promise.all(Array.from({ length: n }, async (_, i) => (await stored(vendor, `SENT#${sentenceHash(sentenceKey(own(i)))}`)) ?? 0)),
  });

  type Sent = { input?: { UpdateExpression?: string; Key?: { sk?: string } } };
  /** Calls `before` ahead of each command the store sends. */
  const watching = (client: DynamoDBDocumentClient, before: (command: Sent) => void): DynamoDBDocumentClient => {
    const send = (command: Sent) => {
      before(command);
      return client.send(command as never);
    };
    return { send } as unknown as DynamoDBDocumentClient;
  };
  /** Injects `spec` from the first counter write (`ADD`) on, after the claims went through unharmed. */
  const faultingCounters = (client: DynamoDBDocumentClient, spec: string): DynamoDBDocumentClient =>
    watching(client, (command) => {
      if (command.input?.UpdateExpression?.startsWith('ADD ')) faults.set(parseFaultSpec(spec));
    });

  it('recognises its own claim when the claim\'s reply was lost and the SDK sent it again', async () => {
    let claims = 0;
    const client = watching(proxied(), (command) => {
      if (command.input?.Key?.sk?.startsWith('SEEN#') && command.input.UpdateExpression && claims++ === 0) faults.next('dynamodb.lost-reply=1');
    });
    const before = faults.state().counts.dynamodb.injected['lost-reply'] ?? 0;
    await new BoilerplateFilter(new DynamoBoilerplateStore({ client, tableName: table.tableName })).observe('claim-lost', 'p0', text(0));
    expect((faults.state().counts.dynamodb.injected['lost-reply'] ?? 0) - before).toBe(1);
    // The retry failed its condition on the claim its first attempt made; the product still counts.
    expect(await counters('claim-lost', 1)).toEqual({ vendorProducts: 1, shared: 1, own: [1] });
  });

  it('sends a counter write once when its reply is lost, so the counter moves once', async () => {
    const store = new DynamoBoilerplateStore({ client: faultingCounters(proxied(), 'dynamodb.lost-reply=1'), tableName: table.tableName });
    const before = faults.state().counts.dynamodb.requests;
    const error = await new BoilerplateFilter(store).observe('lost-once', 'p0', text(0)).catch((e: unknown) => e);
    faults.set(parseFaultSpec('off'));
    expect(await counters('lost-once', 1)).toEqual({ vendorProducts: 1, shared: 1, own: [1] });
    // TEXT claim, SEEN claim, then one attempt for each of the four counters (three sentences, STATS).
    expect(faults.state().counts.dynamodb.requests - before).toBe(6);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'boilerplate_unconfirmed' });
    // The message's retry finds the sentences claimed and counts nothing again.
    await new BoilerplateFilter(new DynamoBoilerplateStore({ client: proxied(), tableName: table.tableName })).observe('lost-once', 'p0', text(0));
    expect(await counters('lost-once', 1)).toEqual({ vendorProducts: 1, shared: 1, own: [1] });
  });

  it('lets the SDK retry a throttled counter write (nothing was written) but not one answered 500', async () => {
    // Two attempts rather than the SDK's four for DynamoDB: throttling backoff starts at 500 ms.
    const attempts = 2;
    const throttled = new DynamoBoilerplateStore({ client: faultingCounters(proxied(attempts), 'dynamodb.throttle=1'), tableName: table.tableName });
    let before = faults.state().counts.dynamodb.requests;
    await expect(new BoilerplateFilter(throttled).observe('refused', 'p0', text(0))).rejects.toMatchObject({ code: 'boilerplate_store', message: /ProvisionedThroughputExceeded|throughput/ });
    faults.set(parseFaultSpec('off'));
    // Four counters, every attempt the client allows for each, none applied.
    expect(faults.state().counts.dynamodb.requests - before).toBe(2 + 4 * attempts);
    expect(await counters('refused', 1)).toEqual({ vendorProducts: 0, shared: 0, own: [0] });

    const failing = new DynamoBoilerplateStore({ client: faultingCounters(proxied(), 'dynamodb.5xx=1'), tableName: table.tableName });
    before = faults.state().counts.dynamodb.requests;
    await expect(new BoilerplateFilter(failing).observe('refused', 'p1', text(1))).rejects.toMatchObject({ code: 'boilerplate_unconfirmed', message: /InternalServerError/ });
    faults.set(parseFaultSpec('off'));
    // A 500 may come after the write: each counter is sent once and, not applied here, stays low.
    expect(faults.state().counts.dynamodb.requests - before).toBe(2 + 4);
    expect(await counters('refused', 2)).toEqual({ vendorProducts: 0, shared: 0, own: [0, 0] });
  });

  /** N products sharing one sentence, 4 at a time, each retried (as its message would be) until recorded. */
  const countThroughFaults = async (vendor: string, spec: string, n: number) => {
    const filter = new BoilerplateFilter(new DynamoBoilerplateStore({ client: proxied(), tableName: table.tableName }));
    faults.set(parseFaultSpec(spec));
    const firstTime: number[] = [];
    const observe = async (i: number): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await filter.observe(vendor, `p${i}`, text(i));
          if (attempt === 1) firstTime.push(i);
          return;
        } catch (error) {
          expect(error).toBeInstanceOf(TransientError);
          if (attempt >= 30) throw error;
        }
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < n) await observe(next++);
      }),
    );
    const { injected } = faults.state().counts.dynamodb;
    faults.set(parseFaultSpec('off'));
    return { ...(await counters(vendor, n)), firstTime: firstTime.sort((x, y) => x - y), injected };
  };

  /** No counter above the products that have it; each product recorded without a failure counted exactly. */
  const expectNeverOverCounted = (result: Awaited<ReturnType<typeof countThroughFaults>>, n: number): void => {
    const excess = { vendorProducts: Math.max(0, result.vendorProducts - n), shared: Math.max(0, result.shared - n), own: result.own.filter((count) => count > 1) };
    expect(excess).toEqual({ vendorProducts: 0, shared: 0, own: [] });
    expect(result.firstTime.map((i) => result.own[i])).toEqual(result.firstTime.map(() => 1));
    expect(result.vendorProducts).toBeGreaterThanOrEqual(result.firstTime.length);
    expect(result.shared).toBeGreaterThanOrEqual(result.firstTime.length);
  };

  it('never counts a product twice when half the replies are lost after the write', async () => {
    const result = await countThroughFaults('lost', 'dynamodb.lost-reply=0.5,seed=3', 12);
    expect(result.injected['lost-reply']).toBeGreaterThan(20);
    expectNeverOverCounted(result, 12);
  });

  it('never counts a product twice under every fault kind at once', async () => {
    const result = await countThroughFaults('mixed', 'dynamodb.5xx=0.1,dynamodb.throttle=0.1,dynamodb.timeout=0.1,dynamodb.lost-reply=0.1,seed=11,timeoutMs=20', 8);
    expect(Object.keys(result.injected).sort()).toEqual(['5xx', 'lost-reply', 'throttle', 'timeout']);
    expectNeverOverCounted(result, 8);
  });
});

describe('splitSentences', () => {
  it('splits lines into sentences and keys them insensitively', () => {
    const lines = splitSentences('Soft tee. Machine wash cold!\nFree returns');
    expect(lines.map((line) => line.map((s) => s.text))).toEqual([['Soft tee.', 'Machine wash cold!'], ['Free returns']]);
    expect(sentenceKey('FREE returns!!')).toBe(sentenceKey('free  Returns.'));
  });
});
