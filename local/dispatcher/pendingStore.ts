/**
 * Pending queue messages are written to $WEFT_HOME/queues.json after every change (coalesced per
 * tick, atomic rename), so stopping the stack with work queued loses nothing: the next start
 * delivers it. Messages that were in flight when the process died are delivered again, which is
 * the at-least-once behaviour SQS has too.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { QueuedMessage } from './types.js';

export class PendingStore {
  private scheduled = false;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => QueuedMessage[],
  ) {}

  load(): QueuedMessage[] {
    if (!existsSync(this.file)) return [];
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { messages?: QueuedMessage[] };
      return parsed.messages ?? [];
    } catch {
      return [];
    }
  }

  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  flush(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ messages: this.snapshot() }));
    renameSync(tmp, this.file);
  }
}
