import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, eventually, PUSH_TOKEN_A } from '../support/device-api.js';
import { graphBody, lifecycleItem, messageItem, postGraph } from '../support/graph.js';
import { AwsFaultInjector, failFirst } from './harness/aws-faults.js';
import { waitForQuiescence } from './harness/fleet.js';
import { emptyRow, printSummary, type SummaryRow } from './harness/summary.js';

/**
 * The event queue refuses a Graph batch (contract section 7: 202 only once queued): the relay answers 5xx, so Graph
 * retries, and the retry that gets through pushes each new message exactly once. The same for a lifecycle event.
 */
describe('a Graph batch while the queue refuses work', () => {
  let service: LocalService;
  let faults: AwsFaultInjector;
  let deviceId: string;
  let deviceSecret: string;
  let graph: { notificationUrl: string; lifecycleNotificationUrl: string; clientState: string };
  const rows: SummaryRow[] = [];

  /** Posts like Graph: again after a 5xx (Graph retries for up to 4 hours), until it is accepted. */
  const deliverLikeGraph = async (url: string, body: string) => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      const { status } = await postGraph(url, body);
      statuses.push(status);
      if (status < 500) break;
    }
    return statuses;
  };

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    faults = new AwsFaultInjector('sqs').attach(service.awsClients.sqs);
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-graph-faults'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'me', kind: 'primary' }] },
    });
    ({ deviceId, deviceSecret } = registered.body);
    graph = registered.body.mailboxes[0].graph;
    await api(service.baseUrl, 'PUT', `/v1/devices/${deviceId}/mailboxes/me/subscription`, {
      token: deviceSecret,
      body: { protocol: 'graph', subscriptionId: 'graph-sub', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
  });

  afterAll(async () => {
    printSummary('Faults: Graph batch while the queue refuses', rows);
    await service?.stop();
  });

  it('answers 5xx while SendMessageBatch fails, and the retry that gets through pushes each message once', async () => {
    faults.use(failFirst(3, 'unavailable', ['SendMessageBatchCommand']));
    const body = graphBody(['AAMkOutage-1', 'AAMkOutage-2', 'AAMkOutage-3'].map((messageId) => messageItem({ subscriptionId: 'graph-sub', clientState: graph.clientState, messageId })));
    const statuses = await deliverLikeGraph(graph.notificationUrl, body);
    faults.heal();
    expect(statuses.slice(0, -1).every((status) => status >= 500)).toBe(true);
    expect(statuses.length).toBeGreaterThan(1);
    expect(statuses.at(-1)).toBe(202);
    // Graph may also retry a batch that was accepted (its answer lost): still nothing more.
    expect((await postGraph(graph.notificationUrl, body)).status).toBe(202);
    await waitForQuiescence(service);

    const alerts = service.apnsSandbox!.pushes().filter((push) => push.status === 200 && push.headers['apns-push-type'] === 'alert');
    const events = (await api(service.baseUrl, 'GET', `/v1/devices/${deviceId}/events`, { token: deviceSecret })).body.events as Array<{ outcome: string }>;
    const pushed = events.filter((e) => e.outcome === 'pushed').length;
    rows.push({
      ...emptyRow('faults', 'queue: Graph batch refused, then retried'),
      injected: faults.injected,
      sent: 1,
      pushesExpected: 3,
      pushesReceived: alerts.length,
      lost: Math.max(0, 3 - alerts.length),
      duplicates: Math.max(0, alerts.length - 3),
      note: `Graph attempts ${statuses.length + 1}: ${statuses.join(', ')}, 202; decisions pushed ${pushed}`,
    });
    expect(alerts).toHaveLength(3);
    expect(pushed).toBe(3);
  });

  it('does the same for a lifecycle event: 5xx, then exactly one sync push', async () => {
    faults.use(failFirst(2, 'unavailable', ['SendMessageBatchCommand']));
    const before = service.apnsSandbox!.pushes().length;
    const body = graphBody([lifecycleItem({ subscriptionId: 'graph-sub', clientState: graph.clientState, lifecycleEvent: 'missed' })]);
    const statuses = await deliverLikeGraph(graph.lifecycleNotificationUrl, body);
    faults.heal();
    expect(statuses.at(-1)).toBe(202);
    expect(statuses.filter((status) => status >= 500).length).toBeGreaterThan(0);
    await waitForQuiescence(service);
    await eventually(() => (service.apnsSandbox!.pushes().length > before ? true : undefined));
    const syncs = service.apnsSandbox!.pushes().slice(before).filter((push) => (push.payload as { action?: string }).action === 'sync');
    expect(syncs).toHaveLength(1);
  });
});
