/**
 * cdk-nag 3 acknowledges findings through CDK's Validations API, one exact finding id at a time.
 * Wildcard (IAM5) and managed-policy (IAM4) findings name resources by logical id, which would make the
 * acknowledgements brittle; instead each construct states which *kinds* of wildcard it accepts and
 * why, and an aspect acknowledges exactly the findings of that kind on its policies.
 */
import { Aspects, CfnResource, Stack, Validations, type IAspect } from 'aws-cdk-lib';
import { CfnPolicy, CfnRole } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
// cdk-nag flattens references this way when it names a finding; using it keeps the ids identical.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';

export interface Acknowledgement {
  /** Full rule id, e.g. `AwsSolutions-SM1` or `AwsSolutions-IAM4[Policy::…]`. */
  readonly id: string;
  readonly reason: string;
}

export const acknowledge = (scope: IConstruct, ...rules: Acknowledgement[]): void => {
  Validations.of(scope).acknowledge(...rules);
};

export interface WildcardRule {
  /** Matched against the finding, e.g. `Action::s3:GetObject*` or `Resource::<UploadsBucket.Arn>/derived/*`. */
  readonly finding: RegExp;
  readonly reason: string;
}

interface PolicyStatementJson {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Wildcard findings exactly as AwsSolutions-IAM5 reports them for one policy document. */
export const wildcardFindings = (document: { Statement?: PolicyStatementJson[] } | undefined): string[] => {
  const findings = new Set<string>();
  for (const statement of document?.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    for (const action of asArray(statement.Action)) if (action.includes('*')) findings.add(`Action::${action}`);
    for (const resource of asArray(statement.Resource)) {
      const flat = flattenCfnReference(resource);
      if (flat.includes('*')) findings.add(`Resource::${flat}`);
    }
  }
  return [...findings];
};

/** AWS-managed policy findings exactly as AwsSolutions-IAM4 reports them for one role. */
export const managedPolicyFindings = (stack: Stack, role: CfnRole): string[] =>
  ((stack.resolve(role.managedPolicyArns) ?? []) as unknown[])
    .map((arn) => flattenCfnReference(stack.resolve(arn)))
    .filter((arn) => arn.includes(':iam::aws:'))
    .map((arn) => `Policy::${arn}`);

class FindingAcknowledger implements IAspect {
  constructor(
    private readonly wildcards: readonly WildcardRule[],
    private readonly managedPolicies: readonly WildcardRule[],
  ) {}

  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    const stack = Stack.of(node);
    const documents: unknown[] = [];
    if (node instanceof CfnPolicy) documents.push(node.policyDocument);
    else if (node instanceof CfnRole) {
      const policies = (stack.resolve(node.policies) ?? []) as { policyDocument?: unknown; PolicyDocument?: unknown }[];
      for (const policy of policies) documents.push(policy.policyDocument ?? policy.PolicyDocument);
      this.apply(node, 'AwsSolutions-IAM4', managedPolicyFindings(stack, node), this.managedPolicies);
    } else return;
    for (const document of documents) {
      this.apply(node, 'AwsSolutions-IAM5', wildcardFindings(stack.resolve(document) as { Statement?: PolicyStatementJson[] }), this.wildcards);
    }
  }

  private apply(node: IConstruct, ruleId: string, findings: string[], rules: readonly WildcardRule[]): void {
    for (const finding of findings) {
      const rule = rules.find((r) => r.finding.test(finding));
      if (rule) acknowledge(node, { id: `${ruleId}[${finding}]`, reason: rule.reason });
    }
  }
}

/** Acknowledges the IAM5 findings under `scope` that match `rules`; anything else still fails. */
export const acknowledgeWildcards = (scope: IConstruct, rules: readonly WildcardRule[]): void => {
  Aspects.of(scope).add(new FindingAcknowledger(rules, []));
};

/** Acknowledges AWS-managed policies (IAM4) under `scope` whose ARN matches `rules`. */
export const acknowledgeManagedPolicies = (scope: IConstruct, rules: readonly WildcardRule[]): void => {
  Aspects.of(scope).add(new FindingAcknowledger([], rules));
};

/** Matches an ARN prefix whether CDK rendered the partition as a token or literally. */
export const ARN = String.raw`arn:(?:<AWS::Partition>|aws[a-z-]*)`;

/** AWSLambdaBasicExecutionRole, as IAM4 names it. */
export const LAMBDA_BASIC_EXECUTION = new RegExp(`^Policy::${ARN}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole$`);
