import { performance } from 'node:perf_hooks';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, destroyAwsClients } from '../functions/_lib/adapters/aws-clients.js';
import { DynamoDbDecisionLog } from '../functions/_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDevicePorts } from '../functions/_lib/adapters/dynamodb-device-ports.js';
import { DynamoDbManagedSubscriptions } from '../functions/_lib/adapters/dynamodb-managed-subscriptions.js';
import { dueShardValue, deviceKey, mailboxKey } from '../functions/_lib/adapters/table-design.js';
import { keepManagedSubscription } from '../functions/supervisor/keep-managed-subscription.js';
import { DEFAULT_ALERT_SETTINGS } from '../shared/device/device-schemas.js';
import { managedSubscriptionOf, type ManagedMailbox } from '../shared/org/managed-subscription.js';
import type { GraphSubscriptionManager } from '../shared/org/subscription-manager.js';
import { dueShardOf } from '../shared/store/due-shard.js';
import { DUE_SHARDS } from '../shared/store/ports.js';
import { MANAGED_GRAPH_LIFETIME_MS, renewalDueAt } from '../shared/supervision/renewal-schedule.js';
import { startLocalBackends } from '../infra/local/backends.js';
import { PRICES } from './prices.js';

/**
 * The supervisor's renewal sweep for subscriptions the relay manages itself (contract section 9), on the local stack
 * (dynalite): N relay-managed Graph mailboxes, all subscribed in the same minute (an organization onboarded at once,
 * the worst case for bunching), then one full renewal cycle of sweeps. Each sweep is the real path: the due index per
 * shard, the mailbox read, the use case, its conditional UpdateItem and its decision. Graph is a counting stand-in
 * (its calls are counted, not timed: the real Graph's latency is not the relay's to measure on loopback).
 *
 * Reports renewals per minute at the peak (the spread), Graph calls and DynamoDB calls per mailbox-day, and the added
 * AWS cost per mailbox-month.
 *
 *   npx tsx bench/managed-renewal.bench.ts [--mailboxes 100000] [--sweep-minutes 60]
 *
 * `--sweep-minutes` batches the virtual clock (each sweep handles everything due since the last one); the supervisor
 * runs every minute on AWS, and its 16 index queries a minute are paid whether or not anything is due, so they are
 * not counted against the managed mailboxes. The counts per renewal do not depend on the batching.
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Assumed wall time of one Graph PATCH from Lambda (not measured here), for the supervisor's billed duration. */
const ASSUMED_GRAPH_PATCH_MS = 250;
/** The supervisor works on this many mailboxes at once (run-sweep's concurrency). */
const SWEEP_CONCURRENCY = 10;
const SUPERVISOR_MEMORY_MB = 256;

export interface ManagedRenewalBenchResult {
  mailboxes: number;
  seedSeconds: number;
  renewals: number;
  peakRenewalsPerMinute: number;
  /** The same spread for 100,000 mailboxes, from the schedule alone (no I/O), whatever size was run. */
  peakRenewalsPerMinuteAt100k: number;
  minutesWithRenewals: number;
  renewalsPerMailboxDay: number;
  graphCallsPerMailboxDay: number;
  dynamodb: { callsPerRenewal: Record<string, number>; readUnitsPerRenewal: number; writeUnitsPerRenewal: number; indexWriteUnitsPerRenewal: number };
  dynamodbCallsPerMailboxDay: number;
  localMsPerRenewal: number;
  costPerMailboxMonthUsd: { dynamodb: number; lambda: number; total: number };
}

/** Renewals in the busiest minute when `mailboxes` subscriptions made at `t0` all expire at `expiresAt`. */
function peakPerMinute(mailboxes: number, t0: number, expiresAt: number): number {
  const perMinute = new Map<number, number>();
  for (let i = 0; i < mailboxes; i++) {
    const minute = Math.floor(renewalDueAt({ key: `bench-managed-${i}#inbox`, expiresAt, now: t0 }) / MINUTE);
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
  }
  return Math.max(...perMinute.values());
}

function args(): { mailboxes: number; sweepMinutes: number } {
  const read = (name: string, fallback: number) => {
    const index = process.argv.indexOf(`--${name}`);
    return index === -1 ? fallback : Number(process.argv[index + 1]);
  };
  return { mailboxes: read('mailboxes', 100_000), sweepMinutes: read('sweep-minutes', 60) };
}

export async function runManagedRenewalBench(options: { mailboxes: number; sweepMinutes: number; log?: (line: string) => void }): Promise<ManagedRenewalBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backends = await startLocalBackends({ dataDir: ':memory:' });
  const clients = createAwsClients({ region: backends.region, endpoints: { dynamodb: backends.dynamodbEndpoint, sqs: backends.sqsEndpoint }, credentials: backends.credentials });
  const counting = { on: false, calls: {} as Record<string, number>, readUnits: 0, writeUnits: 0 };
  clients.dynamodb.middlewareStack.add(
    ((next: (args: { input: Record<string, unknown> }) => Promise<{ output: { ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> } }>, context: { commandName: string }) =>
      async (call: { input: Record<string, unknown> }) => {
        if (!counting.on) return next(call);
        call.input.ReturnConsumedCapacity = 'TOTAL';
        const result = await next(call);
        counting.calls[context.commandName] = (counting.calls[context.commandName] ?? 0) + 1;
        // BatchGetItem answers one ConsumedCapacity per table, as an array.
        const consumed = result.output.ConsumedCapacity;
        const units = Array.isArray(consumed) ? consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0) : (consumed?.CapacityUnits ?? 0);
        if (/^(Get|Query|BatchGet)/.test(context.commandName)) counting.readUnits += units;
        else counting.writeUnits += units;
        return result;
      }) as never,
    { step: 'initialize', name: 'managedRenewalBenchCounter' },
  );
  try {
    const t0 = Date.parse('2026-12-07T03:00:00Z');
    const expiresAt = t0 + MANAGED_GRAPH_LIFETIME_MS;
    const seedStarted = performance.now();
    const perMinute = new Map<number, number>();
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < options.mailboxes; i++) {
      const deviceId = `bench-managed-${i}`;
      const dueAt = renewalDueAt({ key: `${deviceId}#inbox`, expiresAt, now: t0 });
      perMinute.set(Math.floor(dueAt / MINUTE), (perMinute.get(Math.floor(dueAt / MINUTE)) ?? 0) + 1);
      items.push({
        ...deviceKey(deviceId),
        deviceId, orgId: 'bench', secretHash: 'x', pushToken: 'ab'.repeat(32), pushTokenUpdatedAt: t0 - DAY, apnsEnvironment: 'production',
        mode: 'realtime', intervalSeconds: 900, timeZone: 'UTC', alerts: DEFAULT_ALERT_SETTINGS, status: 'active', createdAt: t0 - DAY, updatedAt: t0 - DAY,
      });
      items.push({
        ...mailboxKey(deviceId, 'inbox'),
        deviceId, mailboxId: 'inbox', kind: 'primary', callbackKey: `cb-${i}`, createdAt: t0, subscriptionId: `sub-${i}`, expiresAt, subscriptionReportedAt: t0,
        managedProtocol: 'graph', managedRenewedAt: t0, managedDeltaLink: 'https://graph.example/v1.0/delta?$deltatoken=x',
        dueAt, dueShard: dueShardValue(dueShardOf(deviceId)),
      });
    }
    const batches: Record<string, unknown>[][] = [];
    for (let start = 0; start < items.length; start += 25) batches.push(items.slice(start, start + 25));
    let written = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let batch = batches.shift(); batch; batch = batches.shift()) {
          let pending: Record<string, unknown>[] = batch;
          while (pending.length > 0) {
            const answer = await clients.documentClient.send(new BatchWriteCommand({ RequestItems: { [backends.tableName]: pending.map((Item) => ({ PutRequest: { Item } })) } }));
            pending = (answer.UnprocessedItems?.[backends.tableName] ?? []).map((request) => request.PutRequest?.Item as Record<string, unknown>);
          }
          written += batch.length;
          if (written % 50_000 < 25) log(`  seeded ${written}/${items.length} items`);
        }
      }),
    );
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const ports = dynamoDbDevicePorts(clients.documentClient, backends.tableName);
    const managed = new DynamoDbManagedSubscriptions(clients.documentClient, backends.tableName);
    const decisions = new DynamoDbDecisionLog(clients.documentClient, backends.tableName);
    let graphCalls = 0;
    const graph: GraphSubscriptionManager = {
      protocol: 'graph',
      create: async () => Promise.reject(new Error('not expected in a renewal sweep')),
      renew: async (subscriptionId, until) => {
        graphCalls++;
        return { subscriptionId, expiresAt: until };
      },
      reauthorize: async () => undefined,
      remove: async () => undefined,
      list: async () => [],
      inboxChanges: async () => Promise.reject(new Error('not expected in a renewal sweep')),
    };
    let clock = t0;
    const deps = {
      managed: { updateManaged: managed.updateManaged.bind(managed), renewEndpoints: () => Promise.reject(new Error('not expected in a renewal sweep')) },
      catchUps: { requestCatchUp: async () => undefined },
      decisions,
      now: () => clock,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      counter: { count: () => undefined },
    };

    let renewals = 0;
    let sweepMs = 0;
    counting.on = true;
    const end = expiresAt;
    for (clock = t0 + options.sweepMinutes * MINUTE; clock <= end; clock += options.sweepMinutes * MINUTE) {
      const started = performance.now();
      const due: Array<{ deviceId: string; mailboxId: string }> = [];
      for (let shard = 0; shard < DUE_SHARDS; shard++) {
        let cursor: string | undefined;
        do {
          const page = await ports.supervision.listDue({ shard, now: clock, limit: 1000, ...(cursor ? { cursor } : {}) });
          for (const item of page.items) if (item.kind === 'mailbox') due.push(item);
          cursor = page.cursor;
        } while (cursor);
      }
      await Promise.all(
        Array.from({ length: SWEEP_CONCURRENCY }, async () => {
          for (let item = due.shift(); item; item = due.shift()) {
            const { mailbox } = await ports.devices.getDeviceAndMailbox(item.deviceId, item.mailboxId);
            const record = mailbox && managedSubscriptionOf(mailbox);
            if (!mailbox || !record) continue;
            const view: ManagedMailbox = { ...mailbox, managed: record };
            const outcome = await keepManagedSubscription({ mailbox: view, address: 'bench@example.com', manager: graph }, deps);
            if (outcome.action === 'renewed') renewals++;
          }
        }),
      );
      sweepMs += performance.now() - started;
      if (renewals > 0 && due.length === 0 && clock % (DAY / 4) < options.sweepMinutes * MINUTE) log(`  ${new Date(clock).toISOString()}: ${renewals} renewals so far`);
    }
    counting.on = false;

    // Steady state: each renewal moves the expiry by the lifetime, so a mailbox renews every (lifetime - its offset
    // before expiry); averaged over the seeded keys.
    let intervalSum = 0;
    for (let i = 0; i < options.mailboxes; i++) {
      const key = `bench-managed-${i}#inbox`;
      const first = renewalDueAt({ key, expiresAt, now: t0 });
      intervalSum += renewalDueAt({ key, expiresAt: first + MANAGED_GRAPH_LIFETIME_MS, now: first }) - first;
    }
    const renewalIntervalDays = intervalSum / options.mailboxes / DAY;
    const renewalsPerMailboxDay = 1 / renewalIntervalDays;
    const per = (value: number) => (renewals === 0 ? 0 : value / renewals);
    const callsPerRenewal = Object.fromEntries(Object.entries(counting.calls).map(([command, count]) => [command, Math.round(per(count) * 1000) / 1000]));
    const indexWriteUnitsPerRenewal = 2; // the UpdateItem moves dueAt: the keys-only due index deletes and puts its entry.
    const readUnitsPerRenewal = per(counting.readUnits);
    const writeUnitsPerRenewal = per(counting.writeUnits);
    const localMsPerRenewal = per(sweepMs);
    const month = 30;
    const renewalsPerMonth = renewalsPerMailboxDay * month;
    const dynamodbCost = renewalsPerMonth * (readUnitsPerRenewal * PRICES.dynamoDbReadRequestUnit.usd + (writeUnitsPerRenewal + indexWriteUnitsPerRenewal) * PRICES.dynamoDbWriteRequestUnit.usd);
    // The sweep's invocation is paid anyway (every minute); a renewal adds its share of the invocation's duration.
    const billedSecondsPerRenewal = (localMsPerRenewal + ASSUMED_GRAPH_PATCH_MS / SWEEP_CONCURRENCY) / 1000;
    const lambdaCost = renewalsPerMonth * billedSecondsPerRenewal * (SUPERVISOR_MEMORY_MB / 1024) * PRICES.lambdaArmGbSecond.usd;
    const sig = (value: number) => Number(value.toPrecision(3));
    return {
      mailboxes: options.mailboxes,
      seedSeconds: sig(seedSeconds),
      renewals,
      peakRenewalsPerMinute: Math.max(...perMinute.values()),
      peakRenewalsPerMinuteAt100k: peakPerMinute(100_000, t0, expiresAt),
      minutesWithRenewals: perMinute.size,
      renewalsPerMailboxDay: sig(renewalsPerMailboxDay),
      graphCallsPerMailboxDay: sig(renewalsPerMailboxDay * per(graphCalls)),
      dynamodb: { callsPerRenewal, readUnitsPerRenewal: sig(readUnitsPerRenewal), writeUnitsPerRenewal: sig(writeUnitsPerRenewal), indexWriteUnitsPerRenewal },
      dynamodbCallsPerMailboxDay: sig(renewalsPerMailboxDay * Object.values(counting.calls).reduce((sum, count) => sum + count, 0) / Math.max(1, renewals)),
      localMsPerRenewal: sig(localMsPerRenewal),
      costPerMailboxMonthUsd: { dynamodb: sig(dynamodbCost), lambda: sig(lambdaCost), total: sig(dynamodbCost + lambdaCost) },
    };
  } finally {
    destroyAwsClients(clients);
    await backends.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = args();
  process.stderr.write(`managed renewal sweep: ${options.mailboxes} relay-managed Graph mailboxes, sweeps every ${options.sweepMinutes} virtual minutes\n`);
  const result = await runManagedRenewalBench(options);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
