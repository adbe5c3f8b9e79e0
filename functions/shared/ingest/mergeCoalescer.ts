/**
 * Merges requested for the same product within one invocation (several images of one product in a
 * batch) would only race each other on the version guard. A request joins a merge that has not
 * started yet, or queues one behind the merge in progress: that one may have read the partition
 * before the caller's source write, so it cannot stand in for it.
 */
export class MergeCoalescer<R> {
  private readonly state = new Map<string, { running: Promise<R>; queued?: Promise<R> }>();

  constructor(private readonly mergeOne: (vendor: string, productId: string) => Promise<R>) {}

  merge(vendor: string, productId: string): Promise<R> {
    const id = `${vendor}/${productId}`;
    const current = this.state.get(id);
    if (current?.queued) return current.queued;
    const start = (): Promise<R> => {
      const running = this.mergeOne(vendor, productId);
      const entry = { running };
      this.state.set(id, entry);
      void running.then(
        () => this.settle(id, entry),
        () => this.settle(id, entry),
      );
      return running;
    };
    if (!current) return start();
    const queued = current.running.then(start, start);
    current.queued = queued;
    return queued;
  }

  private settle(id: string, entry: { running: Promise<R>; queued?: Promise<R> }): void {
    // A queued merge replaces the entry when it starts; only a finished, unreplaced one is dropped.
    if (this.state.get(id) === entry && !entry.queued) this.state.delete(id);
  }
}
