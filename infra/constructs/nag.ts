import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges a cdk-nag AwsSolutions rule on a construct and everything below it. cdk-nag 3 matches the rule id
 * exactly, including a finding in brackets (`AwsSolutions-IAM5[Resource::*]`), so findings are listed one by one:
 * an acknowledgement never covers a wildcard it was not written for.
 */
export function acknowledge(scope: IConstruct, ruleId: string, reason: string, findings?: readonly string[]): void {
  const ids = findings === undefined ? [ruleId] : findings.map((finding) => `${ruleId}[${finding}]`);
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id: `AwsSolutions::${id}`, reason })));
}

/**
 * Acknowledges AwsSolutions-IAM5 for exactly these wildcard resource ARNs (tokens allowed) in the scope's policies.
 * The finding text is the ARN as cdk-nag prints it: `Fn::Join` flattened, `Ref` as `<Id>`, `Fn::GetAtt` as `<Id.Attr>`.
 */
export function acknowledgeWildcardResources(scope: IConstruct, reason: string, resourceArns: readonly string[]): void {
  const stack = Stack.of(scope);
  acknowledge(
    scope,
    'AwsSolutions-IAM5',
    reason,
    resourceArns.map((arn) => `Resource::${flatten(stack.resolve(arn))}`),
  );
}

function flatten(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (value !== null && typeof value === 'object') {
    const node = value as Record<string, unknown>;
    if (Array.isArray(node['Fn::Join'])) {
      const [delimiter, parts] = node['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(delimiter);
    }
    if (Array.isArray(node['Fn::GetAtt'])) {
      const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if ('Ref' in node) return `<${flatten(node.Ref)}>`;
  }
  return JSON.stringify(value);
}
