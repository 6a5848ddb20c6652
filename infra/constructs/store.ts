import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_KEYS, TTL_ATTRIBUTE } from '../table-design.js';
import type { RelayFunction } from './relay-function.js';

export interface StoreProps {
  /**
   * Production: deletion protection on, and the table is kept when the stack is deleted. Otherwise the table goes
   * with the stack, which suits test deployments.
   * @default false
   */
  readonly production?: boolean;
}

/** The item operations the adapters use (functions/_lib/adapters/dynamodb-*.ts); no Scan, no transactions, no streams. */
const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

/**
 * The single DynamoDB table behind every store port (infra/table-design.ts): on-demand, point-in-time recovery,
 * encrypted with the AWS managed key (so its use shows in CloudTrail), expiring dedupe keys and decisions by TTL.
 */
export class Store extends Construct {
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: StoreProps = {}) {
    super(scope, id);
    const production = props.production ?? false;
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      deletionProtection: production,
      removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }

  /** Every item operation the stores use; sets TABLE_NAME. */
  grantReadWrite(fn: RelayFunction): void {
    this.grant(fn, [...READ_ACTIONS, ...WRITE_ACTIONS]);
  }

  /** Reads, plus UpdateItem for the callback's last-seen stamp; sets TABLE_NAME. */
  grantReadAndUpdate(fn: RelayFunction): void {
    this.grant(fn, [...READ_ACTIONS, 'dynamodb:UpdateItem']);
  }

  /** UpdateItem only (retiring a device is one conditional update); sets TABLE_NAME. */
  grantUpdate(fn: RelayFunction): void {
    this.grant(fn, ['dynamodb:UpdateItem']);
  }

  private grant(fn: RelayFunction, actions: string[]): void {
    // The table has no indexes, so the grant names the table ARN alone.
    this.table.grant(fn.role, ...actions);
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
  }
}
