/**
 * The console as a merchandiser uses it, in Chromium against the real local stack (global setup):
 * filter the grid by two attributes, open a product and see its views and the per-source votes,
 * correct a task and see it win (and in GET /corrections), undo it, work three products through
 * the review queue with the keyboard only and clear twenty more, find a rejected upload — and axe finds no serious or
 * critical violation on any page.
 */
import { AxeBuilder } from '@axe-core/playwright';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';

const base = (): string => {
  const url = process.env.WEFT_CONSOLE_URL;
  if (!url) throw new Error('WEFT_CONSOLE_URL is unset: run through playwright.config.ts (its global setup starts the stack)');
  return url;
};

interface Listed {
  vendor: string;
  productId: string;
  title?: string;
  attributes: Record<string, { value: string | null; confidence: number; corrected: boolean }>;
}

const api = async <T>(request: APIRequestContext, path: string): Promise<T> => {
  const response = await request.get(`${base()}${path}`);
  expect(response.status(), path).toBe(200);
  return (await response.json()) as T;
};

/** No serious or critical axe violation (WCAG 2.1 A/AA rules and best practices). */
const expectAccessible = async (page: Page, what: string) => {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`), what).toEqual([]);
};

/** Page errors and failed requests would mean a broken page even when the assertions pass. */
const watch = (page: Page): string[] => {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`${response.status()} for ${response.url()}`);
  });
  return problems;
};

test.describe.configure({ mode: 'serial' });

interface Tasks {
  tasks: { name: string; labels: string[] }[];
}

/** The queues the keyboard tests work through: the manifests' last task, and another one. */
const reviewTasks = async (request: APIRequestContext): Promise<{ three: Tasks['tasks'][number]; twenty: Tasks['tasks'][number] }> => {
  const { tasks } = await api<Tasks>(request, '/tasks');
  expect(tasks.length, 'two tasks at least').toBeGreaterThanOrEqual(2);
  return { three: tasks.at(-1)!, twenty: tasks[0]! };
};

let target: Listed;
/** Two tasks the target product has values for, and those values. */
let first: { task: string; value: string };
let second: { task: string; value: string };

test('the grid filters by two attributes, with counts beside each value', async ({ page, request }) => {
  const problems = watch(page);
  const listing = await api<{ items: Listed[]; facets: { products: number } }>(request, '/products?limit=100');
  expect(listing.items.length).toBeGreaterThan(3);
  // A product with values for two tasks: filtering by its own values must find it.
  const valued = (p: Listed) => Object.entries(p.attributes).filter(([, a]) => a.value !== null);
  target = listing.items.find((p) => valued(p).length >= 2)!;
  expect(target, 'a product with values for two tasks').toBeDefined();
  [first, second] = valued(target).map(([task, a]) => ({ task, value: a.value! })) as [typeof first, typeof second];

  await page.goto(`${base()}/`);
  await expect(page.getByRole('heading', { name: 'Catalog', level: 1 })).toBeVisible();
  await expect(page.locator('.card').first()).toBeVisible();
  await expect(page.getByLabel('Vendor')).toContainText(`All vendors (${listing.facets.products})`);
  await expectAccessible(page, 'grid');

  await page.getByLabel(first.task, { exact: true }).selectOption(first.value);
  await page.getByLabel(second.task, { exact: true }).selectOption(second.value);
  await expect(page).toHaveURL(new RegExp(`${first.task}=${encodeURIComponent(first.value)}&${second.task}=${encodeURIComponent(second.value)}`));
  // The grid shows exactly what the API lists for both filters, the target among them.
  const filtered = await api<{ items: Listed[] }>(request, `/products?limit=24&attribute=${encodeURIComponent(`${first.task}:${first.value}`)}&attribute=${encodeURIComponent(`${second.task}:${second.value}`)}`);
  expect(filtered.items.map((p) => p.productId)).toContain(target.productId);
  const cards = page.locator('.card');
  await expect(cards).toHaveCount(filtered.items.length);
  await expect(page.locator(`.card[data-product="${target.vendor}/${target.productId}"]`)).toBeVisible();
  const count = await cards.count();
  for (let i = 0; i < count; i += 1) {
    await expect(cards.nth(i).locator('.chip', { hasText: first.task })).toContainText(first.value);
    await expect(cards.nth(i).locator('.chip', { hasText: second.task })).toContainText(second.value);
  }
  await expectAccessible(page, 'filtered grid');
  expect(problems).toEqual([]);
});

test('a product shows its images with both views and a bar per source; a correction wins at once, is exported, and can be undone', async ({ page, request }) => {
  const problems = watch(page);
  await page.goto(`${base()}/#/?${first.task}=${encodeURIComponent(first.value)}&${second.task}=${encodeURIComponent(second.value)}`);
  await page.locator(`.card[data-product="${target.vendor}/${target.productId}"] a`).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(target.title ?? target.productId);

  const image = page.locator('.image-evidence').first();
  await expect(image.locator('.original img')).toBeVisible();
  const views = image.locator('.view img');
  expect(await views.count()).toBeGreaterThanOrEqual(2);
  for (let i = 0; i < (await views.count()); i += 1) await expect(views.nth(i)).toHaveJSProperty('complete', true);
  expect(await views.first().evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
  await expect(image.locator('.overlay rect').first()).toBeAttached();

  const panel = page.locator(`.attribute[data-task="${first.task}"]`);
  await expect(panel.locator('.answer')).toHaveText(first.value);
  await expect(panel.locator('tr[data-source="text"]')).toBeVisible();
  await expect(panel.locator('tr[data-source^="image:"]').first()).toBeVisible();
  await expectAccessible(page, 'product page');

  const labels = (await api<{ tasks: { name: string; labels: string[] }[] }>(request, '/tasks')).tasks.find((t) => t.name === first.task)!.labels;
  const other = labels.find((l) => l !== first.value)!;
  await panel.getByLabel(`Correct ${first.task}`).selectOption(other);
  await panel.getByRole('button', { name: `Set ${first.task}` }).click();
  await expect(panel.locator('.answer')).toHaveText(other);
  await expect(panel.locator('tr[data-source="human"]')).toContainText('100%');
  await expect(page.getByRole('status')).toContainText(`Saved: ${first.task} is ${other}`);

  const corrections = await api<{ items: { vendor: string; productId: string; labels: Record<string, string> }[] }>(request, '/corrections?limit=100');
  expect(corrections.items.find((c) => c.vendor === target.vendor && c.productId === target.productId)?.labels).toEqual({ [first.task]: other });

  await page.getByRole('button', { name: 'Undo' }).click();
  await expect(panel.locator('.answer')).toHaveText(first.value);
  await expect(panel.locator('tr[data-source="human"]')).toHaveCount(0);
  const after = await api<{ corrections: Record<string, string> }>(request, `/products/${target.vendor}/${target.productId}`);
  expect(after.corrections).toEqual({});
  expect(problems).toEqual([]);
});

test('three products go through the review queue by keyboard alone: accept, a digit, accept', async ({ page, request }) => {
  const problems = watch(page);
  const { name: task, labels } = (await reviewTasks(request)).three;
  const queue = await api<{ items: { vendor: string; productId: string; candidates: { value: string }[] }[] }>(request, `/review?task=${task}&limit=5`);
  expect(queue.items.length).toBeGreaterThanOrEqual(3);
  const [first, second, third] = queue.items as [(typeof queue.items)[number], (typeof queue.items)[number], (typeof queue.items)[number]];
  const expected = [
    [first, first.candidates[0]!.value],
    [second, labels[1]!],
    [third, third.candidates[0]!.value],
  ] as const;

  await page.goto(`${base()}/#/review?task=${task}`);
  const item = page.locator('.review-item');
  await expect(item).toHaveAttribute('data-product', `${first.vendor}/${first.productId}`);
  await expectAccessible(page, 'review queue');
  await page.keyboard.press('a');
  await expect(item).toHaveAttribute('data-product', `${second.vendor}/${second.productId}`);
  await page.keyboard.press('2');
  await expect(item).toHaveAttribute('data-product', `${third.vendor}/${third.productId}`);
  // Back and forth without deciding, then the third.
  await page.keyboard.press('k');
  await expect(item).toHaveAttribute('data-product', `${second.vendor}/${second.productId}`);
  await expect(item.locator('.decided')).toContainText(labels[1]!);
  await page.keyboard.press('j');
  await expect(item).toHaveAttribute('data-product', `${third.vendor}/${third.productId}`);
  await page.keyboard.press('a');
  await expect(page.getByRole('status')).toContainText(`Accepted ${task} = ${expected[2][1]}`);
  await expect(page.locator('#review-keys')).toContainText('3 decided');

  for (const [product, value] of expected) {
    const view = await api<{ corrections: Record<string, string> }>(request, `/products/${product.vendor}/${product.productId}`);
    expect(view.corrections[task], `${product.vendor}/${product.productId}`).toBe(value);
  }
  // Decided products leave the queue.
  const left = await api<{ items: { vendor: string; productId: string }[] }>(request, `/review?task=${task}&limit=100`);
  expect(left.items.map((i) => `${i.vendor}/${i.productId}`)).not.toContain(`${first.vendor}/${first.productId}`);
  expect(problems).toEqual([]);
});

test('twenty products cleared from another task’s queue without the mouse', async ({ page, request }) => {
  const problems = watch(page);
  const task = (await reviewTasks(request)).twenty.name;
  const queue = await api<{ items: { vendor: string; productId: string; candidates: { value: string }[] }[] }>(request, `/review?task=${task}&limit=20`);
  expect(queue.items).toHaveLength(20);
  await page.goto(`${base()}/#/review?task=${task}`);
  const item = page.locator('.review-item');
  for (const [i, product] of queue.items.entries()) {
    await expect(item).toHaveAttribute('data-product', `${product.vendor}/${product.productId}`);
    await page.keyboard.press('a');
    if (i < queue.items.length - 1) await expect(item).not.toHaveAttribute('data-product', `${product.vendor}/${product.productId}`);
  }
  // The page moves on at once; the twenty PUTs finish behind it.
  await expect(page.locator('#review-keys')).toContainText('20 decided');
  await expect(page.getByRole('status')).not.toContainText('Not saved');
  const corrections = await api<{ items: { vendor: string; productId: string; labels: Record<string, string> }[] }>(request, '/corrections?limit=100');
  for (const product of queue.items) {
    expect(corrections.items.find((c) => c.vendor === product.vendor && c.productId === product.productId)?.labels[task], `${product.vendor}/${product.productId}`).toBe(product.candidates[0]!.value);
  }
  expect(problems).toEqual([]);
});

test('operations lists the rejected upload; the charts page draws the histogram and the corrections’ curve', async ({ page, request }) => {
  const problems = watch(page);
  await page.goto(`${base()}/#/operations`);
  await expect(page.getByRole('heading', { name: 'Rejected uploads' })).toBeVisible();
  await expect(page.locator('table.data', { hasText: 'stray-upload.jpg' })).toContainText('outside_layout');
  await expect(page.locator('dd[data-status="tagged"]')).not.toHaveText('');
  await expect(page.getByRole('heading', { name: 'Dead letters' })).toBeVisible();
  await expectAccessible(page, 'operations');

  await page.goto(`${base()}/#/charts`);
  const task = (await reviewTasks(request)).three.name;
  await expect(page.getByRole('img', { name: new RegExp(`Confidence of ${task} across the catalog`) })).toBeVisible();
  // The three corrections made in the queue above are that task's curve's sample.
  await expect(page.getByRole('img', { name: new RegExp(`Accuracy against coverage for ${task} on 3 corrected products`) })).toBeVisible();
  await expectAccessible(page, 'charts');
  expect(problems).toEqual([]);
});
