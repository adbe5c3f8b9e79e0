import { Aws, CfnMapping, Fn, Stack, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * Registry accounts of the SageMaker NVIDIA Triton Inference Server containers
 * (`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-tritonserver:<tag>`), as published in the
 * SageMaker Python SDK's image_uris config. Regions not listed do not offer the container.
 */
export const TRITON_IMAGE_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '774647643957',
  'ap-east-1': '110948597952',
  'ap-northeast-1': '941853720454',
  'ap-northeast-2': '151534178276',
  'ap-south-1': '763008648453',
  'ap-southeast-1': '324986816169',
  'ap-southeast-2': '355873309152',
  'ca-central-1': '464438896020',
  'cn-north-1': '472730292857',
  'cn-northwest-1': '474822919863',
  'eu-central-1': '746233611703',
  'eu-north-1': '601324751636',
  'eu-south-1': '966458181534',
  'eu-west-1': '802834080501',
  'eu-west-2': '205493899709',
  'eu-west-3': '254080097072',
  'me-south-1': '836785723513',
  'sa-east-1': '756306329178',
  'us-east-1': '785573368785',
  'us-east-2': '007439368137',
  'us-west-1': '710691900526',
  'us-west-2': '301217895009',
};

export const TRITON_REPOSITORY = 'sagemaker-tritonserver';

export class UnsupportedRegionError extends Error {
  override readonly name = 'UnsupportedRegionError';
}

export interface TritonImage {
  readonly uri: string;
  /** ECR repository ARN the SageMaker role must be able to pull from. */
  readonly repositoryArn: string;
}

/**
 * Resolves the container for the stack's region: directly when the region is known at synth time
 * (failing early for a region without Triton), through a CloudFormation mapping when the stack is
 * region-agnostic.
 */
export const tritonImage = (scope: Construct, tag: string): TritonImage => {
  const stack = Stack.of(scope);
  let account: string;
  if (Token.isUnresolved(stack.region)) {
    const id = 'TritonImageAccounts';
    const mapping =
      (stack.node.tryFindChild(id) as CfnMapping | undefined) ??
      new CfnMapping(stack, id, {
        mapping: Object.fromEntries(Object.entries(TRITON_IMAGE_ACCOUNTS).map(([region, acct]) => [region, { account: acct }])),
      });
    account = mapping.findInMap(Aws.REGION, 'account');
  } else {
    const known = TRITON_IMAGE_ACCOUNTS[stack.region];
    if (!known) {
      throw new UnsupportedRegionError(
        `the SageMaker Triton container is not published in ${stack.region}; supported regions: ${Object.keys(TRITON_IMAGE_ACCOUNTS).join(', ')}`,
      );
    }
    account = known;
  }
  return {
    uri: Fn.join('', [account, '.dkr.ecr.', stack.region, '.', stack.urlSuffix, `/${TRITON_REPOSITORY}:${tag}`]),
    repositoryArn: stack.formatArn({ service: 'ecr', account, resource: 'repository', resourceName: TRITON_REPOSITORY }),
  };
};
