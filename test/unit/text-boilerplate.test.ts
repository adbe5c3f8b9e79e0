import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  BoilerplateFilter,
  InMemoryBoilerplateStore,
  type BoilerplateStore,
} from '../../functions/shared/text/boilerplate.js';
import { DynamoBoilerplateStore, vendorPk } from '../../functions/shared/text/dynamoBoilerplateStore.js';
import { sentenceHash, sentenceKey, splitSentences } from '../../functions/shared/text/sentences.js';
import { cleanText } from '../../functions/shared/text/cleanText.js';
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

describe('splitSentences', () => {
  it('splits lines into sentences and keys them insensitively', () => {
    const lines = splitSentences('Soft tee. Machine wash cold!\nFree returns');
    expect(lines.map((line) => line.map((s) => s.text))).toEqual([['Soft tee.', 'Machine wash cold!'], ['Free returns']]);
    expect(sentenceKey('FREE returns!!')).toBe(sentenceKey('free  Returns.'));
  });
});
