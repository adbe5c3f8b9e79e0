/**
 * Per-vendor boilerplate: sentences a vendor pastes into many of its products (returns policy,
 * shipping notes, care labels) carry nothing about the product and drown the words that do, so
 * they are kept out of the text the model sees. What counts as boilerplate is learned from the
 * vendor's own catalog, never from a list.
 *
 * Statistics (see {@link BoilerplateStore}; DynamoDB layout in dynamoBoilerplateStore.ts):
 *   - per vendor: the number of distinct products observed;
 *   - per vendor and sentence: the number of distinct products whose text contained it.
 * Counting is idempotent per (product, sentence): redelivering or re-uploading a product never
 * counts it twice. Counts only grow (a sentence removed from a later version of a product still
 * counts for it), which is the right bias for "this vendor uses this sentence as a template".
 * Products whose text is identical to another product's of the same vendor (colour variants
 * listed as separate products) count once: otherwise a small vendor's shared variant
 * description would look like a template. The identity is a fingerprint of the text's set of
 * counted sentences; the first product to show a text owns it.
 *
 * A sentence is boilerplate for a vendor when it is in at least `minProducts` of the vendor's
 * products AND in at least `minShare` of them. Only sentences with at least `minWords` words are
 * counted at all: "Cotton." or "Machine wash." in many products is information, not template.
 *
 * How text-ingest uses it, once per product text, after {@link cleanText}:
 * ```ts
 * // cold start
 * const boilerplate = new BoilerplateFilter(new DynamoBoilerplateStore({ client: documentClient(), tableName }));
 * // per product: `cleaned` = cleanText(description)
 * const { text, removed } = await boilerplate.apply(vendor, productId, cleaned);
 * // `text` goes to the text model (with title/brand, which are not filtered); `removed` may be logged.
 * ```
 * `apply` = `observe` (count this product's sentences, idempotent) then `strip` (remove the
 * sentences that are boilerplate now, this product included). Store errors surface as
 * TransientError (retry the message); the filter never throws for any text.
 */
import { createHash } from 'node:crypto';
import { splitSentences, wordCount, type Sentence } from './sentences.js';

/** Identity of a text for duplicate detection: its set of counted sentences, order-insensitive. */
export const textFingerprint = (hashes: Iterable<string>): string =>
  createHash('sha256').update([...hashes].sort().join(',')).digest('hex').slice(0, 24);

export interface BoilerplateStats {
  /** Distinct products observed for the vendor (duplicates of another product's text excluded). */
  vendorProducts: number;
  /** Distinct products containing each sentence hash asked for (absent hash = 0). */
  sentenceProducts: Map<string, number>;
}

/**
 * Counts a store learned while recording (the counters' values right after its own increments):
 * `strip` then reads only what is missing. They can be a moment older than a fresh read, so at
 * worst lower, which errs towards keeping text, like every other under-count.
 */
export interface KnownCounts {
  vendorProducts?: number;
  sentenceProducts: ReadonlyMap<string, number>;
}

export interface BoilerplateStore {
  /**
   * Records that the vendor's product contains these sentences (hash → one example text), unless
   * another product of the vendor already showed a text with the same `fingerprint`. Idempotent
   * per (product, sentence); a product with no sentences still counts as observed. May return the
   * counts its writes returned, sparing `stats` a read.
   */
  record(vendor: string, productId: string, sentences: ReadonlyMap<string, string>, fingerprint: string): Promise<KnownCounts | void>;
  /** The vendor's product count and the product counts of the given sentence hashes. */
  stats(vendor: string, hashes: readonly string[]): Promise<BoilerplateStats>;
}

export interface BoilerplateOptions {
  /** A sentence must be in at least this many of the vendor's products. Default 5. */
  minProducts?: number;
  /** …and in at least this share of them (0–1). Default 0.3. */
  minShare?: number;
  /** Sentences with fewer words are never counted or removed. Default 4. */
  minWords?: number;
  /** At most this many distinct sentences per product are counted (bounds store writes). Default 100. */
  maxSentencesPerProduct?: number;
}

export interface StripResult {
  /** The text without boilerplate sentences, line structure kept. */
  text: string;
  /** The sentences removed, in order. */
  removed: string[];
}

export const DEFAULT_BOILERPLATE_OPTIONS: Required<BoilerplateOptions> = {
  minProducts: 5,
  minShare: 0.3,
  minWords: 4,
  maxSentencesPerProduct: 100,
};

export class BoilerplateFilter {
  readonly options: Required<BoilerplateOptions>;

  constructor(
    private readonly store: BoilerplateStore,
    options: BoilerplateOptions = {},
  ) {
    this.options = { ...DEFAULT_BOILERPLATE_OPTIONS, ...options };
  }

  /** The sentences of `text` that are counted: long enough, distinct, at most maxSentencesPerProduct. */
  candidates(text: string): Map<string, string> {
    const counted = new Map<string, string>();
    for (const sentence of splitSentences(text).flat()) {
      if (counted.size >= this.options.maxSentencesPerProduct) break;
      if (wordCount(sentence.key) >= this.options.minWords && !counted.has(sentence.hash)) {
        counted.set(sentence.hash, sentence.text);
      }
    }
    return counted;
  }

  /** Counts the product's sentences for its vendor. Safe to call again for the same product. */
  async observe(vendor: string, productId: string, text: string): Promise<KnownCounts | undefined> {
    const sentences = this.candidates(text);
    return (await this.store.record(vendor, productId, sentences, textFingerprint(sentences.keys()))) ?? undefined;
  }

  /**
   * Removes the sentences that are boilerplate for the vendor according to the stored counts;
   * `known` counts (from {@link observe}) are used as they are and only the rest is read.
   */
  async strip(vendor: string, text: string, known?: KnownCounts): Promise<StripResult> {
    const lines = splitSentences(text);
    const hashes = [...new Set(lines.flat().filter((s) => wordCount(s.key) >= this.options.minWords).map((s) => s.hash))];
    if (hashes.length === 0) return { text, removed: [] };
    const stats = await this.counts(vendor, hashes, known);
    const { minProducts, minShare } = this.options;
    const isBoilerplate = (sentence: Sentence): boolean => {
      const count = stats.sentenceProducts.get(sentence.hash) ?? 0;
      return (
        wordCount(sentence.key) >= this.options.minWords &&
        count >= minProducts &&
        count >= minShare * stats.vendorProducts
      );
    };
    const removed: string[] = [];
    const kept = lines
      .map((line) =>
        line
          .filter((sentence) => {
            if (!isBoilerplate(sentence)) return true;
            removed.push(sentence.text);
            return false;
          })
          .map((sentence) => sentence.text)
          .join(' '),
      )
      .filter((line) => line.length > 0);
    return removed.length === 0 ? { text, removed } : { text: kept.join('\n'), removed };
  }

  /** observe, then strip: what text-ingest calls once per product text. */
  async apply(vendor: string, productId: string, text: string): Promise<StripResult> {
    return this.strip(vendor, text, await this.observe(vendor, productId, text));
  }

  private async counts(vendor: string, hashes: readonly string[], known: KnownCounts | undefined): Promise<BoilerplateStats> {
    const missing = hashes.filter((hash) => !known?.sentenceProducts.has(hash));
    if (known?.vendorProducts !== undefined && missing.length === 0) {
      return { vendorProducts: known.vendorProducts, sentenceProducts: new Map(hashes.map((hash) => [hash, known.sentenceProducts.get(hash)!])) };
    }
    const read = await this.store.stats(vendor, missing);
    return {
      // Counters only grow: the larger of the two is the fresher.
      vendorProducts: Math.max(known?.vendorProducts ?? 0, read.vendorProducts),
      sentenceProducts: new Map(hashes.map((hash) => [hash, known?.sentenceProducts.get(hash) ?? read.sentenceProducts.get(hash) ?? 0])),
    };
  }
}

/** Keeps the statistics in memory: tests, the CLI's batch mode, and one-off analyses. */
export class InMemoryBoilerplateStore implements BoilerplateStore {
  private readonly vendors = new Map<
    string,
    { products: Map<string, { sentences: Set<string>; counted: boolean }>; sentences: Map<string, number>; texts: Map<string, string> }
  >();

  private vendor(vendor: string) {
    let entry = this.vendors.get(vendor);
    if (!entry) {
      entry = { products: new Map(), sentences: new Map(), texts: new Map() };
      this.vendors.set(vendor, entry);
    }
    return entry;
  }

  async record(vendor: string, productId: string, sentences: ReadonlyMap<string, string>, fingerprint: string): Promise<void> {
    const entry = this.vendor(vendor);
    let product = entry.products.get(productId);
    if (!product) {
      product = { sentences: new Set(), counted: false };
      entry.products.set(productId, product);
    }
    const owner = entry.texts.get(fingerprint) ?? productId;
    entry.texts.set(fingerprint, owner);
    if (owner !== productId) return;
    product.counted = true;
    for (const hash of sentences.keys()) {
      if (product.sentences.has(hash)) continue;
      product.sentences.add(hash);
      entry.sentences.set(hash, (entry.sentences.get(hash) ?? 0) + 1);
    }
  }

  async stats(vendor: string, hashes: readonly string[]): Promise<BoilerplateStats> {
    const entry = this.vendors.get(vendor);
    const counted = entry ? [...entry.products.values()].filter((product) => product.counted).length : 0;
    return {
      vendorProducts: counted,
      sentenceProducts: new Map(hashes.map((hash) => [hash, entry?.sentences.get(hash) ?? 0])),
    };
  }
}
