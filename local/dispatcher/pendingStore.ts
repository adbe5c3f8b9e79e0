/**
 * The dispatcher's queues on disk, so that what S3 acknowledged is delivered even if the process
 * dies right after:
 *
 *   queues.json           snapshot of every queued message (receive counts, retry times, attempts),
 *                         rewritten at most every FLUSH_DELAY_MS and on stop (temp file + rename)
 *   queues.<gen>.journal  one line per message sent since snapshot <gen> was taken, appended
 *                         synchronously before `send` returns — before S3 answers the upload
 *
 * A snapshot starts a new journal first and deletes the older ones only once it is in place, so
 * at every instant the snapshot plus the journals from its generation on hold every message.
 * After a crash the receive counts are those of the last snapshot (a message may be tried a little
 * more often), a message that was running is delivered again (at least once, like SQS), and a
 * torn last journal line is a send that never returned, so it was never acknowledged.
 *
 * A snapshot or journal that cannot be read stops the start with a QueueStateError instead of
 * silently starting empty; a snapshot that fails to save is reported and retried (the journal
 * still holds what it would have saved).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { QueuedMessage } from './types.js';

const FLUSH_DELAY_MS = 100;
const RETRY_DELAY_MS = 1000;

export class QueueStateError extends Error {
  override readonly name = 'QueueStateError';
}

const MessageSchema = z.object({
  messageId: z.string(),
  queue: z.string(),
  body: z.string(),
  sentAt: z.number(),
  firstReceivedAt: z.number().optional(),
  receiveCount: z.number(),
  visibleAt: z.number(),
  attempts: z.array(z.object({ at: z.string(), error: z.string() })),
});

const SnapshotSchema = z.object({
  /** Absent in files written before journals existed. */
  generation: z.number().int().nonnegative().optional(),
  messages: z.array(MessageSchema),
});

const describe = (error: unknown): string => (error instanceof z.ZodError ? (error.issues[0]?.message ?? 'unexpected shape') : (error as Error).message);

export class PendingStore {
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private journalFd: number | undefined;
  private readonly journalPattern: RegExp;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => QueuedMessage[],
    private readonly log: (message: string) => void,
  ) {
    const stem = basename(file).replace(/\.json$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.journalPattern = new RegExp(`^${stem}\\.(\\d+)\\.journal$`);
  }

  /** Every message the last run had queued. Throws QueueStateError when the files cannot be read. */
  load(): QueuedMessage[] {
    const messages = new Map<string, QueuedMessage>();
    if (existsSync(this.file)) {
      let parsed: z.infer<typeof SnapshotSchema>;
      try {
        parsed = SnapshotSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
      } catch (error) {
        throw new QueueStateError(
          `${this.file} cannot be read (${describe(error)}); it holds the messages that were queued when the stack last ran. ` +
            'Repair it, or move it aside to start with empty queues (its messages will then not be delivered).',
          { cause: error },
        );
      }
      this.generation = parsed.generation ?? 0;
      for (const message of parsed.messages) messages.set(message.messageId, message);
    }
    for (const { generation, path } of this.journals()) {
      // Older journals are fully contained in the snapshot; a crash kept them from being deleted.
      if (generation < this.generation) continue;
      for (const message of this.readJournal(path)) if (!messages.has(message.messageId)) messages.set(message.messageId, message);
    }
    return [...messages.values()];
  }

  /** Makes a new message durable before returning (a synchronous append to the journal). */
  append(message: QueuedMessage): void {
    this.journalFd ??= openSync(this.journalPath(this.generation), 'a');
    // One write call per line: a kill leaves the line whole or torn at the end, never interleaved.
    writeSync(this.journalFd, `${JSON.stringify(message)}\n`);
  }

  /** A message changed (received, retried, settled): snapshot soon, coalescing changes. */
  changed(): void {
    if (this.timer) return;
    this.schedule(FLUSH_DELAY_MS);
  }

  /** Writes the snapshot now and drops the journals it contains. Throws when it cannot be written. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Sends from here on go to the next generation's journal, which the new snapshot does not need
    // to contain; until the snapshot is in place, the older journals stay and are read too.
    const next = this.generation + 1;
    const journal = openSync(this.journalPath(next), 'a');
    this.closeJournal();
    this.generation = next;
    this.journalFd = journal;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ generation: next, messages: this.snapshot() }));
    renameSync(tmp, this.file);
    for (const { generation, path } of this.journals()) if (generation < next) rmSync(path, { force: true });
  }

  /** Final snapshot, then the journal is closed (stop). */
  close(): void {
    try {
      this.flush();
    } finally {
      this.closeJournal();
    }
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.flush();
      } catch (error) {
        // Nothing is lost meanwhile: every message is in a journal. Keep trying.
        this.log(`[dispatcher] saving ${this.file} failed (${(error as Error).message}); retrying in ${RETRY_DELAY_MS / 1000} s`);
        if (!this.timer) this.schedule(RETRY_DELAY_MS);
      }
    }, delayMs);
  }

  private closeJournal(): void {
    if (this.journalFd === undefined) return;
    closeSync(this.journalFd);
    this.journalFd = undefined;
  }

  private journalPath(generation: number): string {
    return join(dirname(this.file), `${basename(this.file).replace(/\.json$/, '')}.${generation}.journal`);
  }

  private journals(): { generation: number; path: string }[] {
    const dir = dirname(this.file);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .flatMap((name) => {
        const match = this.journalPattern.exec(name);
        return match ? [{ generation: Number(match[1]), path: join(dir, name) }] : [];
      })
      .sort((a, b) => a.generation - b.generation);
  }

  private readJournal(path: string): QueuedMessage[] {
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    const messages: QueuedMessage[] = [];
    for (const [index, line] of lines.entries()) {
      if (line === '') continue;
      try {
        messages.push(MessageSchema.parse(JSON.parse(line)));
      } catch (error) {
        // The last line without its newline is an append a kill cut short: that send never returned.
        if (index === lines.length - 1) continue;
        throw new QueueStateError(`${path} line ${index + 1} cannot be read (${describe(error)}); repair or remove that line and start again`, { cause: error });
      }
    }
    return messages;
  }
}
