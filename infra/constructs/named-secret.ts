import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { RelayFunction } from './relay-function.js';

/**
 * A Secrets Manager secret the operator creates before deploying (docs/operations.md), referred to by name so that
 * the same configuration serves every region. Its value never passes through the template: functions get its ARN and
 * read the value at run time (or, for the platform applications, at deploy time).
 */
export class NamedSecret {
  /** A partial ARN (no random suffix), which GetSecretValue accepts as SecretId. */
  readonly arn: string;
  /** Matches the full ARN, whose last 7 characters Secrets Manager chooses (`-` and 6 random characters). */
  readonly arnForPolicies: string;

  constructor(
    scope: Construct,
    readonly name: string,
  ) {
    if (/-[A-Za-z0-9]{6}$/.test(name)) {
      // A partial ARN is ambiguous then: Secrets Manager would take the ending for the random suffix.
      throw new Error(`secret name "${name}" must not end in a hyphen and six characters`);
    }
    const stack = Stack.of(scope);
    const arnOf = (resourceName: string) =>
      stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.arn = arnOf(name);
    this.arnForPolicies = arnOf(`${name}-??????`);
  }

  /** GetSecretValue only (not DescribeSecret or anything else), and the ARN in `environmentVariable`. */
  grantRead(fn: RelayFunction, environmentVariable?: string): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.arnForPolicies] }));
    if (environmentVariable !== undefined) fn.addEnvironment(environmentVariable, this.arn);
  }
}

