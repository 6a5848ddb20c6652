import { createHash } from 'node:crypto';
import { BatchWriteCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { hashSecret, urlSecretOf } from '../../functions/_lib/device-secrets.js';
import { MAILBOX_SK_PREFIX, ORG_DEVICE_COUNT_SK } from '../../functions/_lib/adapters/table-design.js';
import { GRAPH_NOTIFICATION_PATH_PREFIX, callbackUrl } from '../../functions/_lib/mailbox-endpoints.js';
import { api } from '../../test/support/device-api.js';
import { progress } from './progress.js';

/**
 * A fleet of registered mailboxes for load and growth runs, one device per mailbox. Every identifier and secret is
 * derived from (salt, index), so a load generator in another process can rebuild any mailbox's callback URL and push
 * token from the index alone, and the parent can tell which request a push answers by its token.
 *
 * Seeding writes the table directly (BatchWrite through the document client), because registering 100,000 devices
 * through the HTTP API would take longer than the whole benchmark may. The items are clones of what the API itself
 * wrote for one template device, so they cannot drift from the real layout as the store adapters change.
 */

export interface FleetMember {
  index: number;
  deviceId: string;
  deviceSecret: string;
  mailboxId: string;
  callbackSecret: string;
  pushToken: string;
  subscriptionId: string;
  /** The Graph clientState of the mailbox (a Graph fleet's notifications carry it). */
  clientState: string;
}

/** Which protocol a fleet's subscriptions speak: EWS push, or Graph change notifications. */
export type FleetProtocol = 'ews' | 'graph';

/** StatusFrequency the fleet's subscriptions report: Exchange's default and the reference workload's. */
export const FLEET_STATUS_FREQUENCY_MINUTES = 30;

const TEMPLATE_PUSH_TOKEN = 'f00d'.repeat(16);
const TEMPLATE_MAILBOX_ID = 'bench-template-mailbox';
const TEMPLATE_SUBSCRIPTION_ID = 'bench-template-subscription';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export function fleetMember(salt: string, index: number): FleetMember {
  const id = digest(`${salt}:device:${index}`).toString('hex');
  // UUID v4 layout, like the ids the API hands out.
  const deviceId = `${id.slice(0, 8)}-${id.slice(8, 12)}-4${id.slice(13, 16)}-8${id.slice(17, 20)}-${id.slice(20, 32)}`;
  return {
    index,
    deviceId,
    deviceSecret: digest(`${salt}:device-secret:${index}`).toString('base64url'),
    mailboxId: `mb-${index}`,
    callbackSecret: urlSecretOf(deviceId, `mb-${index}`, digest(`${salt}:callback:${index}`)),
    pushToken: digest(`${salt}:push-token:${index}`).toString('hex'),
    subscriptionId: `sub-${salt}-${index}`,
    clientState: digest(`${salt}:client-state:${index}`).toString('base64url'),
  };
}

export function fleetCallbackUrl(publicUrl: string, member: FleetMember): string {
  return callbackUrl(publicUrl, member.callbackSecret);
}

/** The member's Graph notification URL (the same URL secret as its callback URL). */
export function fleetGraphNotificationUrl(publicUrl: string, member: FleetMember): string {
  return `${publicUrl.replace(/\/+$/, '')}${GRAPH_NOTIFICATION_PATH_PREFIX}${member.callbackSecret}`;
}

/** The items one registration wrote, and the identifiers in them that differ per device. */
export interface FleetTemplate {
  /** The registration's own items (device, mailbox, callback lookup, push-token claim): one set per member. */
  items: Record<string, unknown>[];
  /**
   * Items the whole fleet shares (the organization's device count): their keys name nothing of the device, so one
   * copy per member would be the same key again (BatchWriteItem refuses duplicate keys in one request).
   */
  sharedItems: Record<string, unknown>[];
  replacements: { deviceId: string; secretHash: string; callbackKey: string; clientStateHash: string; pushTokenHash: string };
}

/**
 * Registers one device with one mailbox through the device API, reports its subscription, and reads back every item
 * that wrote. Must run on an empty table: everything the scan finds is taken as the template.
 */
export async function captureFleetTemplate(input: {
  baseUrl: string;
  orgToken: string;
  documentClient: DynamoDBDocumentClient;
  tableName: string;
  subscriptionExpiresAt: number;
  /** The protocol the template's subscription is reported with (default EWS). */
  protocol?: FleetProtocol;
}): Promise<FleetTemplate> {
  const registered = await api(input.baseUrl, 'POST', '/v1/devices', {
    token: input.orgToken,
    body: { pushToken: TEMPLATE_PUSH_TOKEN, mailboxes: [{ id: TEMPLATE_MAILBOX_ID, kind: 'primary' }] },
  });
  if (registered.status !== 201) throw new Error(`template registration answered ${registered.status}: ${JSON.stringify(registered.body)}`);
  const { deviceId, deviceSecret } = registered.body as { deviceId: string; deviceSecret: string };
  const templateCallbackUrl = String(registered.body.mailboxes[0].callbackUrl);
  const reported = await api(input.baseUrl, 'PUT', `/v1/devices/${deviceId}/mailboxes/${TEMPLATE_MAILBOX_ID}/subscription`, {
    token: deviceSecret,
    body:
      input.protocol === 'graph'
        ? { protocol: 'graph', subscriptionId: TEMPLATE_SUBSCRIPTION_ID, expiresAt: new Date(input.subscriptionExpiresAt).toISOString() }
        : {
            subscriptionId: TEMPLATE_SUBSCRIPTION_ID,
            expiresAt: new Date(input.subscriptionExpiresAt).toISOString(),
            statusFrequencyMinutes: FLEET_STATUS_FREQUENCY_MINUTES,
          },
  });
  if (reported.status !== 204) throw new Error(`template subscription report answered ${reported.status}: ${JSON.stringify(reported.body)}`);

  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await input.documentClient.send(
      new ScanCommand({ TableName: input.tableName, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  if (items.length === 0) throw new Error('the template registration wrote nothing that a scan could find');
  const callbackSecret = templateCallbackUrl.slice(templateCallbackUrl.lastIndexOf('/') + 1);
  const clientState = String(registered.body.mailboxes[0].graph.clientState);
  const isShared = (item: Record<string, unknown>) => item.sk === ORG_DEVICE_COUNT_SK;
  return {
    items: items.filter((item) => !isShared(item)),
    sharedItems: items.filter(isShared),
    replacements: {
      deviceId,
      secretHash: hashSecret(deviceSecret),
      callbackKey: hashSecret(callbackSecret),
      clientStateHash: hashSecret(clientState),
      pushTokenHash: hashSecret(TEMPLATE_PUSH_TOKEN),
    },
  };
}

/** Attributes to set on one member's mailbox item (its state before the measured notification, say). */
export type MailboxAttributes = (index: number) => Record<string, unknown>;

/** The template's items rewritten for one member, with `mailbox` set on its mailbox item. */
export function fleetItems(template: FleetTemplate, member: FleetMember, mailbox: Record<string, unknown> = {}): Record<string, unknown>[] {
  const swaps: Array<[string, string]> = [
    [template.replacements.deviceId, member.deviceId],
    [template.replacements.secretHash, hashSecret(member.deviceSecret)],
    [template.replacements.callbackKey, hashSecret(member.callbackSecret)],
    [template.replacements.clientStateHash, hashSecret(member.clientState)],
    // The push-token claim is keyed by the token's hash: each member holds its own token, so its own claim.
    [template.replacements.pushTokenHash, hashSecret(member.pushToken)],
    [TEMPLATE_PUSH_TOKEN, member.pushToken],
    [TEMPLATE_MAILBOX_ID, member.mailboxId],
    [TEMPLATE_SUBSCRIPTION_ID, member.subscriptionId],
  ];
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') return swaps.reduce((text, [from, to]) => text.split(from).join(to), value);
    if (Array.isArray(value)) return value.map(rewrite);
    if (value instanceof Set || value instanceof Uint8Array) return value;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rewrite(inner)]));
    }
    return value;
  };
  // A due-index shard (if the layout has one) stays the template's: the supervisor that reads it is off in the
  // benchmarks, and nothing on the real-time path reads it.
  return template.items.map((item) => {
    const rewritten = rewrite(item) as Record<string, unknown>;
    return String(rewritten.sk).startsWith(MAILBOX_SK_PREFIX) ? { ...rewritten, ...mailbox } : rewritten;
  });
}

const BATCH_ITEMS = 25;

/** Writes members `from` .. `to - 1`; returns the wall time it took. */
export async function seedFleet(input: {
  documentClient: DynamoDBDocumentClient;
  tableName: string;
  template: FleetTemplate;
  salt: string;
  from: number;
  to: number;
  concurrency?: number;
  scope: string;
  mailbox?: MailboxAttributes;
}): Promise<{ seconds: number; items: number }> {
  const started = performance.now();
  const perMember = input.template.items.length;
  const membersPerBatch = Math.max(1, Math.floor(BATCH_ITEMS / perMember));
  let next = input.from;
  let written = 0;
  let reported = input.from;
  const step = Math.max(1000, Math.floor((input.to - input.from) / 10));

  const worker = async (): Promise<void> => {
    while (next < input.to) {
      const start = next;
      next = Math.min(input.to, start + membersPerBatch);
      let requests = [];
      for (let index = start; index < next; index++) {
        for (const item of fleetItems(input.template, fleetMember(input.salt, index), input.mailbox?.(index))) requests.push({ PutRequest: { Item: item } });
      }
      // Unprocessed items are retried; a bounded number of rounds keeps a broken backend from looping forever.
      for (let round = 0; requests.length > 0; round++) {
        if (round === 20) throw new Error('seeding: DynamoDB kept items unprocessed for 20 rounds');
        const answer = await input.documentClient.send(new BatchWriteCommand({ RequestItems: { [input.tableName]: requests } }));
        const unprocessed = answer.UnprocessedItems?.[input.tableName] ?? [];
        written += requests.length - unprocessed.length;
        requests = unprocessed as typeof requests;
      }
      if (next - reported >= step) {
        reported = next;
        progress(input.scope, `seeded ${next.toLocaleString('en-US')} of ${input.to.toLocaleString('en-US')} mailboxes`);
      }
    }
  };
  await Promise.all(Array.from({ length: input.concurrency ?? 4 }, worker));
  // The organization's device count as if every member had registered (plus the template device), so the quota
  // sees the fleet the API would have counted.
  for (const item of input.template.sharedItems) {
    const shared = item.sk === ORG_DEVICE_COUNT_SK ? { ...item, devices: input.to + 1 } : item;
    await input.documentClient.send(new PutCommand({ TableName: input.tableName, Item: shared }));
    written++;
  }
  return { seconds: (performance.now() - started) / 1000, items: written };
}
