/**
 * Talking to the stack under test over its own HTTP API, and the final reconciliation: every
 * acknowledged upload is looked up on its product (GET /products/{vendor}/{id}) and classified.
 * The vendor's boilerplate counters are read straight from dynalite (the DynamoDB address npm
 * start prints), because the API does not show them and they must count each product once.
 */
import { DynamoDBClient, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Product } from './catalog.js';
import { VENDOR } from './catalog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StackApi {
  constructor(readonly base: string) {}

  /** JSON of a GET, retried on 5xx and refused connections (bounded). */
  async get<T>(path: string, { attempts = 20, okStatuses = [200] }: { attempts?: number; okStatuses?: number[] } = {}): Promise<{ status: number; body: T }> {
    let last = '';
    for (let i = 0; i < attempts; i++) {
      try {
        const res = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(30_000) });
        const body = (await res.json().catch(() => undefined)) as T;
        if (okStatuses.includes(res.status) || (res.status < 500 && res.status !== 429)) return { status: res.status, body };
        last = `${res.status} ${JSON.stringify(body)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(Math.min(2_000, 100 * 2 ** i));
    }
    throw new Error(`GET ${path} failed ${attempts} times: ${last}`);
  }

  async send<T>(method: 'PUT' | 'POST', path: string, body: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const answer = (await res.json().catch(() => undefined)) as T;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(answer)}`);
    return answer;
  }

  async depth(): Promise<number> {
    const { body } = await this.get<Record<string, { visible: number; delayed: number; inFlight: number }>>('/local/queues');
    return Object.values(body).reduce((n, q) => n + q.visible + q.delayed + q.inFlight, 0);
  }

  async deadLetters(): Promise<{ messageId: string; keys: string[]; error: string }[]> {
    const { body } = await this.get<{ items: { messageId: string; keys: string[]; error: string }[] }>('/local/dead-letters?limit=100000');
    return body.items;
  }

  setFaults(spec: string): Promise<unknown> {
    return this.send('PUT', '/local/faults', { faults: spec });
  }

  async faultCounts(): Promise<unknown> {
    const { body } = await this.get<{ enabled: boolean; counts?: unknown }>('/local/faults');
    return body.enabled ? body.counts : undefined;
  }

  async redrive(): Promise<number> {
    const answer = await this.send<{ redriven: unknown[] }>('POST', '/local/dead-letters/redrive', {});
    return answer.redriven.length;
  }

  /**
   * Waits until every queue is empty (visible, delayed and in flight) on two polls in a row.
   * Returns the seconds it took, or undefined when `deadline` passed first.
   */
  async drain(deadline: number): Promise<number | undefined> {
    const started = performance.now();
    let emptyPolls = 0;
    while (Date.now() < deadline) {
      emptyPolls = (await this.depth()) === 0 ? emptyPolls + 1 : 0;
      if (emptyPolls >= 2) return (performance.now() - started) / 1000;
      await sleep(250);
    }
    return undefined;
  }
}

interface ProductView {
  attributes: Record<string, { sources: Record<string, unknown> }>;
  images: { key: string; status: string; errorCode?: string }[];
  text: { status: string; key?: string; errorCode?: string };
}

export interface Reconciliation {
  /** Acknowledged uploads. */
  checked: number;
  tagged: number;
  /** Acknowledged uploads whose product shows an error for them (bad images, as expected). */
  recordedErrors: number;
  /** ... of which were good uploads (a transient fault recorded as permanent, say). */
  unexpectedErrors: number;
  /** Bad uploads shown as tagged. */
  badTagged: number;
  /** Still in the dead-letter store after the run (their error is recorded there). */
  deadLettered: number;
  lost: number;
  duplicated: number;
  wedged: number;
  /** Tagged sources of a finished product missing from its attributes' breakdown. */
  unmerged: number;
  details: { lost: string[]; duplicated: string[]; wedged: string[]; unexpectedErrors: string[]; unmerged: string[]; deadLettered: string[] };
}

/** The vendor's product counter and its most counted sentence (every product.json shares one). */
const boilerplateCounts = async (dynamoUrl: string): Promise<{ products: number; topSentence: number }> => {
  const client = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'chaos', secretAccessKey: 'chaos' } });
  const counts = { products: 0, topSentence: 0 };
  try {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({ TableName: 'weft-products', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `VENDOR#${VENDOR}` } }, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) {
        const n = Number(item.products?.N ?? 0);
        if (item.sk?.S === 'STATS') counts.products = n;
        else if (item.sk?.S?.startsWith('SENT#')) counts.topSentence = Math.max(counts.topSentence, n);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return counts;
  } finally {
    client.destroy();
  }
};

export const reconcile = async (api: StackApi, dynamoUrl: string, products: Product[], acknowledged: Set<string>): Promise<Reconciliation> => {
  const r: Reconciliation = {
    checked: 0, tagged: 0, recordedErrors: 0, unexpectedErrors: 0, badTagged: 0, deadLettered: 0, lost: 0, duplicated: 0, wedged: 0, unmerged: 0,
    details: { lost: [], duplicated: [], wedged: [], unexpectedErrors: [], unmerged: [], deadLettered: [] },
  };
  const lettered = new Set((await api.deadLetters()).flatMap((l) => l.keys));
  for (const product of products) {
    const files = product.files.filter((f) => acknowledged.has(f.key));
    if (files.length === 0) continue;
    const { status, body: view } = await api.get<ProductView>(`/${['products', VENDOR, product.productId].join('/')}`, { okStatuses: [200, 404] });
    for (const file of files) {
      r.checked++;
      const shown = status !== 200 ? undefined : file.kind === 'image' ? view.images.find((i) => i.key === file.key) : view.text.key === file.key ? view.text : undefined;
      const state = shown?.status;
      if (state === 'tagged') {
        r.tagged++;
        if (file.bad) r.badTagged++;
      } else if (state === 'error') {
        r.recordedErrors++;
        if (!file.bad) {
          r.unexpectedErrors++;
          r.details.unexpectedErrors.push(`${file.key} (${shown?.errorCode ?? 'no code'})`);
        }
      } else if (lettered.has(file.key)) {
        r.deadLettered++;
        r.details.deadLettered.push(file.key);
      } else if (state === 'pending') {
        r.wedged++;
        r.details.wedged.push(file.key);
      } else {
        r.lost++;
        r.details.lost.push(`${file.key} (${status === 200 ? `product shows ${file.kind === 'text' ? `text ${view.text.status}` : 'no such image'}` : `product ${status}`})`);
      }
    }
    if (status !== 200) continue;
    const uploadedImages = new Set(product.files.filter((f) => f.kind === 'image').map((f) => f.key));
    const seen = new Set<string>();
    for (const image of view.images) {
      if (!uploadedImages.has(image.key) || seen.has(image.key)) {
        r.duplicated++;
        r.details.duplicated.push(`${product.productId}: image ${image.key} shown ${seen.has(image.key) ? 'twice' : 'but never uploaded'}`);
      }
      seen.add(image.key);
    }
    // A finished product's attributes must hold the vote of each of its tagged sources.
    const finished = view.images.every((i) => i.status !== 'pending') && view.text.status !== 'pending';
    if (finished) {
      const voters = new Set(Object.values(view.attributes ?? {}).flatMap((a) => Object.keys(a.sources ?? {})));
      const expected = [...view.images.filter((i) => i.status === 'tagged').map((i) => `image:${i.key.slice(i.key.lastIndexOf('/') + 1)}`), ...(view.text.status === 'tagged' ? ['text'] : [])];
      for (const id of expected) {
        if (voters.has(id)) continue;
        r.unmerged++;
        r.details.unmerged.push(`${product.productId}: ${id}`);
      }
    }
  }
  const withText = products.filter((p) => p.files.some((f) => f.kind === 'text' && acknowledged.has(f.key))).length;
  const counted = await boilerplateCounts(dynamoUrl);
  if (counted.products > withText) {
    r.duplicated += counted.products - withText;
    r.details.duplicated.push(`vendor ${VENDOR}: boilerplate statistics count ${counted.products} products, ${withText} uploaded a product.json`);
  }
  if (counted.topSentence > withText) {
    r.duplicated += counted.topSentence - withText;
    r.details.duplicated.push(`vendor ${VENDOR}: a sentence is counted in ${counted.topSentence} products, ${withText} uploaded a product.json`);
  }
  return r;
};
