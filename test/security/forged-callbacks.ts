import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { hashSecret } from '../../functions/_lib/device-secrets.js';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import type { EventQueue, QueueMessage } from '../../shared/queue/queue-messages.js';
import { api, PUSH_TOKEN_A } from '../support/device-api.js';
import { newMailBody } from '../support/exchange.js';
import { mapWithConcurrency } from '../faults/harness/fleet.js';
import { emptyRow, type SummaryRow } from '../faults/harness/summary.js';

/**
 * Anyone on the internet can POST to /v1/callbacks/<anything>. Random and near-miss secrets with a valid NewMail body
 * (for the device's current subscription, so a match would push) must all be told to unsubscribe or not found, and
 * leave no push, no queued event and no change in the table behind.
 */

export interface ForgedCallbackReport {
  row: SummaryRow;
  answers: Record<string, number>;
  /** Answers that were neither 200 Unsubscribe nor 404: at most 20 kept. */
  unexpected: Array<{ secret: string; status: number; body: string }>;
  unexpectedCount: number;
  pushes: number;
  queued: number;
  tableChanged: string[];
  /** Control: the real callback URL still pushes after the run (the forgeries did not just break the route). */
  realSecretStillWorks: boolean;
}

export async function forgeCallbacks(options: { cases: number; seed: number; concurrency?: number }): Promise<ForgedCallbackReport> {
  let queued = 0;
  const service: LocalService = await startLocalService({
    port: 0,
    dataDir: ':memory:',
    supervisorIntervalMs: 0,
    wrapEventQueue: (queue): EventQueue => ({
      enqueue: (messages: QueueMessage[], ...rest: unknown[]) => {
        queued += messages.length;
        return (queue.enqueue as (m: QueueMessage[], ...r: unknown[]) => Promise<void>)(messages, ...rest);
      },
    }),
  });
  const report: ForgedCallbackReport = {
    row: emptyRow('security', `forged callback secrets, seed ${options.seed}`),
    answers: {},
    unexpected: [],
    unexpectedCount: 0,
    pushes: 0,
    queued: 0,
    tableChanged: [],
    realSecretStillWorks: false,
  };
  try {
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-forgery'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }, { id: 'shared', kind: 'delegated' }] },
    });
    const { deviceId, deviceSecret } = registered.body as { deviceId: string; deviceSecret: string };
    const callbackUrl: string = registered.body.mailboxes[0].callbackUrl;
    const realSecret = callbackUrl.slice(callbackUrl.lastIndexOf('/') + 1);
    const base = callbackUrl.slice(0, callbackUrl.lastIndexOf('/') + 1);
    await api(service.baseUrl, 'PUT', `/v1/devices/${deviceId}/mailboxes/inbox/subscription`, {
      token: deviceSecret,
      body: { subscriptionId: 'sub-forgery', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    const scan = async () =>
      ((await service.awsClients.documentClient.send(new ScanCommand({ TableName: service.backends.tableName, ConsistentRead: true }))).Items ?? [])
        .map((item) => JSON.stringify(item, Object.keys(item).sort()))
        .sort();
    const before = await scan();
    const pushesBefore = service.apnsSandbox!.pushes().length;
    const queuedBefore = queued;

    const flip = (text: string, at: number) => {
      const index = at % text.length;
      const swapped = text[index] === 'A' ? 'B' : 'A';
      return text.slice(0, index) + swapped + text.slice(index + 1);
    };
    const secret = fc.oneof(
      { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
      { weight: 2, arbitrary: fc.nat().map((at) => flip(realSecret, at)) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 42 }).map((cut) => realSecret.slice(0, realSecret.length - cut)) },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/).map((extra) => realSecret + extra) },
      { weight: 1, arbitrary: fc.constantFrom(realSecret.toUpperCase(), realSecret.toLowerCase(), hashSecret(realSecret), deviceSecret, deviceId, `${realSecret}%00`, encodeURIComponent(`${realSecret}/`), 'A'.repeat(5_000)) },
      { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 80, unit: 'binary' }).map((text) => encodeURIComponent(text)) },
    );
    const body = newMailBody('sub-forgery', [{ itemId: 'AAMkForged' }]);
    let done = 0;
    for (let start = 0, chunk = 0; start < options.cases; start += 1_000, chunk++) {
      const secrets = fc.sample(secret, { seed: options.seed + chunk, numRuns: Math.min(1_000, options.cases - start) });
      await mapWithConcurrency(secrets, options.concurrency ?? 8, async (forged) => {
        if (forged === realSecret) return; // fast-check could, in principle, hit it; it is not a forgery then.
        done++;
        const response = await fetch(`${base}${forged}`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body });
        const text = await response.text();
        const unsubscribe = response.status === 200 && /<(?:\w+:)?SubscriptionStatus>Unsubscribe</.test(text);
        const key = unsubscribe ? '200 Unsubscribe' : String(response.status);
        report.answers[key] = (report.answers[key] ?? 0) + 1;
        if (!unsubscribe && response.status !== 404) {
          report.unexpectedCount++;
          if (report.unexpected.length < 20) report.unexpected.push({ secret: forged.slice(0, 120), status: response.status, body: text.slice(0, 200) });
        }
      });
    }
    report.pushes = service.apnsSandbox!.pushes().length - pushesBefore;
    report.queued = queued - queuedBefore;
    const after = await scan();
    report.tableChanged = [...after.filter((item) => !before.includes(item)), ...before.filter((item) => !after.includes(item))];

    // The control: the real secret still gets through and pushes.
    const real = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body });
    report.realSecretStillWorks = real.status === 200 && (await real.text()).includes('>OK<');
    report.row.injected = done;
    report.row.sent = done;
    report.row.pushesReceived = report.pushes;
    report.row.crashes = report.unexpectedCount + report.queued + report.tableChanged.length + report.pushes;
    report.row.note = `answers ${Object.entries(report.answers).map(([k, v]) => `${k}: ${v}`).join(', ')}; pushes ${report.pushes}, events queued ${report.queued}, table items changed ${report.tableChanged.length}`;
  } finally {
    await service.stop();
  }
  return report;
}
