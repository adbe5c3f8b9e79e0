/**
 * Boilerplate statistics in the products table, one partition per vendor:
 *
 * | pk                | sk                  | attributes                                            |
 * |-------------------|---------------------|-------------------------------------------------------|
 * | `VENDOR#{vendor}` | `STATS`             | `products` (N): distinct products counted             |
 * | `VENDOR#{vendor}` | `SEEN#{productId}`  | `sentences` (SS): hashes already counted for it; `version` (N); `counted` (BOOL); `claim` (S): token of the last claim |
 * | `VENDOR#{vendor}` | `SENT#{hash}`       | `products` (N): distinct products containing it; `text` (S): first wording seen |
 * | `VENDOR#{vendor}` | `TEXT#{fingerprint}`| `owner` (S): the first product that showed this exact text |
 *
 * `hash` is the first 16 hex digits of SHA-256 of the sentence's normalized form (sentences.ts),
 * `fingerprint` the first 24 of SHA-256 over the product's sorted sentence hashes. None of these
 * items has `gsi1pk`, so none appears in the `byAttribute` index. Item count per vendor: one per
 * product and one per distinct counted sentence (at most 100 per product).
 *
 * A product whose text another product already owns (a colour variant with a copied
 * description) is not counted at all: `if_not_exists` on the TEXT item decides the owner
 * atomically, and the owner's redeliveries pass through to the idempotent claim below.
 *
 * Idempotency without transactions (dynalite has none): a product's hashes are first *claimed* on
 * its SEEN item with an optimistic-lock condition on `version`, and only the hashes this call
 * claimed are then counted (STATS once when the SEEN item is created, each SENT item once).
 * Redelivery finds them claimed and counts nothing; two concurrent deliveries of one product race
 * on the condition and the loser re-reads. The claim is conditional, so the SDK may send it again;
 * its `claim` token tells a retry that failed the condition on its own earlier attempt (reply
 * lost) that the hashes are its to count.
 *
 * The counts themselves are `ADD`s, which are not idempotent: sent again after DynamoDB applied
 * them (a lost reply, a 500 after the write, a timeout), they count twice. So each is sent at
 * most once (atMostOnce.ts): the SDK still retries an attempt DynamoDB refused with a 4xx
 * (throttling), but any failure that leaves the outcome unknown ends the call with a
 * TransientError (`boilerplate_unconfirmed`), and the message's retry finds the hashes claimed and
 * counts nothing. Recording the product on each counter item instead would make the ADD
 * idempotent, but a vendor-wide sentence or STATS would then carry every product id of the
 * vendor, past DynamoDB's 400 KB item limit for a large catalog; a second write per counter to
 * release the record would double the writes. Counts can therefore be low, never inflated: after
 * a crash between claim and count, after a counter write whose outcome stayed unknown, after a
 * counter write still throttled once the SDK's attempts ran out, or after a claim whose outcome
 * stayed unknown after the SDK's attempts. Stripping errs towards keeping text.
 *
 * Round trips for a product seen the first time: TEXT claim, SEEN claim (written without a read
 * first; the condition sends a product seen before to the read-and-claim loop), one ADD per
 * sentence and one on STATS. The ADDs return the new counts (UPDATED_NEW), which `record` hands
 * back so `BoilerplateFilter.strip` reads only the counts it still lacks (none, for such a product).
 */
import { randomUUID } from 'node:crypto';
import { BatchGetCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { TransientError } from '../errors.js';
import { atMostOnce, UnconfirmedWriteError } from './atMostOnce.js';
import type { BoilerplateStats, BoilerplateStore, KnownCounts } from './boilerplate.js';

export const vendorPk = (vendor: string): string => `VENDOR#${vendor}`;
export const STATS_SK = 'STATS';
export const seenSk = (productId: string): string => `SEEN#${productId}`;
export const sentenceSk = (hash: string): string => `SENT#${hash}`;
export const textSk = (fingerprint: string): string => `TEXT#${fingerprint}`;

const MAX_CLAIM_ATTEMPTS = 5;
const BATCH_GET_LIMIT = 100;
const MAX_BATCH_RETRIES = 5;
const WRITE_CONCURRENCY = 8;
/** Keeps one example per sentence readable without letting a huge sentence bloat the item. */
const MAX_EXAMPLE_CHARS = 500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof Error && error.name === 'ConditionalCheckFailedException');

export interface DynamoBoilerplateStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoBoilerplateStore implements BoilerplateStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(opts: DynamoBoilerplateStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
  }

  async record(vendor: string, productId: string, sentences: ReadonlyMap<string, string>, fingerprint: string): Promise<KnownCounts | void> {
    const pk = vendorPk(vendor);
    const owner = await this.withTransient(
      () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk, sk: textSk(fingerprint) },
            UpdateExpression: 'SET #owner = if_not_exists(#owner, :product)',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':product': productId },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      `claiming a text fingerprint for ${vendor}/${productId}`,
    );
    if (owner.Attributes?.owner !== productId) return;
    const { isNewProduct, claimed } = await this.claim(vendor, productId, [...sentences.keys()]);
    // UPDATED_NEW hands back each counter right after this product's increment, so `strip` need
    // not read these items again.
    const counts = new Map<string, number>();
    let vendorProducts: number | undefined;
    const writes: (() => Promise<unknown>)[] = claimed.map((hash) => async () => {
      const result = await this.client.send(
        atMostOnce(new UpdateCommand({
          TableName: this.tableName,
          Key: { pk, sk: sentenceSk(hash) },
          UpdateExpression: 'ADD #products :one SET #text = if_not_exists(#text, :text)',
          ExpressionAttributeNames: { '#products': 'products', '#text': 'text' },
          ExpressionAttributeValues: { ':one': 1, ':text': (sentences.get(hash) ?? '').slice(0, MAX_EXAMPLE_CHARS) },
          ReturnValues: 'UPDATED_NEW',
        })),
      );
      counts.set(hash, Number(result.Attributes?.products ?? 1));
    });
    if (isNewProduct) {
      writes.push(async () => {
        const result = await this.client.send(
          atMostOnce(new UpdateCommand({
            TableName: this.tableName,
            Key: { pk, sk: STATS_SK },
            UpdateExpression: 'ADD #products :one',
            ExpressionAttributeNames: { '#products': 'products' },
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          })),
        );
        vendorProducts = Number(result.Attributes?.products ?? 1);
      });
    }
    await this.run(writes, `recording boilerplate counts for ${vendor}/${productId}`);
    return { ...(vendorProducts !== undefined ? { vendorProducts } : {}), sentenceProducts: counts };
  }

  async stats(vendor: string, hashes: readonly string[]): Promise<BoilerplateStats> {
    const pk = vendorPk(vendor);
    const keys = [STATS_SK, ...new Set(hashes).values()].map((hash, index) => ({
      pk,
      sk: index === 0 ? STATS_SK : sentenceSk(hash),
    }));
    const counts = new Map<string, number>();
    for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
      for (const item of await this.batchGet(keys.slice(start, start + BATCH_GET_LIMIT))) {
        counts.set(String(item.sk), Number(item.products ?? 0));
      }
    }
    return {
      vendorProducts: counts.get(STATS_SK) ?? 0,
      sentenceProducts: new Map(hashes.map((hash) => [hash, counts.get(sentenceSk(hash)) ?? 0])),
    };
  }

  /**
   * Marks hashes as counted for the product; returns only those this call marked. Each claim
   * write also records a fresh `claim` token: when its reply is lost and the SDK's retry then
   * fails the condition (the first attempt already changed the item), the re-read finds the
   * token and knows the claim is this call's, instead of taking the hashes for someone else's.
   */
  private async claim(
    vendor: string,
    productId: string,
    hashes: string[],
  ): Promise<{ isNewProduct: boolean; claimed: string[] }> {
    const key = { pk: vendorPk(vendor), sk: seenSk(productId) };
    const names = (withSentences: boolean) => ({
      '#version': 'version',
      '#counted': 'counted',
      '#claim': 'claim',
      ...(withSentences ? { '#sentences': 'sentences' } : {}),
    });
    const update = (withSentences: boolean) =>
      withSentences ? 'SET #version = :next, #counted = :true, #claim = :token ADD #sentences :fresh' : 'SET #version = :next, #counted = :true, #claim = :token';
    // Most products are seen for the first time: claim everything in one write, no read first.
    // A product seen before fails the condition and takes the read-and-claim path below.
    const all = [...new Set(hashes)];
    let mine: { token: string; result: { isNewProduct: boolean; claimed: string[] } } = {
      token: randomUUID(),
      result: { isNewProduct: true, claimed: all },
    };
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: update(all.length > 0),
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeNames: names(all.length > 0),
          ExpressionAttributeValues: { ':next': 1, ':true': true, ':token': mine.token, ...(all.length > 0 ? { ':fresh': new Set(all) } : {}) },
        }),
      );
      return mine.result;
    } catch (error) {
      if (!isConditionFailure(error)) throw this.transient(error, `claiming sentences of ${vendor}/${productId}`);
    }
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const current = await this.withTransient(
        () => this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
        `reading ${key.sk} of ${key.pk}`,
      );
      const item = current.Item;
      // The last write that failed its condition was this call's own, applied on an earlier attempt.
      if (item?.claim === mine.token) return mine.result;
      const seen = new Set<string>(item?.sentences instanceof Set ? (item.sentences as Set<string>) : []);
      const fresh = [...new Set(hashes)].filter((hash) => !seen.has(hash));
      const wasCounted = item?.counted === true;
      if (wasCounted && fresh.length === 0) return { isNewProduct: false, claimed: [] };
      const version = Number(item?.version ?? 0);
      mine = { token: randomUUID(), result: { isNewProduct: !wasCounted, claimed: fresh } };
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: update(fresh.length > 0),
            ConditionExpression: item ? '#version = :version' : 'attribute_not_exists(pk)',
            ExpressionAttributeNames: names(fresh.length > 0),
            ExpressionAttributeValues: {
              ':next': version + 1,
              ':true': true,
              ':token': mine.token,
              ...(item ? { ':version': version } : {}),
              ...(fresh.length > 0 ? { ':fresh': new Set(fresh) } : {}),
            },
          }),
        );
        return mine.result;
      } catch (error) {
        if (!isConditionFailure(error)) throw this.transient(error, `claiming sentences of ${vendor}/${productId}`);
        // Another delivery of the same product got there first (or this call did, its reply
        // lost): re-read and claim what is left.
      }
    }
    throw new TransientError('boilerplate_contention', `gave up claiming sentences of ${vendor}/${productId} after ${MAX_CLAIM_ATTEMPTS} attempts`);
  }

  private async batchGet(keys: Record<string, string>[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let pending: Record<string, string>[] = keys;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > MAX_BATCH_RETRIES) {
        throw new TransientError('boilerplate_unprocessed', `${pending.length} boilerplate counts stayed unprocessed`);
      }
      if (attempt > 0) await sleep(25 * 2 ** attempt);
      const result = await this.withTransient(
        () =>
          this.client.send(
            new BatchGetCommand({
              RequestItems: {
                [this.tableName]: { Keys: pending, ConsistentRead: true, ProjectionExpression: 'sk, #products', ExpressionAttributeNames: { '#products': 'products' } },
              },
            }),
          ),
        'reading boilerplate counts',
      );
      items.push(...(result.Responses?.[this.tableName] ?? []));
      pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, string>[];
    }
    return items;
  }

  /**
   * Runs every task, WRITE_CONCURRENCY at a time, then fails with the first error, if any: the
   * hashes are claimed already, so a write left unsent after a neighbour's failure would never be
   * counted, and none keeps running once the message has failed.
   */
  private async run(tasks: (() => Promise<unknown>)[], what: string): Promise<void> {
    let next = 0;
    const errors: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (next < tasks.length) {
        const task = tasks[next++];
        if (task) await task().catch((error: unknown) => errors.push(error));
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, tasks.length) }, worker));
    if (errors.length > 0) throw this.transient(errors[0], errors.length > 1 ? `${what} (${errors.length} writes failed)` : what);
  }

  private async withTransient<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.transient(error, what);
    }
  }

  private transient(error: unknown, what: string): Error {
    if (error instanceof TransientError) return error;
    // The counter may or may not have moved; retrying the message finds it claimed and counts
    // nothing, so at worst it stays one low.
    if (error instanceof UnconfirmedWriteError) return new TransientError('boilerplate_unconfirmed', `${what}: ${error.message}`);
    return new TransientError('boilerplate_store', `${what}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
