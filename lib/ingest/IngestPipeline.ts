import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { EventType, type Bucket } from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Construct } from 'constructs';
import { DERIVED_PREFIX, NOTIFICATION_SUFFIXES, PRODUCT_FILE, type QueueName } from '../../functions/shared/layout.js';
import type { EnvironmentConfig, FunctionSizing } from '../config/environments.js';
import type { ModelArtifacts } from '../config/modelArtifacts.js';
import { WeftFunction } from '../functions/WeftFunction.js';
import type { TritonEndpoint } from '../inference/TritonEndpoint.js';
import { acknowledgeWildcards, type WildcardRule } from '../nag/acknowledge.js';
import { IngestQueue } from './IngestQueue.js';

/** S3 events each queue receives: uploads and deletions (a deletion clears that source). */
export const NOTIFIED_EVENTS = [EventType.OBJECT_CREATED, EventType.OBJECT_REMOVED] as const;

export interface IngestPipelineProps {
  readonly config: EnvironmentConfig;
  readonly models: ModelArtifacts;
  readonly bucket: Bucket;
  readonly table: ITable;
  readonly imageEndpoint: TritonEndpoint;
  readonly textEndpoint: TritonEndpoint;
  /** The garment detector, when the image manifest declares one: image-ingest calls it in real time. */
  readonly detectorEndpoint?: TritonEndpoint;
  /** Variables every Weft function shares (bucket, table, endpoint names, limits). */
  readonly sharedEnvironment: Record<string, string>;
  readonly metricsNamespace: string;
}

export interface IngestBranch {
  readonly name: QueueName;
  readonly queue: IngestQueue;
  readonly function: WeftFunction;
}

/** Uploads bucket → S3 notifications → SQS (with DLQ) → ingest function, one branch per queue. */
export class IngestPipeline extends Construct {
  readonly image: IngestBranch;
  readonly text: IngestBranch;

  constructor(scope: Construct, id: string, props: IngestPipelineProps) {
    super(scope, id);
    const { config } = props;

    this.image = this.branch('image', {
      handlerDir: 'image-ingest',
      description: 'Weft: validate uploaded images, derive the model views, tag them with the image model',
      sizing: config.functions.imageIngest,
      withSharp: true,
      props,
    });
    this.text = this.branch('text', {
      handlerDir: 'text-ingest',
      description: 'Weft: clean product.json text, normalize vendor colors, tag with the text model',
      sizing: config.functions.textIngest,
      withSharp: false,
      props,
    });

    const imageFn = this.image.function.fn;
    // Reads only image uploads; writes derived views, and deletes them when their image is deleted.
    props.bucket.grantRead(imageFn, '*/images/*');
    props.bucket.grantPut(imageFn, `${DERIVED_PREFIX}*`);
    props.bucket.grantDelete(imageFn, `${DERIVED_PREFIX}*`);
    props.table.grantReadWriteData(imageFn);
    props.imageEndpoint.grantInvoke(imageFn);

    // CloudFormation then updates a function (and the manifest it carries) only after its endpoint
    // finished rolling out the matching model version.
    imageFn.node.addDependency(props.imageEndpoint.endpoint);
    if (props.detectorEndpoint) {
      imageFn.addEnvironment('DETECTOR_ENDPOINT_NAME', props.detectorEndpoint.endpointName);
      props.detectorEndpoint.grantInvoke(imageFn);
      imageFn.node.addDependency(props.detectorEndpoint.endpoint);
    }

    const textFn = this.text.function.fn;
    props.bucket.grantRead(textFn, `*/${PRODUCT_FILE}`);
    props.table.grantReadWriteData(textFn);
    props.textEndpoint.grantInvoke(textFn);
    textFn.node.addDependency(props.textEndpoint.endpoint);

    acknowledgeWildcards(imageFn, [
      ...INGEST_WILDCARDS,
      { finding: /^Resource::<\w+\.Arn>\/\*\/images\/\*$/, reason: 'Reads only image uploads: {vendor}/{productId}/images/* of the layout (vendor and product are the wildcards).' },
      { finding: new RegExp(`^Resource::<\\w+\\.Arn>/${DERIVED_PREFIX}\\*$`), reason: 'Writes (and on image deletion removes) the derived model views, only under the derived/ prefix.' },
      { finding: /^Action::s3:DeleteObject\*$/, reason: 'CDK delete grant (object and its versions), limited to the derived/ prefix.' },
    ]);
    acknowledgeWildcards(textFn, [
      ...INGEST_WILDCARDS,
      { finding: new RegExp(`^Resource::<\\w+\\.Arn>/\\*/${PRODUCT_FILE.replace('.', '\\.')}$`), reason: 'Reads only {vendor}/{productId}/product.json objects of the layout.' },
    ]);
  }

  private branch(
    name: QueueName,
    opts: { handlerDir: string; description: string; sizing: FunctionSizing; withSharp: boolean; props: IngestPipelineProps },
  ): IngestBranch {
    const { config } = opts.props;
    const timeout = Duration.seconds(opts.sizing.timeoutSeconds);
    const batchingWindow = Duration.seconds(opts.sizing.maxBatchingWindowSeconds);
    const queue = new IngestQueue(this, `${capitalize(name)}Queue`, {
      consumerTimeout: timeout,
      maxBatchingWindow: batchingWindow,
      maxReceiveCount: config.queues.maxReceiveCount,
      dlqRetention: Duration.days(config.queues.dlqRetentionDays),
    });
    // One notification per suffix and event type: S3 filters take a single suffix, and the very
    // same list drives the local dispatcher (functions/shared/layout.ts).
    const destination = new SqsDestination(queue.queue);
    for (const suffix of NOTIFICATION_SUFFIXES[name]) {
      for (const event of NOTIFIED_EVENTS) opts.props.bucket.addEventNotification(event, destination, { suffix });
    }

    const fn = new WeftFunction(this, `${capitalize(name)}Ingest`, {
      handlerDir: opts.handlerDir,
      description: opts.description,
      memoryMb: opts.sizing.memoryMb,
      timeout,
      reservedConcurrency: opts.sizing.reservedConcurrency,
      models: opts.props.models,
      withSharp: opts.withSharp,
      environment: opts.props.sharedEnvironment,
      logRetentionDays: config.logRetentionDays,
      removalPolicy: config.removalPolicy === RemovalPolicy.RETAIN ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      serviceName: `weft-${opts.handlerDir}`,
      logLevel: config.logLevel,
      metricsNamespace: opts.props.metricsNamespace,
    });
    fn.fn.addEventSource(
      new SqsEventSource(queue.queue, {
        batchSize: opts.sizing.batchSize,
        maxBatchingWindow: batchingWindow,
        reportBatchItemFailures: true,
      }),
    );
    return { name, queue, function: fn };
  }
}

/** Wildcards both ingest functions hold, and why. */
const INGEST_WILDCARDS: readonly WildcardRule[] = [
  { finding: /^Action::s3:(GetObject|GetBucket|List)\*$/, reason: 'CDK read grant: GetObject* (object and its version/metadata), and bucket List* so a key deleted before processing reads as 404 rather than 403.' },
  { finding: /^Action::s3:Abort\*$/, reason: 'Part of the CDK put grant (derived views, async requests): lets a failed multipart write be aborted.' },
  { finding: /^Resource::<\w+\.Arn>\/index\/\*$/, reason: 'The products table grant covers its byAttribute index (table ARN + /index/*).' },
  { finding: /^Resource::<\w+\.Arn>\/requests\/weft-[a-z0-9-]+\/\*$/, reason: 'Async inference: the function writes its requests and their sidecars under its own endpoint prefix only; object names are inference ids chosen at run time.' },
];

const capitalize = (value: string): string => value.charAt(0).toUpperCase() + value.slice(1);
