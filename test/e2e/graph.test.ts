import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, eventually, PUSH_TOKEN_A } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';
import { graphBody, lifecycleItem, messageItem, postGraph } from '../support/graph.js';

/**
 * Graph change notifications end to end (contract section 7) through `npm start`'s runtime: device API -> Graph
 * endpoints -> SQS (fauxqs) -> dispatcher -> the embedded HTTP/2 APNs sandbox, DynamoDB (dynalite) underneath; and a
 * mailbox migrating from EWS to Graph.
 */
describe('Graph change notifications, end to end', () => {
  let service: LocalService;
  let deviceId: string;
  let deviceSecret: string;
  let mailbox: { callbackUrl: string; graph: { notificationUrl: string; lifecycleNotificationUrl: string; clientState: string } };

  const pushes = () => service.apnsSandbox!.pushes().filter((push) => push.status === 200);
  const alerts = () => pushes().filter((push) => push.headers['apns-push-type'] === 'alert');
  const events = async () =>
    (await api(service.baseUrl, 'GET', `/v1/devices/${deviceId}/events`, { token: deviceSecret })).body.events as Array<{ outcome: string; reason: string; mailbox: string }>;
  const waitForEvents = (count: number) => eventually(async () => ((await events()).length >= count ? events() : undefined));
  const report = (body: Record<string, unknown>) => api(service.baseUrl, 'PUT', `/v1/devices/${deviceId}/mailboxes/me/subscription`, { token: deviceSecret, body });
  const inADay = () => new Date(Date.now() + 86_400_000).toISOString();

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-graph'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'me', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    ({ deviceId, deviceSecret } = registered.body);
    mailbox = registered.body.mailboxes[0];
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('hands out Graph URLs that end in a path secret, and a clientState', () => {
    expect(mailbox.graph.notificationUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/graph\/notifications\/[A-Za-z0-9_-]{64,}$/);
    expect(mailbox.graph.lifecycleNotificationUrl).toMatch(/\/v1\/graph\/lifecycle\/[A-Za-z0-9_-]{64,}$/);
    expect(mailbox.graph.clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('starts on EWS: one mail alerts once', async () => {
    expect((await report({ subscriptionId: 'ews-sub', expiresAt: inADay() })).status).toBe(204);
    expect((await postNotification(mailbox.callbackUrl, newMailBody('ews-sub', [{ itemId: 'AAMkEws-1' }]))).subscriptionStatus).toBe('OK');
    await service.apnsSandbox!.waitForPushes(1);
    expect(alerts()).toHaveLength(1);
  });

  it('echoes the validation token of both Graph URLs as plain text, decoded as Graph encodes it', async () => {
    const token = 'Validation: Testing client application reachability for subscription Request-Id: 7d1f <script>';
    for (const url of [mailbox.graph.notificationUrl, mailbox.graph.lifecycleNotificationUrl]) {
      const answer = await postGraph(url, '', { validationToken: token });
      expect(answer).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: token });
    }
  });

  it('ignores Graph notifications of the new subscription until the device reports it, while EWS still alerts', async () => {
    const answer = await postGraph(mailbox.graph.notificationUrl, graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: mailbox.graph.clientState, messageId: 'AAMkEarly' })]));
    expect(answer).toMatchObject({ status: 202, body: '' });
    const latest = await waitForEvents(2);
    expect(latest[0]).toMatchObject({ outcome: 'suppressed', reason: 'superseded' });
    expect(alerts()).toHaveLength(1);
  });

  it('after the report: one created message -> one alert, the same again -> nothing', async () => {
    expect((await report({ protocol: 'graph', subscriptionId: 'graph-sub', expiresAt: inADay() })).status).toBe(204);
    const body = graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: mailbox.graph.clientState, messageId: 'AAMkGraph-1' })]);

    expect((await postGraph(mailbox.graph.notificationUrl, body)).status).toBe(202);
    await service.apnsSandbox!.waitForPushes(2);
    expect(alerts()).toHaveLength(2);
    expect(alerts()[1]!.payload).toEqual({ aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'me' }, mailbox: 'me' });
    expect(JSON.stringify(alerts()[1]!.payload)).not.toContain('AAMkGraph');

    expect((await postGraph(mailbox.graph.notificationUrl, body)).status).toBe(202);
    const latest = await waitForEvents(4);
    expect(latest.slice(0, 2).map((e) => e.outcome)).toEqual(['duplicate', 'pushed']);
    expect(alerts()).toHaveLength(2);
  });

  it('pushes nothing for updated, nor for a wrong clientState', async () => {
    const before = await events();
    const updated = graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: mailbox.graph.clientState, messageId: 'AAMkGraph-1', changeType: 'updated' })]);
    const forged = graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: `${mailbox.graph.clientState.slice(0, -1)}x`, messageId: 'AAMkForged' })]);
    expect((await postGraph(mailbox.graph.notificationUrl, updated)).status).toBe(202);
    expect((await postGraph(mailbox.graph.notificationUrl, forged)).status).toBe(202);
    const latest = await waitForEvents(before.length + 1);
    expect(latest[0]).toMatchObject({ outcome: 'suppressed', reason: 'client-state' });
    expect(latest).toHaveLength(before.length + 1);
    expect(alerts()).toHaveLength(2);
  });

  it('answers EWS with Unsubscribe now that the mailbox is on Graph, and pushes nothing for it', async () => {
    const answer = await postNotification(mailbox.callbackUrl, newMailBody('ews-sub', [{ itemId: 'AAMkEws-2' }]));
    expect(answer.subscriptionStatus).toBe('Unsubscribe');
    const view = await api(service.baseUrl, 'GET', `/v1/devices/${deviceId}`, { token: deviceSecret });
    expect(view.body.mailboxes[0]).toMatchObject({ id: 'me', protocol: 'graph', state: 'live', subscriptionId: 'graph-sub' });
    expect(alerts()).toHaveLength(2);
  });

  it('turns a missed lifecycle event into one sync background push', async () => {
    const before = pushes().length;
    const body = graphBody([lifecycleItem({ subscriptionId: 'graph-sub', clientState: mailbox.graph.clientState, lifecycleEvent: 'missed' })]);
    expect((await postGraph(mailbox.graph.lifecycleNotificationUrl, body)).status).toBe(202);
    await service.apnsSandbox!.waitForPushes(before + 1);
    const push = pushes().at(-1)!;
    expect(push.headers['apns-push-type']).toBe('background');
    expect(push.headers['apns-priority']).toBe('5');
    expect(push.payload).toEqual({ aps: { 'content-available': 1 }, action: 'sync', mailbox: 'me' });
    const latest = await eventually(async () => ((await events()).find((e) => e.outcome === 'sync-requested') ? events() : undefined));
    expect(latest[0]).toMatchObject({ outcome: 'sync-requested', reason: 'lifecycle:missed', mailbox: 'me' });
  });

  it('answers 404 to a URL whose secret matches no mailbox, and 400/413 to bad bodies', async () => {
    const unknown = mailbox.graph.notificationUrl.replace(/[^/]+$/, 'A'.repeat(43));
    expect((await postGraph(unknown, '', { validationToken: 'x' })).status).toBe(404);
    expect((await postGraph(unknown, graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: 'x', messageId: 'y' })]))).status).toBe(404);
    expect((await postGraph(mailbox.graph.notificationUrl, 'not json')).status).toBe(400);
    expect((await postGraph(mailbox.graph.notificationUrl, '', { validationToken: 'a\u0001b' })).status).toBe(400);
    expect((await postGraph(mailbox.graph.notificationUrl, 'x'.repeat(10 * 1024 * 1024))).status).toBe(413);
  });

  it('takes a body of 1,200 created messages whole (202), and the storm\'s alerts count every one of them', async () => {
    const before = alerts().length;
    // The smallest well-formed items (no resourceData: the resource path names the message), so 1,200 fit in 256 KiB.
    const items = Array.from({ length: 1_200 }, (_, index) => ({ subscriptionId: 'graph-sub', changeType: 'created', clientState: mailbox.graph.clientState, resource: `Users/u/Messages/AAMkBulk-${index}` }));
    expect((await postGraph(mailbox.graph.notificationUrl, graphBody(items))).status).toBe(202);
    const counted = () => alerts().slice(before).reduce((sum, push) => sum + ((push.payload as { newMessages?: number }).newMessages ?? 1), 0);
    await eventually(() => (counted() >= 1_200 ? true : undefined), 60_000, 200);
    expect(counted()).toBe(1_200);
  }, 90_000);

  it('rotates: the old Graph URLs answer 404 and the old clientState is refused; the new ones work', async () => {
    const before = alerts().length;
    const rotated = await api(service.baseUrl, 'POST', `/v1/devices/${deviceId}/mailboxes/me/rotate`, { token: deviceSecret });
    expect(rotated.status).toBe(200);
    expect(rotated.body.graph.clientState).not.toBe(mailbox.graph.clientState);
    expect((await postGraph(mailbox.graph.notificationUrl, '', { validationToken: 'x' })).status).toBe(404);
    expect((await postNotification(mailbox.callbackUrl, newMailBody('ews-sub', [{ itemId: 'AAMkEws-3' }]))).subscriptionStatus).toBe('Unsubscribe');

    const oldState = graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: mailbox.graph.clientState, messageId: 'AAMkGraph-2' })]);
    expect((await postGraph(rotated.body.graph.notificationUrl, oldState)).status).toBe(202);
    const newState = graphBody([messageItem({ subscriptionId: 'graph-sub', clientState: rotated.body.graph.clientState, messageId: 'AAMkGraph-3' })]);
    expect((await postGraph(rotated.body.graph.notificationUrl, newState)).status).toBe(202);
    await eventually(() => (alerts().length >= before + 1 ? true : undefined));
    expect(alerts()).toHaveLength(before + 1);
    expect((await events()).some((e) => e.reason === 'client-state')).toBe(true);
  });
});
