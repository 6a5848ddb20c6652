import { performance } from 'node:perf_hooks';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, destroyAwsClients } from '../functions/_lib/adapters/aws-clients.js';
import { DynamoDbDecisionLog } from '../functions/_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDevicePorts } from '../functions/_lib/adapters/dynamodb-device-ports.js';
import { runSupervisorSweep } from '../functions/supervisor/run-sweep.js';
import { DEFAULT_ALERT_SETTINGS } from '../shared/device/device-schemas.js';
import type { PushGateway } from '../shared/push/push-gateway.js';
import { dueShardOf } from '../shared/store/due-shard.js';
import { supervisionDueAt } from '../shared/supervision/subscription-state.js';
import { dueShardValue, deviceKey, mailboxKey } from '../functions/_lib/adapters/table-design.js';
import { startLocalBackends } from '../infra/local/backends.js';

/**
 * The supervisor sweep on the local stack (dynalite): N mailboxes, a fraction of them silent, one sweep. Reports the
 * sweep's wall time and the DynamoDB calls it made, to show it reads what is due and not the table.
 *
 *   npx tsx bench/supervisor-sweep.ts [--mailboxes 100000] [--due-fraction 0.01]
 */
export interface SweepBenchResult {
  mailboxes: number;
  due: number;
  seedSeconds: number;
  sweepMs: number;
  resubscribeRequested: number;
  dynamodbCalls: Record<string, number>;
  /** Items read through Query pages of the due index plus items read back by BatchGetItem/GetItem. */
  itemsRead: number;
}

export async function runSupervisorSweepBench(options: { mailboxes: number; dueFraction: number; log?: (line: string) => void }): Promise<SweepBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backends = await startLocalBackends({ dataDir: ':memory:' });
  const clients = createAwsClients({ region: backends.region, endpoints: { dynamodb: backends.dynamodbEndpoint, sqs: backends.sqsEndpoint }, credentials: backends.credentials });
  try {
    const now = Date.parse('2026-11-23T10:00:00Z');
    const dueEvery = Math.max(1, Math.round(1 / options.dueFraction));
    const seedStarted = performance.now();
    const items: Record<string, unknown>[] = [];
    let due = 0;
    for (let i = 0; i < options.mailboxes; i++) {
      const deviceId = `bench-device-${i}`;
      const silent = i % dueEvery === 0;
      if (silent) due++;
      // Live mailboxes beat recently; silent ones last beat three hours ago.
      const lastNotificationAt = silent ? now - 3 * 3600_000 : now - 60_000;
      const mailbox = { createdAt: now - 86_400_000, subscriptionId: `sub-${i}`, subscriptionReportedAt: now - 86_400_000, expiresAt: now + 86_400_000, lastNotificationAt };
      const dueAt = supervisionDueAt(mailbox);
      items.push({
        ...deviceKey(deviceId),
        deviceId, orgId: 'bench', secretHash: 'x', pushToken: 'ab'.repeat(32), pushTokenUpdatedAt: now - 86_400_000, apnsEnvironment: 'production',
        mode: 'realtime', intervalSeconds: 900, timeZone: 'UTC', alerts: DEFAULT_ALERT_SETTINGS, status: 'active', createdAt: now - 86_400_000, updatedAt: now - 86_400_000,
      });
      items.push({ ...mailboxKey(deviceId, 'inbox'), deviceId, mailboxId: 'inbox', kind: 'primary', callbackKey: `cb-${i}`, ...mailbox, dueAt, dueShard: dueShardValue(dueShardOf(deviceId)) });
    }
    let written = 0;
    const batches: Record<string, unknown>[][] = [];
    for (let start = 0; start < items.length; start += 25) batches.push(items.slice(start, start + 25));
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let batch = batches.shift(); batch; batch = batches.shift()) {
          let pending = batch.map((Item) => ({ PutRequest: { Item } }));
          while (pending.length > 0) {
            const answer = await clients.documentClient.send(new BatchWriteCommand({ RequestItems: { [backends.tableName]: pending } }));
            pending = (answer.UnprocessedItems?.[backends.tableName] ?? []) as typeof pending;
          }
          written += batch.length;
          if (written % 20_000 < 25) log(`  seeded ${written.toLocaleString()} / ${items.length.toLocaleString()} items`);
        }
      }),
    );
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const calls: Record<string, number> = {};
    let itemsRead = 0;
    clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? 'unknown');
        calls[command] = (calls[command] ?? 0) + 1;
        const result = await next(args);
        const output = result.output as { Count?: number; Responses?: Record<string, unknown[]>; Item?: unknown };
        itemsRead += output.Count ?? Object.values(output.Responses ?? {}).reduce((sum, list) => sum + list.length, 0) + (output.Item ? 1 : 0);
        return result;
      },
      { step: 'initialize', name: 'benchCallCounter' },
    );
    const push: PushGateway = { send: async () => ({ outcome: 'delivered', apnsId: 'bench' }) };
    const ports = dynamoDbDevicePorts(clients.documentClient, backends.tableName, { now: () => now });
    const started = performance.now();
    const report = await runSupervisorSweep(
      { ...ports, decisions: new DynamoDbDecisionLog(clients.documentClient, backends.tableName, { now: () => now }), push, now: () => now, logger: { debug() {}, info() {}, warn() {}, error() {} }, counter: { count() {} } },
      { maxItems: 1_000_000 },
    );
    const sweepMs = performance.now() - started;
    return { mailboxes: options.mailboxes, due, seedSeconds, sweepMs, resubscribeRequested: report.resubscribeRequested, dynamodbCalls: calls, itemsRead };
  } finally {
    destroyAwsClients(clients);
    await backends.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: number) => {
    const index = process.argv.indexOf(name);
    return index >= 0 ? Number(process.argv[index + 1]) : fallback;
  };
  const result = await runSupervisorSweepBench({ mailboxes: arg('--mailboxes', 100_000), dueFraction: arg('--due-fraction', 0.01) });
  console.log(JSON.stringify(result, null, 2));
}
