/**
 * Request counting for the cost bench: SDK v3 middleware on the clients the handlers and the local
 * stack use, attributing every call to the function whose invocation made it (AsyncLocalStorage,
 * entered by the stack's invocation hook), plus Lambda invocations and their measured durations.
 *
 * DynamoDB: every command that takes it is sent with `ReturnConsumedCapacity: 'TOTAL'` and the
 * units in the answer are summed (reads as RRU, writes as WRU). dynalite reports the table's units
 * only (its `capacityUnits`, the same 1 KB / 4 KB rounding as DynamoDB), not the index's: writes
 * that set the byAttribute GSI's key (`gsi1pk`, projection ALL) are counted again as index units,
 * an estimate of what DynamoDB adds (it writes the projected item to the index too).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type FunctionName = 'image-ingest' | 'text-ingest' | 'api' | 'retag-batch' | 'inference-result';
/** Who made a call outside any invocation: the vendor's uploads, the bench's own listing. */
export type Caller = FunctionName | 'vendor' | 'bench' | 'stepfunctions';

export interface CallCount {
  calls: number;
  errors: number;
  /** S3: bytes sent in PutObject bodies. */
  bytes: number;
  /** DynamoDB: units reported by the server (reads RRU, writes WRU). */
  units: number;
  /** DynamoDB: estimated byAttribute index write units (see the module comment). */
  indexUnits: number;
  /** DynamoDB: conditional writes refused (they still consume write units on AWS; dynalite reports none). */
  conditionalFailures: number;
}

export interface InvocationCount {
  invocations: number;
  records: number;
  milliseconds: number[];
}

export interface CostCounts {
  /** `${caller} ${service} ${command}` → count. */
  calls: Record<string, CallCount>;
  invocations: Partial<Record<FunctionName, InvocationCount>>;
  /** Batches per queue (one ReceiveMessage each on AWS) and messages in them (one delete each). */
  queues: Record<string, { batches: number; messages: number }>;
}

const CONSUMED_CAPACITY_COMMANDS = new Set([
  'GetItemCommand', 'PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'BatchWriteItemCommand', 'TransactGetItemsCommand', 'TransactWriteItemsCommand',
  'GetCommand', 'PutCommand', 'UpdateCommand', 'DeleteCommand', 'BatchGetCommand', 'BatchWriteCommand', 'TransactGetCommand', 'TransactWriteCommand',
]);
const READ_COMMANDS = /^(Get|Query|Scan|BatchGet|TransactGet)/;

type Next = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
type Middleware = (next: Next, context: { commandName?: string; clientName?: string }) => (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
export interface CountableClient {
  middlewareStack: unknown;
}

const emptyCall = (): CallCount => ({ calls: 0, errors: 0, bytes: 0, units: 0, indexUnits: 0, conditionalFailures: 0 });

/** Sum of `CapacityUnits` in a ConsumedCapacity answer (one object, or one per table for batches). */
export const consumedUnits = (consumed: unknown): number => {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((sum: number, c) => sum + (typeof (c as { CapacityUnits?: unknown }).CapacityUnits === 'number' ? (c as { CapacityUnits: number }).CapacityUnits : 0), 0);
};

const setsIndexKey = (command: string, input: Record<string, unknown>): boolean => {
  if (command.startsWith('Put')) return typeof input.Item === 'object' && input.Item !== null && 'gsi1pk' in (input.Item as object);
  if (command.startsWith('Update')) return typeof input.UpdateExpression === 'string' && /gsi1pk/.test(`${input.UpdateExpression} ${JSON.stringify(input.ExpressionAttributeNames ?? {})}`);
  return false;
};

const bodyBytes = (body: unknown): number => {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return 0;
};

export class CostCounter {
  readonly counts: CostCounts = { calls: {}, invocations: {}, queues: {} };
  private readonly current = new AsyncLocalStorage<FunctionName>();

  /** Runs `run` as one invocation of `fn`, timing it; calls made inside are attributed to `fn`. */
  async invoke<T>(fn: FunctionName, detail: { queue?: string; records: number }, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await this.current.run(fn, run);
    } finally {
      const count = (this.counts.invocations[fn] ??= { invocations: 0, records: 0, milliseconds: [] });
      count.invocations++;
      count.records += detail.records;
      count.milliseconds.push(performance.now() - started);
      if (detail.queue) {
        const queue = (this.counts.queues[detail.queue] ??= { batches: 0, messages: 0 });
        queue.batches++;
        queue.messages += detail.records;
      }
    }
  }

  /** The caller of a call made now: the function being invoked, else `fallback`. */
  caller(fallback: Caller): Caller {
    return this.current.getStore() ?? fallback;
  }

  private entry(caller: Caller, service: string, command: string): CallCount {
    return (this.counts.calls[`${caller} ${service} ${command}`] ??= emptyCall());
  }

  /** Counts every call of an S3 client; `fallback` names calls made outside an invocation. */
  countS3(client: CountableClient, fallback: Caller): void {
    const middleware: Middleware = (next, context) => async (args) => {
      const entry = this.entry(this.caller(fallback), 's3', context.commandName ?? 'unknown');
      entry.calls++;
      if (context.commandName === 'PutObjectCommand') entry.bytes += bodyBytes(args.input.Body);
      try {
        return await next(args);
      } catch (error) {
        entry.errors++;
        throw error;
      }
    };
    (client.middlewareStack as { add: (m: Middleware, o: object) => void }).add(middleware, { step: 'initialize', name: 'weftCostS3', override: true });
  }

  /** Counts every call of a DynamoDB (or document) client and asks each for its consumed capacity. */
  countDynamo(client: CountableClient, fallback: Caller): void {
    const middleware: Middleware = (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      const entry = this.entry(this.caller(fallback), 'dynamodb', command);
      entry.calls++;
      const input = CONSUMED_CAPACITY_COMMANDS.has(command) ? { ...args.input, ReturnConsumedCapacity: 'TOTAL' } : args.input;
      try {
        const result = await next({ ...args, input });
        const units = consumedUnits(result.output.ConsumedCapacity);
        entry.units += units;
        if (!READ_COMMANDS.test(command) && setsIndexKey(command, input)) entry.indexUnits += units;
        return result;
      } catch (error) {
        entry.errors++;
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') entry.conditionalFailures++;
        throw error;
      }
    };
    (client.middlewareStack as { add: (m: Middleware, o: object) => void }).add(middleware, { step: 'initialize', name: 'weftCostDynamo', override: true });
  }

  /** Counts a call that does not go through an SDK client here (an SQS send the local dispatcher stands in for, a model call). */
  record(caller: Caller, service: string, command: string, detail: Partial<Pick<CallCount, 'bytes' | 'units'>> = {}): void {
    const entry = this.entry(caller, service, command);
    entry.calls++;
    entry.bytes += detail.bytes ?? 0;
    entry.units += detail.units ?? 0;
  }

  /** A copy of the counts so far, and a fresh start (one phase of the bench after another). */
  take(): CostCounts {
    const taken = structuredClone(this.counts);
    this.counts.calls = {};
    this.counts.invocations = {};
    this.counts.queues = {};
    return taken;
  }
}
