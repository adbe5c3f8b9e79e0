/**
 * Pages live in the URL fragment (`#/products/acme/p-1`), so the page is one file wherever it is
 * served (the local API server, CloudFront and S3) and no path of the API is taken.
 */
import { useEffect, useState } from 'preact/hooks';

export type Page = 'grid' | 'product' | 'review' | 'operations' | 'charts' | 'notFound';

export interface Route {
  page: Page;
  params: Record<string, string>;
  query: URLSearchParams;
}

export const parseHash = (hash: string): Route => {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?', 2);
  const query = new URLSearchParams(search);
  const parts = path
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  if (parts.length === 0) return { page: 'grid', params: {}, query };
  if (parts[0] === 'products' && parts.length === 3) return { page: 'product', params: { vendor: parts[1]!, productId: parts[2]! }, query };
  if (parts.length === 1 && (parts[0] === 'review' || parts[0] === 'operations' || parts[0] === 'charts')) return { page: parts[0], params: {}, query };
  return { page: 'notFound', params: {}, query };
};

const withQuery = (path: string, query?: URLSearchParams | Record<string, string>): string => {
  const params = query instanceof URLSearchParams ? query : new URLSearchParams(query ?? {});
  const text = params.toString();
  return text === '' ? `#${path}` : `#${path}?${text}`;
};

export const hrefs = {
  grid: (query?: URLSearchParams) => withQuery('/', query),
  product: (vendor: string, productId: string) => withQuery(`/products/${encodeURIComponent(vendor)}/${encodeURIComponent(productId)}`),
  review: (query?: Record<string, string>) => withQuery('/review', query),
  operations: () => withQuery('/operations'),
  charts: () => withQuery('/charts'),
};

export const useRoute = (): Route => {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
};

/** Replaces the fragment's query without a new history entry per keystroke. */
export const replaceQuery = (path: string, query: URLSearchParams): void => {
  const next = withQuery(path, query);
  if (next !== location.hash) {
    history.replaceState(null, '', next);
    dispatchEvent(new HashChangeEvent('hashchange'));
  }
};
