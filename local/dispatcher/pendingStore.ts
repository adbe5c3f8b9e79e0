/**
 * Pending queue messages are written to $WEFT_HOME/queues.json shortly after every change
 * (coalesced to one write per FLUSH_DELAY_MS, atomic rename) and on stop, so stopping the stack
 * with work queued loses nothing: the next start delivers it. A crash (kill -9) can lose at most
 * the notifications of the last FLUSH_DELAY_MS. Messages that were in flight when the process
 * died are delivered again, which is the at-least-once behaviour SQS has too.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { QueuedMessage } from './types.js';

const FLUSH_DELAY_MS = 100;

export class PendingStore {
  private timer: NodeJS.Timeout | undefined;

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
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ messages: this.snapshot() }));
    renameSync(tmp, this.file);
  }
}
