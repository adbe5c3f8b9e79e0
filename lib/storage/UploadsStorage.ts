import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DERIVED_PREFIX } from '../../functions/shared/layout.js';
import { acknowledge } from '../nag/acknowledge.js';

export interface UploadsStorageProps {
  readonly removalPolicy: RemovalPolicy;
  readonly derivedRetentionDays: number;
  readonly accessLogRetentionDays?: number;
}

/**
 * The vendor uploads bucket (the layout contract of functions/shared/layout.ts) and the bucket
 * its server access logs go to. Derived views live under `derived/` in the same bucket and expire.
 */
export class UploadsStorage extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: UploadsStorageProps) {
    super(scope, id);
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // S3 server access logging only delivers to buckets encrypted with S3-managed keys.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogRetentionDays ?? 365) }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    });
    acknowledge(this.accessLogs, { id: 'AwsSolutions-S1', reason: 'This is the access-log destination itself; logging it into itself would loop.' });

    this.bucket = new Bucket(this, 'Uploads', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'uploads/',
      lifecycleRules: [
        // Views are regenerated from the upload on the next ingest; keeping them forever only costs.
        { id: 'expire-derived-views', prefix: DERIVED_PREFIX, expiration: Duration.days(props.derivedRetentionDays) },
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    });
  }
}
