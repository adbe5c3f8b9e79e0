/**
 * `weft product|find|correct|corrections` as a person runs them (child processes) against the
 * local stack: real HTTP through the client typed from the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { FIXTURE_MODELS, startSeededStack, type SeededStack } from './support/seededStack.js';
import { runWeft } from './support/runCommand.js';

const weft = (args: string[]) => runWeft(args);
const lines = (stdout: string) => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

describe('weft commands over the HTTP API', () => {
  let seeded: SeededStack;
  let api: string;
  const [task, labels] = Object.entries(loadModelSet(FIXTURE_MODELS).catalog)[0]!;

  beforeAll(async () => {
    seeded = await startSeededStack({ perVendor: 1 });
    api = seeded.stack.urls.api;
  });
  afterAll(async () => {
    await seeded?.stop();
  });

  it('shows a product, as JSON and as JSON-LD', async () => {
    const [ref] = seeded.products;
    const json = await weft(['product', ref!, '--api', api]);
    expect(json.code, json.stderr).toBe(0);
    expect(lines(json.stdout)[0]).toMatchObject({ vendor: ref!.split('/')[0], productId: ref!.split('/')[1] });
    const ld = await weft(['product', ref!, '--jsonld', '--api', api]);
    expect(lines(ld.stdout)[0]).toMatchObject({ '@type': 'Product', productID: ref });
  });

  it('corrects an attribute, finds the product by it, exports the correction and removes it', async () => {
    const ref = seeded.products[1]!;
    const label = labels.at(-1)!;
    const set = await weft(['correct', ref, task, label, '--api', api]);
    expect(set.code, set.stderr).toBe(0);
    expect(lines(set.stdout)[0]!.corrections[task]).toBe(label);
    const found = await weft(['find', task, label, '--limit', '1', '--all', '--api', api]);
    expect(found.code, found.stderr).toBe(0);
    expect(lines(found.stdout).map((m) => `${m.vendor}/${m.productId}`)).toContain(ref);
    const exported = await weft(['corrections', '--all', '--api', api]);
    expect(lines(exported.stdout).find((c) => `${c.vendor}/${c.productId}` === ref)?.labels[task]).toBe(label);
    const removed = await weft(['correct', ref, task, '--remove', '--api', api]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(lines(removed.stdout)[0]!.corrections[task]).toBeUndefined();
  });

  it('reports the API’s error message and exits 1', async () => {
    const unknown = await weft(['find', 'no-such-task', 'x', '--api', api]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^weft find: 404 unknown task "no-such-task"/);
    const unreachable = await weft(['product', 'acme/p-1', '--api', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/weft product: cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
