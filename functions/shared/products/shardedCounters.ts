/**
 * Counters spread over a few partitions, moved by `ADD`s of the difference between a product's
 * previous and new memberships, as the listing's facet counters (`FACETS#{n}`) and the catalog
 * statistics (`STATS#{n}`) are. Each product always counts in the same shard (FNV-1a of its key),
 * so its memberships live in one partition; reads sum the shards (one Query each). Item design and
 * why ADDs are sent at most once: README.md in this folder, "Facet counters".
 */
import type { Channel } from 'node:diagnostics_channel';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { atMostOnce } from '../text/atMostOnce.js';
import { isConditionalCheckFailed } from './updateExpression.js';

/**
 * Counters are spread over this many partitions (`FACETS#0` …, `STATS#0` …), each product always
 * counting in the same one: every product change moves a few counters, and one partition takes at
 * most 1,000 writes a second. Reads sum the shards (one Query each).
 */
export const COUNTER_SHARDS = 8;

/** FNV-1a of the product's key, so a product's counters always live in one shard. */
export const counterShard = (vendor: string, productId: string): number => {
  let hash = 0x811c9dc5;
  for (const char of `${vendor}#${productId}`) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % COUNTER_SHARDS;
};

/** Counter deltas between two versions of a product: +1 for memberships gained, −1 for those lost. */
export const counterDeltas = (before: readonly string[], after: readonly string[]): Map<string, number> => {
  const deltas = new Map<string, number>();
  for (const m of before) deltas.set(m, (deltas.get(m) ?? 0) - 1);
  for (const m of after) deltas.set(m, (deltas.get(m) ?? 0) + 1);
  for (const [m, d] of deltas) if (d === 0) deltas.delete(m);
  return deltas;
};

/** shard → membership (the counter item's sort key) → count. */
export type ShardCounters = Map<number, Map<string, number>>;

export class ShardedCounters {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** The partition key of a shard: `FACETS#3`. */
    readonly partition: (shard: number) => string,
    /** Where an ADD that failed after the product was written is published. */
    private readonly lost: Channel,
  ) {}

  /**
   * ADDs each delta to the product's shard, each sent at most once (an ADD sent twice counts
   * twice). Failures are published on the channel and otherwise ignored: the product is written,
   * and that counter is off by the delta until a recount.
   */
  async add(vendor: string, productId: string, deltas: ReadonlyMap<string, number>): Promise<void> {
    const pk = this.partition(counterShard(vendor, productId));
    await Promise.all(
      [...deltas].map(async ([membership, delta]) => {
        try {
          await this.client.send(
            atMostOnce(
              new UpdateCommand({
                TableName: this.tableName,
                Key: { pk, sk: membership },
                UpdateExpression: 'ADD #count :delta',
                ExpressionAttributeNames: { '#count': 'count' },
                ExpressionAttributeValues: { ':delta': delta },
              }),
            ),
          );
        } catch (error) {
          this.lost.publish({ vendor, productId, membership, delta, error });
        }
      }),
    );
  }

  /** Every counter (or those whose sort key starts with `prefix`): membership → count, summed over the shards. */
  async readTotals(options: { prefix?: string } = {}): Promise<Map<string, number>> {
    const totals = new Map<string, number>();
    for (const counters of (await this.readShards(options)).values()) {
      for (const [membership, count] of counters) totals.set(membership, (totals.get(membership) ?? 0) + count);
    }
    return totals;
  }

  /**
   * Every counter item, per shard (one Query per shard, paged); `prefix` keeps only sort keys that
   * start with it (a key condition, so nothing else is read). `consistent` reads them strongly
   * consistent (the recount compares them with the listing).
   */
  async readShards(options: { consistent?: boolean; prefix?: string } = {}): Promise<ShardCounters> {
    const shards: ShardCounters = new Map();
    const { prefix } = options;
    await Promise.all(
      Array.from({ length: COUNTER_SHARDS }, async (_, shard) => {
        const counters = new Map<string, number>();
        shards.set(shard, counters);
        let start: Record<string, unknown> | undefined;
        do {
          const page = await this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              KeyConditionExpression: prefix === undefined ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :prefix)',
              ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#count': 'count' },
              ExpressionAttributeValues: { ':pk': this.partition(shard), ...(prefix === undefined ? {} : { ':prefix': prefix }) },
              ProjectionExpression: '#sk, #count',
              ...(options.consistent ? { ConsistentRead: true } : {}),
              ExclusiveStartKey: start,
            }),
          );
          for (const item of page.Items ?? []) counters.set(String(item.sk), (counters.get(String(item.sk)) ?? 0) + Number(item.count ?? 0));
          start = page.LastEvaluatedKey;
        } while (start);
      }),
    );
    return shards;
  }

  /**
   * Moves one shard's counter by `delta`, only if it still holds `seen` (`undefined`: the item or
   * its count does not exist): a merge's ADD that lands between the read and this write is never
   * overwritten or miscounted, and an SDK retry of a correction that was applied finds the
   * condition false instead of applying it twice. Returns whether the condition held.
   */
  async adjust(shard: number, membership: string, seen: number | undefined, delta: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.partition(shard), sk: membership },
          UpdateExpression: 'ADD #count :delta',
          ConditionExpression: seen === undefined ? 'attribute_not_exists(#count)' : '#count = :seen',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':delta': delta, ...(seen === undefined ? {} : { ':seen': seen }) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** One shard's counter, strongly consistent (`undefined` when it has no item). */
  async read(shard: number, membership: string): Promise<number | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: this.partition(shard), sk: membership }, ConsistentRead: true, ProjectionExpression: '#count', ExpressionAttributeNames: { '#count': 'count' } }),
    );
    return Item?.count === undefined ? undefined : Number(Item.count);
  }
}
