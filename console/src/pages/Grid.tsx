/**
 * The catalog: filters beside a grid of products. Every filter is in the page's URL (a search can
 * be bookmarked or sent), the counts beside each choice are the catalog-wide facet counts, and
 * paging follows the API's cursor.
 */
import { useState } from 'preact/hooks';
import type { Facets, ListedProduct, ProductStatus } from '../api/types.js';
import { Chip, StatusBadge } from '../components/Chip.js';
import { useConsole } from '../context.js';
import { hrefs, replaceQuery } from '../router.js';
import { useLoad } from '../useLoad.js';

const STATUSES: ProductStatus[] = ['pending', 'tagged', 'error'];
const ABSTAINED = '~abstained';

/** The API's query from the page's: one `attribute` per task with a label, `abstained` per task set so. */
const apiQuery = (query: URLSearchParams, tasks: readonly string[], cursor: string | undefined) => {
  const attribute: string[] = [];
  const abstained: string[] = [];
  for (const task of tasks) {
    const value = query.get(task);
    if (value === ABSTAINED) abstained.push(task);
    else if (value) attribute.push(`${task}:${value}`);
  }
  const below = query.get('below') ?? '0.5';
  const belowTask = query.get('belowTask');
  return {
    vendor: query.get('vendor') || undefined,
    attribute: attribute.length > 0 ? attribute : undefined,
    abstained: abstained.length > 0 ? abstained : undefined,
    ...(below && belowTask ? { confidenceBelow: below, confidenceTask: belowTask } : {}),
    status: query.get('status') || undefined,
    limit: '24',
    cursor,
  };
};

const count = (n: number | undefined) => ` (${n ?? 0})`;

const Filters = ({ query, facets }: { query: URLSearchParams; facets: Facets | undefined }) => {
  const { tasks } = useConsole();
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value === '') next.delete(name);
    else next.set(name, value);
    replaceQuery('/', next);
  };
  const vendors = Object.keys(facets?.vendors ?? {}).sort();
  return (
    <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <h2>Filters</h2>
      <p class="hint">Counts are of the whole catalog.</p>
      <label for="f-vendor">Vendor</label>
      <select id="f-vendor" value={query.get('vendor') ?? ''} onChange={(e) => set('vendor', e.currentTarget.value)}>
        <option value="">All vendors{count(facets?.products)}</option>
        {vendors.map((v) => (
          <option value={v}>
            {v}
            {count(facets?.vendors[v])}
          </option>
        ))}
      </select>
      {tasks.tasks.map((task) => (
        <>
          <label for={`f-${task.name}`}>{task.name}</label>
          <select id={`f-${task.name}`} value={query.get(task.name) ?? ''} onChange={(e) => set(task.name, e.currentTarget.value)}>
            <option value="">Any {task.name}</option>
            {task.labels.map((label) => (
              <option value={label}>
                {label}
                {count(facets?.values[task.name]?.[label])}
              </option>
            ))}
            <option value={ABSTAINED}>abstained{count(facets?.abstained[task.name])}</option>
          </select>
        </>
      ))}
      <fieldset>
        <legend>Confidence below</legend>
        <label for="f-below-task">Task</label>
        <select id="f-below-task" value={query.get('belowTask') ?? ''} onChange={(e) => set('belowTask', e.currentTarget.value)}>
          <option value="">No threshold</option>
          {tasks.tasks.map((t) => (
            <option value={t.name}>{t.name}</option>
          ))}
        </select>
        <label for="f-below">Threshold (0–1)</label>
        <input id="f-below" type="number" min="0.01" max="1" step="0.05" value={query.get('below') ?? '0.5'} onChange={(e) => set('below', e.currentTarget.value)} />
      </fieldset>
      <label for="f-status">Status</label>
      <select id="f-status" value={query.get('status') ?? ''} onChange={(e) => set('status', e.currentTarget.value)}>
        <option value="">Any status</option>
        {STATUSES.map((s) => (
          <option value={s}>
            {s}
            {count(facets?.status[s])}
          </option>
        ))}
      </select>
      <p>
        <a href={hrefs.grid()}>Clear filters</a>
      </p>
    </form>
  );
};

const Card = ({ product }: { product: ListedProduct }) => (
  <li class="card" data-product={`${product.vendor}/${product.productId}`}>
    <a class="card-link" href={hrefs.product(product.vendor, product.productId)}>
      {product.thumbnailUrl ? <img src={product.thumbnailUrl} alt="" width="160" height="160" loading="lazy" /> : <span class="no-image">no image</span>}
      <span class="card-title">{product.title ?? product.productId}</span>
    </a>
    <span class="card-meta">
      {product.vendor} · {product.productId} <StatusBadge status={product.status} />
    </span>
    <span class="chips">
      {Object.entries(product.attributes).map(([task, attribute]) => (
        <Chip task={task} attribute={attribute} />
      ))}
    </span>
  </li>
);

export const Grid = ({ query }: { query: URLSearchParams }) => {
  const { api, tasks } = useConsole();
  // Cursors of the pages before this one (for "previous") and of this one.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const key = query.toString();
  const [forKey, setForKey] = useState(key);
  if (forKey !== key) {
    setForKey(key);
    setCursors([undefined]);
  }
  const cursor = cursors[cursors.length - 1];
  const listing = useLoad(() => api.products(apiQuery(query, tasks.tasks.map((t) => t.name), cursor)), [key, cursor]);
  const items = listing.data?.items;
  return (
    <div class="grid-page">
      <Filters query={query} facets={listing.data?.facets} />
      <section class="results" aria-labelledby="results-title" aria-busy={listing.loading}>
        <h2 id="results-title">Products</h2>
        {listing.error && (
          <p role="alert" class="error">
            {listing.error}
          </p>
        )}
        <p class="hint" aria-live="polite">
          {listing.loading ? 'Loading…' : items && `${items.length} on this page${listing.data?.nextCursor ? ', more on the next' : ''}`}
        </p>
        {items && items.length === 0 && !listing.loading && <p>No product matches these filters on this page.</p>}
        <ul class="grid" aria-label="Products">
          {items?.map((p) => (
            <Card product={p} />
          ))}
        </ul>
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
          <button type="button" disabled={!listing.data?.nextCursor} onClick={() => listing.data?.nextCursor && setCursors([...cursors, listing.data.nextCursor])}>
            Next page
          </button>
        </nav>
      </section>
    </div>
  );
};
