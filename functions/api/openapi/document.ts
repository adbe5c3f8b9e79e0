/**
 * The OpenAPI 3.1 document of one deployment, generated (zod-openapi) from the operations and
 * schemas the handler is held to, with the loaded models' tasks and labels filled in. Served at
 * GET /openapi.json, rendered at /docs, declared as the HTTP API's routes by CDK, and the input
 * of the generated client types (clients/typescript) and of the contract test (schemathesis).
 */
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject, ZodOpenApiResponseObject, oas31 } from 'zod-openapi';
import { z } from 'zod';
import { createDocument } from 'zod-openapi';
import packageJson from '../../../package.json' with { type: 'json' };
import type { TaskCatalog } from '../../shared/products/ensemble.js';
import { API_ROUTES, RESOURCE_ROUTES, allowedMethods, type ApiMethod } from '../routeTable.js';
import { fillCatalog } from './catalogEnums.js';
import { OPERATIONS, type ApiOperation, type RouteKey } from './operations.js';

export type ApiAuthorization = 'iam' | 'none';
export type OpenApiDocument = oas31.OpenAPIObject;

/** API Gateway's JWT authorizer on the console's HTTP API: tokens of this issuer for one of these audiences. */
export interface JwtAuthorization {
  /** The Cognito user pool's issuer, `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`. */
  issuer: string;
  /** App client ids (the console's). */
  audience: readonly string[];
}

export interface DocumentOptions {
  catalog: TaskCatalog;
  /** `iam`: every route but the public ones needs a SigV4 signature (the deployed default). */
  authorization: ApiAuthorization;
  /**
   * The console's HTTP API beside this one (AWS): the same routes and function, every route but
   * the public ones behind a bearer JWT of this issuer and audience. The document is served by
   * both APIs, so it states both schemes.
   */
  jwt?: JwtAuthorization;
  modelVersions?: Record<string, string>;
}

export class MissingOperationError extends Error {
  override readonly name = 'MissingOperationError';
}

const SIGV4 = 'sigv4';
const CONSOLE_JWT = 'consoleJwt';

const DESCRIPTION = `Standardized attributes of fashion products — category, color, pattern and whatever else the
loaded models declare — merged from images, vendor text, vendor colors and human corrections.

* **Errors** are JSON \`{"message": "…"}\`, from the handler and from API Gateway alike. A method or
  path this document does not list is answered 404 \`{"message": "Not Found"}\`, another method on
  a listed path 405 with \`Allow\`.
* **Parameters**: a query parameter an operation does not list, or a value outside its schema, is a
  400 (an empty value too).
* **Lists** return at most \`limit\` items and a \`nextCursor\` while there is more: pass it back as
  \`cursor\` with the same query. Cursors are opaque; one this query did not return is a 400.
* **HEAD** is answered on every GET route with the GET's status and headers and no body;
  **OPTIONS** on every path with 204 and \`Allow\`. There is no CORS: browsers reach the API only
  from its own origin (as this page does).
* **Tasks and labels** in this document are those of the models this deployment serves.`;

const IAM_DESCRIPTION = `On AWS every route except this document and its reference pages needs an AWS SigV4 signature
(IAM, service \`execute-api\`); an unsigned request is a 403.`;

/** What the document says about authorization: one sentence per way in. */
const authDescription = (authorization: ApiAuthorization, jwt: JwtAuthorization | undefined): string | undefined => {
  if (!jwt) return authorization === 'iam' ? IAM_DESCRIPTION : undefined;
  const machine =
    authorization === 'iam'
      ? 'the IAM API, for machine clients: an AWS SigV4 signature (IAM, service `execute-api`, scheme `sigv4`); an unsigned request is a 403'
      : 'the IAM API, for machine clients: no authorization in this deployment';
  return `On AWS two HTTP APIs serve the same routes from the same function, and each accepts one of the
schemes below; every route except this document and its reference pages needs it:

* ${machine};
* the merchandiser console's API (\`/api/*\` of the console's CloudFront distribution): a bearer
  JWT of the console's Cognito user pool (scheme \`consoleJwt\`, \`Authorization: Bearer <token>\`,
  issuer and audience checked by API Gateway's JWT authorizer); a missing or invalid token is a 401.

A SigV4 signature is not accepted by the console's API, nor a token by the IAM API.`;
};

/** Security schemes and the document-wide requirement (any one of them) for the deployment's ways in. */
const securityOf = (
  authorization: ApiAuthorization,
  jwt: JwtAuthorization | undefined,
): { components?: { securitySchemes: Record<string, oas31.SecuritySchemeObject> }; security?: oas31.SecurityRequirementObject[] } => {
  if (authorization !== 'iam' && !jwt) return {};
  const schemes: Record<string, oas31.SecuritySchemeObject> = {};
  // An empty requirement is "no authorization": the IAM API of an environment deployed without it.
  const security: oas31.SecurityRequirementObject[] = [];
  if (authorization === 'iam') {
    schemes[SIGV4] = {
      type: 'apiKey',
      name: 'Authorization',
      in: 'header',
      description: `AWS Signature Version 4 (IAM), service \`execute-api\`${jwt ? ': the IAM API, for machine clients' : ''}.`,
      'x-amazon-apigateway-authtype': 'awsSigv4',
    };
    security.push({ [SIGV4]: [] });
  } else security.push({});
  if (jwt) {
    schemes[CONSOLE_JWT] = {
      type: 'openIdConnect',
      openIdConnectUrl: `${jwt.issuer}/.well-known/openid-configuration`,
      description:
        "Bearer JWT of the merchandiser console's Cognito user pool (authorization code flow with PKCE), sent as `Authorization: Bearer <token>`: the console's API only. " +
        `API Gateway checks the signature, expiry, issuer \`${jwt.issuer}\` and audience ${jwt.audience.map((a) => `\`${a}\``).join(', ')}; no scopes are required.`,
      'x-amazon-apigateway-authorizer': { type: 'jwt', jwtConfiguration: { issuer: jwt.issuer, audience: [...jwt.audience] }, identitySource: '$request.header.Authorization' },
    };
    security.push({ [CONSOLE_JWT]: [] });
  }
  return { components: { securitySchemes: schemes }, security };
};

const capitalized = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** The path template as a word for operation ids: `/docs/{asset}` → `DocsAsset`. */
const pathWord = (path: string): string =>
  path
    .split('/')
    .filter(Boolean)
    .map((segment) => capitalized(segment.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))))
    .join('') || 'Root';

const withoutBody = (responses: ZodOpenApiOperationObject['responses']): ZodOpenApiOperationObject['responses'] =>
  Object.fromEntries(
    Object.entries(responses ?? {}).map(([status, response]) => {
      const { content: _content, links: _links, ...rest } = response as ZodOpenApiResponseObject;
      return [status, rest];
    }),
  );

const operationFor = (method: ApiMethod, path: string): ApiOperation => {
  const own = OPERATIONS[`${method} ${path}` as RouteKey];
  if (own) return own;
  if (method === 'HEAD') {
    const get = OPERATIONS[`GET ${path}` as RouteKey];
    if (get) {
      const { links: _links, ...rest } = get as ApiOperation & { links?: unknown };
      return { ...rest, operationId: `head${capitalized(get.operationId.replace(/^get(?=[A-Z])/, ''))}`, summary: `Headers of: ${get.summary ?? get.operationId}`, responses: withoutBody(get.responses) };
    }
  }
  if (method === 'OPTIONS') {
    const anyOp = RESOURCE_ROUTES.filter((r) => r.path === path).map((r) => OPERATIONS[`${r.method} ${r.path}` as RouteKey]).find(Boolean);
    const allow = allowedMethods(path).join(', ');
    const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    return {
      operationId: `options${pathWord(path)}`,
      summary: `Methods allowed on ${path}`,
      tags: anyOp?.tags ?? [],
      ...(anyOp?.public ? { public: true } : {}),
      // The allowed methods belong to the path template, whatever the values: any string goes.
      ...(names.length > 0 ? { requestParams: { path: z.object(Object.fromEntries(names.map((name) => [name, z.string().min(1)]))) } } : {}),
      responses: {
        204: { description: `No content; \`Allow: ${allow}\`.`, headers: { Allow: { description: 'Methods allowed on the path.', schema: { type: 'string', const: allow } } } },
        403: { description: 'Refused before the handler (see the GET of this path).' },
        429: { description: 'Throttled.' },
      },
    };
  }
  throw new MissingOperationError(`route ${method} ${path} has no operation in functions/api/openapi/operations.ts`);
};

export const openApiDocument = ({ catalog, authorization, jwt, modelVersions }: DocumentOptions): OpenApiDocument => {
  const { components, security } = securityOf(authorization, jwt);
  const paths: ZodOpenApiPathsObject = {};
  // ANY only turns other methods into the handler's 405; the description says so.
  for (const { method, path } of API_ROUTES.filter((r) => r.method !== 'ANY')) {
    const { public: isPublic, ...operation } = operationFor(method, path);
    const item = (paths[path] ??= {});
    item[method.toLowerCase() as 'get'] = { ...operation, ...(isPublic && security ? { security: [] } : {}) };
  }
  const versions = Object.entries(modelVersions ?? {}).map(([kind, version]) => `${kind} \`${version}\``);
  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Weft API',
      version: packageJson.version,
      description: [DESCRIPTION, authDescription(authorization, jwt), ...(versions.length > 0 ? [`Models: ${versions.join(', ')}.`] : [])].filter(Boolean).join('\n\n'),
      license: { name: 'Proprietary', identifier: 'LicenseRef-Weft' },
    },
    tags: [
      { name: 'products', description: 'Merged attributes of products.' },
      { name: 'corrections', description: 'Human corrections, which always win, and their export for retraining.' },
      { name: 'uploads', description: 'Uploads that fit no product.' },
      { name: 'service', description: 'Health, this document and its reference pages.' },
    ],
    ...(components ? { components } : {}),
    ...(security ? { security } : {}),
    paths,
  });
  return fillCatalog(document, catalog);
};

/** `METHOD path` of every operation in a document (the routes it declares). */
export const documentRoutes = (document: OpenApiDocument): { method: ApiMethod; path: string; public: boolean }[] =>
  Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    (['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const).flatMap((method) => {
      const operation = (item as Record<string, oas31.OperationObject | undefined>)[method];
      if (!operation) return [];
      const security = operation.security ?? document.security ?? [];
      // Public: no requirement, or one alternative that asks for nothing.
      return [{ method: method.toUpperCase() as ApiMethod, path, public: security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0) }];
    }),
  );
