import { randomBytes } from 'node:crypto';
import { decryptAlert, exportAlertPublicKey, generateAlertKeyPair } from '../../shared/client/alert-key.js';
import type { PlayedEws } from '../../test/support/played/played-ews.js';
import type { PlayedGraph } from '../../test/support/played/played-graph.js';
import type { ObservedPush } from './relay-target.js';
import { sleep } from './concurrency.js';

/**
 * Organization mode, played end to end over the relay's HTTP API (contract section 8): an operator connects an
 * organization to a played Exchange (EWS) and, when given, a played Microsoft Graph; devices prove their mailboxes,
 * register VIP senders and alert keys; mail arrives and the pushes are read back from the APNs sandbox.
 *
 * Cases per organization: a detailed alert (its `enc` must decrypt with the device's private key to the played
 * server's sender and subject while `aps.alert` stays generic), a VIP's mail after hours (pushed, reason `vip`), a
 * non-VIP's mail after hours (suppressed), and a mail while the mail server is down (a generic alert, reason
 * `fetch-failed`). Used by `npm run simulate` and by the end-to-end test.
 */
export interface OrganizationScenarioOptions {
  baseUrl: string;
  adminToken: string;
  orgToken: (orgId: string) => Promise<string>;
  pushes: () => Promise<ObservedPush[] | undefined>;
  ews: PlayedEws;
  ewsCredentials: { username: string; password: string };
  graph?: { server: PlayedGraph; tenantId: string; clientId: string; clientSecret: string };
  progress?: (line: string) => void;
}

export type OrganizationCase = 'detailed-alert' | 'vip-after-hours' | 'non-vip-after-hours' | 'mail-server-down';

export interface OrganizationCaseResult {
  org: 'ews' | 'graph';
  case: OrganizationCase;
  pushes: number;
  /** `aps.alert` of the push, when there was one. */
  alert?: string;
  /** What `enc` decrypted to (sender address and subject only), when it had one. */
  decrypted?: { from: string; subject: string };
  /** The played message's sender address and subject, to compare. */
  sent: { from: string; subject: string };
  decision?: { outcome: string; reason: string };
  ok: boolean;
}

export interface OrganizationScenarioReport {
  orgs: Array<{ orgId: string; type: 'ews' | 'graph'; checkOk: boolean }>;
  devices: number;
  vipSenders: number;
  cases: OrganizationCaseResult[];
  ok: boolean;
}

const EXPECTED: Record<OrganizationCase, { pushed: boolean; enc: boolean; reason?: RegExp }> = {
  'detailed-alert': { pushed: true, enc: true },
  'vip-after-hours': { pushed: true, enc: false, reason: /^vip$/ },
  'non-vip-after-hours': { pushed: false, enc: false, reason: /^rule:non-work-day$/ },
  'mail-server-down': { pushed: true, enc: false, reason: /^fetch-failed$/ },
};

const GENERIC_ALERT = 'You have new messages';

async function call(baseUrl: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

function expectStatus(answer: { status: number; body: any }, status: number, what: string): any {
  if (answer.status !== status) throw new Error(`${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body?.error ?? '')}`);
  return answer.body;
}

function newMailBody(itemId: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
    '<m:SendNotification xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">' +
    '<m:ResponseMessages><m:SendNotificationResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notification>' +
    `<t:SubscriptionId>sim-org-${itemId.slice(-8)}</t:SubscriptionId><t:PreviousWatermark>AQAAAA==</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>` +
    `<t:NewMailEvent><t:Watermark>AQAAAw${itemId.slice(-12)}=</t:Watermark><t:TimeStamp>${new Date().toISOString()}</t:TimeStamp>` +
    `<t:ItemId Id="${itemId}" ChangeKey="CQAAAA=="/><t:ParentFolderId Id="AAMkAGInbox=" ChangeKey="AQAAAA=="/></t:NewMailEvent>` +
    '</m:Notification></m:SendNotificationResponseMessage></m:ResponseMessages></m:SendNotification></soap:Body></soap:Envelope>'
  );
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(50);
  }
}

export async function runOrganizationScenario(options: OrganizationScenarioOptions): Promise<OrganizationScenarioReport> {
  const { baseUrl, adminToken } = options;
  const report: OrganizationScenarioReport = { orgs: [], devices: 0, vipSenders: 0, cases: [], ok: true };
  const suffix = randomBytes(3).toString('hex');

  type Org = { orgId: string; type: 'ews' | 'graph'; addMessage: (mailbox: string, from: { name: string; address: string }, subject: string) => string; setDown: (down: boolean) => void; notify: (mailbox: Registered, messageId: string) => Promise<void> };
  type Registered = { deviceId: string; secret: string; pushToken: string; callbackUrl: string; graph?: { notificationUrl: string; clientState: string } };

  const orgs: Org[] = [];
  const ewsOrgId = `sim-ews-${suffix}`;
  orgs.push({
    orgId: ewsOrgId,
    type: 'ews',
    addMessage: (mailbox, from, subject) => {
      const itemId = options.ews.newItemId();
      options.ews.addMessage({ itemId, mailbox, from, subject, preview: `${subject}: the preview`, receivedAt: new Date().toISOString() });
      return itemId;
    },
    setDown: (down) => options.ews.setDown(down),
    notify: async (device, itemId) => {
      const response = await fetch(device.callbackUrl, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: newMailBody(itemId) });
      await response.text();
      if (response.status !== 200) throw new Error(`callback answered ${response.status}`);
    },
  });
  expectStatus(
    await call(baseUrl, 'PUT', `/v1/orgs/${ewsOrgId}`, adminToken, {
      detailedAlerts: 'encrypted',
      mailServer: { type: 'ews', url: options.ews.url, username: options.ewsCredentials.username, password: options.ewsCredentials.password },
    }),
    200,
    'PUT EWS org',
  );
  const graph = options.graph;
  if (graph) {
    const graphOrgId = `sim-graph-${suffix}`;
    orgs.push({
      orgId: graphOrgId,
      type: 'graph',
      addMessage: (mailbox, from, subject) => {
        const id = graph.server.newMessageId();
        graph.server.addMessage({ id, mailbox, from, subject, preview: `${subject}: the preview`, receivedAt: new Date().toISOString() });
        return id;
      },
      setDown: (down) => graph.server.setDown(down),
      notify: async (device, id) => {
        if (!device.graph) throw new Error('the registration answer has no graph block');
        const item = {
          subscriptionId: `sim-graph-sub-${device.deviceId.slice(0, 8)}`,
          changeType: 'created',
          clientState: device.graph.clientState,
          resource: `Users/00000000-0000-0000-0000-000000000001/Messages/${id}`,
          resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': `Users/x/Messages/${id}`, id },
          tenantId: graph.tenantId,
        };
        const response = await fetch(device.graph.notificationUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: [item] }) });
        await response.text();
        if (response.status !== 202) throw new Error(`Graph notification answered ${response.status}`);
      },
    });
    expectStatus(
      await call(baseUrl, 'PUT', `/v1/orgs/${graphOrgId}`, adminToken, {
        detailedAlerts: 'encrypted',
        mailServer: { type: 'graph', tenantId: graph.tenantId, clientId: graph.clientId, clientSecret: graph.clientSecret, graphUrl: graph.server.graphUrl, loginUrl: graph.server.loginUrl, scope: graph.server.scope },
      }),
      200,
      'PUT Graph org',
    );
  }

  for (const org of orgs) {
    const check = expectStatus(await call(baseUrl, 'POST', `/v1/orgs/${org.orgId}/check`, adminToken), 200, 'check');
    report.orgs.push({ orgId: org.orgId, type: org.type, checkOk: check.ok === true });
    if (check.ok !== true) report.ok = false;
    options.progress?.(`organization mode: ${org.type} org connected, check ${check.ok ? 'ok' : 'failed'}`);

    const keys = await generateAlertKeyPair();
    const alertKey = await exportAlertPublicKey(keys.publicKey);
    const register = async (mailbox: string, body: Record<string, unknown>): Promise<Registered> => {
      const proof = org.addMessage(mailbox, { name: 'Proof', address: 'proof@example.com' }, 'proof of access');
      const pushToken = randomBytes(32).toString('hex');
      const answer = expectStatus(
        await call(baseUrl, 'POST', '/v1/devices', await options.orgToken(org.orgId), {
          pushToken,
          apnsEnvironment: 'sandbox',
          mailboxes: [{ id: 'inbox', kind: 'primary', address: mailbox, addressProof: { messageId: proof } }],
          ...body,
        }),
        201,
        'register',
      );
      report.devices++;
      const registered = answer.mailboxes[0];
      return { deviceId: answer.deviceId, secret: answer.deviceSecret, pushToken, callbackUrl: registered.callbackUrl, ...(registered.graph ? { graph: registered.graph } : {}) };
    };
    const details = await register('ada@example.com', { alerts: { showDetails: true }, alertKey });
    const vip = await register('grace@example.com', { alerts: { workHoursOnly: true, workHours: { days: [] }, vipAfterHours: true }, vipSenders: ['CEO@Example.com', 'cfo@example.com'] });
    report.vipSenders += 2;

    const play = async (kase: OrganizationCase, device: Registered, mailbox: string, from: { name: string; address: string }, subject: string) => {
      const id = org.addMessage(mailbox, from, subject);
      const before = ((await options.pushes()) ?? []).filter((p) => p.token === device.pushToken).length;
      const eventsOf = async () => expectStatus(await call(baseUrl, 'GET', `/v1/devices/${device.deviceId}/events`, device.secret), 200, 'events').events as Array<{ outcome: string; reason: string }>;
      const eventsBefore = (await eventsOf()).length;
      await org.notify(device, id);
      const decision = await until(async () => {
        const events = await eventsOf();
        return events.length > eventsBefore ? events[0] : undefined;
      }, 10_000);
      const mine = await until(async () => {
        const all = ((await options.pushes()) ?? []).filter((p) => p.token === device.pushToken);
        return all.length > before ? all.slice(before) : EXPECTED[kase].pushed ? undefined : all.slice(before);
      }, EXPECTED[kase].pushed ? 10_000 : 500);
      const pushes = mine ?? [];
      const payload = pushes[0]?.payload as { aps?: { alert?: string }; enc?: string } | undefined;
      let decrypted: { from: string; subject: string } | undefined;
      if (payload?.enc) {
        const opened = await decryptAlert(payload.enc, keys.privateKey);
        decrypted = { from: opened.from.address, subject: opened.subject };
      }
      const expected = EXPECTED[kase];
      const ok =
        pushes.length === (expected.pushed ? 1 : 0) &&
        (!expected.pushed || payload?.aps?.alert === GENERIC_ALERT) &&
        (expected.enc ? decrypted?.from === from.address && decrypted.subject === subject : payload?.enc === undefined) &&
        (!expected.reason || expected.reason.test(decision?.reason ?? ''));
      if (!ok) report.ok = false;
      report.cases.push({
        org: org.type,
        case: kase,
        pushes: pushes.length,
        ...(payload?.aps?.alert ? { alert: payload.aps.alert } : {}),
        ...(decrypted ? { decrypted } : {}),
        sent: { from: from.address, subject },
        ...(decision ? { decision } : {}),
        ok,
      });
    };

    await play('detailed-alert', details, 'ada@example.com', { name: 'Grace Hopper', address: 'grace@example.com' }, `Launch plan (${org.type})`);
    await play('vip-after-hours', vip, 'grace@example.com', { name: 'The CEO', address: 'ceo@example.com' }, 'Board meeting');
    await play('non-vip-after-hours', vip, 'grace@example.com', { name: 'A newsletter', address: 'news@example.com' }, 'Weekly digest');
    org.setDown(true);
    try {
      await play('mail-server-down', details, 'ada@example.com', { name: 'Grace Hopper', address: 'grace@example.com' }, 'While the server is down');
    } finally {
      org.setDown(false);
    }
    options.progress?.(`organization mode: ${org.type} cases played`);
  }
  return report;
}
