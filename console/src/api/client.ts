/** The API as the console calls it: JSON in and out, errors as {@link ApiError} with the API's message. */
import type { ConsoleConfig } from './config.js';
import type { Calibration, DeadLetterList, Product, ProductEvidence, ProductListing, RejectionPage, ReviewPage, TaskList } from './types.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | string[] | undefined>;

const queryString = (query: Query = {}): string => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
};

const segment = encodeURIComponent;

export class Api {
  constructor(
    private readonly config: ConsoleConfig,
    private readonly token: () => string | undefined = () => undefined,
  ) {}

  private async call<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.config.apiBase}${path}${queryString(options.query)}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const message = (body as { message?: unknown } | undefined)?.message;
      throw new ApiError(response.status, typeof message === 'string' ? message : `${method} ${path}: ${response.status}`);
    }
    return body as T;
  }

  products = (query: Query) => this.call<ProductListing>('GET', '/products', { query });
  product = (vendor: string, productId: string) => this.call<Product>('GET', `/products/${segment(vendor)}/${segment(productId)}`);
  evidence = (vendor: string, productId: string) => this.call<ProductEvidence>('GET', `/products/${segment(vendor)}/${segment(productId)}/evidence`);
  correct = (vendor: string, productId: string, task: string, value: string) =>
    this.call<Product>('PUT', `/products/${segment(vendor)}/${segment(productId)}/attributes/${segment(task)}`, { body: { value } });
  clear = (vendor: string, productId: string, task: string) => this.call<Product>('DELETE', `/products/${segment(vendor)}/${segment(productId)}/attributes/${segment(task)}`);
  tasks = () => this.call<TaskList>('GET', '/tasks');
  review = (query: Query) => this.call<ReviewPage>('GET', '/review', { query });
  rejections = (query: Query = {}) => this.call<RejectionPage>('GET', '/rejections', { query });
  calibration = () => this.call<Calibration>('GET', '/calibration');
  /** Only the local stack has these (AWS: the SQS dead-letter queues). */
  deadLetters = () => this.call<DeadLetterList>('GET', '/local/dead-letters');
  redrive = (messageId?: string) => this.call<{ redriven: unknown[] }>('POST', `/local/dead-letters/redrive${messageId ? queryString({ messageId }) : ''}`, { body: {} });
}
