/**
 * Local stand-in for API Gateway (HTTP API, payload format 2.0) in front of the api Lambda: each
 * request becomes an APIGatewayProxyEventV2 for the same handler, and its result an HTTP reply.
 * Routes under /local/ are the local runtime's own (dead letters, queue depth); AWS has no such
 * routes because SQS and CloudWatch answer those questions there.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { answerMalformedRequests } from './clientErrors.js';
import { crossSiteRefusal } from './crossSiteGuard.js';
import { close, listen, urlOf } from './listen.js';
import { readBody } from './readBody.js';

export type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2 | string | object | void | undefined>;

/** A local route's answer that is not JSON: a file or an object, with its own headers. */
export interface RawAnswer {
  status: number;
  raw: Buffer;
  headers: Record<string, string>;
}

/** A route the local runtime answers itself; returns undefined when it does not match. */
export type LocalRoute = (
  method: string,
  path: string,
  query: URLSearchParams,
  body: Buffer,
  headers: IncomingHttpHeaders,
) => Promise<{ status: number; body: unknown } | RawAnswer | undefined>;

const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

const isText = (contentType: string | undefined): boolean =>
  !contentType || /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript))|\+json|\+xml/i.test(contentType);

/** An HTTP API route as the CDK stack declares it (`/products/{vendor}/{productId}`). */
export interface ApiRoute {
  path: string;
  methods: readonly string[];
}

export interface MatchedRoute {
  routeKey: string;
  pathParameters: Record<string, string>;
}

const routePattern = (template: string): { regex: RegExp; names: string[] } => {
  const names: string[] = [];
  const source = template
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(segment);
      if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]!);
      return param[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^${source}$`), names };
};

/** API Gateway's route selection: the first declared route whose method and path match. */
export const matchRoute = (routes: readonly ApiRoute[], method: string, path: string): MatchedRoute | undefined => {
  for (const route of routes) {
    const methods = route.methods.map((m) => m.toUpperCase());
    if (!methods.includes(method.toUpperCase()) && !methods.includes('ANY')) continue;
    const { regex, names } = routePattern(route.path);
    const match = regex.exec(path);
    if (!match) continue;
    const pathParameters: Record<string, string> = {};
    names.forEach((name, i) => {
      const raw = match[i + 1]!;
      try {
        pathParameters[name] = decodeURIComponent(raw);
      } catch {
        pathParameters[name] = raw;
      }
    });
    // A request taken by an ANY route carries that route's key, as API Gateway's routeKey does.
    return { routeKey: `${methods.includes(method.toUpperCase()) ? method.toUpperCase() : 'ANY'} ${route.path}`, pathParameters };
  }
  return undefined;
};

export const toProxyEvent = (req: IncomingMessage, body: Buffer, route?: MatchedRoute, stage = '$default'): APIGatewayProxyEventV2 => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') cookies.push(...(Array.isArray(value) ? value : value.split(/;\s*/)));
    // HTTP APIs join repeated headers with commas and lower-case the names.
    else headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) queryStringParameters[key] = url.searchParams.getAll(key).join(',');
  const hasQuery = url.searchParams.size > 0;
  const method = req.method ?? 'GET';
  const binary = body.length > 0 && !isText(headers['content-type']);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route?.routeKey ?? '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(hasQuery ? { queryStringParameters } : {}),
    ...(route && Object.keys(route.pathParameters).length > 0 ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route?.routeKey ?? '$default',
      stage,
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: binary ? body.toString('base64') : body.toString('utf8') } : {}),
    isBase64Encoded: binary,
  };
};

/** API Gateway's interpretation of a payload 2.0 response. */
export const writeProxyResult = (res: ServerResponse, result: unknown): void => {
  const structured =
    typeof result === 'object' && result !== null && 'statusCode' in result
      ? (result as APIGatewayProxyStructuredResultV2)
      : // A bare value means 200 with that value as JSON, as API Gateway infers.
        { statusCode: 200, headers: { 'content-type': 'application/json' }, body: typeof result === 'string' ? result : JSON.stringify(result ?? null) };
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
  const body = structured.body === undefined ? Buffer.alloc(0) : Buffer.from(structured.body, structured.isBase64Encoded ? 'base64' : 'utf8');
  headers['content-length'] = String(body.length);
  headers['content-type'] ??= 'application/json';
  res.writeHead(structured.statusCode ?? 200, headers);
  res.end(body);
};

const lambdaContext = (): Context => {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'weft-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:weft-api',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/weft-api',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, 29_000 - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

const sendJson = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const isJson = (contentType: string | undefined): boolean => /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(contentType ?? '');

/**
 * A state-changing /local route (redrive) needs a JSON request: an HTML form can only send
 * form or text bodies, and a cross-site script cannot send JSON without a CORS preflight, which
 * this server never grants.
 */
const localWriteRefusal = (method: string, path: string, contentType: string | undefined): HttpError | undefined =>
  path.startsWith('/local/') && !['GET', 'HEAD', 'OPTIONS'].includes(method) && !isJson(contentType)
    ? new HttpError(415, `${method} ${path} needs Content-Type: application/json (got ${contentType ? JSON.stringify(contentType) : 'none'})`)
    : undefined;

export interface ApiServerOptions {
  handler: ApiHandler;
  /** Routes the deployed HTTP API declares (others get API Gateway's 404); without them every request reaches the handler as `$default`. */
  routes?: readonly ApiRoute[];
  localRoutes?: LocalRoute[];
  log?: (message: string) => void;
}

export const createApiServer = ({ handler, routes, localRoutes = [], log = console.error }: ApiServerOptions): Server => {
  const server = createServer((req, res) => {
    void (async () => {
      const refusal = crossSiteRefusal(req);
      if (refusal) return sendJson(res, 403, { message: refusal }, { connection: 'close' });
      const url = new URL(req.url ?? '/', 'http://localhost');
      const unsupported = localWriteRefusal(req.method ?? 'GET', url.pathname, req.headers['content-type']);
      if (unsupported) throw unsupported;
      // API Gateway's own answer, with its limit named.
      const body = await readBody(req, MAX_BODY_BYTES, () => new HttpError(413, `Request Entity Too Large: the body exceeds ${MAX_BODY_BYTES} bytes (API Gateway's payload limit)`));
      for (const local of localRoutes) {
        const answer = await local(req.method ?? 'GET', url.pathname, url.searchParams, body, req.headers);
        if (answer && 'raw' in answer) {
          res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.raw.length });
          return res.end(req.method === 'HEAD' ? undefined : answer.raw);
        }
        if (answer) return sendJson(res, answer.status, answer.body);
      }
      let route: MatchedRoute | undefined;
      if (routes) {
        route = matchRoute(routes, req.method ?? 'GET', url.pathname);
        // What API Gateway answers for a request no declared route matches; the handler never sees it.
        if (!route) return sendJson(res, 404, { message: 'Not Found' });
      }
      writeProxyResult(res, await handler(toProxyEvent(req, body, route), lambdaContext()));
    })().catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      // API Gateway hides a crashed integration behind a generic 500; the log has the detail.
      if (status === 500) log(`[api] ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) sendJson(res, status, { message: status === 500 ? 'Internal Server Error' : (error as Error).message }, status === 413 ? { connection: 'close' } : {});
    });
  });
  answerMalformedRequests(server, (status, message) => ({ contentType: 'application/json', body: JSON.stringify({ message }) }));
  return server;
};

export interface RunningApiServer {
  url: string;
  stop(): Promise<void>;
}

export const startApiServer = async (opts: ApiServerOptions & { port: number }): Promise<RunningApiServer> => {
  const server = createApiServer(opts);
  const address = await listen(server, { service: 'API', port: opts.port, envVar: 'WEFT_API_PORT' });
  return { url: urlOf(address), stop: () => close(server) };
};
