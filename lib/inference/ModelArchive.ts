import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundlingOutput, DockerImage } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

export const MODEL_ARCHIVE_NAME = 'model.tar.gz';

/** Where Triton runs a model's instances: on the GPU (the export's default) or on the CPU. */
export type InstanceKind = 'KIND_GPU' | 'KIND_CPU';

/**
 * A config.pbtxt with every `instance_group` kind set to `kind`: where a model runs is decided by
 * the instance type it is deployed on, and Triton refuses to load a KIND_GPU model on a CPU
 * instance. A config without instance_group is left alone (Triton then picks by itself).
 */
export const withInstanceKind = (config: string, kind: InstanceKind): string => config.replace(/\bkind\s*:\s*KIND_(GPU|CPU)\b/g, `kind: ${kind}`);

/** Copies a Triton repository, setting the instance kind of each model's config.pbtxt. */
const repositoryFor = (repository: string, kind: InstanceKind): { dir: string; cleanup: () => void } => {
  if (kind === 'KIND_GPU') return { dir: repository, cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'weft-triton-'));
  cpSync(repository, dir, { recursive: true });
  for (const model of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    const file = join(dir, model.name, 'config.pbtxt');
    try {
      writeFileSync(file, withInstanceKind(readFileSync(file, 'utf8'), kind));
    } catch {
      // not a model folder
    }
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
};

/**
 * A Triton model repository packed as the `model.tar.gz` SageMaker downloads to /opt/ml/model.
 * The asset hash follows the repository's files (and the instance kind), so a re-exported model
 * version is a new asset (and, through it, a new SageMaker Model and EndpointConfig).
 */
export class ModelArchive extends Construct {
  readonly asset: Asset;

  constructor(scope: Construct, id: string, props: { readonly tritonRepository: string; readonly instanceKind?: InstanceKind }) {
    super(scope, id);
    const repository = props.tritonRepository;
    const kind = props.instanceKind ?? 'KIND_GPU';
    this.asset = new Asset(this, 'Asset', {
      path: repository,
      ...(kind === 'KIND_GPU' ? {} : { extraHash: kind }),
      bundling: {
        outputType: BundlingOutput.SINGLE_FILE,
        local: {
          tryBundle(outputDir: string): boolean {
            const source = repositoryFor(repository, kind);
            try {
              // Contents at the archive root: SageMaker's Triton expects <model>/config.pbtxt there.
              execFileSync('tar', ['-czf', join(outputDir, MODEL_ARCHIVE_NAME), '-C', source.dir, '.'], { stdio: 'pipe' });
            } finally {
              source.cleanup();
            }
            return true;
          },
        },
        // Only used where no local `tar` exists.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/alpine:3.20'),
        command: [
          'sh',
          '-c',
          kind === 'KIND_GPU'
            ? `tar -czf /asset-output/${MODEL_ARCHIVE_NAME} -C /asset-input .`
            : `cp -r /asset-input /tmp/repository && sed -i -E 's/kind *: *KIND_(GPU|CPU)/kind: ${kind}/g' /tmp/repository/*/config.pbtxt && tar -czf /asset-output/${MODEL_ARCHIVE_NAME} -C /tmp/repository .`,
        ],
      },
    });
  }
}
