import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from '../../../shared/zod.js';
import { ConcurrentUpdateError } from '../../../shared/errors.js';
import { detailedAlertsSchema, mailServerSettingsSchema } from '../../../shared/org/org-schemas.js';
import { MAIL_SERVER_ERROR_KINDS, type OrgHealth, type OrgRecord, type OrgStore } from '../../../shared/org/ports.js';
import { META_SK } from './table-design.js';
import { isConditionalCheckFailed, queryAll, withoutKeys } from './dynamodb-support.js';

/**
 * Item layout: `ORG#<orgId>` / `META`, the OrgRecord fields (the secret and data key only sealed); and one
 * `ORG#<orgId>` / `MEMBER#<deviceId>` per device that stored organization-mode fields.
 */
export const ORG_PK_PREFIX = 'ORG#';
export const orgKey = (orgId: string) => ({ pk: `${ORG_PK_PREFIX}${orgId}`, sk: META_SK });
const MEMBER_SK_PREFIX = 'MEMBER#';
const memberKey = (orgId: string, deviceId: string) => ({ pk: `${ORG_PK_PREFIX}${orgId}`, sk: `${MEMBER_SK_PREFIX}${deviceId}` });

/** Records are validated where they leave the table, so a damaged item fails loudly instead of flowing on as a cast. */
const orgItemSchema = z.object({
  orgId: z.string().check(z.minLength(1)),
  detailedAlerts: detailedAlertsSchema,
  mailServer: mailServerSettingsSchema,
  sealedSecret: z.string().check(z.minLength(1)),
  wrappedDataKey: z.string().check(z.minLength(1)),
  health: z.optional(z.object({ at: z.number(), ok: z.boolean(), error: z.optional(z.enum(MAIL_SERVER_ERROR_KINDS)) })),
  createdAt: z.number(),
  updatedAt: z.number(),
  revision: z.int().check(z.positive()),
});

/** OrgStore on the single table. */
export class DynamoDbOrgStore implements OrgStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getOrg(orgId: string): Promise<OrgRecord | undefined> {
    const answer = await this.client.send(new GetCommand({ TableName: this.tableName, Key: orgKey(orgId), ConsistentRead: true }));
    return answer.Item ? (orgItemSchema.parse(withoutKeys(answer.Item)) as OrgRecord) : undefined;
  }

  async putOrg(record: Omit<OrgRecord, 'revision' | 'health'>, options: { ifRevision: number }): Promise<OrgRecord> {
    const revision = options.ifRevision + 1;
    try {
      // An update, not a put: the health written by the dispatcher in between is kept.
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orgKey(record.orgId),
          UpdateExpression:
            'SET orgId = :orgId, detailedAlerts = :detailedAlerts, mailServer = :mailServer, sealedSecret = :sealedSecret, ' +
            'wrappedDataKey = :wrappedDataKey, createdAt = :createdAt, updatedAt = :updatedAt, revision = :revision',
          ConditionExpression: options.ifRevision === 0 ? 'attribute_not_exists(pk)' : 'revision = :expected',
          ExpressionAttributeValues: {
            ':orgId': record.orgId,
            ':detailedAlerts': record.detailedAlerts,
            ':mailServer': record.mailServer,
            ':sealedSecret': record.sealedSecret,
            ':wrappedDataKey': record.wrappedDataKey,
            ':createdAt': record.createdAt,
            ':updatedAt': record.updatedAt,
            ':revision': revision,
            ...(options.ifRevision === 0 ? {} : { ':expected': options.ifRevision }),
          },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new ConcurrentUpdateError();
      throw error;
    }
    const stored = await this.getOrg(record.orgId);
    if (!stored) throw new ConcurrentUpdateError();
    return stored;
  }

  async recordHealth(orgId: string, health: OrgHealth): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orgKey(orgId),
          UpdateExpression: 'SET health = :health',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':health': { at: health.at, ok: health.ok, ...(health.error ? { error: health.error } : {}) } },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async deleteOrg(orgId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: orgKey(orgId) }));
  }

  async addMember(orgId: string, deviceId: string): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...memberKey(orgId, deviceId), deviceId } }));
  }

  async listMembers(orgId: string): Promise<string[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :member)',
      ExpressionAttributeValues: { ':pk': `${ORG_PK_PREFIX}${orgId}`, ':member': MEMBER_SK_PREFIX },
      ConsistentRead: true,
    });
    return items.map((item) => String(item.deviceId));
  }

  async removeMember(orgId: string, deviceId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: memberKey(orgId, deviceId) }));
  }
}
