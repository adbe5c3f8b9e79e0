/**
 * Two kinds of failure drive delivery: a PermanentError is recorded on the product (or as a
 * rejection) and acknowledged, because retrying the same bytes can never succeed; anything else
 * is treated as transient and retried with backoff until the queue dead-letters it.
 */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  /** Stable machine-readable reason, e.g. `not_an_image`, `over_pixel_limit`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class TransientError extends Error {
  override readonly name = 'TransientError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export const isPermanent = (error: unknown): error is PermanentError => error instanceof PermanentError;

export const describeError = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
