import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isPastTtl, type Item } from '../../functions/_lib/adapters/dynamodb-support.js';
import { decisionSchema } from '../../shared/device/device-schemas.js';
import { subscriptionState, subscriptionStateSchema, type SupervisedMailbox } from '../../shared/supervision/subscription-state.js';
import { DEVICE_PK_PREFIX, EVENT_SK_PREFIX, MAILBOX_SK_PREFIX, META_SK, TABLE_KEYS, TTL_ATTRIBUTE } from '../../functions/_lib/adapters/table-design.js';
import type { ApnsSandbox } from './apns-sandbox.js';
import { sendJson, type LocalExtraRoute } from './http-router.js';

/**
 * The operators' status page of the local runtime (`npm start` only; nothing here is deployed): devices, their
 * mailboxes and subscription states, recent decisions and the pushes the embedded APNs sandbox received.
 * `GET /status` is a static page that polls `GET /_local/status.json`.
 */

export const STATUS_PAGE_PATH = '/status';
export const STATUS_JSON_PATH = '/_local/status.json';

/** How much one snapshot reads and shows; the page says when a limit cut the view short. */
export interface StatusLimits {
  /** Device partitions read by the Scan. */
  devices: number;
  /** Items read by the Scan in all. */
  items: number;
  decisionsPerDevice: number;
  pushes: number;
}

export const STATUS_LIMITS: Readonly<StatusLimits> = {
  devices: 500,
  /** Items read by the Scan in all, so that a device with a week of busy decisions cannot make one refresh slow. */
  items: 20_000,
  decisionsPerDevice: 20,
  pushes: 50,
};

/** Payloads are under 4 KB by the contract; anything longer is not ours and is cut. */
const MAX_PAYLOAD_CHARS = 4096;

const statusMailboxSchema = z.object({
  id: z.string(),
  kind: z.string(),
  /** Shortened: enough to tell subscriptions apart. */
  subscriptionId: z.string().nullable(),
  expiresAt: z.string().nullable(),
  lastNotificationAt: z.string().nullable(),
  state: subscriptionStateSchema,
});

const statusDeviceSchema = z.object({
  deviceId: z.string(),
  orgId: z.string(),
  status: z.string(),
  retiredReason: z.string().nullable(),
  mode: z.string(),
  intervalSeconds: z.number().nullable(),
  apnsEnvironment: z.string(),
  timeZone: z.string(),
  /** The first 8 hex characters and an ellipsis, never the whole token. */
  pushToken: z.string(),
  mailboxes: z.array(statusMailboxSchema),
  /** Newest first. */
  decisions: z.array(decisionSchema),
});

const statusPushSchema = z.object({
  at: z.string(),
  pushType: z.string().nullable(),
  priority: z.string().nullable(),
  /** Shortened like the device's. */
  token: z.string(),
  status: z.number(),
  reason: z.string().nullable(),
  /** The body as JSON text; no mail content by design (contract section 6). */
  payload: z.string(),
});

/**
 * What `GET /_local/status.json` answers. Every snapshot goes through this schema before it is sent: zod drops keys
 * it does not list, so a stored field added later (or `secretHash`, `callbackKey`) cannot reach the page by accident.
 */
export const statusSnapshotSchema = z.object({
  /** The service's clock (tests may move it), ISO. */
  generatedAt: z.string(),
  limits: z.object({ devices: z.number(), items: z.number(), decisionsPerDevice: z.number(), pushes: z.number() }),
  /** True when the Scan stopped at a limit: there is more in the table than shown. */
  capped: z.boolean(),
  devices: z.array(statusDeviceSchema),
  apns: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('sandbox'), received: z.number(), pushes: z.array(statusPushSchema) }),
    z.object({ kind: z.literal('external') }),
  ]),
});
export type StatusSnapshot = z.infer<typeof statusSnapshotSchema>;

export interface StatusPageOptions {
  documentClient: DynamoDBDocumentClient;
  tableName: string;
  /** The embedded sandbox, or undefined when pushes go to an external APNs server. */
  apnsSandbox: ApnsSandbox | undefined;
  /** The service's clock: subscription states and expired decisions are judged by it. */
  now: () => number;
  /** Lower limits for tests; defaults `STATUS_LIMITS`. */
  limits?: Partial<StatusLimits>;
}

/** The page's routes, for the local router's `extras`. */
export function statusPageRoutes(options: StatusPageOptions): LocalExtraRoute[] {
  const limits = { ...STATUS_LIMITS, ...options.limits };
  return [
    (req, res, url) => {
      if (url.pathname !== STATUS_PAGE_PATH || req.method !== 'GET') return false;
      if (!refuseForeignHost(req, res)) sendPage(res);
      return true;
    },
    async (req, res, url) => {
      if (url.pathname !== STATUS_JSON_PATH || req.method !== 'GET') return false;
      if (refuseForeignHost(req, res)) return true;
      const snapshot = await readStatusSnapshot({ ...options, limits });
      sendJson(res, 200, snapshot);
      return true;
    },
  ];
}

/**
 * Reads everything the page shows. A paginated Scan of the whole table is acceptable only because this is a local
 * operator page over a developer's data; nothing deployed reads the table this way (the sweep uses the due index).
 */
export async function readStatusSnapshot(options: StatusPageOptions): Promise<StatusSnapshot> {
  const limits = { ...STATUS_LIMITS, ...options.limits };
  const now = options.now();
  const { partitions, capped } = await scanDevicePartitions(options.documentClient, options.tableName, limits, now);
  const devices = [...partitions.values()].flatMap((items) => {
    const device = toStatusDevice(items, now, limits.decisionsPerDevice);
    return device ? [device] : [];
  });
  devices.sort((a, b) => a.createdAt - b.createdAt || a.view.deviceId.localeCompare(b.view.deviceId));

  return statusSnapshotSchema.parse({
    generatedAt: new Date(now).toISOString(),
    limits,
    capped,
    devices: devices.map((device) => device.view),
    apns: options.apnsSandbox ? sandboxPushes(options.apnsSandbox, limits.pushes) : { kind: 'external' },
  });
}

/**
 * Only the attributes the page shows are read, so secrets and their hashes (`secretHash`, `callbackKey`) never
 * leave the table. Several of these names are DynamoDB reserved words, hence placeholders for all.
 */
const PROJECTED_ATTRIBUTES = [
  TABLE_KEYS.partitionKey,
  TABLE_KEYS.sortKey,
  TTL_ATTRIBUTE,
  // device
  'deviceId', 'orgId', 'status', 'retiredReason', 'mode', 'intervalSeconds', 'apnsEnvironment', 'timeZone', 'pushToken', 'createdAt',
  // mailbox (the fields `subscriptionState` reads)
  'mailboxId', 'kind', 'subscriptionId', 'expiresAt', 'lastNotificationAt', 'subscriptionReportedAt', 'statusFrequencyMinutes',
  'supersededAt', 'resubscribeRequestedAt',
  // decision
  'at', 'mailbox', 'outcome', 'reason',
] as const;

async function scanDevicePartitions(
  client: DynamoDBDocumentClient,
  tableName: string,
  limits: StatusLimits,
  now: number,
): Promise<{ partitions: Map<string, Item[]>; capped: boolean }> {
  const names = Object.fromEntries(PROJECTED_ATTRIBUTES.map((name, index) => [`#a${index}`, name]));
  const partitions = new Map<string, Item[]>();
  let itemsRead = 0;
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
        Limit: Math.max(1, Math.min(1000, limits.items - itemsRead)),
        ExclusiveStartKey: exclusiveStartKey,
      }),
    );
    for (const item of (page.Items ?? []) as Item[]) {
      itemsRead += 1;
      const pk = item[TABLE_KEYS.partitionKey];
      // Callback lookups live in their own partitions and are never shown.
      if (typeof pk !== 'string' || !pk.startsWith(DEVICE_PK_PREFIX)) continue;
      let partition = partitions.get(pk);
      if (!partition) {
        // A Scan returns each partition's items together, in sort-key order, so meeting a new partition key means
        // every partition before it is complete: stopping here shows whole devices, never half of one.
        if (partitions.size >= limits.devices) return { partitions, capped: true };
        partition = [];
        partitions.set(pk, partition);
      }
      // Dedupe keys are not shown. Expired items read as absent, as in the adapters: DynamoDB deletes them days
      // late and dynalite never does.
      if (isShown(item) && !isPastTtl(item, now)) partition.push(item);
    }
    exclusiveStartKey = page.LastEvaluatedKey;
    if (exclusiveStartKey && itemsRead >= limits.items) return { partitions, capped: true };
  } while (exclusiveStartKey);
  return { partitions, capped: false };
}

function isShown(item: Item): boolean {
  const sk = item[TABLE_KEYS.sortKey];
  return typeof sk === 'string' && (sk === META_SK || sk.startsWith(MAILBOX_SK_PREFIX) || sk.startsWith(EVENT_SK_PREFIX));
}

/** One device partition as the page shows it; undefined for a partition without its device item (a crash's leftovers). */
function toStatusDevice(items: Item[], now: number, decisionsPerDevice: number): { createdAt: number; view: StatusSnapshot['devices'][number] } | undefined {
  const meta = items.find((item) => item[TABLE_KEYS.sortKey] === META_SK);
  if (!meta) return undefined;
  const sortKey = (item: Item): string => String(item[TABLE_KEYS.sortKey]);
  const mailboxes = items
    .filter((item) => sortKey(item).startsWith(MAILBOX_SK_PREFIX))
    .map((item) => ({
      id: sortKey(item).slice(MAILBOX_SK_PREFIX.length),
      kind: text(item.kind),
      subscriptionId: typeof item.subscriptionId === 'string' ? shorten(item.subscriptionId, 12) : null,
      expiresAt: isoOrNull(item.expiresAt),
      lastNotificationAt: isoOrNull(item.lastNotificationAt),
      state: subscriptionState(supervisedMailbox(item), now),
    }));
  // Event sort keys are `EVENT#<ISO at>#<suffix>`, so sorting them sorts by time.
  const decisions = items
    .filter((item) => sortKey(item).startsWith(EVENT_SK_PREFIX))
    .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : sortKey(a) > sortKey(b) ? -1 : 0))
    .slice(0, decisionsPerDevice)
    .flatMap((item) => {
      const decision = decisionSchema.safeParse(item);
      return decision.success ? [decision.data] : [];
    });
  return {
    createdAt: typeof meta.createdAt === 'number' ? meta.createdAt : 0,
    view: {
      deviceId: String(meta[TABLE_KEYS.partitionKey]).slice(DEVICE_PK_PREFIX.length),
      orgId: text(meta.orgId),
      status: text(meta.status),
      retiredReason: typeof meta.retiredReason === 'string' ? meta.retiredReason : null,
      mode: text(meta.mode),
      intervalSeconds: typeof meta.intervalSeconds === 'number' ? meta.intervalSeconds : null,
      apnsEnvironment: text(meta.apnsEnvironment),
      timeZone: text(meta.timeZone),
      pushToken: shortenToken(meta.pushToken),
      mailboxes,
      decisions,
    },
  };
}

function supervisedMailbox(item: Item): SupervisedMailbox {
  const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
  return {
    createdAt: number(item.createdAt) ?? 0,
    subscriptionId: typeof item.subscriptionId === 'string' ? item.subscriptionId : undefined,
    subscriptionReportedAt: number(item.subscriptionReportedAt),
    statusFrequencyMinutes: number(item.statusFrequencyMinutes),
    expiresAt: number(item.expiresAt),
    lastNotificationAt: number(item.lastNotificationAt),
    supersededAt: number(item.supersededAt),
    resubscribeRequestedAt: number(item.resubscribeRequestedAt),
  };
}

function sandboxPushes(sandbox: ApnsSandbox, limit: number): StatusSnapshot['apns'] {
  const all = sandbox.pushes();
  // Headers are left out on purpose: `authorization` carries the provider JWT.
  const pushes = all.slice(-limit).reverse().map((push) => ({
    at: new Date(push.at).toISOString(),
    pushType: push.headers['apns-push-type'] ?? null,
    priority: push.headers['apns-priority'] ?? null,
    token: shortenToken(push.token),
    status: push.status,
    reason: push.reason ?? null,
    payload: payloadText(push.payload),
  }));
  return { kind: 'sandbox', received: all.length, pushes };
}

function payloadText(payload: unknown): string {
  const textValue = payload === undefined ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload);
  return textValue.length > MAX_PAYLOAD_CHARS ? `${textValue.slice(0, MAX_PAYLOAD_CHARS)}…` : textValue;
}

/** A push token identifies a device to APNs; eight characters are enough to tell devices apart on this page. */
export function shortenToken(token: unknown): string {
  return typeof token === 'string' && token.length > 0 ? `${token.slice(0, 8)}…` : '';
}

function shorten(value: string, length: number): string {
  return value.length > length ? `${value.slice(0, length)}…` : value;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isoOrNull(value: unknown): string | null {
  return typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString() : null;
}

/** The page, read once; `{{nonce}}` is replaced per response. */
const PAGE_TEMPLATE = readFileSync(new URL('./status-page.html', import.meta.url), 'utf8');

function sendPage(res: ServerResponse): void {
  // A fresh nonce per response: only the page's own inline script and style run, nothing injected ever could.
  const nonce = randomBytes(16).toString('base64');
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "img-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(PAGE_TEMPLATE.replaceAll('{{nonce}}', nonce));
}

const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Answers 403 and returns true unless the request names a loopback host. The service listens on loopback only, but
 * a web page elsewhere could reach it through DNS rebinding (its own name resolving to 127.0.0.1), and a tunnel
 * set up so that Exchange can reach PUBLIC_URL forwards the public name: neither may read this page.
 */
function refuseForeignHost(req: IncomingMessage, res: ServerResponse): boolean {
  const host = req.headers.host ?? '';
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  if (hostname !== undefined && LOOPBACK_HOSTNAMES.has(hostname.toLowerCase())) return false;
  sendJson(res, 403, { error: { code: 'forbidden', message: 'the status page answers only to a loopback host name (127.0.0.1 or localhost)' } });
  return true;
}
