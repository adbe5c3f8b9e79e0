/**
 * Lets the records of one SQS batch, processed concurrently, share a single model call: each
 * participant either submits its inputs or leaves, and when every participant has done one of the
 * two, the collected inputs go to the model in one request and each gets its own slice back.
 * A failed model call fails exactly the participants that submitted.
 */
export class BatchCollector<I, O> {
  private readonly pending: { inputs: I[]; resolve: (out: O[]) => void; reject: (error: unknown) => void }[] = [];
  private arrived = 0;
  private fired = false;

  constructor(
    private readonly expected: number,
    private readonly run: (inputs: I[]) => Promise<O[]>,
  ) {
    if (expected === 0) this.fired = true;
  }

  submit(inputs: I[]): Promise<O[]> {
    if (this.fired) return Promise.reject(new Error('BatchCollector: submit after the batch was sent'));
    const promise = new Promise<O[]>((resolve, reject) => this.pending.push({ inputs, resolve, reject }));
    this.arrive();
    return promise;
  }

  leave(): void {
    if (this.fired) return;
    this.arrive();
  }

  private arrive(): void {
    this.arrived += 1;
    if (this.arrived >= this.expected) void this.fire();
  }

  private async fire(): Promise<void> {
    this.fired = true;
    const waiting = this.pending.filter((p) => p.inputs.length > 0);
    for (const p of this.pending) if (p.inputs.length === 0) p.resolve([]);
    if (waiting.length === 0) return;
    try {
      const outputs = await this.run(waiting.flatMap((p) => p.inputs));
      const expectedCount = waiting.reduce((n, p) => n + p.inputs.length, 0);
      if (outputs.length !== expectedCount) throw new Error(`model returned ${outputs.length} results for ${expectedCount} inputs`);
      let offset = 0;
      for (const p of waiting) {
        p.resolve(outputs.slice(offset, offset + p.inputs.length));
        offset += p.inputs.length;
      }
    } catch (error) {
      for (const p of waiting) p.reject(error);
    }
  }
}

/** Runs async work with at most `limit` tasks in flight (sharp decodes are memory-hungry). */
export const createLimiter = (limit: number) => {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finishing task hands its slot straight to the next waiter, so the limit is never exceeded.
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    else active += 1;
    try {
      return await task();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active -= 1;
    }
  };
};
