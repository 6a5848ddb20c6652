import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import type { RelayFunction } from './relay-function.js';

/**
 * The key that seals the registration the callback carries to the dispatcher on the event queue (issue 15,
 * functions/_lib/registration-seal.ts): a secret generated with the stack (64 random alphanumeric characters, about
 * 380 bits, from which the functions derive an AES-256 key), read by those two functions only. Nothing stored is
 * sealed with it, only messages in flight for a few seconds, so it needs no retention and no backup: replacing it
 * (or losing it) costs only the read the dispatcher then makes for the messages queued under the old one.
 */
export class QueueSealKey extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'inbox-relay: seals the registration the callback carries to the dispatcher on the event queue',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(
      this.secret,
      'AwsSolutions-SMG4',
      'Seals only queue messages that live a few seconds; a new value (update the secret) takes effect at the next cold start, and messages sealed under the old one are read instead of opened. No rotation Lambda is worth it.',
    );
  }

  /** GetSecretValue only, and the secret's ARN in QUEUE_SEAL_SECRET_ARN: the callback and the dispatcher. */
  grantRead(fn: RelayFunction): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }));
    fn.addEnvironment('QUEUE_SEAL_SECRET_ARN', this.secret.secretArn);
  }
}
