import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MailboxLimitError,
  RelayClient,
  RelayForbiddenError,
  RelayNotFoundError,
  RelayUnauthorizedError,
  buildMailboxSubscribeRequest,
  decodePush,
  parseAppConfig,
  planDisplay,
  planRenewal,
  readSubscribeResponse,
  relaySubscriptionTimes,
  type AppConfig,
} from '../../shared/client/index.js';
import { startLocalService, type LocalService } from '../../infra/local/service.js';

/**
 * The device's half against the real local service: everything a device does goes through the client library only.
 * The test plays Exchange itself: it answers the Subscribe the client builds and POSTs SendNotification bodies to the
 * URL that Subscribe named, as Exchange would.
 */

const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/';
const MESSAGES = 'http://schemas.microsoft.com/exchange/services/2006/messages';
const TYPES = 'http://schemas.microsoft.com/exchange/services/2006/types';

const unescapeXml = (text: string) =>
  text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Just enough of an Exchange server: push subscriptions and SendNotification delivery. */
class FakeExchange {
  private readonly subscriptions = new Map<string, { url: string; statusFrequency: number }>();
  private count = 0;
  private watermark = 0;

  /** Answers a Subscribe request the way EWS does (subscribe-operation.md). */
  subscribe(requestXml: string): string {
    const url = /<t:URL>([^<]*)<\/t:URL>/.exec(requestXml)?.[1];
    const statusFrequency = Number(/<t:StatusFrequency>(\d+)<\/t:StatusFrequency>/.exec(requestXml)?.[1]);
    if (!url || !requestXml.includes('<t:EventType>NewMailEvent</t:EventType>') || !requestXml.includes('Id="inbox"')) {
      throw new Error('not a push subscription of the Inbox for NewMailEvent');
    }
    const subscriptionId = `sub-${++this.count}-${Math.random().toString(36).slice(2)}`;
    this.subscriptions.set(subscriptionId, { url: unescapeXml(url), statusFrequency });
    return (
      `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${SOAP}"><s:Body>` +
      `<m:SubscribeResponse xmlns:m="${MESSAGES}" xmlns:t="${TYPES}"><m:ResponseMessages>` +
      `<m:SubscribeResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>` +
      `<m:SubscriptionId>${subscriptionId}</m:SubscriptionId><m:Watermark>AQAAAA${this.watermark}==</m:Watermark>` +
      `</m:SubscribeResponseMessage></m:ResponseMessages></m:SubscribeResponse></s:Body></s:Envelope>`
    );
  }

  /** POSTs a SendNotification with one NewMailEvent per item; returns the SubscriptionStatus the relay answered. */
  async newMail(subscriptionId: string, itemIds: string[]): Promise<string | undefined> {
    const subscription = this.subscriptions.get(subscriptionId);
    if (!subscription) throw new Error(`unknown subscription ${subscriptionId}`);
    const previous = `AQAAAA${this.watermark}==`;
    const events = itemIds
      .map(
        (itemId) =>
          `<t:NewMailEvent><t:Watermark>AQAAAA${++this.watermark}==</t:Watermark><t:TimeStamp>${new Date().toISOString()}</t:TimeStamp>` +
          `<t:ItemId Id="${itemId}" ChangeKey="CQAAAA=="/><t:ParentFolderId Id="AAMkInbox=" ChangeKey="AQAAAA=="/></t:NewMailEvent>`,
      )
      .join('');
    const body =
      `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP}"><soap:Body>` +
      `<m:SendNotification xmlns:m="${MESSAGES}" xmlns:t="${TYPES}"><m:ResponseMessages>` +
      `<m:SendNotificationResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notification>` +
      `<t:SubscriptionId>${subscriptionId}</t:SubscriptionId><t:PreviousWatermark>${previous}</t:PreviousWatermark>` +
      `<t:MoreEvents>false</t:MoreEvents>${events}</m:Notification></m:SendNotificationResponseMessage>` +
      `</m:ResponseMessages></m:SendNotification></soap:Body></soap:Envelope>`;
    const response = await fetch(subscription.url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body });
    expect(response.status).toBe(200);
    return /<(?:\w+:)?SubscriptionStatus>\s*(\w+)\s*</.exec(await response.text())?.[1];
  }
}

const pushToken = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

/** Polls until `check` yields a value; the relay pushes and records asynchronously, after its callback answered. */
async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the client library against the local service', () => {
  let service: LocalService;
  let config: AppConfig;
  const exchange = new FakeExchange();

  /** What a device does to (re)subscribe a mailbox: Subscribe at Exchange, then report it to the relay. */
  async function subscribe(client: RelayClient, mailboxId: string, callbackUrl: string) {
    const answer = exchange.subscribe(buildMailboxSubscribeRequest({ callbackUrl }));
    const result = readSubscribeResponse(answer, { now: Date.now(), subscriptionValidMinutes: config.subscriptionValidMinutes });
    if (!result.ok) throw new Error(result.responseCode);
    await client.reportSubscription(mailboxId, result.report);
    return result;
  }

  const pushesTo = (token: string) => service.apnsSandbox!.pushes().filter((push) => push.token === token && push.status === 200);
  const waitForPushesTo = (token: string, count: number) => eventually(() => (pushesTo(token).length >= count ? pushesTo(token) : undefined));

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:' });
    const parsed = parseAppConfig({
      allow_realtime_notifications: 'true',
      notification_server_host: service.baseUrl,
      notification_server_authorization: `Bearer ${await service.orgToken('org-client')}`,
      notification_server_organization_id: 'org-client',
      enabled_features: 'delegated_shared_mailbox',
    });
    expect(parsed.problems).toEqual([]);
    config = parsed.config;
  });

  afterAll(async () => {
    await service?.stop();
  });

  const newClient = () => new RelayClient({ baseUrl: config.notificationServerUrl!, organizationToken: config.organizationToken! });

  it('registers, subscribes Exchange to the callback URL, and decodes the push that a new mail causes', async () => {
    const client = newClient();
    const token = pushToken(1);
    const registration = await client.register({ pushToken: token, mode: config.deliveryMode, mailboxes: [{ id: 'me', kind: 'primary' }] });
    const { subscriptionId } = await subscribe(client, 'me', registration.mailboxes[0]!.callbackUrl);

    expect(await exchange.newMail(subscriptionId, ['AAMkItem-1'])).toBe('OK');

    const [push] = await waitForPushesTo(token, 1);
    expect(push!.headers['apns-push-type']).toBe('alert');
    const instruction = decodePush(push!.payload);
    expect(instruction).toEqual({ type: 'sync-mailbox', mailboxId: 'me', newMessages: 1, alert: 'You have new messages' });

    // After syncing, the app replaces the generic alert with what the user's settings allow.
    const shown = planDisplay([{ id: 'AAMkItem-1', mailboxId: 'me', sender: 'Ada', subject: 'Hello' }], {
      showDetails: false,
      allowDetailedNotifications: config.allowDetailedNotifications,
    });
    expect(shown).toEqual([{ kind: 'unread-count', id: 'unread:me', threadId: 'me', unreadCount: 1 }]);

    const pushed = await eventually(async () => (await client.getEvents()).find((event) => event.outcome === 'pushed'));
    expect(pushed).toMatchObject({ mailbox: 'me', outcome: 'pushed' });
  });

  it('makes the relay refuse the subscription a resubscription replaced', async () => {
    const client = newClient();
    const token = pushToken(2);
    const { mailboxes } = await client.register({ pushToken: token, mailboxes: [{ id: 'me', kind: 'primary' }] });
    const first = await subscribe(client, 'me', mailboxes[0]!.callbackUrl);
    const second = await subscribe(client, 'me', mailboxes[0]!.callbackUrl);

    expect(await exchange.newMail(first.subscriptionId, ['AAMkOld'])).toBe('Unsubscribe');
    expect(await exchange.newMail(second.subscriptionId, ['AAMkNew'])).toBe('OK');
    // The superseded body was answered Unsubscribe before anything was queued, so the one push is the new mail's.
    const decoded = (await waitForPushesTo(token, 1)).map((push) => decodePush(push.payload));
    expect(decoded).toEqual([{ type: 'sync-mailbox', mailboxId: 'me', newMessages: 1, alert: 'You have new messages' }]);
  });

  it("feeds the relay's view of a subscription to the renewal planner", async () => {
    const client = newClient();
    const { mailboxes } = await client.register({ pushToken: pushToken(3), mailboxes: [{ id: 'me', kind: 'primary' }] });
    const subscription = await subscribe(client, 'me', mailboxes[0]!.callbackUrl);
    await exchange.newMail(subscription.subscriptionId, ['AAMkItem-3']);

    const view = (await client.getDevice()).mailboxes.find((m) => m.id === 'me')!;
    expect(view.subscription.subscriptionId).toBe(subscription.subscriptionId);
    const times = relaySubscriptionTimes(view);
    expect(times.expiresAt).toBe(subscription.expiresAt);
    expect(times.lastNotificationAt).toBeGreaterThanOrEqual(subscription.subscribedAt);

    const policy = { ...config, statusFrequencyMinutes: 30 };
    const state = { ...policy, subscribedAt: subscription.subscribedAt, ...times };
    expect(planRenewal(state, subscription.subscribedAt)).toMatchObject({ action: 'none', reason: 'interval-elapsed' });
    expect(planRenewal(state, subscription.subscribedAt + 60 * 60_000)).toMatchObject({ action: 'resubscribe', reason: 'interval-elapsed' });
  });

  it('changes settings and says they apply now', async () => {
    const client = newClient();
    await client.register({ pushToken: pushToken(4), mailboxes: [{ id: 'me', kind: 'primary' }] });

    const details = await client.updateSettings({ alerts: { showDetails: true } });
    expect(details.appliesFrom).toBe('now');
    expect(details.device.alerts.showDetails).toBe(true);

    const hours = await client.updateSettings({ timeZone: 'Europe/Berlin', alerts: { workHoursOnly: true, workHours: { start: '08:00' } } });
    // The relay reads the alert settings on every notification as it arrives, so new work hours need no resubscription.
    expect(hours.appliesFrom).toBe('now');
    expect(hours.device).toMatchObject({ timeZone: 'Europe/Berlin', alerts: { workHoursOnly: true, showDetails: true, workHours: { start: '08:00', end: '18:00' } } });
  });

  it('adds four delegated mailboxes, refuses a fifth before asking, and retires a removed one at Exchange', async () => {
    expect(config.features.delegatedMailboxes).toBe(true);
    const client = newClient();
    const { mailboxes } = await client.register({ pushToken: pushToken(5), mailboxes: [{ id: 'me', kind: 'primary' }, { id: 'shared-1', kind: 'delegated' }] });
    const added = [];
    for (const id of ['shared-2', 'shared-3', 'shared-4']) added.push(await client.addDelegatedMailbox(id));
    await expect(client.addDelegatedMailbox('shared-5')).rejects.toBeInstanceOf(MailboxLimitError);

    // A client that resumes from stored credentials learns the mailboxes from the relay and refuses too.
    const resumed = new RelayClient({ baseUrl: config.notificationServerUrl!, credentials: client.credentials! });
    await expect(resumed.addDelegatedMailbox('shared-5')).rejects.toBeInstanceOf(MailboxLimitError);

    const shared = await subscribe(client, 'shared-1', mailboxes[1]!.callbackUrl);
    await client.removeDelegatedMailbox('shared-1');
    expect(await exchange.newMail(shared.subscriptionId, ['AAMkShared'])).toBe('Unsubscribe');
    expect((await client.getDevice()).mailboxes.map((m) => m.id)).toEqual(['me', 'shared-2', 'shared-3', 'shared-4']);
    expect(added.every((m) => m.callbackUrl.startsWith(service.publicUrl))).toBe(true);
  });

  it("turns the relay's refusals into typed errors", async () => {
    const intruder = new RelayClient({ baseUrl: config.notificationServerUrl!, organizationToken: 'not-a-token' });
    await expect(intruder.register({ pushToken: pushToken(6), mailboxes: [{ id: 'me', kind: 'primary' }] })).rejects.toBeInstanceOf(RelayUnauthorizedError);

    const client = newClient();
    const { deviceId } = await client.register({ pushToken: pushToken(7), mailboxes: [{ id: 'me', kind: 'primary' }] });
    const wrongSecret = new RelayClient({ baseUrl: config.notificationServerUrl!, credentials: { deviceId, deviceSecret: 'guessed' } });
    await expect(wrongSecret.getDevice()).rejects.toBeInstanceOf(RelayForbiddenError);

    const stored = client.credentials!;
    await client.unregister();
    const stale = new RelayClient({ baseUrl: config.notificationServerUrl!, credentials: stored });
    await expect(stale.getDevice()).rejects.toMatchObject({ constructor: RelayNotFoundError, status: 404, code: 'device_not_found' });
  });
});
