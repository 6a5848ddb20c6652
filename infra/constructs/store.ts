import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TTL_ATTRIBUTE, tableDefinition } from '../../functions/_lib/adapters/table-design.js';
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
 * The single DynamoDB table behind every store port: on-demand, point-in-time recovery, encrypted with the AWS
 * managed key (so its use shows in CloudTrail), expiring dedupe keys and decisions by TTL. Keys and indexes come from
 * functions/_lib/adapters/table-design.ts, the definition the local backends create too, so the two cannot drift apart.
 */
export class Store extends Construct {
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: StoreProps = {}) {
    super(scope, id);
    const production = props.production ?? false;
    const design = tableDefinition('inbox-relay');
    const key = (schema: Array<{ AttributeName?: string; KeyType?: string }> | undefined, keyType: 'HASH' | 'RANGE') => {
      const name = schema?.find((element) => element.KeyType === keyType)?.AttributeName;
      if (name === undefined) return undefined;
      const type = design.AttributeDefinitions?.find((attribute) => attribute.AttributeName === name)?.AttributeType;
      return { name, type: type === 'N' ? dynamodb.AttributeType.NUMBER : type === 'B' ? dynamodb.AttributeType.BINARY : dynamodb.AttributeType.STRING };
    };

    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: key(design.KeySchema, 'HASH')!,
      ...(key(design.KeySchema, 'RANGE') ? { sortKey: key(design.KeySchema, 'RANGE')! } : {}),
      globalSecondaryIndexes: (design.GlobalSecondaryIndexes ?? []).map((index) => ({
        indexName: index.IndexName!,
        partitionKey: key(index.KeySchema, 'HASH')!,
        ...(key(index.KeySchema, 'RANGE') ? { sortKey: key(index.KeySchema, 'RANGE')! } : {}),
        projectionType: index.Projection?.ProjectionType === 'KEYS_ONLY' ? dynamodb.ProjectionType.KEYS_ONLY : dynamodb.ProjectionType.ALL,
      })),
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

  /**
   * The callback's grant: reads, UpdateItem for the last-seen stamp, and PutItem for the decision it records about
   * Graph items it refuses (a forged clientState, a superseded subscription); no delete, no batch write. Sets TABLE_NAME.
   */
  grantCallbackAccess(fn: RelayFunction): void {
    this.grant(fn, [...READ_ACTIONS, 'dynamodb:UpdateItem', 'dynamodb:PutItem']);
  }

  /** UpdateItem only (retiring a device is one conditional update); sets TABLE_NAME. */
  grantUpdate(fn: RelayFunction): void {
    this.grant(fn, ['dynamodb:UpdateItem']);
  }

  /** Query on one index (the supervisor's sweep of the due index); the table grants do not include any index. */
  grantIndexQuery(fn: RelayFunction, indexName: string): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${this.table.tableArn}/index/${indexName}`] }));
  }

  private grant(fn: RelayFunction, actions: string[]): void {
    // Not table.grant(): with an index that would add `<table>/index/*` to every grant.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [this.table.tableArn] }));
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
  }
}
