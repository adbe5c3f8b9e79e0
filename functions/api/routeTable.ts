/**
 * Every route the api handler serves, dependency-free so the CDK app (lib/) can declare exactly
 * these on the HTTP API and the local API server can mirror them: a route missing there is
 * answered 404 by API Gateway before the handler ever sees it. routes.ts implements each one
 * (a unit test keeps the two in step).
 */
export type ApiMethod = 'GET' | 'PUT' | 'DELETE';

export const API_ROUTES: readonly { method: ApiMethod; path: string }[] = [
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/products/{vendor}/{productId}' },
  { method: 'PUT', path: '/products/{vendor}/{productId}/attributes/{task}' },
  { method: 'DELETE', path: '/products/{vendor}/{productId}/attributes/{task}' },
  { method: 'GET', path: '/attributes/{task}/{value}' },
  { method: 'GET', path: '/rejections' },
  { method: 'GET', path: '/corrections' },
];
