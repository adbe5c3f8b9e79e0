/**
 * The local stand-in for S3 → SQS → Lambda. Each S3 record becomes one SQS message on the queue
 * that AWS's notification filters would pick (`queueForKey`), and the queue hands SQS-shaped
 * batches to the same Lambda handlers: batch size, a short batching window, partial batch
 * responses, retries with exponential backoff (SQS visibility timeouts) and a dead-letter store
 * after `maxReceiveCount` receives, as the redrive policy does in AWS. A message is on disk before
 * `send` returns (pendingStore.ts), so what S3 acknowledged survives a crash.
 */
import { createHash, randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Context, S3EventRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import { decodeS3Key, queueForKey, type QueueName } from '../../functions/shared/layout.js';
import { describeError } from '../../functions/shared/errors.js';
import { DeadLetterStore, keysOfNotification, type DeadLetter } from './deadLetterStore.js';
import { PendingStore } from './pendingStore.js';

/**
 * Lambda kills a timed-out invocation; here it keeps running in this process, so its messages are
 * held back until it finishes, or until this many timeouts more have passed (a run that never
 * settles must not wedge its messages forever).
 */
const ABANDON_AFTER_TIMEOUTS = 4;

type Outcome<T> = { status: 'done'; value: T } | { status: 'failed'; error: unknown } | { status: 'running' };
import type { LocalQueueName, QueueConfig, QueuedMessage } from './types.js';

export interface DispatcherOptions {
  /** The notification queues, and optionally the re-tag queues. */
  queues: Record<QueueName, QueueConfig> & Partial<Record<LocalQueueName, QueueConfig>>;
  maxReceiveCount: number;
  /** Delay before the first retry; doubles with every receive up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  deadLetters: DeadLetterStore;
  /** Where pending messages are persisted; omit to keep them in memory only. */
  pendingFile?: string;
  region: string;
  accountId?: string;
  /** Reports delivery problems (dead letters, handler crashes); defaults to console.error. */
  log?: (message: string) => void;
}

interface QueueState {
  name: LocalQueueName;
  config: QueueConfig;
  messages: Map<string, QueuedMessage>;
  inFlight: number;
  timer?: NodeJS.Timeout;
  timerAt?: number;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/**
 * A partial batch response says which messages failed, not why. Handlers may publish
 * `{messageId, error}` on this channel when a record fails, so the dead letter can carry the
 * error; without it the dead letter points at the handler's log line instead.
 */
export const RECORD_FAILED_CHANNEL = 'weft:sqs:recordFailed';

export class Dispatcher {
  private readonly queues: Map<LocalQueueName, QueueState>;
  private readonly pending?: PendingStore;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  /** Resolves when drain() begins: a timed-out run is not waited for past that (the process is ending). */
  private readonly draining: Promise<void>;
  private startDraining: () => void = () => undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly log: (message: string) => void;
  /** Messages handed to a handler and not yet settled (SQS's in-flight messages). */
  private readonly receivedIds = new Set<string>();
  /** Errors handlers reported for messages of batches now running. */
  private readonly reportedErrors = new Map<string, string>();
  private readonly onRecordFailed = (message: unknown): void => {
    const { messageId, error } = (message ?? {}) as { messageId?: unknown; error?: unknown };
    if (typeof messageId === 'string' && this.receivedIds.has(messageId)) this.reportedErrors.set(messageId, String(error));
  };

  constructor(private readonly options: DispatcherOptions) {
    this.draining = new Promise((resolve) => (this.startDraining = resolve));
    this.log = options.log ?? ((message) => console.error(message));
    this.queues = new Map(
      (Object.keys(options.queues) as LocalQueueName[]).map((name) => [
        name,
        { name, config: options.queues[name]!, messages: new Map(), inFlight: 0 },
      ]),
    );
    if (options.pendingFile) {
      this.pending = new PendingStore(options.pendingFile, () => this.snapshot(), this.log);
      const now = Date.now();
      for (const message of this.pending.load()) {
        const queue = this.queues.get(message.queue as LocalQueueName);
        // Dead-lettered just before a crash, before the queue was saved without it.
        if (!queue || options.deadLetters.has(message.messageId)) continue;
        queue.messages.set(message.messageId, { ...message, visibleAt: Math.min(message.visibleAt, now) });
      }
      // A fresh snapshot of what was loaded; fails the start loudly if the state folder is not writable.
      this.pending.flush();
    }
  }

  /** Starts delivering (messages restored from disk included). */
  start(): void {
    subscribe(RECORD_FAILED_CHANNEL, this.onRecordFailed);
    for (const queue of this.queues.values()) this.pump(queue);
  }

  /**
   * One S3 record in, as S3 sends it to SQS: a message whose body is `{"Records":[record]}`.
   * Records no notification filter matches are dropped, as AWS never delivers them.
   */
  publishS3Record(record: S3EventRecord): QueueName | undefined {
    const queueName = queueForKey(decodeS3Key(record.s3.object.key));
    if (!queueName) return undefined;
    this.send(queueName, JSON.stringify({ Records: [record] }));
    return queueName;
  }

  send(queueName: LocalQueueName, body: string): string {
    const queue = this.queues.get(queueName);
    if (!queue) throw new Error(`unknown queue ${queueName}`);
    const now = Date.now();
    const message: QueuedMessage = { messageId: randomUUID(), queue: queueName, body, sentAt: now, receiveCount: 0, visibleAt: now, attempts: [] };
    queue.messages.set(message.messageId, message);
    try {
      this.pending?.append(message);
    } catch (error) {
      // Not on disk, so not accepted: the caller (S3 answering an upload) must fail.
      queue.messages.delete(message.messageId);
      throw error;
    }
    this.pending?.changed();
    this.pump(queue);
    return message.messageId;
  }

  /** Resolves once every queue is empty and no batch is running (retries waiting count as work). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  deadLetters(): Promise<DeadLetter[]> {
    return Promise.resolve(this.options.deadLetters.list());
  }

  /** Queue depth per queue, for status output. */
  depth(): Record<string, { visible: number; delayed: number; inFlight: number }> {
    const now = Date.now();
    const out: Record<string, { visible: number; delayed: number; inFlight: number }> = {};
    for (const queue of this.queues.values()) {
      const waiting = [...queue.messages.values()].filter((m) => !this.receivedIds.has(m.messageId));
      out[queue.name] = {
        visible: waiting.filter((m) => m.visibleAt <= now).length,
        delayed: waiting.filter((m) => m.visibleAt > now).length,
        inFlight: queue.inFlight,
      };
    }
    return out;
  }

  /**
   * Stops taking new batches and waits for the running ones. Messages sent meanwhile (S3 still
   * answering uploads while the stack stops) are queued and saved, not delivered.
   */
  async drain(): Promise<void> {
    this.stopped = true;
    this.startDraining();
    unsubscribe(RECORD_FAILED_CHANNEL, this.onRecordFailed);
    for (const queue of this.queues.values()) if (queue.timer) clearTimeout(queue.timer);
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Saves the queues now, synchronously (a process about to exit at once). */
  persist(): void {
    this.pending?.flush();
  }

  /** The final save, after drain() and after nothing sends any more. */
  close(): void {
    this.pending?.close();
  }

  /** drain(), then close(). */
  async stop(): Promise<void> {
    await this.drain();
    this.close();
  }

  private isIdle(): boolean {
    return [...this.queues.values()].every((q) => q.messages.size === 0 && q.inFlight === 0);
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private snapshot(): QueuedMessage[] {
    return [...this.queues.values()].flatMap((q) => [...q.messages.values()]);
  }

  private pump(queue: QueueState): void {
    if (this.stopped) return;
    const now = Date.now();
    while (queue.inFlight < queue.config.concurrency) {
      const visible = [...queue.messages.values()]
        .filter((m) => m.visibleAt <= now && !this.receivedIds.has(m.messageId))
        .sort((a, b) => a.visibleAt - b.visibleAt || a.sentAt - b.sentAt);
      if (visible.length === 0) break;
      const oldest = visible[0]!;
      // Like Lambda's batching window: wait for a full batch, but never longer than the window.
      const windowEnds = oldest.visibleAt + queue.config.batchWindowMs;
      if (visible.length < queue.config.batchSize && windowEnds > now) {
        this.wakeAt(queue, windowEnds);
        return;
      }
      this.invoke(queue, visible.slice(0, queue.config.batchSize));
    }
    const delayed = [...queue.messages.values()].filter((m) => m.visibleAt > now && !this.receivedIds.has(m.messageId));
    if (delayed.length > 0) this.wakeAt(queue, Math.min(...delayed.map((m) => m.visibleAt)));
  }

  private wakeAt(queue: QueueState, at: number): void {
    if (queue.timer && queue.timerAt !== undefined && queue.timerAt <= at) return;
    if (queue.timer) clearTimeout(queue.timer);
    queue.timerAt = at;
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      queue.timerAt = undefined;
      this.pump(queue);
    }, Math.max(0, at - Date.now()));
  }

  private invoke(queue: QueueState, batch: QueuedMessage[]): void {
    const now = Date.now();
    for (const message of batch) {
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      this.receivedIds.add(message.messageId);
    }
    queue.inFlight += 1;
    this.pending?.changed();
    const run = this.deliver(queue, batch).finally(() => {
      queue.inFlight -= 1;
      for (const message of batch) {
        this.receivedIds.delete(message.messageId);
        this.reportedErrors.delete(message.messageId);
      }
      this.running.delete(run);
      this.pending?.changed();
      this.pump(queue);
      this.notifyIfIdle();
    });
    this.running.add(run);
  }

  private async deliver(queue: QueueState, batch: QueuedMessage[]): Promise<void> {
    const event: SQSEvent = { Records: batch.map((m) => this.toSqsRecord(m)) };
    const timeoutMs = queue.config.timeoutMs;
    const handling = Promise.resolve().then(() => queue.config.handler(event, this.context(queue)));
    const outcome = await settleWithin(handling, timeoutMs);
    let failed: Map<string, string>;
    if (outcome.status === 'done') {
      const response = outcome.value;
      const failures = response?.batchItemFailures ?? [];
      const known = new Set(batch.map((m) => m.messageId));
      // Lambda fails the whole batch when a reported identifier is not in it.
      const bogus = failures.find((f) => !known.has(f.itemIdentifier));
      failed = bogus
        ? new Map(batch.map((m) => [m.messageId, `handler reported unknown itemIdentifier ${bogus.itemIdentifier}; whole batch failed`]))
        : new Map(
            failures.map((f) => [
              f.itemIdentifier,
              this.reportedErrors.get(f.itemIdentifier) ?? `handler reported the message in batchItemFailures (its log line with messageId ${f.itemIdentifier} has the error)`,
            ]),
          );
    } else if (outcome.status === 'failed') {
      const message = describeError(outcome.error);
      this.log(`[dispatcher] ${queue.name} handler failed a batch of ${batch.length}: ${message}`);
      failed = new Map(batch.map((m) => [m.messageId, message]));
    } else {
      // Lambda's own words for it; the whole batch fails.
      const message = `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
      failed = new Map(batch.map((m) => [m.messageId, message]));
      this.log(`[dispatcher] ${queue.name} batch of ${batch.length} timed out after ${timeoutMs} ms; its messages are retried once that run has finished`);
      const abandonMs = ABANDON_AFTER_TIMEOUTS * timeoutMs;
      const after = await Promise.race([settleWithin(handling, abandonMs), this.draining.then(() => ({ status: 'draining' }) as const)]);
      if (after.status === 'running') {
        this.log(`[dispatcher] ${queue.name} batch still running ${abandonMs} ms after its timeout; retrying its messages beside it`);
      }
    }
    for (const message of batch) {
      const error = failed.get(message.messageId);
      if (error === undefined) {
        queue.messages.delete(message.messageId);
        continue;
      }
      message.attempts.push({ at: new Date().toISOString(), error });
      if (message.receiveCount >= this.options.maxReceiveCount) {
        this.deadLetter(queue, message, error);
      } else {
        const delay = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (message.receiveCount - 1));
        message.visibleAt = Date.now() + delay;
      }
    }
  }

  private deadLetter(queue: QueueState, message: QueuedMessage, error: string): void {
    queue.messages.delete(message.messageId);
    const keys = keysOfNotification(message.body);
    this.options.deadLetters.add({
      messageId: message.messageId,
      queue: queue.name,
      body: message.body,
      keys,
      receiveCount: message.receiveCount,
      sentAt: new Date(message.sentAt).toISOString(),
      deadLetteredAt: new Date().toISOString(),
      error,
      attempts: message.attempts,
    });
    this.log(`[dispatcher] dead-lettered ${keys.join(', ') || message.messageId} from ${queue.name} after ${message.receiveCount} receives: ${error}`);
  }

  private queueArn(queue: string): string {
    return `arn:aws:sqs:${this.options.region}:${this.options.accountId ?? '000000000000'}:weft-${queue}`;
  }

  private toSqsRecord(message: QueuedMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: `${message.messageId}#${message.receiveCount}`,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: 'AIDAS3NOTIFICATIONS',
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
      },
      messageAttributes: {},
      md5OfBody: md5(message.body),
      eventSource: 'aws:sqs',
      eventSourceARN: this.queueArn(message.queue),
      awsRegion: this.options.region,
    };
  }

  private context(queue: QueueState): Context {
    const started = Date.now();
    const functionName = `weft-${queue.name}-ingest`;
    const timeoutMs = queue.config.timeoutMs;
    return {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${this.options.region}:${this.options.accountId ?? '000000000000'}:function:${functionName}`,
      memoryLimitInMB: '2048',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }
}

/** How a promise stands after at most `ms`: settled either way, or still running. */
const settleWithin = <T>(promise: Promise<T>, ms: number): Promise<Outcome<T>> => {
  let timer: NodeJS.Timeout | undefined;
  const running = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'running' }), ms);
  });
  const settled = promise.then(
    (value): Outcome<T> => ({ status: 'done', value }),
    (error: unknown): Outcome<T> => ({ status: 'failed', error }),
  );
  return Promise.race([settled, running]).finally(() => clearTimeout(timer));
};
