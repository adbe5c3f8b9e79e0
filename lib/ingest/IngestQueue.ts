import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface IngestQueueProps {
  /** Timeout of the consuming function; the visibility timeout is derived from it. */
  readonly consumerTimeout: Duration;
  /** Largest batching window of the event source (counts against visibility too). */
  readonly maxBatchingWindow: Duration;
  readonly maxReceiveCount: number;
  readonly dlqRetention: Duration;
}

/** A work queue with its dead-letter queue, both encrypted and TLS-only. */
export class IngestQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: IngestQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.dlqRetention,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS guidance for Lambda event sources: at least six times the function timeout plus the
      // batching window, so a message is never redelivered while a retrying invocation still holds it.
      visibilityTimeout: visibilityTimeoutFor(props.consumerTimeout, props.maxBatchingWindow),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}

export const visibilityTimeoutFor = (consumerTimeout: Duration, batchingWindow: Duration): Duration =>
  Duration.seconds(6 * consumerTimeout.toSeconds() + batchingWindow.toSeconds());
