/**
 * The synthesized templates per environment: resources and their properties, IAM grants,
 * cdk-nag, cfn-lint, the image-ingest bundle's sharp platform and a scrubbed snapshot.
 * Each environment is synthesized once per file (bundling dominates the time).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentRoutes } from '../../functions/api/openapi/document.js';
import { API_ROUTES } from '../../functions/api/routeTable.js';
import { DERIVED_PREFIX, NOTIFICATION_SUFFIXES } from '../../functions/shared/layout.js';
import { tableDefinition } from '../../functions/shared/products/tableDefinition.js';
import { ENVIRONMENTS } from '../../lib/config/environments.js';
import { REPO_ROOT } from '../../lib/config/modelArtifacts.js';
import { TRITON_IMAGE_ACCOUNTS } from '../../lib/inference/tritonImage.js';
import { resourcesOfType, scrubTemplate, synthesize, type CfnTemplate, type Synthesized } from './synthesize.js';

let dev: Synthesized;
let prod: Synthesized;
let staging: Synthesized;
/** dev with both switches flipped: async inference and an unauthenticated API. */
let devAsyncOpen: Synthesized;

beforeAll(() => {
  dev = synthesize('dev');
  prod = synthesize('prod');
  staging = synthesize('staging');
  // Bundles are cached per process, so this variant costs only the synth itself.
  devAsyncOpen = synthesize('dev', { inferenceMode: 'async', apiAuthorization: 'none' });
}, 300_000);

afterAll(() => {
  for (const s of [dev, prod, staging, devAsyncOpen]) if (s) rmSync(s.outdir, { recursive: true, force: true });
});

const logicalIdOf = (s: Synthesized, fn: { node: { defaultChild?: unknown } }): string =>
  s.stack.getLogicalId(fn.node.defaultChild as CfnFunction);

const functionIds = (s: Synthesized) => ({
  image: logicalIdOf(s, s.stack.ingest.image.function.fn),
  text: logicalIdOf(s, s.stack.ingest.text.function.fn),
  api: logicalIdOf(s, s.stack.apiFunction.fn),
});

interface Statement { actions: string[]; resources: string[] }

/** Allow statements of every policy attached to the role of function `fnId`, resources as JSON text. */
const statementsOf = (json: CfnTemplate, fnId: string): Statement[] => {
  const roleArn = json.Resources[fnId]?.Properties?.Role as { 'Fn::GetAtt': [string, string] };
  const roleId = roleArn['Fn::GetAtt'][0];
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties?.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as { Effect: string; Action: string | string[]; Resource: unknown }[])
    .filter((st) => st.Effect === 'Allow')
    .map((st) => ({
      actions: [st.Action].flat(),
      resources: [st.Resource].flat().map((r) => (typeof r === 'string' ? r : JSON.stringify(r))),
    }));
};
/** Object ARNs (bucket ARN + key pattern) of the uploads bucket among `resources`. */
const uploadObjects = (resources: string[]): string[] => resources.filter((r) => r.includes('StorageUploads') && r.includes('Fn::Join'));
const actionsOf = (statements: Statement[]): string[] => statements.flatMap((s) => s.actions);
const resourcesFor = (statements: Statement[], action: string): string[] =>
  statements.filter((s) => s.actions.includes(action)).flatMap((s) => s.resources);

describe.each(['dev', 'staging', 'prod', 'dev (async, open API)'] as const)('%s', (variant) => {
  const s = (): Synthesized => ({ dev, staging, prod, 'dev (async, open API)': devAsyncOpen })[variant];
  const env = variant.split(' ')[0]!;
  // A getter: the synthesized variants exist only once beforeAll has run.
  const cfg = () => s().config;
  /** Async mode adds one queue (+ DLQ) and one function: inference-result. */
  const extra = () => (cfg().inference.mode === 'async' ? 1 : 0);
  /** The fixtures' image manifest declares a garment view: a third endpoint, the detector. */
  const detectors = () => (s().stack.endpoints.detector ? 1 : 0);

  it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
    expect(s().nagViolations).toEqual([]);
  });

  it('keeps uploads private, encrypted, TLS-only, access-logged, with derived views expiring', () => {
    const t = s().template;
    t.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'uploads/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: DERIVED_PREFIX, ExpirationInDays: cfg().uploads.derivedRetentionDays, Status: 'Enabled' })]),
      },
    });
    for (const [, policy] of resourcesOfType(s().json, 'AWS::S3::BucketPolicy')) {
      expect(JSON.stringify(policy.Properties?.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('routes exactly the layout suffixes (create and delete) to the image and text queues', () => {
    const [[, notifications]] = resourcesOfType(s().json, 'Custom::S3BucketNotifications') as unknown as [[string, { Properties: any }]];
    const configs = notifications.Properties.NotificationConfiguration.QueueConfigurations as {
      Events: string[];
      Filter: { Key: { FilterRules: { Name: string; Value: string }[] } };
      QueueArn: { 'Fn::GetAtt': [string, string] };
    }[];
    const queueId = (q: { queue: { node: { defaultChild?: unknown } } }) => s().stack.getLogicalId(q.queue.node.defaultChild as never);
    const routed = (id: string) =>
      configs
        .filter((c) => c.QueueArn['Fn::GetAtt'][0] === id)
        .map((c) => `${c.Events.join(',')} ${c.Filter.Key.FilterRules.map((r) => `${r.Name.toLowerCase()}=${r.Value}`).join(',')}`)
        .sort();
    const expected = (suffixes: readonly string[]) =>
      suffixes.flatMap((suffix) => [`s3:ObjectCreated:* suffix=${suffix}`, `s3:ObjectRemoved:* suffix=${suffix}`]).sort();
    expect(routed(queueId(s().stack.ingest.image.queue))).toEqual(expected(NOTIFICATION_SUFFIXES.image));
    expect(routed(queueId(s().stack.ingest.text.queue))).toEqual(expected(NOTIFICATION_SUFFIXES.text));
    expect(configs).toHaveLength((NOTIFICATION_SUFFIXES.image.length + NOTIFICATION_SUFFIXES.text.length) * 2);
  });

  it('gives each queue an encrypted DLQ and a visibility timeout covering six function timeouts', () => {
    const t = s().template;
    // Upload queues, async results (async mode) and the re-tag job's two queues, each with its DLQ.
    t.resourceCountIs('AWS::SQS::Queue', 4 + 2 * extra() + 4);
    for (const [, queue] of resourcesOfType(s().json, 'AWS::SQS::Queue')) expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
    for (const [name, sizing] of [['image', cfg().functions.imageIngest], ['text', cfg().functions.textIngest]] as const) {
      const queue = s().stack.getLogicalId(s().stack.ingest[name].queue.queue.node.defaultChild as never);
      const props = s().json.Resources[queue]?.Properties;
      expect(props?.VisibilityTimeout).toBe(6 * sizing.timeoutSeconds + sizing.maxBatchingWindowSeconds);
      expect(props?.RedrivePolicy).toMatchObject({ maxReceiveCount: cfg().queues.maxReceiveCount });
    }
  });

  it('runs the three handlers as ESM on arm64 with X-Ray, Powertools and the pipeline environment', () => {
    const ids = functionIds(s());
    const sizing = { image: cfg().functions.imageIngest, text: cfg().functions.textIngest, api: cfg().functions.api };
    for (const [name, id] of Object.entries(ids) as [keyof typeof sizing, string][]) {
      const props = s().json.Resources[id]?.Properties ?? {};
      expect(props).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        MemorySize: sizing[name].memoryMb,
        Timeout: sizing[name].timeoutSeconds,
        TracingConfig: { Mode: 'Active' },
      });
      expect(props.ReservedConcurrentExecutions).toBe(sizing[name].reservedConcurrency);
      expect(props.Environment.Variables).toMatchObject({
        WEFT_MODELS_DIR: '/var/task/models',
        POWERTOOLS_SERVICE_NAME: expect.stringMatching(/^weft-/),
        POWERTOOLS_LOG_LEVEL: cfg().logLevel,
        POWERTOOLS_METRICS_NAMESPACE: 'Weft',
        TABLE_NAME: { Ref: expect.stringMatching(/^ProductsTable/) },
      });
    }
    expect(s().json.Resources[ids.image]?.Properties?.MemorySize).toBeGreaterThanOrEqual(1536);
    for (const id of [ids.image, ids.text]) {
      expect(s().json.Resources[id]?.Properties?.Environment.Variables).toMatchObject({
        UPLOADS_BUCKET: { Ref: expect.stringMatching(/Uploads/) },
        IMAGE_ENDPOINT_NAME: `weft-image-${env}`,
        TEXT_ENDPOINT_NAME: `weft-text-${env}`,
        WEFT_MAX_INPUT_PIXELS: String(cfg().uploads.maxInputPixels),
        WEFT_MAX_OBJECT_BYTES: String(cfg().uploads.maxObjectBytes),
      });
    }
    // Only image-ingest calls the detector.
    const detectorEnv = (id: string) => s().json.Resources[id]?.Properties?.Environment.Variables.DETECTOR_ENDPOINT_NAME;
    expect(detectorEnv(ids.image)).toBe(detectors() ? `weft-detector-${env}` : undefined);
    expect(detectorEnv(ids.text)).toBeUndefined();
    for (const [, group] of resourcesOfType(s().json, 'AWS::Logs::LogGroup')) {
      expect(group.Properties?.RetentionInDays).toBe(cfg().logRetentionDays);
    }
  });

  it('consumes the queues with partial batch failures', () => {
    const t = s().template;
    // The re-tag queues feed the same two ingest functions (test/cdk/retag.test.ts checks them).
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 2 + extra() + 2);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: cfg().functions.imageIngest.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: cfg().functions.imageIngest.maxBatchingWindowSeconds,
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: cfg().functions.textIngest.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('serves each model on the Triton container (image and text on GPU, the detector on CPU), a long startup health check and autoscaling', () => {
    const t = s().template;
    t.resourceCountIs('AWS::SageMaker::Model', 2 + detectors());
    t.resourceCountIs('AWS::SageMaker::Endpoint', 2 + detectors());
    for (const modality of ['image', 'text', ...(detectors() ? (['detector'] as const) : [])] as const) {
      t.hasResourceProperties('AWS::SageMaker::Model', {
        EnableNetworkIsolation: true,
        PrimaryContainer: {
          Image: { 'Fn::Join': ['', Match.arrayWith([`${TRITON_IMAGE_ACCOUNTS['us-east-1']}.dkr.ecr.us-east-1.`, `/sagemaker-tritonserver:${cfg().inference.tritonImageTag}`])] },
          ModelDataUrl: { 'Fn::Sub': Match.stringLikeRegexp('^s3://cdk-.*\\.gz$') },
          Environment: { SAGEMAKER_TRITON_DEFAULT_MODEL_NAME: `weft-${modality}` },
        },
      });
      const sizing = cfg().inference[modality];
      t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
        ProductionVariants: [
          Match.objectLike({
            VariantName: 'AllTraffic',
            InstanceType: sizing.instanceType,
            InitialInstanceCount: sizing.initialInstanceCount,
            ContainerStartupHealthCheckTimeoutInSeconds: cfg().inference.containerStartupHealthCheckTimeoutSeconds,
          }),
        ],
      });
      t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: `weft-${modality}-${env}` });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ResourceId: `endpoint/weft-${modality}-${env}/variant/AllTraffic`,
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        MinCapacity: sizing.minInstances,
        MaxCapacity: sizing.maxInstances,
      });
    }
    expect(cfg().inference.image.instanceType).toMatch(/^ml\.g/);
    expect(cfg().inference.detector.instanceType).toMatch(/^ml\.c5d\./);
    // The detector is real-time in every mode: always at least one instance, never an async config.
    if (detectors()) {
      const detector = s().stack.endpoints.detector!;
      expect(detector.mode).toBe('realtime');
      expect(cfg().inference.detector.minInstances).toBeGreaterThanOrEqual(1);
      const configs = resourcesOfType(s().json, 'AWS::SageMaker::EndpointConfig').map(([, c]) => c.Properties ?? {});
      const detectorConfig = configs.find((c) => c.ProductionVariants[0].InstanceType === cfg().inference.detector.instanceType)!;
      expect(detectorConfig.AsyncInferenceConfig).toBeUndefined();
    }
  });

  it('stores products on demand with PITR and the pipeline’s keys and index', () => {
    const def = tableDefinition('x');
    s().template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        KeySchema: def.KeySchema,
        AttributeDefinitions: Match.arrayWith(def.AttributeDefinitions!.map((a) => Match.objectLike(a))),
        GlobalSecondaryIndexes: def.GlobalSecondaryIndexes!.map((g) => Match.objectLike({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection })),
      }),
      DeletionPolicy: env === 'prod' ? 'Retain' : 'Delete',
    });
  });

  it('serves exactly the handler’s routes as its OpenAPI document declares them, behind IAM unless public or configured otherwise, throttled and access-logged', () => {
    const t = s().template;
    // The machine clients' API (the console's, JWT-authorized, is checked in console.test.ts).
    const apiId = s().stack.getLogicalId(s().stack.api.api.node.defaultChild as never);
    const routes = resourcesOfType(s().json, 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties as { ApiId: { Ref: string }; RouteKey: string; AuthorizationType: string })
      .filter((r) => r.ApiId.Ref === apiId);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    // Every operation of the document is a route with the document's authorization, and every
    // route but the ANY catch-alls (other methods → the handler's 405) is an operation.
    const operations = documentRoutes(s().stack.apiDocument);
    expect(routes.filter((r) => !r.RouteKey.startsWith('ANY ')).map((r) => r.RouteKey).sort()).toEqual(operations.map((o) => `${o.method} ${o.path}`).sort());
    const authOf = new Map(routes.map((r) => [r.RouteKey, r.AuthorizationType]));
    for (const operation of operations) {
      expect(authOf.get(`${operation.method} ${operation.path}`), `${operation.method} ${operation.path}`).toBe(cfg().api.authorization === 'iam' && !operation.public ? 'AWS_IAM' : 'NONE');
    }
    for (const route of routes.filter((r) => r.RouteKey.startsWith('ANY '))) expect(route.AuthorizationType).toBe(cfg().api.authorization === 'iam' ? 'AWS_IAM' : 'NONE');
    // One invoke permission per HTTP API (machine clients', console's), however many routes (the function policy is capped at 20 KB).
    expect(resourcesOfType(s().json, 'AWS::Lambda::Permission').filter(([, p]) => p.Properties?.Principal === 'apigateway.amazonaws.com')).toHaveLength(2);
    if (cfg().api.authorization === 'iam') expect([...new Set(operations.filter((o) => o.public).map((o) => o.path))].sort()).toEqual(['/docs', '/docs/{asset}', '/openapi.json']);
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: cfg().api.throttle.rateLimit, ThrottlingBurstLimit: cfg().api.throttle.burstLimit },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('alarms on dead letters, function errors and throttles, endpoint 5xx and latency into one topic', () => {
    const alarms = resourcesOfType(s().json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties ?? {});
    const withAction = alarms.filter((a) => (a.AlarmActions as unknown[] | undefined)?.length);
    const metrics = withAction.map((a) => `${a.Namespace}/${a.MetricName}`);
    // Dead letters of the upload queues, the async results queue and the two re-tag queues.
    expect(metrics.filter((m) => m === 'AWS/SQS/ApproximateNumberOfMessagesVisible')).toHaveLength(2 + extra() + 2);
    expect(metrics.filter((m) => m === 'AWS/Lambda/Errors')).toHaveLength(3 + extra());
    expect(metrics.filter((m) => m === 'AWS/Lambda/Throttles')).toHaveLength(3 + extra());
    expect(metrics.filter((m) => m === 'AWS/SageMaker/Invocation5XXErrors')).toHaveLength(2 + detectors());
    const latency = withAction.filter((a) => a.MetricName === 'ModelLatency');
    expect(latency).toHaveLength(2 + detectors());
    for (const a of latency) expect(a.Threshold).toBe(cfg().alarms.modelLatencyP90Ms * 1000);
    const alarmTopic = s().stack.getLogicalId(s().stack.operations.alarmTopic.node.defaultChild as never);
    const toTopic = withAction.filter((a) => (a.AlarmActions as { Ref?: string }[]).some((r) => r.Ref === alarmTopic));
    // Every alarm notifies the operations topic, except autoscaling's own (their action is a scaling policy).
    expect(toTopic.length).toBe(withAction.filter((a) => a.MetricName !== 'HasBacklogWithoutCapacity').length);
    expect(toTopic.length).toBeGreaterThanOrEqual(12);
    s().template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('grants each function only what it needs', () => {
    const ids = functionIds(s());
    const invoke = cfg().inference.mode === 'async' ? 'sagemaker:InvokeEndpointAsync' : 'sagemaker:InvokeEndpoint';
    const image = statementsOf(s().json, ids.image);
    const text = statementsOf(s().json, ids.text);
    const api = statementsOf(s().json, ids.api);

    // The detector is invoked in real time in both modes, by image-ingest only.
    const detector = detectors() ? [expect.stringMatching(new RegExp(`endpoint/weft-detector-${env}"?]`))] : [];
    if (invoke === 'sagemaker:InvokeEndpoint') {
      expect(resourcesFor(image, invoke).sort()).toEqual([...detector, expect.stringMatching(new RegExp(`endpoint/weft-image-${env}"?]`))]);
    } else {
      expect(resourcesFor(image, invoke)).toEqual([expect.stringMatching(new RegExp(`endpoint/weft-image-${env}"?]`))]);
      expect(resourcesFor(image, 'sagemaker:InvokeEndpoint')).toEqual(detector);
    }
    expect(resourcesFor(text, invoke)).toEqual([expect.stringMatching(new RegExp(`endpoint/weft-text-${env}"?]`))]);
    expect(resourcesFor(text, 'sagemaker:InvokeEndpoint').filter((r) => r.includes('detector'))).toEqual([]);
    expect(uploadObjects(resourcesFor(image, 's3:GetObject*'))).toEqual([expect.stringMatching(/"\/\*\/images\/\*"/)]);
    expect(uploadObjects(resourcesFor(text, 's3:GetObject*'))).toEqual([expect.stringMatching(/"\/\*\/product\.json"/)]);
    expect(uploadObjects(resourcesFor(image, 's3:PutObject'))).toEqual([expect.stringMatching(/"\/derived\/\*"/)]);
    expect(uploadObjects(resourcesFor(text, 's3:PutObject'))).toEqual([]);
    expect(uploadObjects(resourcesFor(image, 's3:DeleteObject*'))).toEqual([expect.stringMatching(/"\/derived\/\*"/)]);
    expect(uploadObjects(resourcesFor(text, 's3:DeleteObject*'))).toEqual([]);

    for (const fn of [image, text, api]) {
      expect(resourcesFor(fn, 'dynamodb:UpdateItem').every((r) => r.includes('ProductsTable'))).toBe(true);
      expect(actionsOf(fn).some((a) => a === '*' || a.endsWith(':*'))).toBe(false);
    }
    expect(actionsOf(api).filter((a) => a.startsWith('sagemaker:'))).toEqual([]);
    // Only to presign the console's picture URLs.
    expect(actionsOf(api).filter((a) => a.startsWith('s3:'))).toEqual(['s3:GetObject']);
    expect(uploadObjects(resourcesFor(api, 's3:GetObject'))).toEqual([expect.stringMatching(/"\/\*"/)]);
    if (cfg().inference.mode === 'async') {
      // The ingest functions only write requests (and sidecars) under their endpoint's prefix; inference-result reads results.
      for (const [fn, model] of [[image, 'image'], [text, 'text']] as const) {
        const io = (action: string) => resourcesFor(fn, action).filter((r) => r.includes('AsyncInferencePayloads') && r.includes('Fn::Join'));
        expect(io('s3:PutObject')).toEqual([expect.stringMatching(new RegExp(`"/requests/weft-${model}-${env}/\\*"`))]);
        expect(io('s3:GetObject*')).toEqual([]);
      }
    }
  });
});

describe('inference modes', () => {
  it('real-time endpoints track invocations per instance and roll back new models on 5xx', () => {
    const t = prod.template;
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: ENVIRONMENTS.prod.inference.image.invocationsPerInstanceTarget,
      }),
    });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', {
      DeploymentConfig: { AutoRollbackConfiguration: { Alarms: [{ AlarmName: Match.anyValue() }] }, BlueGreenUpdatePolicy: Match.anyValue() },
    });
    for (const [, c] of resourcesOfType(prod.json, 'AWS::SageMaker::EndpointConfig')) expect(c.Properties?.AsyncInferenceConfig).toBeUndefined();
  });

  it('async endpoints queue in SageMaker, notify SNS, and scale to zero and back', () => {
    const t = devAsyncOpen.template;
    const sizing = devAsyncOpen.config.inference.image;
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      AsyncInferenceConfig: {
        OutputConfig: {
          S3OutputPath: Match.anyValue(),
          S3FailurePath: Match.anyValue(),
          NotificationConfig: { SuccessTopic: { Ref: Match.stringLikeRegexp('Success') }, ErrorTopic: { Ref: Match.stringLikeRegexp('Error') } },
        },
        ClientConfig: { MaxConcurrentInvocationsPerInstance: sizing.maxConcurrentInvocationsPerInstance },
      },
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        CustomizedMetricSpecification: Match.objectLike({ MetricName: 'ApproximateBacklogSizePerInstance' }),
      }),
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { PolicyType: 'StepScaling' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'HasBacklogWithoutCapacity' });
    t.resourceCountIs('AWS::SNS::Topic', 3);
    for (const [, topic] of resourcesOfType(devAsyncOpen.json, 'AWS::SNS::Topic')) expect(topic.Properties?.KmsMasterKeyId).toBeDefined();
    for (const [, c] of resourcesOfType(devAsyncOpen.json, 'AWS::SageMaker::Endpoint')) {
      // The detector stays a real-time endpoint (blue/green with rollback) in async mode.
      if (c.Properties?.EndpointName === 'weft-detector-dev') expect(c.Properties?.DeploymentConfig).toBeDefined();
      else expect(c.Properties?.DeploymentConfig).toBeUndefined();
    }
  });

  it('real-time stacks have no inference-result function', () => {
    for (const s of [dev, staging, prod]) {
      expect(s.stack.asyncResults).toBeUndefined();
      expect(JSON.stringify(s.json)).not.toContain('InvokeEndpointAsync');
    }
  });

  it('async results flow from both SageMaker topics through a queue with a DLQ into inference-result', () => {
    const s = devAsyncOpen;
    const results = s.stack.asyncResults!;
    const queueId = s.stack.getLogicalId(results.queue.queue.node.defaultChild as never);
    const subscriptions = resourcesOfType(s.json, 'AWS::SNS::Subscription').map(([, sub]) => sub.Properties ?? {});
    const toQueue = subscriptions.filter((sub) => sub.Protocol === 'sqs' && JSON.stringify(sub.Endpoint).includes(queueId));
    expect(toQueue.map((sub) => JSON.stringify(sub.TopicArn)).sort()).toEqual([expect.stringMatching(/Error/), expect.stringMatching(/Success/)]);
    for (const sub of toQueue) expect(sub.RawMessageDelivery).toBe(true);
    expect(s.json.Resources[queueId]?.Properties?.RedrivePolicy).toMatchObject({ maxReceiveCount: s.config.queues.maxReceiveCount });

    const fnId = s.stack.getLogicalId(results.function.fn.node.defaultChild as CfnFunction);
    const sizing = s.config.functions.inferenceResult;
    expect(s.json.Resources[fnId]?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: sizing.memoryMb,
      Timeout: sizing.timeoutSeconds,
      Environment: { Variables: expect.objectContaining({ WEFT_INFERENCE_MODE: 'async', WEFT_ASYNC_INFERENCE_BUCKET: expect.anything(), TABLE_NAME: expect.anything() }) },
    });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: sizing.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });

    // Reads sidecars and results of each endpoint, may resubmit to each, writes no objects.
    const statements = statementsOf(s.json, fnId);
    const reads = resourcesFor(statements, 's3:GetObject*').filter((r) => r.includes('AsyncInferencePayloads') && r.includes('Fn::Join'));
    expect(reads.map((r) => /"\/((?:requests|results)\/weft-[a-z]+-dev\/\*)"/.exec(r)?.[1]).sort()).toEqual([
      'requests/weft-image-dev/*',
      'requests/weft-text-dev/*',
      'results/weft-image-dev/*',
      'results/weft-text-dev/*',
    ]);
    expect(resourcesFor(statements, 's3:PutObject')).toEqual([]);
    expect(resourcesFor(statements, 'sagemaker:InvokeEndpointAsync')).toEqual([expect.stringMatching(/endpoint\/weft-image-dev/), expect.stringMatching(/endpoint\/weft-text-dev/)]);
    expect(resourcesFor(statements, 'sagemaker:InvokeEndpoint')).toEqual([]);
    expect(resourcesFor(statements, 'dynamodb:UpdateItem').every((r) => r.includes('ProductsTable'))).toBe(true);

    const alarms = resourcesOfType(s.json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties ?? {});
    const dlq = s.stack.getLogicalId(results.queue.deadLetterQueue.node.defaultChild as never);
    expect(alarms.some((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes(dlq))).toBe(true);
  });
});

describe('Lambda bundles', () => {
  const bundleOf = (s: Synthesized, fnId: string): string => {
    const key = s.json.Resources[fnId]?.Properties?.Code.S3Key as string;
    const dir = join(s.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    expect(existsSync(dir), dir).toBe(true);
    return dir;
  };
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  /** ELF e_machine (offset 18): 0xB7 aarch64, 0x3E x86-64. */
  const elfMachine = (file: string): number => {
    const fd = openSync(file, 'r');
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    closeSync(fd);
    expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    return header.readUInt16LE(18);
  };

  it('image-ingest carries sharp for linux-arm64 (glibc) and no other platform', () => {
    const dir = bundleOf(dev, functionIds(dev).image);
    const files = walk(dir).map((f) => f.slice(dir.length + 1));
    expect(files).toContain('index.mjs');
    const natives = files.filter((f) => f.endsWith('.node') || /\.so(\.\d+)*$/.test(f));
    expect(natives.some((f) => /@img\/sharp-linux-arm64\/lib\/sharp-linux-arm64.*\.node$/.test(f))).toBe(true);
    expect(natives.some((f) => f.includes('@img/sharp-libvips-linux-arm64/'))).toBe(true);
    expect(files.filter((f) => /x64|x86_64|darwin|win32|musl|wasm/.test(f))).toEqual([]);
    for (const file of natives) expect(elfMachine(join(dir, file)), file).toBe(0xb7);
  });

  it('ships the manifests, tokenizer, ensemble.json and the taxonomy mapping but no ONNX graph', () => {
    const dir = bundleOf(dev, functionIds(dev).text);
    const files = walk(dir).map((f) => f.slice(dir.length + 1));
    expect(files).toEqual(expect.arrayContaining(['models/image/manifest.json', 'models/text/manifest.json', 'models/ensemble.json', 'models/taxonomy.json']));
    if (dev.stack.endpoints.detector) expect(files).toContain('models/detector/manifest.json');
    // only the models folder contract's folders: a fixture kept beside them stays out
    expect(files.filter((f) => /^models\/[^/]+\//.test(f) && !/^models\/(image|text|detector)\//.test(f))).toEqual([]);
    expect(files.some((f) => f.startsWith('models/text/tokenizer/'))).toBe(true);
    expect(files.filter((f) => f.endsWith('.onnx') || f.includes('/triton/'))).toEqual([]);
    expect(files.some((f) => f.includes('node_modules/'))).toBe(false);
  });
});

describe('model archives', () => {
  it('packs the detector for the CPU instance it runs on, the image model for the GPU', () => {
    const archiveOf = (name: string): string => {
      const [, model] = resourcesOfType(dev.json, 'AWS::SageMaker::Model').find(([, m]) => m.Properties?.PrimaryContainer.Environment.SAGEMAKER_TRITON_DEFAULT_MODEL_NAME === name)!;
      const url = JSON.stringify(model.Properties?.PrimaryContainer.ModelDataUrl);
      const hash = /([0-9a-f]{64})\.gz/.exec(url)![1]!;
      const file = join(dev.outdir, `asset.${hash}.tar.gz`);
      return execFileSync('tar', ['-xzOf', file, `./${name}/config.pbtxt`], { encoding: 'utf8' });
    };
    expect(archiveOf('weft-image')).toMatch(/kind: KIND_GPU/);
    if (dev.stack.endpoints.detector) {
      const detector = archiveOf('weft-detector');
      expect(detector).toMatch(/kind: KIND_CPU/);
      expect(detector).not.toMatch(/KIND_GPU/);
    }
  });
});

describe('bundled functions run', () => {
  /** Runs `script` as an ES module inside the bundle folder, the way Lambda loads index.mjs. */
  const runInBundle = (dir: string, script: string): string => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', TABLE_NAME: 'unused', WEFT_MODELS_DIR: join(dir, 'models'), POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    expect(result.status, result.stderr).toBe(0);
    return result.stdout.trim().split('\n').at(-1) ?? '';
  };
  const bundleDir = (s: Synthesized, fnId: string): string =>
    join(s.outdir, `asset.${(s.json.Resources[fnId]?.Properties?.Code.S3Key as string).replace(/\.zip$/, '')}`);

  it('the api bundle answers GET /health from the manifests it carries', () => {
    const out = runInBundle(
      bundleDir(dev, functionIds(dev).api),
      `const { handler } = await import('./index.mjs');
       const event = { version: '2.0', routeKey: 'GET /health', rawPath: '/health', rawQueryString: '', headers: {},
         requestContext: { http: { method: 'GET', path: '/health' }, requestId: 'r' }, isBase64Encoded: false };
       const res = await handler(event, { awsRequestId: 'r', functionName: 'api', getRemainingTimeInMillis: () => 3000 });
       console.log(JSON.stringify(res));`,
    );
    const response = JSON.parse(out) as { statusCode: number; body: string };
    expect(response.statusCode).toBe(200);
    // The health answer names the model versions it read from /var/task/models (the bundle).
    expect(response.body).toMatch(/weft-image@/);
    expect(response.body).toMatch(/weft-text@/);
  });

  it('the api bundle serves the OpenAPI document the HTTP API was declared from, and the /docs files it carries', () => {
    const dir = bundleDir(dev, functionIds(dev).api);
    const apiFn = dev.json.Resources[functionIds(dev).api]!.Properties!.Environment.Variables as Record<string, string>;
    const out = runInBundle(
      dir,
      `const { handler } = await import('./index.mjs');
       process.env.WEFT_API_AUTHORIZATION = ${JSON.stringify(apiFn.WEFT_API_AUTHORIZATION)};
       // Issuer and audience are CloudFormation values; the document holds the same tokens (console.test.ts checks they are the authorizer's).
       process.env.WEFT_API_JWT_ISSUER = ${JSON.stringify(dev.stack.apiJwt.issuer)};
       process.env.WEFT_API_JWT_AUDIENCE = ${JSON.stringify(dev.stack.apiJwt.audience.join(','))};
       process.env.WEFT_DOCS_ASSETS_DIR = ${JSON.stringify(join(dir, 'docs-assets'))};
       const call = async (path) => handler({ version: '2.0', routeKey: 'GET ' + path, rawPath: path, rawQueryString: '', headers: {},
         requestContext: { http: { method: 'GET', path }, requestId: 'r' }, isBase64Encoded: false },
         { awsRequestId: 'r', functionName: 'api', getRemainingTimeInMillis: () => 3000 });
       const doc = await call('/openapi.json');
       const sizes = {};
       for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'init.js']) {
         const res = await call('/docs/' + asset);
         sizes[asset] = res.statusCode === 200 ? res.body.length : -res.statusCode;
       }
       console.log(JSON.stringify({ status: doc.statusCode, document: JSON.parse(doc.body), sizes }));`,
    );
    const { status, document, sizes } = JSON.parse(out) as { status: number; document: unknown; sizes: Record<string, number> };
    expect(status).toBe(200);
    expect(document).toEqual(JSON.parse(JSON.stringify(dev.stack.apiDocument)));
    expect(apiFn.WEFT_DOCS_ASSETS_DIR).toBe('/var/task/docs-assets');
    for (const [asset, size] of Object.entries(sizes)) expect(size, asset).toBeGreaterThan(100);
  });

  it('the text-ingest bundle loads as an ES module and exports handler', () => {
    expect(runInBundle(bundleDir(dev, functionIds(dev).text), `const m = await import('./index.mjs'); console.log(typeof m.handler);`)).toBe('function');
  });

  it('the inference-result bundle (async mode) loads as an ES module and exports handler', () => {
    const fnId = devAsyncOpen.stack.getLogicalId(devAsyncOpen.stack.asyncResults!.function.fn.node.defaultChild as CfnFunction);
    expect(runInBundle(bundleDir(devAsyncOpen, fnId), `const m = await import('./index.mjs'); console.log(typeof m.handler);`)).toBe('function');
  });
});

describe('template checks', () => {
  it('matches the scrubbed snapshot (dev)', async () => {
    await expect(JSON.stringify(scrubTemplate(dev.json), null, 2)).toMatchFileSnapshot('__snapshots__/Weft-dev.template.json');
  });

  it('passes cfn-lint with no errors', () => {
    const cfnLint = join(REPO_ROOT, 'models/.venv/bin/cfn-lint');
    if (!existsSync(cfnLint)) execFileSync('bash', [join(REPO_ROOT, 'models/scripts/venv.sh')], { stdio: 'inherit' });
    const result = spawnSync(cfnLint, ['--format', 'json', '--', dev.templateFile, staging.templateFile, prod.templateFile, devAsyncOpen.templateFile], { encoding: 'utf8' });
    // Exit codes are a bitmask: 2 errors, 4 warnings, 8 informational; 1 means cfn-lint itself failed.
    expect(result.status! & 1, result.stderr).toBe(0);
    const findings = JSON.parse(result.stdout || '[]') as { Level: string; Rule: { Id: string }; Message: string }[];
    expect(findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id} ${f.Message}`)).toEqual([]);
    // W3005 is CDK's explicit DependsOn next to a GetAtt (the role's policy must exist first).
    expect(findings.filter((f) => f.Level === 'Warning' && f.Rule.Id !== 'W3005').map((f) => `${f.Rule.Id} ${f.Message}`)).toEqual([]);
  }, 120_000);
});
