/**
 * Every route the api handler serves, dependency-free so the CDK app (lib/) can declare exactly
 * these on the HTTP API and the local API server can mirror them: a route missing there is
 * answered 404 by API Gateway before the handler ever sees it. routes.ts implements each one
 * and the OpenAPI document (openapi/operations.ts) describes each one; unit tests keep the three
 * in step.
 */
export type ApiMethod = 'GET' | 'PUT' | 'DELETE' | 'HEAD' | 'OPTIONS' | 'ANY';

export interface ApiRoute {
  method: ApiMethod;
  path: string;
}

/** The routes that do something; HEAD, OPTIONS and ANY are derived from them below. */
export const RESOURCE_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/products/{vendor}/{productId}' },
  { method: 'PUT', path: '/products/{vendor}/{productId}/attributes/{task}' },
  { method: 'DELETE', path: '/products/{vendor}/{productId}/attributes/{task}' },
  { method: 'GET', path: '/attributes/{task}/{value}' },
  { method: 'GET', path: '/rejections' },
  { method: 'GET', path: '/corrections' },
  { method: 'GET', path: '/products' },
  { method: 'GET', path: '/review' },
  { method: 'GET', path: '/tasks' },
  { method: 'GET', path: '/products/{vendor}/{productId}/evidence' },
  { method: 'GET', path: '/calibration' },
  { method: 'GET', path: '/stats' },
  { method: 'GET', path: '/openapi.json' },
  { method: 'GET', path: '/docs' },
  { method: 'GET', path: '/docs/{asset}' },
];

/**
 * HEAD for every GET route (the GET's status and headers, no body), OPTIONS for every path (204
 * with `Allow`) and, last, ANY for every path, so that any other method gets the handler's 405
 * with `Allow` rather than API Gateway's 404 (API Gateway prefers a route's own method over ANY;
 * the local server takes the first match, hence last).
 */
export const withHeadAndOptions = (routes: readonly ApiRoute[]): ApiRoute[] => {
  const paths = [...new Set(routes.map((r) => r.path))];
  const heads = routes.filter((r) => r.method === 'GET').map((r): ApiRoute => ({ method: 'HEAD', path: r.path }));
  const options = paths.map((path): ApiRoute => ({ method: 'OPTIONS', path }));
  const others = paths.map((path): ApiRoute => ({ method: 'ANY', path }));
  return [...routes, ...heads, ...options, ...others];
};

export const API_ROUTES: readonly ApiRoute[] = withHeadAndOptions(RESOURCE_ROUTES);

/** Methods allowed on a path, as the `Allow` header lists them. */
export const allowedMethods = (path: string, routes: readonly ApiRoute[] = API_ROUTES): ApiMethod[] => routes.filter((r) => r.path === path && r.method !== 'ANY').map((r) => r.method);
