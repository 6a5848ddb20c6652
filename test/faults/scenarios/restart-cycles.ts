import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalService, type LocalService } from '../../../infra/local/service.js';
import { api } from '../../support/device-api.js';
import { accountPushes, deliverLikeExchange, mapWithConcurrency, registerFleet, waitForQuiescence, type Delivery } from '../harness/fleet.js';
import { emptyRow, type SummaryRow } from '../harness/summary.js';

/**
 * The soak's restart loop: register a fleet on a DATA_DIR, then stop and start the service `cycles` times; after each
 * start every registration and subscription must be there and every callback URL handed out must still push.
 */
export async function runRestartCycles(options: { devices: number; cycles: number }): Promise<{ row: SummaryRow; missing: number; failedCallbacks: number }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'inbox-relay-soak-restart-'));
  const start = () => startLocalService({ port: 0, dataDir, supervisorIntervalMs: 0, alertBudget: { windowMs: 100, maxPerWindow: 3 } });
  const row = emptyRow('faults', `restart on DATA_DIR x ${options.cycles}`);
  let service: LocalService | undefined = await start();
  let missing = 0;
  let failedCallbacks = 0;
  const deliveries: Delivery[] = [];
  try {
    const fleet = await registerFleet(service, { devices: options.devices, delegated: 1, run: 'soak-restart' });
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    for (const device of fleet) {
      for (const mailbox of device.mailboxes) {
        await api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/${mailbox.mailboxId}/subscription`, {
          token: device.deviceSecret,
          body: { subscriptionId: `sub-${mailbox.mailboxId}`, expiresAt },
        });
      }
    }
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      await waitForQuiescence(service);
      await service.stop();
      service = await start();
      row.injected++;
      const current = service;
      for (const device of fleet) {
        const read = await api(current.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
        const subscriptions = (read.body?.mailboxes ?? []) as Array<{ id: string; subscription?: { subscriptionId?: string } }>;
        const intact = read.status === 200 && device.mailboxes.every((m) => subscriptions.some((s) => s.id === m.mailboxId && s.subscription?.subscriptionId === `sub-${m.mailboxId}`));
        if (!intact) missing++;
      }
      // One new mail per mailbox through the URLs handed out before the first restart.
      const cycleDeliveries = await mapWithConcurrency(
        fleet.flatMap((device) => device.mailboxes),
        6,
        (mailbox, index) =>
          deliverLikeExchange({ ...mailbox, callbackUrl: `${current.baseUrl}${new URL(mailbox.callbackUrl).pathname}` }, [`AAMkCycle${cycle}-${index}`], {
            subscriptionId: `sub-${mailbox.mailboxId}`,
          }),
      );
      failedCallbacks += cycleDeliveries.filter((d) => d.answers.at(-1)?.subscriptionStatus !== 'OK').length;
      await waitForQuiescence(current);
      // The sandbox is new with each start: account this cycle's pushes against this cycle's mails.
      const account = accountPushes(current.apnsSandbox!.pushes(), cycleDeliveries);
      row.sent += cycleDeliveries.length;
      row.pushesExpected += account.expected;
      row.pushesReceived += account.received;
      row.lost += account.lost;
      row.duplicates += account.duplicates;
      deliveries.push(...cycleDeliveries);
    }
    row.crashes = missing + failedCallbacks;
    row.note = `${options.devices} devices x 2 mailboxes checked after each start: registrations or subscriptions missing ${missing}, callback URLs refused ${failedCallbacks}`;
  } finally {
    await service?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { row, missing, failedCallbacks };
}
