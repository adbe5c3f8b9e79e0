import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpNoneAuthorizer, HttpStage, LogGroupLogDestination, type IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag/acknowledge.js';

/** The read API the api handler serves (functions/api/handler.ts routes on these paths). */
export const API_ROUTES: readonly { path: string; methods: HttpMethod[] }[] = [
  { path: '/products/{vendor}/{productId}', methods: [HttpMethod.GET] },
  { path: '/attributes/{task}/{value}', methods: [HttpMethod.GET] },
  { path: '/health', methods: [HttpMethod.GET] },
];

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
    for (const route of API_ROUTES) {
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
