/**
 * One merge per product per SQS batch. The messages of a batch already wait for each other at the
 * model call (BatchCollector); merging as each message finishes would still merge a product once
 * per message of it in the batch (two images of one product: two Query + Put + index rounds, the
 * first one soon outdated). The barrier waits until every message of the batch has either asked
 * for its merges (its source writes are done) or left (it failed before), then merges each distinct
 * product once, after every source write of the batch, so no request is answered by a merge whose
 * read came before its write. Each message gets the outcome of exactly the merges it asked for.
 */
import { MergeCoalescer } from './mergeCoalescer.js';

export interface ProductKey {
  vendor: string;
  productId: string;
}

export class MergeBarrier<R> {
  private readonly waiting: { products: ProductKey[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private readonly coalescer: MergeCoalescer<R>;
  private arrived = 0;
  private fired = false;

  constructor(
    private readonly expected: number,
    mergeOne: (vendor: string, productId: string) => Promise<R>,
  ) {
    this.coalescer = new MergeCoalescer(mergeOne);
    if (expected <= 0) this.fired = true;
  }

  /** Resolves once every product asked for has been merged after the whole batch's writes. */
  merge(products: readonly ProductKey[]): Promise<void> {
    // A caller beyond the expected count (never in the handlers) is still served, just not batched.
    if (this.fired) return this.mergeNow(products);
    const promise = new Promise<void>((resolve, reject) => this.waiting.push({ products: [...products], resolve, reject }));
    this.arrive();
    return promise;
  }

  /** A message that will not ask for merges (it failed before its source writes finished). */
  leave(): void {
    if (!this.fired) this.arrive();
  }

  private arrive(): void {
    this.arrived += 1;
    if (this.arrived >= this.expected) this.fire();
  }

  private fire(): void {
    this.fired = true;
    // Every write of the batch is done: one merge per distinct product serves all its requests.
    const merges = new Map<string, Promise<R>>();
    const mergeOf = (p: ProductKey): Promise<R> => {
      const id = `${p.vendor}/${p.productId}`;
      let merge = merges.get(id);
      if (!merge) {
        merge = this.coalescer.merge(p.vendor, p.productId);
        merges.set(id, merge);
      }
      return merge;
    };
    for (const request of this.waiting) Promise.all(request.products.map(mergeOf)).then(() => request.resolve(), request.reject);
    this.waiting.length = 0;
  }

  private async mergeNow(products: readonly ProductKey[]): Promise<void> {
    await Promise.all(products.map((p) => this.coalescer.merge(p.vendor, p.productId)));
  }
}
