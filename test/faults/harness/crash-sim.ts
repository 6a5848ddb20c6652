import { dispatchQueueRecords, type QueueRecord } from '../../../functions/dispatcher/edge.js';
import { hashSecret } from '../../../functions/_lib/device-secrets.js';
import type { PushGateway } from '../../../shared/push/push-gateway.js';
import { newMessagesOf, type NewMailPayload } from '../../../shared/push/apns-payloads.js';
import type { EventQueue, NewMailMessage } from '../../../shared/queue/queue-messages.js';
import type { InMemoryDeviceStore } from '../../../shared/store/in-memory-device-store.js';
import { createInMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { inMemoryDispatcherDeps } from '../../support/dispatcher-deps.js';
import type { DecisionLog, DedupeStore } from '../../../shared/store/ports.js';
import { T0, makeDevice, makeMailbox } from '../../support/store-fixtures.js';
import { emptyRow, type SummaryRow } from './summary.js';

/**
 * The dispatcher killed mid-batch, with Lambda's SQS semantics around it: a killed invocation deletes nothing, so its
 * whole batch comes back (receive count + 1); a finished one deletes what it did not report as failed; a message
 * received more than maxReceiveCount times goes to the DLQ.
 *
 * A kill is modelled at the ports: from the kill point on every port call of that invocation throws, so nothing the
 * dead process would not have done happens. Kill points:
 * - `mid-claim`: part of a message's keys written, then death;
 * - `after-claim`: the keys claimed (dedupe write done), death before the push;
 * - `after-push`: APNs accepted the push, death before the keys are completed;
 * - `after-complete`: keys completed, death before the decision and the SQS delete;
 * - `after-hold`: inside a burst, the mails counted as held (and their flush queued), death before their keys are
 *   completed as held.
 * A kill at `after-push` also hits the push of held mail (the flush), between the push and the release of the count.
 *
 * Time is simulated: each invocation takes `stepMs`; mails arrive `arrivalGapMs` apart; a failed or killed batch is
 * visible again after the visibility timeout (30 s, above the 5 s alert-budget window, as on AWS where it is 6 x the
 * function timeout); flushes are delayed as the dispatcher asks.
 *
 * Pushes are tracked per event key. A notification's own push covers the next `newMessages` keys its invocation claimed
 * for that device (one mailbox per device here, keys in claim order); mails beyond the alert budget are held, and
 * join the device's held pool once completed as held; a flush push covers as many keys of the pool as its
 * `newMessages`. The sim checks each push's `newMessages` against the keys it attributes.
 */

export type KillPoint = 'mid-claim' | 'after-claim' | 'after-push' | 'after-complete' | 'after-hold';
export const KILL_POINTS: readonly KillPoint[] = ['mid-claim', 'after-claim', 'after-push', 'after-complete', 'after-hold'];

export interface SimNotification {
  device: number;
  /** New items in this notification (event keys). */
  items: number;
  /** Exchange sends the same body again (its first answer got lost), queued as a second message. */
  retriedByExchange: boolean;
}

export interface SimKill {
  /** Which invocation (0-based) dies. */
  invocation: number;
  point: KillPoint;
  /** The n-th time the point is reached in that invocation (1-based); later if the invocation reaches it fewer times. */
  occurrence: number;
}

export interface SimScenario {
  devices: number;
  notifications: SimNotification[];
  kills: SimKill[];
  batchSize: number;
  maxReceiveCount: number;
  /** Time between two mails arriving (default 300 ms): mails to one device within 5 s form a burst. */
  arrivalGapMs?: number;
}

export interface SimResult {
  notifications: number;
  messages: number;
  keys: number;
  invocations: number;
  killsFired: Record<KillPoint, number>;
  pushes: number;
  /** Keys that never were in a delivered push. */
  lost: string[];
  /** Pushes of a key beyond the first, summed. */
  duplicates: number;
  /** Per key, pushes beyond what the design allows (1 + pushes of it that were not completed before a kill). */
  beyondAllowance: Array<{ key: string; pushes: number; allowed: number }>;
  /** Duplicates the design allows in this run: the keys pushed but not completed when a kill came. */
  allowance: number;
  deadLettered: number;
  /**
   * Mails counted twice within one push (a kill after holding re-holds the same mail, so the flush says "4 new
   * messages" for 2): a wrong count on one alert, not a second alert.
   */
  overcounted: number;
  /** Flush pushes (held mail pushed after a burst window). */
  flushPushes: number;
  /** Mails still counted as held on a mailbox once the queue drained (held mail nobody will push). */
  heldLeft: number;
  /** Pushes whose `newMessages` did not match the keys the sim saw claimed (a broken sim, not a broken service). */
  trackingErrors: number;
}

class Killed extends Error {
  constructor(point: string) {
    super(`process killed at ${point}`);
    this.name = 'Killed';
  }
}

/** The kill switch of one invocation. */
class Reaper {
  dead = false;
  private readonly seen = new Map<KillPoint, number>();
  constructor(private readonly kill: SimKill | undefined) {}

  check(): void {
    if (this.dead) throw new Killed('an earlier point');
  }

  /** Called when the process reaches `point`; dies there if this is the planned occurrence. */
  reach(point: KillPoint): boolean {
    if (!this.kill || this.kill.point !== point || this.dead) return false;
    const count = (this.seen.get(point) ?? 0) + 1;
    this.seen.set(point, count);
    if (count === this.kill.occurrence) this.dead = true;
    return this.dead;
  }
}

const VISIBILITY_MS = 30_000;
const STEP_MS = 200;

export async function simulateCrashes(scenario: SimScenario): Promise<SimResult> {
  let clock = T0;
  const stores = createInMemoryStores({ now: () => clock });
  for (let device = 0; device < scenario.devices; device++) {
    await stores.devices.createDevice(
      makeDevice({
        deviceId: `device-${device}`,
        orgId: 'org-sim',
        secretHash: hashSecret(`secret-${device}`),
        pushToken: device.toString(16).padStart(64, '0'),
      }),
      [makeMailbox(`device-${device}`, { mailboxId: 'inbox', kind: 'primary', callbackKey: `cb-${device}` })],
    );
  }

  // The queue: each notification becomes one message; an Exchange retry is a second message with the same keys.
  interface SimMessage {
    messageId: string;
    body: string;
    receiveCount: number;
    visibleAt: number;
  }
  let queue: SimMessage[] = [];
  const allKeys: string[] = [];
  let sequence = 0;
  const gap = scenario.arrivalGapMs ?? 300;
  scenario.notifications.forEach((notification, index) => {
    const device = notification.device % scenario.devices;
    const keys = Array.from({ length: notification.items }, (_, item) => `n${index}-i${item}`);
    allKeys.push(...keys);
    const arrival = T0 + index * gap;
    const message = (receivedAt: number): NewMailMessage => ({
      v: 1,
      type: 'new-mail',
      deviceId: `device-${device}`,
      mailboxId: 'inbox',
      receivedAt,
      eventKeys: keys,
    });
    queue.push({ messageId: `m-${++sequence}`, body: JSON.stringify(message(arrival)), receiveCount: 0, visibleAt: arrival });
    if (notification.retriedByExchange) {
      queue.push({ messageId: `m-${++sequence}`, body: JSON.stringify(message(arrival + 1)), receiveCount: 0, visibleAt: arrival + 1 });
    }
  });
  const messages = queue.length;

  const pushesPerKey = new Map<string, number>();
  const allowancePerKey = new Map<string, number>();
  const allow = (key: string) => allowancePerKey.set(key, (allowancePerKey.get(key) ?? 0) + 1);
  /** Per device: keys completed as held and not yet covered by a flush push. */
  const heldPool = new Map<string, string[]>();
  const pool = (deviceId: string) => heldPool.get(deviceId) ?? (heldPool.set(deviceId, []), heldPool.get(deviceId)!);
  const result: SimResult = {
    notifications: scenario.notifications.length,
    messages,
    keys: allKeys.length,
    invocations: 0,
    killsFired: { 'mid-claim': 0, 'after-claim': 0, 'after-push': 0, 'after-complete': 0, 'after-hold': 0 },
    pushes: 0,
    lost: [],
    duplicates: 0,
    beyondAllowance: [],
    allowance: 0,
    deadLettered: 0,
    overcounted: 0,
    flushPushes: 0,
    heldLeft: 0,
    trackingErrors: 0,
  };
  const killsByInvocation = new Map(scenario.kills.map((kill) => [kill.invocation, kill]));

  for (let invocation = 0; queue.length > 0; invocation++) {
    if (invocation > 20_000) throw new Error('the simulated queue never drained');
    // Receive: the visible messages in order; when none is visible yet, time passes until one is.
    const earliest = Math.min(...queue.map((m) => m.visibleAt));
    if (earliest > clock) clock = earliest;
    const visible = queue.filter((m) => m.visibleAt <= clock).slice(0, scenario.batchSize);
    queue = queue.filter((m) => !visible.includes(m));
    const batch: SimMessage[] = [];
    for (const message of visible) {
      message.receiveCount++;
      if (message.receiveCount > scenario.maxReceiveCount) result.deadLettered++;
      else batch.push(message);
    }
    if (batch.length === 0) continue;
    result.invocations++;

    // A kill that would push a message past maxReceiveCount is not applied: lost-by-DLQ is the redrive suite's case.
    const planned = killsByInvocation.get(invocation);
    const kill = planned && batch.every((m) => m.receiveCount < scenario.maxReceiveCount) ? planned : undefined;
    const reaper = new Reaper(kill);
    /** Per device, in claim order: keys this invocation claimed and has neither pushed nor held yet. */
    const claimedByDevice = new Map<string, string[]>();
    const takeClaimed = (deviceId: string, count: number) => (claimedByDevice.get(deviceId) ?? []).splice(0, count);
    /** Keys pushed directly and not yet completed. */
    const pushedUncompleted = new Set<string>();
    /** Keys counted as held whose completion as held has not happened yet. */
    const heldUncompleted = new Map<string, string[]>();
    /** Per device: keys a flush pushed whose held count was not released yet. */
    const flushedUnreleased = new Map<string, string[]>();
    const sent: SimMessage[] = [];

    const dedupe: DedupeStore = {
      claim: async (input) => {
        reaper.check();
        const half = Math.floor(input.keys.length / 2);
        if (half > 0 && reaper.reach('mid-claim')) {
          await stores.dedupe.claim({ ...input, keys: input.keys.slice(0, half) });
          throw new Killed('mid-claim');
        }
        const claims = await stores.dedupe.claim(input);
        const claimed = claimedByDevice.get(input.deviceId) ?? [];
        for (const [key, state] of claims) if (state === 'claimed' && !claimed.includes(key)) claimed.push(key);
        claimedByDevice.set(input.deviceId, claimed);
        if (reaper.reach('after-claim')) throw new Killed('after-claim');
        return claims;
      },
      complete: async (input) => {
        reaper.check();
        await stores.dedupe.complete(input);
        const held = heldUncompleted.get(input.deviceId) ?? [];
        for (const key of input.keys) {
          pushedUncompleted.delete(key);
          const index = held.indexOf(key);
          if (input.outcome === 'held' && index !== -1) {
            held.splice(index, 1);
            pool(input.deviceId).push(key);
          }
        }
        if (reaper.reach('after-complete')) throw new Killed('after-complete');
      },
    };
    const devices: InMemoryDeviceStore = new Proxy(stores.devices, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          reaper.check();
          const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const deviceId = String(args[0]);
          if (property === 'holdAlerts') {
            // The count now includes the rest of this invocation's claimed keys; they join the pool once completed as held.
            const keys = takeClaimed(deviceId, Number(args[2]));
            if (keys.length !== args[2]) result.trackingErrors++;
            heldUncompleted.set(deviceId, [...(heldUncompleted.get(deviceId) ?? []), ...keys]);
            if (reaper.reach('after-hold')) throw new Killed('after-hold');
          }
          if (property === 'releaseHeldAlerts' && answer === true) flushedUnreleased.delete(deviceId);
          return answer;
        };
      },
    });
    const push: PushGateway = {
      send: async (target, message) => {
        reaper.check();
        const newMessages = message.kind === 'alert' ? newMessagesOf(message.payload as NewMailPayload) : 0;
        let covered: string[];
        if ((claimedByDevice.get(target.deviceId) ?? []).length > 0) {
          // A notification's own alert: its keys, next in claim order.
          covered = takeClaimed(target.deviceId, newMessages);
          for (const key of covered) pushedUncompleted.add(key);
        } else {
          // Held mail: the flush pushes the held count.
          result.flushPushes++;
          covered = pool(target.deviceId).splice(0, newMessages);
          flushedUnreleased.set(target.deviceId, covered);
        }
        if (newMessages !== covered.length) result.trackingErrors++;
        result.pushes++;
        const distinct = new Set(covered);
        result.overcounted += covered.length - distinct.size;
        for (const key of distinct) pushesPerKey.set(key, (pushesPerKey.get(key) ?? 0) + 1);
        if (reaper.reach('after-push')) throw new Killed('after-push');
        // APNs answered, but the process may have died while the request was in flight.
        reaper.check();
        return { outcome: 'delivered' };
      },
    };
    const events: EventQueue = {
      enqueue: async (queued, options) => {
        reaper.check();
        for (const message of queued) {
          sent.push({ messageId: `m-${++sequence}`, body: JSON.stringify(message), receiveCount: 0, visibleAt: clock + (options?.delaySeconds ?? 0) * 1000 });
        }
      },
    };
    const decisions: DecisionLog = {
      record: async (...args) => (reaper.check(), stores.decisions.record(...args)),
      list: async (...args) => (reaper.check(), stores.decisions.list(...args)),
    };
    const deps = inMemoryDispatcherDeps(stores, {
      devices,
      callbacks: devices,
      retirement: devices,
      burstBudget: devices,
      actionLimit: devices,
      // Settlements are built over these, so the kill points and bookkeeping of `complete` see them.
      dedupe,
      decisions,
      push,
      queue: events,
      now: () => clock,
      maxReceiveCount: scenario.maxReceiveCount,
    });

    const records: QueueRecord[] = batch.map((m) => ({ messageId: m.messageId, body: m.body, receiveCount: m.receiveCount }));
    let failed: string[];
    try {
      failed = (await dispatchQueueRecords(records, deps)).failedMessageIds;
    } catch (error) {
      if (!(error instanceof Killed)) throw error;
      failed = records.map((r) => r.messageId);
    }
    // Messages sent before death were sent: SQS has them.
    queue.push(...sent);
    const back = reaper.dead ? batch : batch.filter((m) => failed.includes(m.messageId));
    for (const message of back) message.visibleAt = clock + VISIBILITY_MS;
    queue.push(...back);
    if (reaper.dead) {
      result.killsFired[kill!.point]++;
      // Pushed, never completed: the design allows each of these keys one more push on redelivery.
      for (const key of pushedUncompleted) allow(key);
      // Counted as held but not completed: the flush pushes them and the redelivery handles them again.
      for (const [deviceId, keys] of heldUncompleted) {
        for (const key of keys) allow(key);
        pool(deviceId).push(...keys);
      }
      // A flush pushed but the count was not released: the next flush pushes the same mails again.
      for (const [deviceId, keys] of flushedUnreleased) {
        for (const key of keys) allow(key);
        pool(deviceId).unshift(...keys);
      }
    }
    clock += STEP_MS;
  }

  for (const key of allKeys) {
    const pushes = pushesPerKey.get(key) ?? 0;
    const allowed = 1 + (allowancePerKey.get(key) ?? 0);
    if (pushes === 0) result.lost.push(key);
    result.duplicates += Math.max(0, pushes - 1);
    result.allowance += allowed - 1;
    if (pushes > allowed) result.beyondAllowance.push({ key, pushes, allowed });
  }
  for (let device = 0; device < scenario.devices; device++) {
    const mailbox = await stores.devices.getDeviceAndMailbox(`device-${device}`, 'inbox');
    result.heldLeft += mailbox.mailbox?.heldAlerts ?? 0;
  }
  return result;
}

/**
 * The summary row of a set of simulated schedules, for the fault suite's table and the soak's: kills as the faults
 * injected, keys as the pushes owed, lost and duplicated pushes, and what broke the design's bounds as crashes.
 */
export function crashSimRow(scenario: string, results: readonly SimResult[]): SummaryRow {
  const sum = (pick: (r: SimResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  return {
    ...emptyRow('faults', scenario),
    injected: sum((r) => Object.values(r.killsFired).reduce((a, b) => a + b, 0)),
    sent: sum((r) => r.notifications),
    pushesExpected: sum((r) => r.keys),
    pushesReceived: sum((r) => r.keys - r.lost.length + r.duplicates),
    lost: sum((r) => r.lost.length),
    duplicates: sum((r) => r.duplicates),
    duplicatesAllowed: sum((r) => r.allowance),
    crashes: sum((r) => r.trackingErrors + r.beyondAllowance.length + r.deadLettered + r.heldLeft),
    note: `${results.length} schedules, ${sum((r) => r.invocations)} invocations, ${sum((r) => r.flushPushes)} flushes of held mail, ${sum((r) => r.overcounted)} mails counted twice within one alert`,
  };
}
