/**
 * Sending a DynamoDB write that is not idempotent (an `ADD` to a counter) so that it is applied at
 * most once.
 *
 * The SDK's standard retry sends a request again after any transient failure: a 5xx, a timeout,
 * a connection reset. DynamoDB may have applied the write before any of those (the reply was lost
 * on the way back, or the 500 came after the write), and a second `ADD` counts twice. Only an
 * answer with a 4xx status proves that nothing was written: throttling, a failed condition, a
 * validation error. Such an answer passes through unchanged, so the SDK still retries throttling
 * with its own backoff; any other failure of an attempt becomes an {@link UnconfirmedWriteError},
 * which the SDK's retry strategy classifies as a client error and does not send again.
 *
 * Done per command (a middleware on the command's own stack, inside the client's retry loop)
 * rather than with a second client built with `maxAttempts: 1`, so the counters use whatever
 * client the caller configured (endpoint, credentials, tracing) and keep the throttling retries.
 */
import type { UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** The outcome of the write is unknown: it may or may not have been applied. */
export class UnconfirmedWriteError extends Error {
  override readonly name = 'UnconfirmedWriteError';

  /**
   * The attempt's own error is kept as `failure`, not as `cause`: the SDK's retry classification
   * follows `cause` and would call the write transient (and send it again) for a reset cause.
   */
  constructor(readonly failure: unknown) {
    super(`the write may have been applied, and is not sent again: ${failure instanceof Error ? `${failure.name}: ${failure.message}` : String(failure)}`);
  }
}

/** True when DynamoDB answered the request and the answer says it wrote nothing. */
export const refusedWithoutWriting = (error: unknown): boolean => {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
};

/** Wraps each attempt: a failure without a 4xx answer leaves the SDK nothing it may retry. */
const sendOnce =
  <A, R>(next: (args: A) => Promise<R>) =>
  async (args: A): Promise<R> => {
    try {
      return await next(args);
    } catch (error) {
      if (refusedWithoutWriting(error)) throw error;
      throw new UnconfirmedWriteError(error);
    }
  };

/**
 * Marks `command` to be applied at most once: every attempt of the client's retry middleware
 * passes through `sendOnce`, placed right inside it.
 */
export const atMostOnce = <C extends UpdateCommand>(command: C): C => {
  command.middlewareStack.addRelativeTo(sendOnce, {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: 'weftAtMostOnceMiddleware',
    override: true,
  });
  return command;
};
