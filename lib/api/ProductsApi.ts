import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpNoneAuthorizer, HttpStage, LogGroupLogDestination, type IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ROUTES } from '../../functions/api/routeTable.js';
import { acknowledge } from '../nag/acknowledge.js';

/**
 * Exactly the routes the api handler serves (functions/api/routeTable.ts), grouped by path; any
 * other request is answered 404 by API Gateway without invoking the function.
 */
export const httpRoutes = (): { path: string; methods: HttpMethod[] }[] => {
  const byPath = new Map<string, HttpMethod[]>();
  for (const route of API_ROUTES) {
    const method = HttpMethod[route.method as keyof typeof HttpMethod];
    if (!method) throw new Error(`api route ${route.path}: unsupported method ${route.method}`);
    byPath.set(route.path, [...(byPath.get(route.path) ?? []), method]);
  }
  return [...byPath].map(([path, methods]) => ({ path, methods }));
};

export interface ProductsApiProps {
  readonly handler: IFunction;
  readonly authorization: 'iam' | 'none';
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/** HTTP API in front of the api function: SigV4 (IAM) by default, throttled, access-logged. */
export class ProductsApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: ProductsApiProps) {
    super(scope, id);
    const authorizer: IHttpRouteAuthorizer = props.authorization === 'iam' ? new HttpIamAuthorizer() : new HttpNoneAuthorizer();
    this.api = new HttpApi(this, 'Api', {
      description: 'Weft product attributes',
      createDefaultStage: false,
      defaultAuthorizer: authorizer,
    });
    const integration = new HttpLambdaIntegration('Handler', props.handler);
    for (const route of httpRoutes()) {
      this.api.addRoutes({ path: route.path, methods: route.methods, integration });
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

    if (props.authorization === 'none') {
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
