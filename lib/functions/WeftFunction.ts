import { join, posix } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeManagedPolicies, acknowledgeWildcards, LAMBDA_BASIC_EXECUTION, type WildcardRule } from '../nag/acknowledge.js';
import { REPO_ROOT, type ModelArtifacts } from '../config/modelArtifacts.js';
import { BUNDLED_DOCS_ASSETS_DIR, BUNDLED_MODELS_DIR, LAMBDA_ARCHITECTURE, LAMBDA_TASK_ROOT, weftBundling } from './lambdaBundling.js';

export interface WeftFunctionProps {
  /** Handler folder under functions/ (its handler.ts exports `handler`). */
  readonly handlerDir: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeout: Duration;
  readonly reservedConcurrency?: number;
  readonly models: ModelArtifacts;
  readonly withSharp?: boolean;
  /** Bundle the Swagger UI files the api function serves at /docs. */
  readonly withDocsAssets?: boolean;
  readonly environment: Record<string, string>;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  /** Powertools service name and log level. */
  readonly serviceName: string;
  readonly logLevel: string;
  readonly metricsNamespace: string;
  /** Wildcard grants this function is expected to hold, each with its reason (cdk-nag IAM5). */
  readonly wildcards?: readonly WildcardRule[];
}

/** One Weft Lambda: ESM on arm64, X-Ray, Powertools environment, its own retained log group. */
export class WeftFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WeftFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, 'functions', props.handlerDir, 'handler.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      bundling: weftBundling({ models: props.models, withSharp: props.withSharp ?? false, withDocsAssets: props.withDocsAssets ?? false }),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        NODE_OPTIONS: '--enable-source-maps',
        WEFT_MODELS_DIR: posix.join(LAMBDA_TASK_ROOT, BUNDLED_MODELS_DIR),
        ...(props.withDocsAssets ? { WEFT_DOCS_ASSETS_DIR: posix.join(LAMBDA_TASK_ROOT, BUNDLED_DOCS_ASSETS_DIR) } : {}),
        ...props.environment,
      },
    });
    acknowledgeManagedPolicies(this.fn, [
      {
        finding: LAMBDA_BASIC_EXECUTION,
        reason: "AWSLambdaBasicExecutionRole only allows writing the function's own CloudWatch logs; it is the AWS-maintained minimum for Lambda.",
      },
    ]);
    acknowledgeWildcards(this.fn, [
      { finding: /^Resource::\*$/, reason: 'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions, so tracing is granted on "*".' },
      ...(props.wildcards ?? []),
    ]);
  }
}
