import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { RelayFunction } from './relay-function.js';

export interface OrgSecretsProps {
  /** Keep the key when the stack is deleted (the stored secrets are unreadable without it). @default false */
  readonly retain?: boolean;
}

/**
 * The key the operator controls for organization mode (contract section 8): a customer-managed KMS key, rotated
 * yearly, that wraps each organization's data key (envelope encryption; the data key seals the service account's
 * password or client secret, the devices' mailbox addresses and derives the VIP-hash key). Every use names the org
 * as encryption context. One key for every org: about $1 a month, instead of $0.40 per org for a Secrets Manager
 * secret each.
 */
export class OrgSecrets extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: OrgSecretsProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: "inbox-relay: wraps organizations' data keys (service-account secrets, mailbox addresses, VIP-hash keys)",
      enableKeyRotation: true,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }

  /** New data keys and opening them: the org API, which creates and re-seals organizations' secrets. */
  grantWrap(fn: RelayFunction): void {
    this.grant(fn, ['kms:GenerateDataKey', 'kms:Decrypt']);
  }

  /** Opening data keys only: the device API (proofs, sealing addresses, VIP hashes) and the dispatcher (fetching). */
  grantUnwrap(fn: RelayFunction): void {
    this.grant(fn, ['kms:Decrypt']);
  }

  private grant(fn: RelayFunction, actions: string[]): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.key.keyArn],
        // Only with an org id as encryption context, as the adapter always sends it.
        conditions: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['orgId'] }, Null: { 'kms:EncryptionContext:orgId': 'false' } },
      }),
    );
    fn.addEnvironment('ORG_SECRETS_KEY_ARN', this.key.keyArn);
  }
}
