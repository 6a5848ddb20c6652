import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The one DynamoDB table behind every store port. The CDK stack, the local backends and the adapters all take the
 * key names, the TTL attribute and the item key layout from here, so they cannot drift apart.
 *
 * Runtime-neutral on purpose (only a type import): Lambda bundles and the CDK app both import it.
 *
 * Item layout (pk / sk):
 * - device:          `DEVICE#<deviceId>`   / `META`                         the DeviceRecord fields
 * - mailbox:         `DEVICE#<deviceId>`   / `MAILBOX#<mailboxId>`          the MailboxRecord fields
 * - callback lookup: `CALLBACK#<callbackKey>` / `META`                      { deviceId, mailboxId }
 * - dedupe key:      `DEVICE#<deviceId>`   / `DEDUPE#<key>`                 { claimant, state, outcome?, expiresAt (ms), ttl (s) }
 * - decision:        `DEVICE#<deviceId>`   / `EVENT#<ISO at>#<suffix>`      { at, mailbox, outcome, reason, ttl }
 *
 * Within a device's partition the sort keys order as `DEDUPE#` < `EVENT#` < `MAILBOX#` < `META`, so the range
 * `MAILBOX#`..`META` holds exactly the device and its mailboxes (one Query reads a whole registration).
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** Epoch seconds after which DynamoDB may delete the item (it does so up to days late; reads never rely on it). */
export const TTL_ATTRIBUTE = 'ttl';

export const DEVICE_PK_PREFIX = 'DEVICE#';
export const CALLBACK_PK_PREFIX = 'CALLBACK#';
export const META_SK = 'META';
export const MAILBOX_SK_PREFIX = 'MAILBOX#';
export const DEDUPE_SK_PREFIX = 'DEDUPE#';
export const EVENT_SK_PREFIX = 'EVENT#';
/** Sorts after every `EVENT#<ISO date>` key ('~' is the highest printable ASCII character). */
export const EVENT_SK_UPPER_BOUND = `${EVENT_SK_PREFIX}~`;

/** A primary key of the table. */
export type TableKey = { pk: string; sk: string };

export const devicePk = (deviceId: string): string => `${DEVICE_PK_PREFIX}${deviceId}`;
export const deviceKey = (deviceId: string): TableKey => ({ pk: devicePk(deviceId), sk: META_SK });
export const mailboxKey = (deviceId: string, mailboxId: string): TableKey => ({
  pk: devicePk(deviceId),
  sk: `${MAILBOX_SK_PREFIX}${mailboxId}`,
});
export const callbackKey = (key: string): TableKey => ({ pk: `${CALLBACK_PK_PREFIX}${key}`, sk: META_SK });
export const dedupeKey = (deviceId: string, key: string): TableKey => ({ pk: devicePk(deviceId), sk: `${DEDUPE_SK_PREFIX}${key}` });
/** `isoAt` must be a `Date#toISOString()` value so that keys sort chronologically. */
export const eventSk = (isoAt: string, suffix: string): string => `${EVENT_SK_PREFIX}${isoAt}#${suffix}`;

/**
 * CreateTable input for local backends and tests: on-demand billing, string keys. The deployed table comes from the
 * CDK stack, which uses the same names; TTL is configured there (dynalite has no UpdateTimeToLive).
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ],
  };
}
