import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  ItemBatcher,
  JitterType,
  JsonPath,
  LogLevel,
  ResultWriterV2,
  S3ManifestItemReader,
  S3ObjectsItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  type IItemReader,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RETAG_MODALITIES, type RetagModality } from '../../functions/shared/retag/filters.js';
import type { EnvironmentConfig } from '../config/environments.js';
import type { ModelArtifacts } from '../config/modelArtifacts.js';
import { WeftFunction } from '../functions/WeftFunction.js';
import type { IngestBranch } from '../ingest/IngestPipeline.js';
import { IngestQueue } from '../ingest/IngestQueue.js';
import { acknowledgeWildcards, ARN } from '../nag/acknowledge.js';
import { alarmFactory } from '../operations/alarms.js';

/** Where ResultWriter puts each map run's manifest and results in the results bucket. */
export const RETAG_RESULTS_PREFIX = 'retag/';
/** The Distributed Map's label: map run and child execution names start with it (and the redrive grant names it). */
export const RETAG_MAP_LABEL = 'Retag';

export interface RetagJobProps {
  readonly config: EnvironmentConfig;
  readonly models: ModelArtifacts;
  /** The uploads bucket the job lists. */
  readonly uploads: IBucket;
  /** Server access logs of the results bucket go here, as for the other buckets. */
  readonly accessLogs: IBucket;
  readonly table: ITable;
  /** The ingest functions the re-tag queues feed, with their queues' sizing. */
  readonly ingest: { readonly image: IngestBranch; readonly text: IngestBranch };
  readonly metricsNamespace: string;
  readonly alarmTopic: ITopic;
}

/**
 * Catalog-wide re-tagging as a resumable Step Functions job:
 *
 *   start (weft retag) → [Choice: inventory manifest given?] → Distributed Map
 *     ItemReader: ListObjectsV2 of the uploads bucket under `$.prefix` (or an S3 Inventory manifest)
 *     ItemBatcher: `batchSize` keys + the execution's filters per child workflow (Express)
 *       child: retag-batch Lambda — layout check, source items read, stale/missing filter,
 *              re-tag notifications sent to the re-tag queue of the modality
 *     MaxConcurrency, ToleratedFailurePercentage per environment; ResultWriter → results bucket
 *   re-tag queues (+ DLQs) → the same image-/text-ingest functions, through event sources capped
 *   at `ingestConcurrency`, so a re-tag never takes more than that from fresh uploads.
 *
 * A failed execution (too many failed batches) can be redriven: only the failed child workflows
 * run again, and whatever they send twice is skipped by the ingest functions' re-tag guard.
 */
export class RetagJob extends Construct {
  readonly queues: Record<RetagModality, IngestQueue>;
  readonly batchFunction: WeftFunction;
  readonly resultsBucket: Bucket;
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: RetagJobProps) {
    super(scope, id);
    const { config } = props;
    const { retag } = config;
    const destroy = config.removalPolicy === RemovalPolicy.DESTROY;
    const logRemoval = config.removalPolicy === RemovalPolicy.RETAIN ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // One re-tag queue per modality, consumed by the same ingest function as the upload queue
    // (same handler, batch contract and batch size), through an event source whose maximum
    // concurrency caps what a re-tag takes of the function.
    const sizing = { image: config.functions.imageIngest, text: config.functions.textIngest };
    const queue = (kind: RetagModality): IngestQueue => {
      const branch = props.ingest[kind];
      const batchingWindow = Duration.seconds(sizing[kind].maxBatchingWindowSeconds);
      const created = new IngestQueue(this, `${capitalize(kind)}Queue`, {
        consumerTimeout: Duration.seconds(sizing[kind].timeoutSeconds),
        maxBatchingWindow: batchingWindow,
        maxReceiveCount: retag.maxReceiveCount,
        dlqRetention: Duration.days(config.queues.dlqRetentionDays),
      });
      branch.function.fn.addEventSource(
        new SqsEventSource(created.queue, {
          batchSize: sizing[kind].batchSize,
          maxBatchingWindow: batchingWindow,
          reportBatchItemFailures: true,
          maxConcurrency: retag.ingestConcurrency[kind],
        }),
      );
      return created;
    };
    this.queues = { image: queue('image'), text: queue('text') };

    this.batchFunction = new WeftFunction(this, 'BatchFunction', {
      handlerDir: 'retag-batch',
      description: 'Weft re-tag: check a batch of listed keys against the products table and queue the sources to re-tag',
      memoryMb: 512,
      timeout: Duration.seconds(120),
      models: props.models,
      environment: {
        UPLOADS_BUCKET: props.uploads.bucketName,
        TABLE_NAME: props.table.tableName,
        RETAG_IMAGE_QUEUE_URL: this.queues.image.queue.queueUrl,
        RETAG_TEXT_QUEUE_URL: this.queues.text.queue.queueUrl,
      },
      logRetentionDays: config.logRetentionDays,
      removalPolicy: logRemoval,
      serviceName: 'weft-retag-batch',
      logLevel: config.logLevel,
      metricsNamespace: props.metricsNamespace,
    });
    const batchFn = this.batchFunction.fn;
    // Reads source items by key only (their sequencer, status and model version); never writes the table.
    batchFn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:BatchGetItem'], resources: [props.table.tableArn] }));
    for (const kind of RETAG_MODALITIES) this.queues[kind].queue.grantSendMessages(batchFn);
    // Its manifests are the deployed version it compares against: updated after the ingest functions that tag with them.
    batchFn.node.addDependency(props.ingest.image.function.fn, props.ingest.text.function.fn);

    this.resultsBucket = new Bucket(this, 'Results', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'retag-results/',
      lifecycleRules: [
        { id: 'expire-retag-results', expiration: Duration.days(retag.resultRetentionDays) },
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
      removalPolicy: config.removalPolicy,
      autoDeleteObjects: destroy,
    });

    const stateMachineName = `weft-retag-${config.name}`;
    const distributedMap = (mapId: string, itemReader: IItemReader, keysEncoded: boolean): DistributedMap => {
      const checkBatch = new LambdaInvoke(this, `${mapId}CheckBatch`, {
        comment: 'Layout check, source items read, stale/missing filter, re-tag notifications queued',
        lambdaFunction: batchFn,
        outputPath: '$.Payload',
        retryOnServiceExceptions: true,
      });
      // A failed batch (DynamoDB or SQS unavailable, throttled) runs again whole; what it had already sent is skipped by the re-tag guard.
      checkBatch.addRetry({ errors: ['States.TaskFailed', 'States.Timeout'], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 3, jitterStrategy: JitterType.FULL });
      return new DistributedMap(this, mapId, {
        stateName: mapId,
        comment: 'Every listed key, in batches, checked and queued for re-tagging',
        label: RETAG_MAP_LABEL,
        itemReader,
        itemSelector: { key: JsonPath.stringAt('$$.Map.Item.Value.Key') },
        // BatchInput is passed as written (CDK renders no JsonPath tokens in it): each batch gets the execution's filters.
        itemBatcher: new ItemBatcher({ maxItemsPerBatch: retag.batchSize, batchInput: { 'filters.$': '$.filters', keysEncoded } }),
        maxConcurrency: retag.maxConcurrency,
        toleratedFailurePercentage: retag.toleratedFailurePercentage,
        mapExecutionType: StateMachineType.EXPRESS,
        resultWriterV2: new ResultWriterV2({ bucket: this.resultsBucket, prefix: RETAG_RESULTS_PREFIX }),
        resultPath: '$.mapRun',
      }).itemProcessor(checkBatch);
    };

    const listing = distributedMap('RetagListing', new S3ObjectsItemReader({ bucket: props.uploads, prefix: JsonPath.stringAt('$.prefix') }), false);
    const done = new Succeed(this, 'Done');
    const inventory = retag.inventory
      ? distributedMap(
          'RetagInventory',
          new S3ManifestItemReader({ bucket: Bucket.fromBucketName(this, 'InventoryBucket', retag.inventory.bucketName), key: JsonPath.stringAt('$.inventoryManifestKey') }),
          true,
        )
      : new Fail(this, 'NoInventory', { error: 'InventoryNotConfigured', cause: `environment ${config.name} has no S3 Inventory configured for the re-tag job (retag.inventory in lib/config/environments.ts)` });
    const source = new Choice(this, 'ItemSource', { comment: 'An S3 Inventory manifest when the input names one, else a listing of the bucket' })
      .when(Condition.isPresent('$.inventoryManifestKey'), inventory instanceof DistributedMap ? inventory.next(done) : inventory)
      .otherwise(listing.next(done));

    this.logGroup = new LogGroup(this, 'Logs', { retention: config.logRetentionDays, removalPolicy: logRemoval });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName,
      comment: 'Weft catalog re-tag: list the uploads, queue the sources to re-tag (weft retag)',
      definitionBody: DefinitionBody.fromChainable(source),
      stateMachineType: StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.days(7),
    });
    const stack = Stack.of(this);
    if (retag.inventory) {
      // The inventory's CSV files sit under the report's prefix; the reader's own grant covers the manifest.
      this.stateMachine.addToRolePolicy(
        new PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:${stack.partition}:s3:::${retag.inventory.bucketName}/${retag.inventory.prefix}*`] }),
      );
    }

    const alarm = alarmFactory(this, props.alarmTopic, this.alarms);
    const fiveMinutes = Duration.minutes(5);
    alarm('ExecutionsFailed', this.stateMachine.metricFailed({ period: fiveMinutes, statistic: 'Sum' }), 1, 're-tag job: an execution failed (more failed batches than tolerated); weft retag --redrive <executionArn> after fixing the cause');
    for (const kind of RETAG_MODALITIES) {
      alarm(
        `${capitalize(kind)}DeadLetters`,
        this.queues[kind].deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
        config.alarms.dlqDepth,
        `re-tag ${kind}: messages in the dead-letter queue (retries exhausted; inspect and move them back with start-message-move-task)`,
      );
    }

    acknowledgeWildcards(this.stateMachine, [
      { finding: /^Resource::\*$/, reason: 'CloudWatch Logs delivery (logs:CreateLogDelivery and the rest) and X-Ray tracing have no resource-level permissions.' },
      { finding: /^Resource::<RetagBatchFunction\w+\.Arn>:\*$/, reason: 'Invoking the retag-batch function by ARN and any of its versions (the Lambda integration grants FunctionArn:*); no other function.' },
      { finding: new RegExp(`^Resource::${ARN}:s3:::<RetagResults\\w+>\\/\\*$`), reason: 'ResultWriter writes the map runs’ manifest and result files (names chosen by Step Functions) into the re-tag results bucket only.' },
      {
        // CDK's Distributed Map grant: DescribeExecution/StopExecution on the child executions and RedriveExecution on the map run's (`{name}/Retag:*`).
        finding: new RegExp(`^Resource::${ARN}:states:[^:]+:<AWS::AccountId>:execution:\\{"Fn::Select":\\[6,\\{"Fn::Split":\\[":",\\{"Ref":"RetagStateMachine\\w+"\\}\\]\\}\\]\\}(\\/${RETAG_MAP_LABEL})?:\\*$`),
        reason: 'The Distributed Map describes, stops and (on a redrive) redrives its own child executions, whose names Step Functions chooses.',
      },
      ...(retag.inventory
        ? [{ finding: new RegExp(`^Resource::${ARN}:s3:::${retag.inventory.bucketName.replace(/\./g, '\\.')}\\/.*\\*$`), reason: 'The S3 Inventory report of the uploads bucket: its manifest and CSV files, whose names carry the report date.' }]
        : []),
    ]);
  }
}

const capitalize = (value: string): string => value.charAt(0).toUpperCase() + value.slice(1);
