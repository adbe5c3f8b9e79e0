import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/environments.js';
import type { ModelArtifacts } from '../config/modelArtifacts.js';
import { WeftFunction } from '../functions/WeftFunction.js';
import { IngestQueue } from '../ingest/IngestQueue.js';
import { acknowledgeWildcards } from '../nag/acknowledge.js';
import type { AsyncInferenceIo } from './AsyncInferenceIo.js';
import type { TritonEndpoint } from './TritonEndpoint.js';

export interface AsyncInferenceResultsProps {
  readonly config: EnvironmentConfig;
  readonly models: ModelArtifacts;
  readonly io: AsyncInferenceIo;
  readonly table: ITable;
  readonly endpoints: readonly TritonEndpoint[];
  readonly sharedEnvironment: Record<string, string>;
  readonly metricsNamespace: string;
}

/**
 * The complete half of async inference: SageMaker's success and error topics → one SQS queue (raw
 * delivery, with a DLQ) → inference-result, which reads each result and writes the sources the
 * ingest functions left pending. A queue rather than a direct SNS → Lambda subscription, so
 * notifications are batched, retried with the same redrive rules as ingestion and never lost.
 */
export class AsyncInferenceResults extends Construct {
  readonly queue: IngestQueue;
  readonly function: WeftFunction;

  constructor(scope: Construct, id: string, props: AsyncInferenceResultsProps) {
    super(scope, id);
    const { config, io } = props;
    const sizing = config.functions.inferenceResult;
    const timeout = Duration.seconds(sizing.timeoutSeconds);
    const batchingWindow = Duration.seconds(sizing.maxBatchingWindowSeconds);
    this.queue = new IngestQueue(this, 'Notifications', {
      consumerTimeout: timeout,
      maxBatchingWindow: batchingWindow,
      maxReceiveCount: config.queues.maxReceiveCount,
      dlqRetention: Duration.days(config.queues.dlqRetentionDays),
    });
    // Raw delivery: the SQS body is SageMaker's notification itself, not the SNS envelope.
    for (const topic of [io.successTopic, io.errorTopic]) topic.addSubscription(new SqsSubscription(this.queue.queue, { rawMessageDelivery: true }));

    this.function = new WeftFunction(this, 'Handler', {
      handlerDir: 'inference-result',
      description: 'Weft: record async inference results (and failures) on the sources the ingest functions left pending',
      memoryMb: sizing.memoryMb,
      timeout,
      reservedConcurrency: sizing.reservedConcurrency,
      models: props.models,
      environment: props.sharedEnvironment,
      logRetentionDays: config.logRetentionDays,
      removalPolicy: config.removalPolicy === RemovalPolicy.RETAIN ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      serviceName: 'weft-inference-result',
      logLevel: config.logLevel,
      metricsNamespace: props.metricsNamespace,
    });
    const fn = this.function.fn;
    fn.addEventSource(new SqsEventSource(this.queue.queue, { batchSize: sizing.batchSize, maxBatchingWindow: batchingWindow, reportBatchItemFailures: true }));

    props.table.grantReadWriteData(fn);
    for (const endpoint of props.endpoints) {
      // Sidecars (which sources a request's rows are) sit beside the requests; results under results/.
      io.bucket.grantRead(fn, `requests/${endpoint.endpointName}/*`);
      io.bucket.grantRead(fn, `results/${endpoint.endpointName}/*`);
      // A failed request is resubmitted (same input location) before it is recorded as failed.
      fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['sagemaker:InvokeEndpointAsync'], resources: [endpoint.endpointArn] }));
    }

    acknowledgeWildcards(fn, [
      { finding: /^Action::s3:(GetObject|GetBucket|List)\*$/, reason: 'CDK read grant: GetObject* (object and its version/metadata), and bucket List* so a missing sidecar reads as 404 rather than 403.' },
      { finding: /^Resource::<\w+\.Arn>\/(requests|results)\/weft-[a-z0-9-]+\/\*$/, reason: 'Async inference: reads request sidecars and results under each endpoint\'s own prefix; object names are inference ids chosen at run time.' },
      { finding: /^Resource::<\w+\.Arn>\/index\/\*$/, reason: 'The products table grant covers its byAttribute index (table ARN + /index/*); the merge after a result writes index items.' },
    ]);
  }
}
