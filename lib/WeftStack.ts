import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { openApiDocument, type JwtAuthorization, type OpenApiDocument } from '../functions/api/openapi/document.js';
import { modelVersion } from '../functions/shared/ingest/config.js';
import { taskCatalog } from '../functions/shared/products/ensemble.js';
import { ProductsApi } from './api/ProductsApi.js';
import { ConsoleSite } from './console/ConsoleSite.js';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { EnvironmentConfig } from './config/environments.js';
import type { ModelArtifacts } from './config/modelArtifacts.js';
import { WeftFunction } from './functions/WeftFunction.js';
import { IngestPipeline } from './ingest/IngestPipeline.js';
import { AsyncInferenceIo } from './inference/AsyncInferenceIo.js';
import { AsyncInferenceResults } from './inference/AsyncInferenceResults.js';
import { TritonEndpoint } from './inference/TritonEndpoint.js';
import { acknowledge, acknowledgeManagedPolicies, acknowledgeWildcards, LAMBDA_BASIC_EXECUTION } from './nag/acknowledge.js';
import { Operations } from './operations/Operations.js';
import { RetagJob } from './retag/RetagJob.js';
import { ProductsTable } from './storage/ProductsTable.js';
import { UploadsStorage } from './storage/UploadsStorage.js';

export interface WeftStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly models: ModelArtifacts;
}

export const METRICS_NAMESPACE = 'Weft';

/** Everything `npm start` emulates locally, for one environment. */
export class WeftStack extends Stack {
  readonly storage: UploadsStorage;
  readonly table: ProductsTable;
  /** `detector` only when the image manifest declares one (its garment views need the box). */
  readonly endpoints: { readonly image: TritonEndpoint; readonly text: TritonEndpoint; readonly detector?: TritonEndpoint };
  readonly ingest: IngestPipeline;
  readonly apiFunction: WeftFunction;
  readonly api: ProductsApi;
  /** The OpenAPI document the api function serves; the HTTP API's routes are declared from it. */
  readonly apiDocument: OpenApiDocument;
  /** The console API's JWT authorizer (the user pool's issuer, the console's client), as the served document states it. */
  readonly apiJwt: JwtAuthorization;
  readonly operations: Operations;
  /** The merchandiser console: CloudFront + private bucket + Cognito. */
  readonly console: ConsoleSite;
  /** The same api function and routes for the console's browser calls, authorized by Cognito JWTs (machine clients keep `api`). */
  readonly consoleApi: ProductsApi;
  /** Catalog re-tagging: the Step Functions job, its re-tag queues into the ingest functions, the results bucket. */
  readonly retag: RetagJob;
  readonly asyncIo?: AsyncInferenceIo;
  /** Async mode: notification queue + inference-result function. */
  readonly asyncResults?: AsyncInferenceResults;

  constructor(scope: Construct, id: string, props: WeftStackProps) {
    super(scope, id, props);
    const { config, models } = props;
    const dataRemoval = config.removalPolicy;

    this.storage = new UploadsStorage(this, 'Storage', { removalPolicy: dataRemoval, derivedRetentionDays: config.uploads.derivedRetentionDays });
    this.table = new ProductsTable(this, 'Products', { removalPolicy: dataRemoval });

    if (config.inference.mode === 'async') {
      this.asyncIo = new AsyncInferenceIo(this, 'AsyncInference', {
        removalPolicy: dataRemoval,
        retentionDays: config.inference.asyncResultRetentionDays,
        accessLogs: this.storage.accessLogs,
      });
    }
    const endpoint = (modality: 'image' | 'text' | 'detector', id: string): TritonEndpoint => {
      const model = modality === 'detector' ? models.detector! : models.models[modality];
      // The detector answers image-ingest before the image model's request is built: real-time in every mode.
      const mode = modality === 'detector' ? 'realtime' : config.inference.mode;
      return new TritonEndpoint(this, id, {
        model,
        // One account may host several environments; the name says which.
        endpointName: `${model.manifest.name}-${config.name}`,
        sizing: config.inference[modality],
        mode,
        tritonImageTag: config.inference.tritonImageTag,
        containerStartupHealthCheckTimeout: Duration.seconds(config.inference.containerStartupHealthCheckTimeoutSeconds),
        modelDataDownloadTimeout: Duration.seconds(config.inference.modelDataDownloadTimeoutSeconds),
        asyncInference: mode === 'async' ? this.asyncIo : undefined,
      });
    };
    this.endpoints = {
      image: endpoint('image', 'ImageModel'),
      text: endpoint('text', 'TextModel'),
      ...(models.detector ? { detector: endpoint('detector', 'DetectorModel') } : {}),
    };
    const allEndpoints = [this.endpoints.image, this.endpoints.text, ...(this.endpoints.detector ? [this.endpoints.detector] : [])];

    const sharedEnvironment: Record<string, string> = {
      UPLOADS_BUCKET: this.storage.bucket.bucketName,
      TABLE_NAME: this.table.table.tableName,
      IMAGE_ENDPOINT_NAME: this.endpoints.image.endpointName,
      TEXT_ENDPOINT_NAME: this.endpoints.text.endpointName,
      WEFT_MAX_INPUT_PIXELS: String(config.uploads.maxInputPixels),
      WEFT_MAX_OBJECT_BYTES: String(config.uploads.maxObjectBytes),
      WEFT_INFERENCE_MODE: config.inference.mode,
      ...(this.asyncIo ? { WEFT_ASYNC_INFERENCE_BUCKET: this.asyncIo.bucket.bucketName } : {}),
    };

    this.ingest = new IngestPipeline(this, 'Ingest', {
      config,
      models,
      bucket: this.storage.bucket,
      table: this.table.table,
      imageEndpoint: this.endpoints.image,
      textEndpoint: this.endpoints.text,
      ...(this.endpoints.detector ? { detectorEndpoint: this.endpoints.detector } : {}),
      sharedEnvironment,
      metricsNamespace: METRICS_NAMESPACE,
    });

    if (this.asyncIo) {
      this.asyncResults = new AsyncInferenceResults(this, 'AsyncResults', {
        config,
        models,
        io: this.asyncIo,
        table: this.table.table,
        endpoints: [this.endpoints.image, this.endpoints.text],
        sharedEnvironment,
        metricsNamespace: METRICS_NAMESPACE,
      });
    }

    // The console (created below, after the machine clients' API) authorizes its API with JWTs of
    // its user pool; the api function's document states that scheme too, so it learns the issuer
    // and audience, resolved when the template is written.
    this.apiJwt = {
      issuer: Lazy.string({ produce: () => this.console.issuer }),
      audience: [Lazy.string({ produce: () => this.console.client.userPoolClientId })],
    };

    this.apiFunction = new WeftFunction(this, 'ApiFunction', {
      handlerDir: 'api',
      description: 'Weft: product and attribute lookups, manual corrections',
      memoryMb: config.functions.api.memoryMb,
      timeout: Duration.seconds(config.functions.api.timeoutSeconds),
      reservedConcurrency: config.functions.api.reservedConcurrency,
      models,
      withDocsAssets: true,
      // The document the function serves states the same authorization the routes below use, and
      // the console API's JWT authorizer. UPLOADS_BUCKET: the console's pictures are presigned GET URLs of its objects.
      environment: {
        TABLE_NAME: this.table.table.tableName,
        UPLOADS_BUCKET: this.storage.bucket.bucketName,
        WEFT_API_AUTHORIZATION: config.api.authorization,
        WEFT_API_JWT_ISSUER: this.apiJwt.issuer,
        WEFT_API_JWT_AUDIENCE: this.apiJwt.audience.join(','),
      },
      logRetentionDays: config.logRetentionDays,
      removalPolicy: dataRemoval === RemovalPolicy.RETAIN ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      serviceName: 'weft-api',
      logLevel: config.logLevel,
      metricsNamespace: METRICS_NAMESPACE,
    });
    // Reads products; writes only manual corrections (PUT/DELETE …/attributes/{task}) and the re-merge they trigger.
    this.table.table.grantReadWriteData(this.apiFunction.fn);
    // A presigned URL works only if its signer may GetObject: uploads and derived views, nothing else.
    this.apiFunction.fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [this.storage.bucket.arnForObjects('*')] }));
    acknowledgeWildcards(this.apiFunction.fn, [
      { finding: /^Resource::<\w+\.Arn>\/index\/\*$/, reason: 'Lookups by attribute query the byAttribute index (table ARN + /index/*).' },
      { finding: /^Resource::<StorageUploads\w+\.Arn>\/\*$/, reason: 'GetObject only, to presign the console’s picture URLs of any product’s uploads and derived views.' },
    ]);

    const manifests = [models.models.image.manifest, models.models.text.manifest];
    this.apiDocument = openApiDocument({
      catalog: taskCatalog(manifests),
      authorization: config.api.authorization,
      jwt: this.apiJwt,
      modelVersions: { image: modelVersion(models.models.image.manifest), text: modelVersion(models.models.text.manifest) },
    });
    this.api = new ProductsApi(this, 'Api', {
      handler: this.apiFunction.fn,
      document: this.apiDocument,
      authorization: config.api.authorization,
      throttle: config.api.throttle,
      logRetentionDays: config.logRetentionDays,
      removalPolicy: dataRemoval === RemovalPolicy.RETAIN ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.console = new ConsoleSite(this, 'Console', {
      environmentName: config.name,
      removalPolicy: dataRemoval,
      accessLogs: this.storage.accessLogs,
      uploadsBucket: this.storage.bucket,
      logRetentionDays: config.logRetentionDays,
    });
    this.consoleApi = new ProductsApi(this, 'ConsoleApi', {
      handler: this.apiFunction.fn,
      // Routes and which of them are public (the document and its pages) as on the IAM API.
      document: openApiDocument({ catalog: taskCatalog(manifests), authorization: 'iam' }),
      authorization: config.api.authorization,
      jwt: { issuer: this.console.issuer, audience: [this.console.client.userPoolClientId] },
      description: 'Weft console: the same routes for people signed in with Cognito',
      throttle: config.api.throttle,
      logRetentionDays: config.logRetentionDays,
      removalPolicy: dataRemoval === RemovalPolicy.RETAIN ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.console.routeApi(`${this.consoleApi.api.apiId}.execute-api.${this.region}.${this.urlSuffix}`);

    this.operations = new Operations(this, 'Operations', {
      config,
      branches: [this.ingest.image, this.ingest.text],
      endpoints: allEndpoints,
      api: { function: this.apiFunction, http: this.api },
      asyncErrorTopics: this.asyncIo ? [this.asyncIo.errorTopic] : [],
      ...(this.asyncResults ? { asyncResults: { queue: this.asyncResults.queue, function: this.asyncResults.function } } : {}),
    });

    this.retag = new RetagJob(this, 'Retag', {
      config,
      models,
      uploads: this.storage.bucket,
      accessLogs: this.storage.accessLogs,
      table: this.table.table,
      ingest: { image: this.ingest.image, text: this.ingest.text },
      metricsNamespace: METRICS_NAMESPACE,
      alarmTopic: this.operations.alarmTopic,
    });

    this.suppressCdkInternals();

    new CfnOutput(this, 'UploadsBucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'ConsoleUrl', { value: `${this.console.url}/` });
    new CfnOutput(this, 'ConsoleUserPoolId', { value: this.console.userPool.userPoolId });
    new CfnOutput(this, 'ConsoleApiUrl', { value: this.consoleApi.url });
    new CfnOutput(this, 'ImageEndpointName', { value: this.endpoints.image.endpointName });
    new CfnOutput(this, 'TextEndpointName', { value: this.endpoints.text.endpointName });
    if (this.endpoints.detector) new CfnOutput(this, 'DetectorEndpointName', { value: this.endpoints.detector.endpointName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.operations.alarmTopic.topicArn });
    // weft retag --env <env> starts executions of this state machine (found by this output name).
    new CfnOutput(this, 'RetagStateMachineArn', { value: this.retag.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RetagResultsBucketName', { value: this.retag.resultsBucket.bucketName });
    new CfnOutput(this, 'RetagImageQueueUrl', { value: this.retag.queues.image.queue.queueUrl });
    new CfnOutput(this, 'RetagTextQueueUrl', { value: this.retag.queues.text.queue.queueUrl });
    if (this.asyncIo) {
      new CfnOutput(this, 'AsyncInferenceSuccessTopicArn', { value: this.asyncIo.successTopic.topicArn });
      new CfnOutput(this, 'AsyncInferenceBucketName', { value: this.asyncIo.bucket.bucketName });
    }
  }

  /** Functions CDK itself adds (bucket notifications, auto-delete of objects). */
  private suppressCdkInternals(): void {
    const internals = this.node
      .findAll()
      .filter((c) => /^(BucketNotificationsHandler|Custom::S3AutoDeleteObjectsCustomResourceProvider)/.test(c.node.id));
    for (const construct of internals) {
      acknowledge(construct, { id: 'AwsSolutions-L1', reason: 'CDK-managed helper; aws-cdk-lib chooses and updates its runtime.' });
      acknowledgeManagedPolicies(construct, [
        { finding: LAMBDA_BASIC_EXECUTION, reason: 'CDK-managed helper function; the AWS-maintained basic execution role only writes its logs.' },
      ]);
      acknowledgeWildcards(construct, [
        { finding: /^Resource::\*$/, reason: 'CDK-managed helper: s3:PutBucketNotification has no narrower resource form in the policy CDK generates.' },
      ]);
    }
  }
}
