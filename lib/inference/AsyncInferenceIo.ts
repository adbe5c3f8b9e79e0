import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { AsyncInferenceResources } from './TritonEndpoint.js';

export interface AsyncInferenceIoProps {
  readonly removalPolicy: RemovalPolicy;
  readonly retentionDays: number;
  readonly accessLogs: IBucket;
}

/**
 * What SageMaker asynchronous inference needs besides the endpoint: a bucket for request payloads
 * and results (short-lived, they are copies of data kept elsewhere) and SNS topics announcing each
 * finished or failed request.
 */
export class AsyncInferenceIo extends Construct implements AsyncInferenceResources {
  readonly bucket: Bucket;
  readonly successTopic: Topic;
  readonly errorTopic: Topic;
  readonly topicKey: Key;

  constructor(scope: Construct, id: string, props: AsyncInferenceIoProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Payloads', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'async-inference/',
      lifecycleRules: [{ id: 'expire-payloads', expiration: Duration.days(props.retentionDays) }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    this.topicKey = new Key(this, 'TopicKey', {
      description: 'Encrypts the async inference notification topics',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    this.successTopic = new Topic(this, 'Success', { masterKey: this.topicKey, enforceSSL: true });
    this.errorTopic = new Topic(this, 'Error', { masterKey: this.topicKey, enforceSSL: true });
  }
}
