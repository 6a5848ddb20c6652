import type { InboxMessageChange, GraphSubscriptionManager } from '../../shared/org/subscription-manager.js';
import { decideAlert } from '../../shared/rules/alert-rules.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { eventKey } from '../_lib/event-keys.js';
import type { DispatcherDeps } from './deps.js';
import { pushNewMail } from './push-new-mail.js';
import { recordOutcome } from './record-outcome.js';

/**
 * Server-side catch-up of a relay-managed Graph mailbox (contract section 9): after `missed`, or once a subscription
 * was recreated, the inbox delta query finds what arrived during the gap, and each unread message received since the
 * gap began that was not alerted yet gets an alert.
 *
 * - Dedupe is the live path's: a message's key is the same `eventKey` the callback gives its notification (the
 *   immutable id Graph sends in both), claimed in the same store. A message that also arrives live alerts once,
 *   whichever comes first; a catch-up run again (a retry) finds its own pending claims and pushes what it had not.
 * - What is not new mail: a read message, one received before the gap began (mail moved into the inbox keeps its
 *   receive time), one the delta reports removed.
 * - The rules are judged at catch-up time (the mail is being alerted now, not when it arrived).
 * - Up to {@link CATCH_UP_SINGLE_ALERTS} messages get an alert each; more are one alert with the count, never a
 *   train of pushes for a morning's backlog.
 * - One `caught-up` decision per catch-up, whatever it found.
 */
export interface CatchUpInput {
  device: DeviceRecord;
  mailboxId: string;
  /** The mailbox's proven address (the delta query's user). */
  address: string;
  /** The `@odata.deltaLink` kept from the last pass; absent when none was (then the gap is read by receive time). */
  deltaLink?: string;
  /** When the gap began: the last time the relay knew its subscription delivered (at most 24 h are looked at). */
  gapStartedAt: number;
  /** What led here, for the decision's reason: `missed` (lifecycle event) or `recreated` (a new subscription). */
  trigger: 'missed' | 'recreated';
  /** Who claims the messages' keys: the same for a retry of this catch-up, another for any other. */
  claimant: string;
  /** The queue's receive count of the request, so that a failing push on the last attempt says dead-lettered. */
  receiveCount: number;
}

export interface CatchUpResult {
  /** The link to keep for the next pass. */
  deltaLink: string;
  /** Messages alerted now (0 when suppressed, duplicates or none). */
  alerted: number;
}

export type CatchUpDeps = DispatcherDeps & { inbox: Pick<GraphSubscriptionManager, 'inboxChanges'> };

/** At most this many messages of one catch-up get their own alert; more get one counted alert. */
export const CATCH_UP_SINGLE_ALERTS = 3;
/** However long the gap, a catch-up looks back at most a day (as the resync after an expired delta link). */
export const CATCH_UP_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The messages of a delta pass that are new mail of the gap, each once, oldest first. */
export function newMailOfGap(changes: readonly InboxMessageChange[], gapStartedAt: number): InboxMessageChange[] {
  const byId = new Map<string, InboxMessageChange>();
  // A message changed twice in the gap comes back twice; its last state counts (read since, or not).
  for (const change of changes) byId.set(change.messageId, change);
  return [...byId.values()].filter((change) => !change.isRead && change.receivedAt >= gapStartedAt).sort((a, b) => a.receivedAt - b.receivedAt);
}

export async function catchUpMailbox(input: CatchUpInput, deps: CatchUpDeps): Promise<CatchUpResult> {
  const { device, mailboxId } = input;
  const { deviceId } = device;
  const startedAt = deps.now();
  const gapStartedAt = Math.max(input.gapStartedAt, startedAt - CATCH_UP_WINDOW_MS);
  const pass = await deps.inbox.inboxChanges({
    address: input.address,
    receivedSince: gapStartedAt,
    ...(input.deltaLink === undefined ? {} : { deltaLink: input.deltaLink }),
  });
  const candidates = newMailOfGap(pass.changes, Math.max(gapStartedAt, pass.resyncedSince ?? 0));
  const resync = pass.resyncedSince === undefined ? '' : ':resync';
  const decide = (reason: string) => recordOutcome({ deviceId, at: startedAt, mailbox: mailboxId, outcome: 'caught-up', reason: `${input.trigger}${resync}:${reason}` }, deps);

  const keys = candidates.map((change) => eventKey(deviceId, mailboxId, 'item', change.messageId));
  const claims = keys.length === 0 ? new Map() : await deps.dedupe.claim({ deviceId, keys, claimant: input.claimant, now: startedAt, ttlSeconds: deps.dedupeTtlSeconds });
  const fresh = keys.filter((key) => claims.get(key) === 'claimed');
  const complete = (outcome: string) =>
    fresh.length === 0
      ? Promise.resolve()
      : deps.dedupe.complete({ deviceId, keys: fresh, claimant: input.claimant, outcome, now: deps.now() }).catch((error: unknown) => {
          deps.logger.error('could not complete catch-up keys', { error: error as Error });
        });
  deps.counter.count('CatchUpMessagesFound', candidates.length);

  if (fresh.length === 0) {
    await decide(candidates.length === 0 ? 'none' : `already-alerted-${candidates.length}`);
    return { deltaLink: pass.deltaLink, alerted: 0 };
  }
  const found = `new-${fresh.length}`;
  if (device.status !== 'active') {
    await complete('token-retired');
    await decide(`${found}:device-retired`);
    return { deltaLink: pass.deltaLink, alerted: 0 };
  }
  if (device.mode === 'interval') {
    await complete('suppressed');
    await decide(`${found}:mode:interval`);
    return { deltaLink: pass.deltaLink, alerted: 0 };
  }
  const rule = decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(startedAt) });
  if (!rule.alert) {
    await complete('suppressed');
    await decide(`${found}:rule:${rule.rule}`);
    return { deltaLink: pass.deltaLink, alerted: 0 };
  }

  const pushes = fresh.length <= CATCH_UP_SINGLE_ALERTS ? fresh.map(() => 1) : [fresh.length];
  const notifications = [{ at: startedAt, receiveCount: input.receiveCount }];
  let last: { outcome: string; reason: string } = { outcome: 'pushed', reason: '' };
  let alerted = 0;
  for (const newMessages of pushes) {
    // A thrown (retryable) failure leaves the keys pending under this claimant: the retried catch-up pushes them.
    last = await pushNewMail({ device, mailboxId, newMessages, notifications }, deps);
    if (last.outcome !== 'pushed') break;
    alerted += newMessages;
  }
  await complete(last.outcome);
  await decide(`${found}:${last.reason}`);
  return { deltaLink: pass.deltaLink, alerted };
}
