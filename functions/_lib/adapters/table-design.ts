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
 * - push-token claim: `PUSHTOKEN#<SHA-256 of the token>` / `META`          { deviceId }: the one device holding it
 * - device count:    `ORG#<orgId>`         / `DEVICE-COUNT`                 { devices }: counted against the org's cap
 * - dedupe key:      `DEVICE#<deviceId>`   / `DEDUPE#<key>`                 { claimant, state, outcome?, expiresAt (ms), ttl (s) }
 * - decision:        `DEVICE#<deviceId>`   / `EVENT#<ISO at>#<suffix>`      { at, mailbox, outcome, reason, ttl }
 * - APNs token:      `APNSTOKEN#<teamId>#<keyId>` / `META`                { sealedJwt, issuedAtMs, ttl } the fleet's provider token, sealed
 *
 * Within a device's partition the sort keys order as `DEDUPE#` < `EVENT#` < `MAILBOX#` < `META`, so the range
 * `MAILBOX#`..`META` holds exactly the device and its mailboxes (one Query reads a whole registration).
 *
 * Due index (GSI `due-index`, keys only): device and mailbox items that carry `dueAt` (N, epoch ms) also carry
 * `dueShard` (S, `DUE#<0..15>` from `dueShardOf(deviceId)`), and only those are indexed. The sweep queries one
 * shard for `dueAt <= now` and gets back the base keys: sk `META` is an interval-mode device, `MAILBOX#<id>` a
 * mailbox to supervise. Every write that sets `dueAt` sets `dueShard` with it and every write that removes one
 * removes both, so an item is in the index exactly when it has a due time.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** Epoch seconds after which DynamoDB may delete the item (it does so up to days late; reads never rely on it). */
export const TTL_ATTRIBUTE = 'ttl';

export const DEVICE_PK_PREFIX = 'DEVICE#';
export const CALLBACK_PK_PREFIX = 'CALLBACK#';
export const APNS_TOKEN_PK_PREFIX = 'APNSTOKEN#';
export const PUSH_TOKEN_PK_PREFIX = 'PUSHTOKEN#';
export const META_SK = 'META';
export const ORG_DEVICE_COUNT_SK = 'DEVICE-COUNT';
export const MAILBOX_SK_PREFIX = 'MAILBOX#';
export const DEDUPE_SK_PREFIX = 'DEDUPE#';
export const EVENT_SK_PREFIX = 'EVENT#';
/** Sorts after every `EVENT#<ISO date>` key ('~' is the highest printable ASCII character). */
export const EVENT_SK_UPPER_BOUND = `${EVENT_SK_PREFIX}~`;

/** The due index (see above) and its key attributes. */
export const DUE_INDEX_NAME = 'due-index';
export const DUE_SHARD_ATTRIBUTE = 'dueShard';
export const DUE_AT_ATTRIBUTE = 'dueAt';
const DUE_SHARD_PREFIX = 'DUE#';
/** The `dueShard` value of shard `shard` (0 .. DUE_SHARDS - 1). */
export const dueShardValue = (shard: number): string => `${DUE_SHARD_PREFIX}${shard}`;

/** A primary key of the table. */
export type TableKey = { pk: string; sk: string };

export const devicePk = (deviceId: string): string => `${DEVICE_PK_PREFIX}${deviceId}`;
export const deviceKey = (deviceId: string): TableKey => ({ pk: devicePk(deviceId), sk: META_SK });
export const mailboxKey = (deviceId: string, mailboxId: string): TableKey => ({
  pk: devicePk(deviceId),
  sk: `${MAILBOX_SK_PREFIX}${mailboxId}`,
});
export const callbackKey = (key: string): TableKey => ({ pk: `${CALLBACK_PK_PREFIX}${key}`, sk: META_SK });
/** One row per signing key, so a rotated key never overwrites (or reuses) the token of the key it replaces. */
export const apnsTokenKey = (teamId: string, keyId: string): TableKey => ({
  pk: `${APNS_TOKEN_PK_PREFIX}${teamId}#${keyId}`,
  sk: META_SK,
});
/** `tokenHash`: the push token's SHA-256, so that the token itself stays in its device's record only. */
export const pushTokenKey = (tokenHash: string): TableKey => ({ pk: `${PUSH_TOKEN_PK_PREFIX}${tokenHash}`, sk: META_SK });
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
      { AttributeName: DUE_SHARD_ATTRIBUTE, AttributeType: 'S' },
      { AttributeName: DUE_AT_ATTRIBUTE, AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [dueIndexDefinition()],
  };
}

/** The due index as CreateTable / UpdateTable take it. Keys only: the sweep re-reads every item it acts on anyway. */
export function dueIndexDefinition(): NonNullable<CreateTableCommandInput['GlobalSecondaryIndexes']>[number] {
  return {
    IndexName: DUE_INDEX_NAME,
    KeySchema: [
      { AttributeName: DUE_SHARD_ATTRIBUTE, KeyType: 'HASH' },
      { AttributeName: DUE_AT_ATTRIBUTE, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'KEYS_ONLY' },
  };
}
