/**
 * All reads and writes of the product table. Concurrency model (no transactions, no streams):
 *   - each source is ONE item written by ONE conditional UpdateItem, guarded by the S3 event
 *     sequencer, so redelivered or out-of-order events never double-count or regress a source;
 *   - the merged product is recomputed from a strongly consistent Query of the whole partition and
 *     written guarded by its `version`; a lost race re-reads and recomputes, so concurrent image and
 *     text updates never lose each other;
 *   - per-task index items carry the product version they reflect and only move forward.
 */
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../errors.js';
import { own } from '../ownKeys.js';
import type { EnsembleConfig } from '../manifest.js';
import { mergeAttributes, rankTasks, type Attributes, type Distribution, type TaskCatalog } from './ensemble.js';
import { derivedViewKey } from '../layout.js';
import { CatalogIndex, isListingIndexItem, type ListingIndexItem } from './catalogIndex.js';
import { listingContent, listingContentOf, type ListedProductItem } from './listing.js';
import { statsMemberships, statsState } from './catalogStats.js';
import type { ModelAnswer } from './calibration.js';
import type { AttributeIndexItem, GarmentBox, PartitionItem, ProductItem, RecordedError, RejectionItem, SourceFailure, SourceItem, VendorColor } from './items.js';
import {
  CORRECTIONS_GSI_PK,
  PRODUCT_SK,
  REJECTION_SK,
  REJECTIONS_GSI_PK,
  attributeGsiPk,
  attributeGsiSk,
  attributeSk,
  productPk,
  rejectionPk,
  sourceId,
  sourceSk,
  type SourceRef,
} from './keys.js';
import { ATTRIBUTE_INDEX } from './tableDefinition.js';
import { attributeScope, correctionScope, decodeCursor, encodeCursor, rejectionScope } from './cursor.js';
import { buildProductView, ensembleSources, liveSources, modelVersionsOf, splitPartition, vendorColorOf, type ProductView } from './productView.js';
import { buildUpdate, isConditionalCheckFailed, stableStringify, withCondition } from './updateExpression.js';
import { RECONCILE_SEQUENCER, retagApplies, type SourceRecord } from '../retag/selection.js';

export interface ProductStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** task → labels from the current manifests. */
  catalog: TaskCatalog;
  ensemble: EnsembleConfig;
  now?: () => Date;
  /** Attempts of the read-merge-write loop before giving up with a TransientError. */
  maxMergeAttempts?: number;
}

export type SourceOutcome =
  | {
      status: 'tagged';
      predictions: Record<string, Distribution>;
      modelVersion?: string;
      weight?: number;
      box?: GarmentBox;
      views?: string[];
      text?: string;
      vendorColor?: VendorColor;
      document?: string;
    }
  | { status: 'error'; error: RecordedError; text?: string; document?: string };

/**
 * Marks a write as a re-tag's (functions/shared/retag/selection.ts): instead of "a newer event",
 * its condition is "the same event as the source's, not deleted, and not tagged at this model
 * version" — so a re-tag never writes a source twice at one version, and a newer upload wins.
 */
export interface RetagGuard {
  /** The model version the re-tag tags with (the function's manifest, `weft-image@…`). */
  modelVersion: string;
}

/** The condition of a source write, for an ordinary event or a re-tag. */
const sourceCondition = (seq: string, retag: RetagGuard | undefined): { expression: string; names: Record<string, string>; values: Record<string, unknown> } =>
  retag === undefined
    ? {
        expression: 'attribute_not_exists(#cseq) OR #cseq < :cseq OR (#cseq = :cseq AND #cstatus = :cpending)',
        names: { '#cseq': 'seq', '#cstatus': 'status' },
        values: { ':cseq': seq, ':cpending': 'pending' },
      }
    : {
        // The same rule as retagApplies: a missing source only under the reconciliation sequencer.
        expression: `(#cseq = :cseq AND #cstatus <> :cdeleted AND (attribute_not_exists(#cmv) OR #cmv <> :cmv))${seq === RECONCILE_SEQUENCER ? ' OR attribute_not_exists(#cseq)' : ''}`,
        names: { '#cseq': 'seq', '#cstatus': 'status', '#cmv': 'modelVersion' },
        values: { ':cseq': seq, ':cdeleted': 'deleted', ':cmv': retag.modelVersion },
      };

export interface MergeResult {
  /** false when the partition has no product item and no live source (nothing to merge). */
  exists: boolean;
  changed: boolean;
  version: number;
  attributes: Attributes;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface AttributeMatch {
  vendor: string;
  productId: string;
  confidence: number;
}

export interface CorrectionExample {
  vendor: string;
  productId: string;
  /** Latest correction time of this product. */
  correctedAt: string;
  /** task → corrected label (all current corrections of the product). */
  labels: Record<string, string>;
  /** Upload keys of the product's images that are still present. */
  images: string[];
  /** The cleaned text the text model saw, when there is a product.json. */
  text?: string;
}

const SOURCE_FIELDS_CLEARED_ON_PENDING = ['error', 'predictions', 'modelVersion', 'box', 'views'];
/** Whatever finishes or removes a source, or claims it without a failure, clears the last one. */
const LAST_FAILURE = 'lastFailure';
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What an index item holds of a task. */
const indexEntry = (attribute: Attributes[string] | undefined) => ({ value: attribute?.value ?? null, confidence: attribute?.confidence ?? 0 });

/**
 * Only the value decides whether an index entry changes: confidence moves with nearly every new
 * source and would rewrite every entry on every merge, so queries read it from the product item.
 */
const sameIndexEntry = (a: Attributes[string] | undefined, b: Attributes[string] | undefined): boolean => indexEntry(a).value === indexEntry(b).value;

const indexedTasks = (attributes: Attributes, items: readonly AttributeIndexItem[]): string[] => [...new Set([...Object.keys(attributes), ...items.map((item) => item.task)])];

/**
 * task → the product version at which its index entry last changed. Product items written before
 * `indexVersions` existed had every entry rewritten at every version, so their own version stands in.
 */
const currentIndexVersions = (product: ProductItem, items: readonly AttributeIndexItem[]): Record<string, number> =>
  Object.fromEntries(indexedTasks(product.attributes, items).map((task) => [task, product.indexVersions?.[task] ?? product.version]));

/** An entry whose value and confidence are as in the previous product keeps its version; any other gets the new one. */
const nextIndexVersions = (previous: ProductItem | undefined, attributes: Attributes, items: readonly AttributeIndexItem[], version: number): Record<string, number> => {
  const before = previous ? currentIndexVersions(previous, items) : {};
  const tasks = new Set([...indexedTasks(attributes, items), ...Object.keys(before)]);
  return Object.fromEntries(
    [...tasks].map((task) => [task, previous && before[task] !== undefined && sameIndexEntry(previous.attributes[task], attributes[task]) ? before[task] : version]),
  );
};

/** An entry is behind when its item is older than the version it last changed at, or missing while it has a value. */
const indexIsBehind = (attributes: Attributes, indexVersions: Record<string, number>, items: readonly AttributeIndexItem[]): boolean => {
  const byTask = new Map(items.map((item) => [item.task, item]));
  return indexedTasks(attributes, items).some((task) => {
    const item = byTask.get(task);
    return item === undefined ? (attributes[task]?.value ?? null) !== null : item.version < (indexVersions[task] ?? 0);
  });
};

export class ProductStore {
  private readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly catalog: TaskCatalog;
  readonly ensemble: EnsembleConfig;
  private readonly now: () => Date;
  private readonly maxMergeAttempts: number;
  /** The listing's index items, facet counters and catalog statistics (catalogIndex.ts, catalogStats.ts), moved by every merge that writes. */
  readonly catalogIndex: CatalogIndex;

  constructor(options: ProductStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.catalog = options.catalog;
    this.ensemble = options.ensemble;
    this.now = options.now ?? (() => new Date());
    this.maxMergeAttempts = options.maxMergeAttempts ?? 8;
    this.catalogIndex = new CatalogIndex(this.client, this.tableName);
  }

  private timestamp(): string {
    return this.now().toISOString();
  }

  private sourceKey(ref: SourceRef) {
    return { pk: productPk(ref.vendor, ref.productId), sk: sourceSk(ref) };
  }

  private sourceIdentity(ref: SourceRef, key: string | undefined) {
    return { type: 'source', vendor: ref.vendor, productId: ref.productId, kind: ref.kind, sourceId: sourceId(ref), key };
  }

  /**
   * Claims a source for an event: marks it pending unless a newer (or the same, already finished)
   * event has written it. Returns false when the event is stale or already done; the caller then
   * skips the work (but still merges, in case the earlier attempt died before merging).
   * `failure` is why the event's message failed, when it did; the API shows it while pending.
   */
  async beginSource(ref: SourceRef, seq: string, key: string, failure?: Omit<SourceFailure, 'at'>, retag?: RetagGuard): Promise<boolean> {
    const updatedAt = this.timestamp();
    const condition = sourceCondition(seq, retag);
    const update = withCondition(
      buildUpdate(
        { ...this.sourceIdentity(ref, key), seq, status: 'pending', updatedAt, ...(failure ? { [LAST_FAILURE]: { ...failure, at: updatedAt } } : {}) },
        [...SOURCE_FIELDS_CLEARED_ON_PENDING, ...(failure ? [] : [LAST_FAILURE])],
      ),
      condition.expression,
      condition.names,
      condition.values,
    );
    return this.conditionalUpdate({ TableName: this.tableName, Key: this.sourceKey(ref), ...update });
  }

  /**
   * Records the result of an event; false if a newer event took over meanwhile or this event has
   * already finished. The same condition as {@link beginSource}, so it also works without a
   * pending mark: the ingest functions skip that write (see {@link sourceStates}) and only mark
   * sources pending whose processing failed and will be retried. Pass the upload `key` when the
   * source was not begun (it is part of the source item). With `retag`, the re-tag's condition
   * instead ({@link RetagGuard}).
   */
  async completeSource(ref: SourceRef, seq: string, outcome: SourceOutcome, key?: string, retag?: RetagGuard): Promise<boolean> {
    const condition = sourceCondition(seq, retag);
    const update = withCondition(this.outcomeUpdate(ref, key, seq, outcome), condition.expression, condition.names, condition.values);
    return this.conditionalUpdate({ TableName: this.tableName, Key: this.sourceKey(ref), ...update });
  }

  /**
   * Whether each event still has work to do, read for a whole batch in one strongly consistent
   * BatchGetItem: the read-only counterpart of {@link beginSource}'s condition. An event found
   * stale or finished is skipped before any fetch or model call; one found current is processed
   * and its result written by {@link completeSource}, whose condition decides again at write time,
   * so a newer event arriving meanwhile still wins.
   */
  async sourceStates(events: readonly { ref: SourceRef; seq: string; retag?: RetagGuard }[]): Promise<boolean[]> {
    const records = await this.readSourceRecords(events.map((e) => e.ref));
    return events.map(({ seq, retag }, i) => {
      const current = records[i];
      if (retag) return retagApplies(current, seq, retag.modelVersion);
      return current?.seq === undefined || current.seq < seq || (current.seq === seq && current.status === 'pending');
    });
  }

  /**
   * What each source's item records of its last write (sequencer, status, model version), read in
   * strongly consistent BatchGetItems; undefined where a source has no item. The ingest gate and
   * the re-tag's batch step read through here.
   */
  async readSourceRecords(refs: readonly SourceRef[]): Promise<(SourceRecord | undefined)[]> {
    const keys = new Map<string, { pk: string; sk: string }>();
    for (const ref of refs) {
      const key = this.sourceKey(ref);
      keys.set(`${key.pk}\u0000${key.sk}`, key);
    }
    const found = new Map<string, SourceRecord>();
    const items = await this.batchGet(
      [...keys.values()],
      {
        ConsistentRead: true,
        ProjectionExpression: '#pk, #sk, #seq, #status, #mv',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#seq': 'seq', '#status': 'status', '#mv': 'modelVersion' },
      },
      (unprocessed) => {
        throw new TransientError('source_states_unprocessed', `${unprocessed} source states stayed unprocessed`);
      },
    );
    for (const item of items) {
      found.set(`${item.pk}\u0000${item.sk}`, {
        ...(item.seq !== undefined ? { seq: item.seq as string } : {}),
        ...(item.status !== undefined ? { status: item.status as string } : {}),
        ...(item.modelVersion !== undefined ? { modelVersion: item.modelVersion as string } : {}),
      });
    }
    return refs.map((ref) => {
      const key = this.sourceKey(ref);
      return found.get(`${key.pk}\u0000${key.sk}`);
    });
  }

  /**
   * One-shot write for sources derived in a single step (the rules source from product.json):
   * applies unless a newer event already wrote the source; the same event may rewrite it.
   */
  async putSource(ref: SourceRef, seq: string, key: string, outcome: SourceOutcome): Promise<boolean> {
    const update = withCondition(
      this.outcomeUpdate(ref, key, seq, outcome),
      'attribute_not_exists(#cseq) OR #cseq <= :cseq',
      { '#cseq': 'seq' },
      { ':cseq': seq },
    );
    return this.conditionalUpdate({ TableName: this.tableName, Key: this.sourceKey(ref), ...update });
  }

  /**
   * Tombstones a source (the object was deleted, or product.json no longer yields it). The
   * tombstone keeps the sequencer so a late-arriving older "created" event cannot resurrect it.
   */
  async removeSource(ref: SourceRef, seq: string, key: string): Promise<boolean> {
    const update = withCondition(
      buildUpdate({ ...this.sourceIdentity(ref, key), seq, status: 'deleted', updatedAt: this.timestamp() }, [
        ...SOURCE_FIELDS_CLEARED_ON_PENDING,
        LAST_FAILURE,
        'text',
        'vendorColor',
        'document',
      ]),
      'attribute_not_exists(#cseq) OR #cseq <= :cseq',
      { '#cseq': 'seq' },
      { ':cseq': seq },
    );
    return this.conditionalUpdate({ TableName: this.tableName, Key: this.sourceKey(ref), ...update });
  }

  private outcomeUpdate(ref: SourceRef, key: string | undefined, seq: string, outcome: SourceOutcome) {
    const common = { ...this.sourceIdentity(ref, key), seq, status: outcome.status, updatedAt: this.timestamp() };
    if (outcome.status === 'tagged') {
      const { status: _status, ...fields } = outcome;
      return buildUpdate({ ...common, ...fields }, ['error', LAST_FAILURE, ...(['modelVersion', 'weight', 'box', 'views', 'text', 'vendorColor', 'document'] as const).filter((f) => fields[f] === undefined)]);
    }
    return buildUpdate(
      { ...common, error: outcome.error, text: outcome.text, document: outcome.document },
      ['predictions', 'modelVersion', 'box', 'views', 'vendorColor', LAST_FAILURE, ...(outcome.text === undefined ? ['text'] : []), ...(outcome.document === undefined ? ['document'] : [])],
    );
  }

  private async conditionalUpdate(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** Every item of a product's partition, strongly consistent. */
  async readPartition(vendor: string, productId: string): Promise<PartitionItem[]> {
    const items: PartitionItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ExpressionAttributeValues: { ':pk': productPk(vendor, productId) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((page.Items ?? []) as PartitionItem[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async getProduct(vendor: string, productId: string): Promise<ProductView | undefined> {
    return buildProductView(await this.readPartition(vendor, productId));
  }

  /**
   * Recomputes the product from all its sources and writes it guarded by version; retries from
   * a fresh read when another merge won the race.
   */
  async merge(vendor: string, productId: string): Promise<MergeResult> {
    for (let attempt = 1; attempt <= this.maxMergeAttempts; attempt += 1) {
      const partition = await this.readPartition(vendor, productId);
      const { product: stored, sources, attributeItems } = splitPartition(partition);
      const product = stored as ListedProductItem | undefined;
      const listingItems = partition.filter(isListingIndexItem) as unknown as ListingIndexItem[];
      const live = liveSources(sources);
      if (!product && live.length === 0) return { exists: false, changed: false, version: 0, attributes: {} };
      const evidence = ensembleSources(live, this.catalog);
      const attributes = mergeAttributes(evidence, this.catalog, this.ensemble);
      const listing = listingContent(vendor, productId, live, rankTasks(evidence, this.catalog, this.ensemble), derivedViewKey);
      const content = { attributes, modelVersions: modelVersionsOf(live), vendorColor: vendorColorOf(live), ...listing, stats: statsMemberships(vendor, statsState(live)) };
      const indexItems = attributeItems as AttributeIndexItem[];
      if (
        product &&
        stableStringify(content) ===
          // A listed product item written before the statistics existed has no `stats`: it differs, and is rewritten (and counted) once.
          stableStringify({ attributes: product.attributes, modelVersions: product.modelVersions, vendorColor: product.vendorColor, ...listingContentOf(product), stats: product.stats ?? [] })
      ) {
        // Unchanged, but an earlier attempt may have died between the product write and the index.
        const indexVersions = currentIndexVersions(product, indexItems);
        if (indexIsBehind(product.attributes, indexVersions, indexItems)) await this.writeIndex(vendor, productId, product.attributes, indexVersions, indexItems);
        if (this.catalogIndex.isBehind(product, listingItems)) await this.catalogIndex.writeEntries(product, listingItems);
        return { exists: true, changed: false, version: product.version, attributes: product.attributes };
      }
      const version = (product?.version ?? 0) + 1;
      const indexVersions = nextIndexVersions(product, attributes, indexItems, version);
      const written = {
        pk: productPk(vendor, productId),
        sk: PRODUCT_SK as ProductItem['sk'],
        type: 'product' as const,
        vendor,
        productId,
        ...content,
        version,
        indexVersions,
        updatedAt: this.timestamp(),
      };
      const item: ListedProductItem = { ...written, ...this.catalogIndex.nextFields(product, written, listingItems) };
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: product ? '#version = :expected' : 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: product ? { '#version': 'version' } : { '#pk': 'pk' },
            ...(product ? { ExpressionAttributeValues: { ':expected': product.version } } : {}),
          }),
        );
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await delay(Math.random() * 20 * attempt);
        continue;
      }
      await Promise.all([
        this.writeIndex(vendor, productId, attributes, indexVersions, indexItems),
        this.catalogIndex.writeEntries(item, listingItems),
        this.catalogIndex.count(product, item),
        this.catalogIndex.stats.count(product, item),
      ]);
      return { exists: true, changed: true, version, attributes };
    }
    throw new TransientError('merge_contention', `product ${vendor}/${productId}: gave up after ${this.maxMergeAttempts} concurrent merges`);
  }

  /**
   * Writes the index items that are missing or older than the version their task's value last
   * changed at; an entry whose value did not change is not rewritten. Guarded by that version, so a
   * late write from an older merge never replaces a newer entry.
   */
  private async writeIndex(vendor: string, productId: string, attributes: Attributes, indexVersions: Record<string, number>, existing: readonly AttributeIndexItem[]): Promise<void> {
    const byTask = new Map(existing.map((item) => [item.task, item]));
    const tasks = [...new Set([...Object.keys(attributes), ...byTask.keys()])].filter((task) => {
      const item = byTask.get(task);
      return item === undefined || item.version < (indexVersions[task] ?? 0);
    });
    await Promise.all(
      tasks.map(async (task) => {
        const attribute = attributes[task];
        const value = attribute?.value ?? null;
        const version = indexVersions[task] ?? 0;
        const fields = { type: 'attribute', vendor, productId, task, value, confidence: attribute?.confidence ?? 0, version };
        const update =
          value === null
            ? buildUpdate(fields, ['gsi1pk', 'gsi1sk'])
            : buildUpdate({ ...fields, gsi1pk: attributeGsiPk(task, value), gsi1sk: attributeGsiSk(vendor, productId) });
        await this.conditionalUpdate({
          TableName: this.tableName,
          Key: { pk: productPk(vendor, productId), sk: attributeSk(task) },
          ...withCondition(update, 'attribute_not_exists(#cversion) OR #cversion < :cversion', { '#cversion': 'version' }, { ':cversion': version }),
        });
      }),
    );
  }

  /** Products whose merged `task` equals `value`, optionally of one vendor. */
  async findByAttribute(task: string, value: string, options: { vendor?: string; limit?: number; cursor?: string } = {}): Promise<Page<AttributeMatch>> {
    const vendorFilter = options.vendor !== undefined;
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: ATTRIBUTE_INDEX,
        KeyConditionExpression: vendorFilter ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
        ExpressionAttributeNames: vendorFilter ? { '#pk': 'gsi1pk', '#sk': 'gsi1sk' } : { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: vendorFilter ? { ':pk': attributeGsiPk(task, value), ':prefix': `${options.vendor}#` } : { ':pk': attributeGsiPk(task, value) },
        Limit: options.limit ?? 50,
        ExclusiveStartKey: decodeCursor(options.cursor, attributeScope(task, value, options.vendor)),
      }),
    );
    const indexed = (page.Items ?? []) as AttributeIndexItem[];
    const current = await this.currentAttributes(indexed, task);
    const items = indexed.flatMap((item) => {
      const attribute = current.get(productPk(item.vendor, item.productId));
      // The GSI is eventually consistent: a product whose merged value has moved on is left out.
      if (attribute !== undefined && attribute.value !== value) return [];
      return [{ vendor: item.vendor, productId: item.productId, confidence: attribute?.confidence ?? item.confidence }];
    });
    const nextCursor = encodeCursor(page.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /**
   * The task's current value and confidence from the product items of one result page (one
   * BatchGetItem per 100). Index items change only with the value, so their confidence is the one
   * the value was set with; the product item has the current one.
   */
  private async currentAttributes(items: readonly AttributeIndexItem[], task: string): Promise<Map<string, { value: string | null; confidence: number }>> {
    const found = new Map<string, { value: string | null; confidence: number }>();
    const keys = [...new Set(items.map((item) => productPk(item.vendor, item.productId)))].map((pk) => ({ pk, sk: PRODUCT_SK }));
    // Keys still unprocessed after the retries keep the index item's own confidence.
    const rows = await this.batchGet(keys, { ProjectionExpression: '#pk, #attributes.#task', ExpressionAttributeNames: { '#pk': 'pk', '#attributes': 'attributes', '#task': task } });
    for (const row of rows) {
      const attribute = own(row.attributes as Attributes | undefined, task);
      if (attribute) found.set(String(row.pk), { value: attribute.value, confidence: attribute.confidence });
    }
    return found;
  }

  /**
   * BatchGetItem over any number of keys, 100 per request, retrying unprocessed keys with backoff.
   * Keys of a request still unprocessed after five retries are handed to `onExhausted` (which may
   * throw) and otherwise left out.
   */
  private async batchGet(
    keys: readonly Record<string, unknown>[],
    read: { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string>; ConsistentRead?: boolean },
    onExhausted?: (unprocessed: number) => void,
  ): Promise<Record<string, any>[]> {
    const items: Record<string, any>[] = [];
    for (let start = 0; start < keys.length; start += 100) {
      let pending: Record<string, unknown>[] = keys.slice(start, start + 100);
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt > 5) {
          onExhausted?.(pending.length);
          break;
        }
        if (attempt > 0) await delay(25 * 2 ** attempt);
        const result = await this.client.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ...read } } }));
        items.push(...(result.Responses?.[this.tableName] ?? []));
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return items;
  }

  /** An upload whose key fits no product. Keyed by the object key, so redelivery overwrites. */
  async recordRejection(rejection: { key: string; bucket?: string; code: string; reason: string; eventTime: string }): Promise<void> {
    const item: RejectionItem = {
      pk: rejectionPk(rejection.key),
      sk: REJECTION_SK,
      type: 'rejection',
      ...rejection,
      recordedAt: this.timestamp(),
      gsi1pk: REJECTIONS_GSI_PK,
      gsi1sk: `${rejection.eventTime}#${rejection.key}`,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  /** Most recent rejections first. */
  async listRejections(options: { limit?: number; cursor?: string } = {}): Promise<Page<Pick<RejectionItem, 'key' | 'bucket' | 'code' | 'reason' | 'eventTime' | 'recordedAt'>>> {
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: ATTRIBUTE_INDEX,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: { ':pk': REJECTIONS_GSI_PK },
        ScanIndexForward: false,
        Limit: options.limit ?? 50,
        ExclusiveStartKey: decodeCursor(options.cursor, rejectionScope()),
      }),
    );
    const items = ((page.Items ?? []) as RejectionItem[]).map(({ key, bucket, code, reason, eventTime, recordedAt }) => ({
      key,
      ...(bucket ? { bucket } : {}),
      code,
      reason,
      eventTime,
      recordedAt,
    }));
    const nextCursor = encodeCursor(page.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /**
   * A merchandiser's label for one task; always wins in the ensemble and is kept for retraining.
   * `model` is the models' own answer it replaces (calibration.ts), kept for the accuracy curve.
   */
  async putCorrection(vendor: string, productId: string, task: string, value: string, model?: ModelAnswer): Promise<void> {
    const ref: SourceRef = { vendor, productId, kind: 'human', name: task };
    const updatedAt = this.timestamp();
    const item: SourceItem = {
      ...this.sourceKey(ref),
      type: 'source',
      vendor,
      productId,
      kind: 'human',
      sourceId: sourceId(ref),
      status: 'tagged',
      task,
      value,
      updatedAt,
      gsi1pk: CORRECTIONS_GSI_PK,
      gsi1sk: `${updatedAt}#${vendor}#${productId}#${task}`,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: model ? { ...item, model } : item }));
  }

  /** Returns false when there was no correction to remove. */
  async deleteCorrection(vendor: string, productId: string, task: string): Promise<boolean> {
    const result = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: this.sourceKey({ vendor, productId, kind: 'human', name: task }), ReturnValues: 'ALL_OLD' }),
    );
    return result.Attributes !== undefined;
  }

  /** Corrections made after `since` (ISO time), oldest first, as labeled training examples. */
  async listCorrections(options: { since?: string; limit?: number; cursor?: string } = {}): Promise<Page<CorrectionExample>> {
    const since = options.since ?? '';
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: ATTRIBUTE_INDEX,
        KeyConditionExpression: '#pk = :pk AND #sk > :since',
        ExpressionAttributeNames: { '#pk': 'gsi1pk', '#sk': 'gsi1sk' },
        ExpressionAttributeValues: { ':pk': CORRECTIONS_GSI_PK, ':since': since },
        Limit: options.limit ?? 100,
        ExclusiveStartKey: decodeCursor(options.cursor, correctionScope(since)),
      }),
    );
    const products = new Map<string, { vendor: string; productId: string }>();
    for (const item of (page.Items ?? []) as SourceItem[]) products.set(productPk(item.vendor, item.productId), { vendor: item.vendor, productId: item.productId });
    const items: CorrectionExample[] = [];
    for (const { vendor, productId } of products.values()) {
      const live = liveSources(splitPartition(await this.readPartition(vendor, productId)).sources);
      const humans = live.filter((s) => s.kind === 'human' && s.task && s.value);
      if (humans.length === 0) continue;
      const text = live.find((s) => s.kind === 'text' && s.text !== undefined)?.text;
      items.push({
        vendor,
        productId,
        correctedAt: humans.map((s) => s.updatedAt).sort().at(-1)!,
        labels: Object.fromEntries(humans.map((s) => [s.task!, s.value!])),
        images: live.filter((s) => s.kind === 'image' && s.key).map((s) => s.key!).sort(),
        ...(text !== undefined ? { text } : {}),
      });
    }
    const nextCursor = encodeCursor(page.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /** The product item alone (used by tests and tools; the API reads the partition). */
  async getProductItem(vendor: string, productId: string): Promise<ProductItem | undefined> {
    const result = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: productPk(vendor, productId), sk: PRODUCT_SK }, ConsistentRead: true }));
    return result.Item as ProductItem | undefined;
  }
}

