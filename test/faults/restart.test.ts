import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, eventually } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';
import { registerFleet, waitForQuiescence, type FleetDevice } from './harness/fleet.js';
import { emptyRow, printSummary } from './harness/summary.js';

/**
 * The local service restarted on the same DATA_DIR (contract section 1): registrations, secrets, subscriptions,
 * removed mailboxes, retired devices, decisions and idempotency keys all survive; the callback URLs handed out before
 * the restart still work (same secrets, new port).
 */
describe('restart with DATA_DIR', () => {
  let dataDir: string;
  let service: LocalService | undefined;
  let fleet: FleetDevice[];
  const expiresAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
  const row = emptyRow('faults', 'restart on the same DATA_DIR');
  /** The callback URL as handed out, moved to the restarted service's port. */
  const moved = (url: string) => `${service!.baseUrl}${new URL(url).pathname}`;
  const start = () => startLocalService({ port: 0, dataDir, supervisorIntervalMs: 0, alertBudget: { windowMs: 100, maxPerWindow: 3 } });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'inbox-relay-restart-'));
    service = await start();
    fleet = await registerFleet(service, { devices: 3, delegated: 2, run: 'restart' });
    for (const device of fleet) {
      for (const mailbox of device.mailboxes) {
        const reported = await api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/${mailbox.mailboxId}/subscription`, {
          token: device.deviceSecret,
          body: { subscriptionId: `sub-${mailbox.mailboxId}`, expiresAt },
        });
        expect(reported.status).toBe(204);
      }
    }
    const [first, second, third] = fleet as [FleetDevice, FleetDevice, FleetDevice];
    expect((await api(service.baseUrl, 'PATCH', `/v1/devices/${first.deviceId}`, { token: first.deviceSecret, body: { timeZone: 'Europe/Berlin' } })).status).toBe(200);
    expect((await api(service.baseUrl, 'DELETE', `/v1/devices/${second.deviceId}/mailboxes/shared-1`, { token: second.deviceSecret })).status).toBe(204);
    // One mail pushed before the restart; one device retired by APNs.
    await postNotification(first.mailboxes[0]!.callbackUrl, newMailBody('sub-inbox', [{ itemId: 'AAMkBeforeRestart' }]));
    await service.apnsSandbox!.waitForPushes(1);
    service.apnsSandbox!.unregister(third.pushToken, Date.now());
    await postNotification(third.mailboxes[0]!.callbackUrl, newMailBody('sub-inbox', [{ itemId: 'AAMkRetires' }]));
    await eventually(async () => ((await api(service!.baseUrl, 'GET', `/v1/devices/${third.deviceId}`, { token: third.deviceSecret })).body.status === 'retired' ? true : undefined));
    await waitForQuiescence(service);
    await service.stop();
    row.injected = 1;
    service = await start();
  }, 120_000);

  afterAll(async () => {
    printSummary('Faults: restart', [row]);
    await service?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('still knows every device by its secret, with its settings, mailboxes and subscriptions', async () => {
    for (const device of fleet) {
      const read = await api(service!.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
      expect(read.status).toBe(200);
      const expected = device.mailboxes.map((m) => m.mailboxId).filter((id) => !(device === fleet[1] && id === 'shared-1'));
      expect(read.body.mailboxes.map((m: { id: string }) => m.id).sort()).toEqual(expected.sort());
      for (const mailbox of read.body.mailboxes as Array<{ id: string; subscription: { subscriptionId: string; expiresAt: string } }>) {
        expect(mailbox.subscription).toMatchObject({ subscriptionId: `sub-${mailbox.id}` });
        expect(Date.parse(mailbox.subscription.expiresAt)).toBe(Date.parse(expiresAt));
      }
      row.sent++;
    }
    const first = await api(service!.baseUrl, 'GET', `/v1/devices/${fleet[0]!.deviceId}`, { token: fleet[0]!.deviceSecret });
    expect(first.body.timeZone).toBe('Europe/Berlin');
    const retired = await api(service!.baseUrl, 'GET', `/v1/devices/${fleet[2]!.deviceId}`, { token: fleet[2]!.deviceSecret });
    expect(retired.body.status).toBe('retired');
  });

  it('keeps the decisions of before the restart', async () => {
    const events = await api(service!.baseUrl, 'GET', `/v1/devices/${fleet[0]!.deviceId}/events`, { token: fleet[0]!.deviceSecret });
    expect(events.body.events).toEqual([expect.objectContaining({ mailbox: 'inbox', outcome: 'pushed' })]);
  });

  it('pushes through a callback URL handed out before the restart', async () => {
    const answer = await postNotification(moved(fleet[0]!.mailboxes[1]!.callbackUrl), newMailBody('sub-shared-0', [{ itemId: 'AAMkAfterRestart' }]));
    expect(answer.subscriptionStatus).toBe('OK');
    const [push] = await service!.apnsSandbox!.waitForPushes(1);
    expect(push).toMatchObject({ status: 200, token: fleet[0]!.pushToken, payload: expect.objectContaining({ mailbox: 'shared-0' }) });
    row.pushesExpected++;
    row.pushesReceived++;
  });

  it('remembers what it already pushed: the same mail again is a duplicate', async () => {
    await postNotification(moved(fleet[0]!.mailboxes[0]!.callbackUrl), newMailBody('sub-inbox', [{ itemId: 'AAMkBeforeRestart' }]));
    await waitForQuiescence(service!);
    const events = await api(service!.baseUrl, 'GET', `/v1/devices/${fleet[0]!.deviceId}/events`, { token: fleet[0]!.deviceSecret });
    expect(events.body.events[0]).toMatchObject({ outcome: 'duplicate' });
    expect(service!.apnsSandbox!.pushes()).toHaveLength(1);
  });

  it('still answers Unsubscribe for the removed mailbox, the retired device and a superseded subscription', async () => {
    const removed = await postNotification(moved(fleet[1]!.mailboxes[2]!.callbackUrl), newMailBody('sub-shared-1', [{ itemId: 'AAMkRemoved' }]));
    const retired = await postNotification(moved(fleet[2]!.mailboxes[0]!.callbackUrl), newMailBody('sub-inbox', [{ itemId: 'AAMkRetired' }]));
    const superseded = await postNotification(moved(fleet[1]!.mailboxes[0]!.callbackUrl), newMailBody('sub-old', [{ itemId: 'AAMkOld' }]));
    expect([removed.subscriptionStatus, retired.subscriptionStatus, superseded.subscriptionStatus]).toEqual(['Unsubscribe', 'Unsubscribe', 'Unsubscribe']);
  });
});
