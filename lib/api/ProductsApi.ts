import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpNoneAuthorizer, HttpRoute, HttpStage, LogGroupLogDestination, type IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { documentRoutes, type OpenApiDocument } from '../../functions/api/openapi/document.js';
import { acknowledge } from '../nag/acknowledge.js';

export interface HttpRouteSpec {
  path: string;
  method: HttpMethod;
  /** Served without authorization (the operation's `security` is empty). */
  public: boolean;
}

/**
 * The routes the HTTP API declares, read from the API's OpenAPI document (the one the handler
 * serves at /openapi.json): every operation, authorized as its `security` says, plus ANY on each
 * path so another method reaches the handler's 405 instead of API Gateway's 404. Any other path is
 * answered 404 by API Gateway without invoking the function.
 */
export const httpRoutes = (document: OpenApiDocument): HttpRouteSpec[] => {
  const operations = documentRoutes(document);
  const toMethod = (name: string, path: string): HttpMethod => {
    const method = HttpMethod[name as keyof typeof HttpMethod];
    if (!method) throw new Error(`api route ${path}: unsupported method ${name}`);
    return method;
  };
  const catchAll = [...new Map(operations.map((o) => [o.path, o])).values()].map((o) => ({ path: o.path, method: HttpMethod.ANY, public: false }));
  return [...operations.map((o) => ({ path: o.path, method: toMethod(o.method, o.path), public: o.public })), ...catchAll];
};

export interface ProductsApiProps {
  readonly handler: IFunction;
  /** The API's OpenAPI document; its operations become the routes. */
  readonly document: OpenApiDocument;
  readonly authorization: 'iam' | 'none';
  /**
   * Authorize with JWTs of this issuer and audience instead (the console's API: people signed in
   * with Cognito); `authorization` then only names what the served document says.
   */
  readonly jwt?: { readonly issuer: string; readonly audience: string[] };
  readonly description?: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/** HTTP API in front of the api function: SigV4 (IAM) by default, or JWTs; throttled, access-logged. */
export class ProductsApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: ProductsApiProps) {
    super(scope, id);
    const authorizer: IHttpRouteAuthorizer = props.jwt
      ? new HttpJwtAuthorizer('SignedIn', props.jwt.issuer, { jwtAudience: props.jwt.audience })
      : props.authorization === 'iam'
        ? new HttpIamAuthorizer()
        : new HttpNoneAuthorizer();
    const authorized = props.jwt !== undefined || props.authorization === 'iam';
    this.api = new HttpApi(this, 'Api', {
      description: props.description ?? 'Weft product attributes',
      createDefaultStage: false,
      defaultAuthorizer: authorizer,
    });
    // One invoke permission for the API instead of one per route: with HEAD, OPTIONS and ANY there
    // are several dozen routes, and per-route statements would crowd the function's 20 KB policy.
    const integration = new HttpLambdaIntegration('Handler', props.handler, { scopePermissionToRoute: false });
    const publicAccess = new HttpNoneAuthorizer();
    for (const route of httpRoutes(props.document)) {
      const [created] = this.api.addRoutes({ path: route.path, methods: [route.method], integration, ...(route.public ? { authorizer: publicAccess } : {}) }) as [HttpRoute];
      if (route.public && authorized) {
        acknowledge(created, {
          id: 'AwsSolutions-APIG4',
          reason: 'The OpenAPI document and its Swagger UI pages are public by design: they describe the API and hold no catalog data.',
        });
      }
    }

    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetentionDays, removalPolicy: props.removalPolicy });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.userArn',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    if (!authorized) {
      // Only reachable by an explicit per-environment choice (see lib/config/environments.ts).
      acknowledge(this.api, {
        id: 'AwsSolutions-APIG4',
        reason: 'This environment deliberately runs the read API without authorization (apiAuthorization=none).',
      });
    }
  }

  get url(): string {
    return this.stage.url;
  }
}
