import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BundlingOutput, DockerImage } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

export const MODEL_ARCHIVE_NAME = 'model.tar.gz';

/**
 * A Triton model repository packed as the `model.tar.gz` SageMaker downloads to /opt/ml/model.
 * The asset hash follows the repository's files, so a re-exported model version is a new asset
 * (and, through it, a new SageMaker Model and EndpointConfig).
 */
export class ModelArchive extends Construct {
  readonly asset: Asset;

  constructor(scope: Construct, id: string, props: { readonly tritonRepository: string }) {
    super(scope, id);
    const repository = props.tritonRepository;
    this.asset = new Asset(this, 'Asset', {
      path: repository,
      bundling: {
        outputType: BundlingOutput.SINGLE_FILE,
        local: {
          tryBundle(outputDir: string): boolean {
            // Contents at the archive root: SageMaker's Triton expects <model>/config.pbtxt there.
            execFileSync('tar', ['-czf', join(outputDir, MODEL_ARCHIVE_NAME), '-C', repository, '.'], { stdio: 'pipe' });
            return true;
          },
        },
        // Only used where no local `tar` exists.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/alpine:3.20'),
        command: ['sh', '-c', `tar -czf /asset-output/${MODEL_ARCHIVE_NAME} -C /asset-input .`],
      },
    });
  }
}
