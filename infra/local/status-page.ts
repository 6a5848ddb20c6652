import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from '../../shared/zod.js';
import { isPastTtl, type Item } from '../../functions/_lib/adapters/dynamodb-support.js';
import { decisionSchema } from '../../shared/device/device-schemas.js';
import { subscriptionState, subscriptionStateSchema, type SupervisedMailbox } from '../../shared/supervision/subscription-state.js';
import { isRelayManaged } from '../../shared/org/managed-subscription.js';
import { ORG_PK_PREFIX } from '../../functions/_lib/adapters/dynamodb-org-store.js';
import { DEVICE_PK_PREFIX, EVENT_SK_PREFIX, MAILBOX_SK_PREFIX, META_SK, TABLE_KEYS, TTL_ATTRIBUTE } from '../../functions/_lib/adapters/table-design.js';
import type { ApnsSandbox } from './apns-sandbox.js';
import { sendJson, type LocalExtraRoute } from './http-router.js';
import { statusSummarySchema, statusTileSchema, statusTiles, summarizeStatus, type StatusSummaryInput, type SummaryDecision } from './status-summary.js';

/**
 * The operators' status page of the local runtime (`npm start` only; nothing here is deployed): a dashboard (summary
 * tiles, the last hour as a chart), then devices, their mailboxes and subscription states and recent decisions, a
 * page at a time with search and filters, and the pushes the embedded APNs sandbox received. All times are UTC.
 * `GET /status` is a static page that polls `GET /_local/status.json?q=&outcome=&status=&page=`; `/` redirects to it.
 */

export const STATUS_PAGE_PATH = '/status';
export const STATUS_JSON_PATH = '/_local/status.json';
export const FAVICON_PATH = '/favicon.svg';

/** An envelope with a bell's badge: the page's tab icon (served for /favicon.ico too, which browsers ask for). */
const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="2" y="7" width="24" height="18" rx="3" fill="#2b6cb0"/><path d="M3 9l11 8 11-8" fill="none" stroke="#fff" stroke-width="2.2"/><circle cx="25" cy="8" r="6" fill="#e53e3e"/></svg>`;

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
  devices: 5_000,
  /** Items read by the Scan in all, so that a device with a week of busy decisions cannot make one refresh slow. */
  items: 50_000,
  decisionsPerDevice: 20,
  pushes: 50,
};

/** Devices per page of the device list. */
export const DEVICES_PER_PAGE = 20;

/** Payloads are under 4 KB by the contract; anything longer is not ours and is cut. */
const MAX_PAYLOAD_CHARS = 4096;

const statusMailboxSchema = z.object({
  id: z.string(),
  kind: z.string(),
  /** Shortened: enough to tell subscriptions apart. */
  subscriptionId: z.nullable(z.string()),
  expiresAt: z.nullable(z.string()),
  lastNotificationAt: z.nullable(z.string()),
  state: subscriptionStateSchema,
  /** `ews`, `graph`, or null before a subscription of either is reported. */
  protocol: z.nullable(z.string()),
  /** Who keeps the subscription: `relay` (contract section 9, the org's service account) or `device`. */
  managedBy: z.enum(['relay', 'device']),
  /** Relay-managed: when the relay last made or renewed the subscription. */
  lastRenewalAt: z.nullable(z.string()),
  /** Relay-managed: why its last attempts failed (a kind such as `throttled`, and how many in a row), else null. */
  renewalError: z.nullable(z.string()),
});

const statusDeviceSchema = z.object({
  deviceId: z.string(),
  orgId: z.string(),
  status: z.string(),
  retiredReason: z.nullable(z.string()),
  mode: z.string(),
  intervalSeconds: z.nullable(z.number()),
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
  pushType: z.nullable(z.string()),
  priority: z.nullable(z.string()),
  /** Shortened like the device's. */
  token: z.string(),
  status: z.number(),
  reason: z.nullable(z.string()),
  /** The body as JSON text; no mail content by design (contract section 6). */
  payload: z.string(),
});

/** An organization in organization mode: its mail server's type and health, never its URL, account or secret. */
const statusOrgSchema = z.object({
  orgId: z.string(),
  detailedAlerts: z.string(),
  mailServerType: z.string(),
  health: z.nullable(z.object({ at: z.string(), ok: z.boolean(), error: z.nullable(z.string()) })),
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
  /** Over every device read, whatever the filter: see status-summary.ts. */
  summary: statusSummarySchema,
  tiles: z.array(statusTileSchema),
  filter: z.object({ q: z.string(), outcome: z.string(), status: z.string() }),
  /** `total` devices match the filter; `devices` holds page `number` of `pages`. */
  page: z.object({ number: z.number(), size: z.number(), total: z.number(), pages: z.number() }),
  devices: z.array(statusDeviceSchema),
  /** Organizations in organization mode (the others are in the default mode). */
  orgs: z.array(statusOrgSchema),
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
  /** The event queue and its dead-letter queue, for the queue tile; left out, the tile says it could not read them. */
  queues?: { sqs: SQSClient; eventQueueUrl: string; deadLetterQueueUrl: string };
}

/** What the operator asked the page for: a search over org, device and mailbox ids, filters, and a page. */
export interface StatusQuery {
  q?: string;
  outcome?: string;
  status?: string;
  page?: number;
}

export function statusQueryFrom(url: URL): StatusQuery {
  const page = Number(url.searchParams.get('page') ?? '1');
  return {
    q: (url.searchParams.get('q') ?? '').trim().slice(0, 200),
    outcome: url.searchParams.get('outcome') ?? '',
    status: url.searchParams.get('status') ?? '',
    page: Number.isInteger(page) && page >= 1 ? page : 1,
  };
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
      const snapshot = await readStatusSnapshot({ ...options, limits }, statusQueryFrom(url));
      sendJson(res, 200, snapshot);
      return true;
    },
    (req, res, url) => {
      // A person who opens the base URL in a browser wants this page, not the API's JSON 404.
      if (url.pathname !== '/' || req.method !== 'GET') return false;
      res.writeHead(302, { location: STATUS_PAGE_PATH, 'cache-control': 'no-store' });
      res.end();
      return true;
    },
    (req, res, url) => {
      if ((url.pathname !== '/favicon.ico' && url.pathname !== FAVICON_PATH) || req.method !== 'GET') return false;
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400', 'x-content-type-options': 'nosniff' });
      res.end(FAVICON_SVG);
      return true;
    },
  ];
}

/**
 * Reads everything the page shows. A paginated Scan of the whole table is acceptable only because this is a local
 * operator page over a developer's data; nothing deployed reads the table this way (the sweep uses the due index).
 */
export async function readStatusSnapshot(options: StatusPageOptions, query: StatusQuery = {}): Promise<StatusSnapshot> {
  const limits = { ...STATUS_LIMITS, ...options.limits };
  const now = options.now();
  const [{ partitions, capped }, queues, orgs] = await Promise.all([
    scanDevicePartitions(options.documentClient, options.tableName, limits, now),
    readQueueDepths(options.queues),
    scanOrgs(options.documentClient, options.tableName),
  ]);
  const devices = [...partitions.values()].flatMap((items) => {
    const device = toStatusDevice(items, now, limits.decisionsPerDevice);
    return device ? [device] : [];
  });
  devices.sort((a, b) => a.createdAt - b.createdAt || a.view.deviceId.localeCompare(b.view.deviceId));

  const sandboxPushes = options.apnsSandbox?.pushes();
  const summaryInput: StatusSummaryInput = {
    now,
    devices: devices.map((device) => device.view),
    recentDecisions: devices.flatMap((device) => device.recentDecisions),
    sandboxPushes: sandboxPushes?.map((push) => ({ atMs: push.at, status: push.status })),
    queues,
  };
  const summary = summarizeStatus(summaryInput);

  const filter = { q: query.q ?? '', outcome: query.outcome ?? '', status: query.status ?? '' };
  const matching = devices.map((device) => device.view).filter((device) => matchesFilter(device, filter));
  const pages = Math.max(1, Math.ceil(matching.length / DEVICES_PER_PAGE));
  const number = Math.min(query.page ?? 1, pages);

  return statusSnapshotSchema.parse({
    generatedAt: new Date(now).toISOString(),
    limits,
    capped,
    summary,
    tiles: statusTiles(summary),
    filter,
    page: { number, size: DEVICES_PER_PAGE, total: matching.length, pages },
    devices: matching.slice((number - 1) * DEVICES_PER_PAGE, number * DEVICES_PER_PAGE),
    orgs,
    apns: options.apnsSandbox ? recentSandboxPushes(sandboxPushes ?? [], limits.pushes) : { kind: 'external' },
  });
}

type DeviceView = StatusSnapshot['devices'][number];

/** The org records (`ORG#<orgId>` / `META`), only the attributes the page shows: no URL, account or sealed secret. */
async function scanOrgs(client: DynamoDBDocumentClient, tableName: string): Promise<StatusSnapshot['orgs']> {
  const orgs: StatusSnapshot['orgs'] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(#pk, :org) AND #sk = :meta',
        ProjectionExpression: 'orgId, detailedAlerts, mailServer.#type, health',
        ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey, '#sk': TABLE_KEYS.sortKey, '#type': 'type' },
        ExpressionAttributeValues: { ':org': ORG_PK_PREFIX, ':meta': META_SK },
        ExclusiveStartKey: exclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const health = item.health as { at?: number; ok?: boolean; error?: string } | undefined;
      orgs.push({
        orgId: text(item.orgId),
        detailedAlerts: text(item.detailedAlerts),
        mailServerType: text((item.mailServer as { type?: string } | undefined)?.type),
        health: health ? { at: new Date(health.at ?? 0).toISOString(), ok: health.ok === true, error: health.error ?? null } : null,
      });
    }
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey && orgs.length < 500);
  return orgs.sort((a, b) => a.orgId.localeCompare(b.orgId));
}

/** Search: any of org, device and mailbox ids contains the text (case-insensitive); filters: exact. */
function matchesFilter(device: DeviceView, filter: { q: string; outcome: string; status: string }): boolean {
  if (filter.status && device.status !== filter.status) return false;
  if (filter.outcome && !device.decisions.some((decision) => decision.outcome === filter.outcome)) return false;
  if (!filter.q) return true;
  const needle = filter.q.toLowerCase();
  return [device.orgId, device.deviceId, ...device.mailboxes.map((mailbox) => mailbox.id)].some((id) => id.toLowerCase().includes(needle));
}

async function readQueueDepths(queues: StatusPageOptions['queues']): Promise<StatusSummaryInput['queues']> {
  if (!queues) return undefined;
  const read = async (queueUrl: string) =>
    (await queues.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes ?? {};
  try {
    const [events, deadLetters] = await Promise.all([read(queues.eventQueueUrl), read(queues.deadLetterQueueUrl)]);
    return {
      visible: Number(events.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(events.ApproximateNumberOfMessagesNotVisible ?? 0),
      deadLetters: Number(deadLetters.ApproximateNumberOfMessages ?? 0) + Number(deadLetters.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  } catch {
    // The page still shows everything else; the tile says the queue could not be read.
    return undefined;
  }
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
  'supersededAt', 'resubscribeRequestedAt', 'protocol',
  // who keeps the subscription (never the sealed address or the delta link)
  'managedBy', 'managedProtocol', 'managedRenewedAt', 'managedFailures', 'managedLastError',
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
function toStatusDevice(
  items: Item[],
  now: number,
  decisionsPerDevice: number,
): { createdAt: number; view: DeviceView; recentDecisions: SummaryDecision[] } | undefined {
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
      protocol: typeof item.protocol === 'string' ? item.protocol : null,
      ...managerOf(item),
    }));
  // Event sort keys are `EVENT#<ISO at>#<suffix>`, so sorting them sorts by time.
  const events = items.filter((item) => sortKey(item).startsWith(EVENT_SK_PREFIX));
  const hourAgo = now - 3_600_000;
  const recentDecisions = events.flatMap((item): SummaryDecision[] => {
    const atMs = typeof item.at === 'string' ? Date.parse(item.at) : Number.NaN;
    if (!(atMs >= hourAgo) || typeof item.outcome !== 'string') return [];
    return [{ atMs, recordedMs: recordedAt(sortKey(item)), outcome: item.outcome }];
  });
  const decisions = events
    .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : sortKey(a) > sortKey(b) ? -1 : 0))
    .slice(0, decisionsPerDevice)
    .flatMap((item) => {
      const decision = decisionSchema.safeParse(item);
      return decision.success ? [decision.data] : [];
    });
  return {
    createdAt: typeof meta.createdAt === 'number' ? meta.createdAt : 0,
    recentDecisions,
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

/** The recording time the decision log puts after `at` in the sort key (`EVENT#<at>#<15-digit ms>-<uuid>`). */
function recordedAt(sortKey: string): number | undefined {
  const match = /#(\d{15})-[^#]*$/.exec(sortKey);
  return match ? Number(match[1]) : undefined;
}

/** Who keeps the mailbox's subscription, and for the relay how its renewals go. */
function managerOf(item: Item): Pick<StatusSnapshot['devices'][number]['mailboxes'][number], 'managedBy' | 'lastRenewalAt' | 'renewalError'> {
  const fields = { managedBy: typeof item.managedBy === 'string' ? item.managedBy : undefined, managedProtocol: typeof item.managedProtocol === 'string' ? item.managedProtocol : undefined };
  if (!isRelayManaged(fields)) return { managedBy: 'device', lastRenewalAt: null, renewalError: null };
  const failures = typeof item.managedFailures === 'number' ? item.managedFailures : 0;
  return {
    managedBy: 'relay',
    lastRenewalAt: isoOrNull(item.managedRenewedAt),
    renewalError: typeof item.managedLastError === 'string' && failures > 0 ? `${item.managedLastError} (${failures} in a row)` : null,
  };
}

function supervisedMailbox(item: Item): SupervisedMailbox {
  const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
  return {
    createdAt: number(item.createdAt) ?? 0,
    // Graph subscriptions send no heartbeats: without the protocol a quiet Graph mailbox would read as silent.
    ...(item.protocol === 'graph' || item.protocol === 'ews' ? { protocol: item.protocol } : {}),
    subscriptionId: typeof item.subscriptionId === 'string' ? item.subscriptionId : undefined,
    subscriptionReportedAt: number(item.subscriptionReportedAt),
    statusFrequencyMinutes: number(item.statusFrequencyMinutes),
    expiresAt: number(item.expiresAt),
    lastNotificationAt: number(item.lastNotificationAt),
    supersededAt: number(item.supersededAt),
    resubscribeRequestedAt: number(item.resubscribeRequestedAt),
  };
}

function recentSandboxPushes(all: ReturnType<ApnsSandbox['pushes']>, limit: number): StatusSnapshot['apns'] {
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
