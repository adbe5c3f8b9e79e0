/**
 * The local API Gateway stand-in over real HTTP: requests become payload-2.0 events with the
 * route key and path parameters of the declared routes (functions/api/routeTable.ts, which the
 * CDK HTTP API declares too), results become replies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { API_ROUTES } from '../../functions/api/routeTable.js';
import { startApiServer, type RunningApiServer } from '../../local/apiServer.js';

describe('local API server', () => {
  let server: RunningApiServer;
  const events: APIGatewayProxyEventV2[] = [];

  beforeAll(async () => {
    server = await startApiServer({
      port: 0,
      routes: [...API_ROUTES.map((r) => ({ path: r.path, methods: [r.method] })), { path: '/echo/{proxy+}', methods: ['POST'] }],
      handler: async (event) => {
        events.push(event);
        if (event.rawPath === '/health') return { ok: true };
        return { statusCode: 201, headers: { 'X-Custom': 'yes', 'content-type': 'application/json' }, cookies: ['a=1'], body: JSON.stringify({ path: event.rawPath }) };
      },
      localRoutes: [async (method, path) => (method === 'GET' && path === '/local/ping' ? { status: 200, body: { pong: true } } : undefined)],
      log: () => undefined,
    });
  });

  afterAll(() => server?.stop());

  it('maps path parameters, query and headers into a payload 2.0 event', async () => {
    const res = await fetch(`${server.url}/products/acme/shirt%20one?limit=5&tag=a&tag=b`, { headers: { 'x-trace': 't1', cookie: 'c1=v1; c2=v2' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(res.headers.get('set-cookie')).toBe('a=1');
    expect(await res.json()).toEqual({ path: '/products/acme/shirt%20one' });
    const event = events.at(-1)!;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /products/{vendor}/{productId}',
      rawPath: '/products/acme/shirt%20one',
      rawQueryString: 'limit=5&tag=a&tag=b',
      pathParameters: { vendor: 'acme', productId: 'shirt one' },
      queryStringParameters: { limit: '5', tag: 'a,b' },
      cookies: ['c1=v1', 'c2=v2'],
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/products/acme/shirt%20one' }, stage: '$default' },
    });
    expect(event.headers['x-trace']).toBe('t1');
    expect(event.body).toBeUndefined();
  });

  it('passes text bodies as text and binary bodies as base64', async () => {
    await fetch(`${server.url}/echo/a/b`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":1}' });
    expect(events.at(-1)).toMatchObject({ body: '{"x":1}', isBase64Encoded: false, pathParameters: { proxy: 'a/b' } });
    await fetch(`${server.url}/echo/bin`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array([0, 255, 1]) });
    expect(events.at(-1)).toMatchObject({ body: Buffer.from([0, 255, 1]).toString('base64'), isBase64Encoded: true });
  });

  it('turns a bare handler result into 200 JSON, as API Gateway infers', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ ok: true });
  });

  it('answers undeclared routes with 404 before the handler, as API Gateway does, and serves local routes', async () => {
    const count = events.length;
    for (const [method, path] of [['GET', '/nope'], ['POST', '/products/a/b/c'], ['GET', '/products/a']]) {
      const res = await fetch(`${server.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toEqual({ message: 'Not Found' });
    }
    expect(events.length).toBe(count);
    // Another method on a declared path takes the path's ANY route to the handler (which answers 405).
    await fetch(`${server.url}/products/a/b`, { method: 'POST' });
    expect(events.at(-1)).toMatchObject({ routeKey: 'ANY /products/{vendor}/{productId}', rawPath: '/products/a/b' });
    await fetch(`${server.url}/rejections?limit=3`);
    expect(events.at(-1)).toMatchObject({ routeKey: 'GET /rejections', queryStringParameters: { limit: '3' } });
    expect(await (await fetch(`${server.url}/local/ping`)).json()).toEqual({ pong: true });
  });
});
