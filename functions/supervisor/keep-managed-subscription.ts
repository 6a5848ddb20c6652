import type { CatchUpRequests, ManagedMailbox, ManagedMailboxChanges, ManagedSubscriptionStore } from '../../shared/org/managed-subscription.js';
import { MailServerError } from '../../shared/org/ports.js';
import type { GraphSubscriptionManager, ManagedSubscription, SubscriptionManager } from '../../shared/org/subscription-manager.js';
import type { DecisionLog } from '../../shared/store/ports.js';
import { MANAGED_GRAPH_LIFETIME_MS, renewalDueAt, retryDueAt } from '../../shared/supervision/renewal-schedule.js';
import { silentAt, subscriptionState } from '../../shared/supervision/subscription-state.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';
import { secretHashOf } from '../_lib/mailbox-endpoints.js';

/**
 * Keeps one relay-managed subscription alive (contract section 9), whenever the supervisor finds the mailbox due or
 * a lifecycle event asks: subscribes a mailbox that has none (at registration, or after a failure), renews a Graph
 * subscription in its renewal window (PATCH; a 404 means Graph dropped it: recreated), recreates one that expired,
 * subscribes an EWS mailbox again when it went silent or expired. Each (re)subscription gets fresh URL secrets and
 * `clientState` (only their hashes are stored), so whatever still holds the old ones is refused from then on.
 *
 * A (re)subscription is recorded as begun (`subscribingSince`) before the server is asked and as done after: a
 * crash in between leaves a Graph subscription the relay did not record, which the next attempt finds among the
 * app's subscriptions by its notification URL (whose secret hashes to the mailbox's callback key) and adopts instead
 * of creating a second one.
 *
 * Failures are recorded with a backoff (the server's Retry-After when it gave one) and tried again by the next sweep
 * that finds the mailbox due; the mailbox's `state` shows what the device would see meanwhile (`pending`, `expired`).
 */

export interface KeepManagedDeps {
  managed: ManagedSubscriptionStore;
  catchUps: CatchUpRequests;
  decisions: DecisionLog;
  now: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
}

/**
 * Why a subscription is being recreated (the decision's reason). `mail-server-type-changed`: the operator moved the
 * org to the other kind of mail server (`PUT /v1/orgs/{orgId}`), so a subscription of the org's new kind replaces it.
 */
export type RecreateReason = 'expired' | 'removed' | 'renewal-404' | 'silent' | 'lost' | 'mail-server-type-changed';

export type KeepOutcome =
  | { action: 'subscribed' | 'adopted' | 'renewed' | 'waiting' | 'reauthorized' }
  | { action: 'recreated'; reason: RecreateReason }
  | { action: 'failed'; kind: string; retryAt: number }
  | { action: 'gone' };

/** Graph lifetime of a relay-made subscription, and how an EWS one is heard from. */
const EWS_STATUS_FREQUENCY_MINUTES = 30;

const dueKey = (mailbox: Pick<ManagedMailbox, 'deviceId' | 'mailboxId'>) => `${mailbox.deviceId}#${mailbox.mailboxId}`;

/** What the mailbox needs now: nothing (yet), a first subscription, a renewal, or a new subscription. */
export function plannedWork(mailbox: ManagedMailbox, now: number): { work: 'wait'; dueAt: number } | { work: 'subscribe' | 'renew' } | { work: 'recreate'; reason: RecreateReason } {
  if (mailbox.subscriptionId === undefined) return mailbox.managed.renewedAt === undefined ? { work: 'subscribe' } : { work: 'recreate', reason: 'lost' };
  if (mailbox.managed.protocol === 'graph') {
    if (mailbox.expiresAt === undefined || mailbox.expiresAt <= now) return { work: 'recreate', reason: 'expired' };
    const dueAt = renewalDueAt({ key: dueKey(mailbox), expiresAt: mailbox.expiresAt, now: mailbox.managed.renewedAt ?? now });
    return now >= dueAt ? { work: 'renew' } : { work: 'wait', dueAt };
  }
  const state = subscriptionState(mailbox, now);
  // Not `superseded`: an older subscription still delivering says nothing against the current one, which is recreated
  // only once silent (a recreation would itself leave the old one delivering for a while).
  if (state === 'silent' || state === 'expired') return { work: 'recreate', reason: state === 'expired' ? 'expired' : 'silent' };
  return { work: 'wait', dueAt: silentAt(mailbox) };
}

export async function keepManagedSubscription(
  input: { mailbox: ManagedMailbox; address: string; manager: SubscriptionManager; recreate?: RecreateReason },
  deps: KeepManagedDeps,
): Promise<KeepOutcome> {
  const { mailbox, manager } = input;
  const now = deps.now();
  const plan = input.recreate ? { work: 'recreate' as const, reason: input.recreate } : plannedWork(mailbox, now);
  try {
    switch (plan.work) {
      case 'wait':
        await deps.managed.updateManaged(mailbox.deviceId, mailbox.mailboxId, { dueAt: plan.dueAt });
        return { action: 'waiting' };
      case 'renew':
        if (manager.protocol !== 'graph') throw new Error('only Graph subscriptions are renewed');
        return await renew({ mailbox, address: input.address, manager, now }, deps);
      case 'subscribe':
      case 'recreate':
        return await subscribe({ mailbox, address: input.address, manager, now, ...(plan.work === 'recreate' ? { reason: plan.reason } : {}) }, deps);
    }
  } catch (error) {
    if (!(error instanceof MailServerError)) throw error;
    return recordFailure({ mailbox, error, now }, deps);
  }
}

async function renew(input: { mailbox: ManagedMailbox; address: string; manager: GraphSubscriptionManager; now: number }, deps: KeepManagedDeps): Promise<KeepOutcome> {
  const { mailbox, address, manager, now } = input;
  let renewed: ManagedSubscription;
  try {
    renewed = await manager.renew(mailbox.subscriptionId as string, now + MANAGED_GRAPH_LIFETIME_MS);
  } catch (error) {
    // Graph no longer has it (removed, or lapsed between our reads): only a new one brings notifications again.
    if (error instanceof MailServerError && error.kind === 'not-found') return subscribe({ mailbox, address, manager, now, reason: 'renewal-404' }, deps);
    throw error;
  }
  const expiresAt = renewed.expiresAt ?? now + MANAGED_GRAPH_LIFETIME_MS;
  const stored = await deps.managed.updateManaged(mailbox.deviceId, mailbox.mailboxId, {
    expiresAt,
    dueAt: renewalDueAt({ key: dueKey(mailbox), expiresAt, now }),
    managed: { renewedAt: now, failures: null, lastError: null },
  });
  if (!stored) return gone({ mailbox, manager, subscriptionId: mailbox.subscriptionId as string }, deps);
  deps.counter.count('ManagedSubscriptionRenewed');
  await decide(mailbox, now, 'subscription-renewed', `graph:expires-${new Date(expiresAt).toISOString()}`, deps);
  return { action: 'renewed' };
}

async function subscribe(
  input: { mailbox: ManagedMailbox; address: string; manager: SubscriptionManager; now: number; reason?: RecreateReason },
  deps: KeepManagedDeps,
): Promise<KeepOutcome> {
  const { mailbox, address, manager, now, reason } = input;
  // The org's mail server is of the other kind now: what the relay had is of the old kind, which this manager can
  // neither renew nor delete (an EWS one ends with the Unsubscribe its old URL gets once the secrets move; a Graph one
  // gets 404 there and, unrenewed, ends within its lifetime).
  const switching = manager.protocol !== mailbox.managed.protocol;
  let subscription: ManagedSubscription | undefined;
  let adopted = false;
  if (manager.protocol === 'graph' && !switching && mailbox.managed.subscribingSince !== undefined) {
    // An earlier attempt stored new secrets and may have created a subscription before it failed to record it.
    subscription = await findOwn(manager, mailbox.callbackKey);
    adopted = subscription !== undefined;
  }
  if (!subscription) {
    const endpoints = await deps.managed.renewEndpoints(mailbox.deviceId, mailbox.mailboxId, now);
    // Removed or handed back since it was read: nothing is subscribed for a mailbox the relay no longer keeps.
    if (!endpoints) return { action: 'gone' };
    subscription =
      manager.protocol === 'graph'
        ? await manager.create({
            address,
            notificationUrl: endpoints.notificationUrl,
            lifecycleNotificationUrl: endpoints.lifecycleNotificationUrl,
            clientState: endpoints.clientState,
            expiresAt: now + MANAGED_GRAPH_LIFETIME_MS,
          })
        : await manager.subscribe({ address, callbackUrl: endpoints.callbackUrl, statusFrequencyMinutes: EWS_STATUS_FREQUENCY_MINUTES });
  }

  const previous = mailbox.subscriptionId;
  const gapSince = manager.protocol === 'graph' && reason !== undefined ? (mailbox.managed.gapSince ?? gapStartOf(mailbox, now)) : undefined;
  const expiresAt = subscription.expiresAt;
  const changes: ManagedMailboxChanges = {
    protocol: manager.protocol,
    subscriptionId: subscription.subscriptionId,
    expiresAt: expiresAt ?? null,
    subscriptionReportedAt: now,
    dueAt:
      expiresAt === undefined
        ? silentAt({ createdAt: mailbox.createdAt, subscriptionReportedAt: now, statusFrequencyMinutes: EWS_STATUS_FREQUENCY_MINUTES })
        : renewalDueAt({ key: dueKey(mailbox), expiresAt, now }),
    managed: {
      renewedAt: now,
      subscribingSince: null,
      failures: null,
      lastError: null,
      ...(gapSince === undefined ? {} : { gapSince }),
      // Only while the relay still manages the mailbox (no `mark`): a hand-back meanwhile stands.
      ...(switching ? { protocol: manager.protocol, ...(manager.protocol === 'ews' ? { deltaLink: null, gapSince: null } : {}) } : {}),
    },
    ...(manager.protocol === 'ews' ? { statusFrequencyMinutes: EWS_STATUS_FREQUENCY_MINUTES } : {}),
  };
  if (!(await deps.managed.updateManaged(mailbox.deviceId, mailbox.mailboxId, changes))) {
    // Removed while we subscribed: what we made has no owner; delete it rather than leave it renewable by nobody.
    return gone({ mailbox, manager, subscriptionId: subscription.subscriptionId }, deps);
  }
  if (manager.protocol === 'graph' && !switching && previous !== undefined && previous !== subscription.subscriptionId) {
    // The old one may still exist (a recreate after `lost` or a PATCH race); nothing would ever renew it now.
    await manager.remove(previous).catch((error: unknown) => deps.logger.warn('could not delete a replaced subscription', { error: error as Error }));
  }
  if (manager.protocol === 'graph') {
    if (gapSince !== undefined) {
      await deps.catchUps.requestCatchUp({ deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId, trigger: 'recreated', gapSince, requestedAt: now });
    } else if (mailbox.managed.deltaLink === undefined) {
      await setBaseline({ mailbox, address, manager, now }, deps);
    }
  }
  if (reason !== undefined) {
    deps.counter.count('ManagedSubscriptionRecreated');
    await decide(mailbox, now, 'subscription-recreated', `${manager.protocol}:${reason}${adopted ? ':adopted' : ''}`, deps);
    return { action: 'recreated', reason };
  }
  deps.counter.count(adopted ? 'ManagedSubscriptionAdopted' : 'ManagedSubscriptionCreated');
  return { action: adopted ? 'adopted' : 'subscribed' };
}

/**
 * The first delta pass of a new subscription only sets the baseline: what is in the inbox already is not new mail.
 * Best effort: without a baseline a later catch-up reads by receive time instead.
 */
async function setBaseline(input: { mailbox: ManagedMailbox; address: string; manager: GraphSubscriptionManager; now: number }, deps: KeepManagedDeps): Promise<void> {
  try {
    const pass = await input.manager.inboxChanges({ address: input.address, receivedSince: input.now });
    await deps.managed.updateManaged(input.mailbox.deviceId, input.mailbox.mailboxId, { managed: { deltaLink: pass.deltaLink } });
  } catch (error) {
    deps.logger.warn('could not set the delta baseline', { error: error as Error, kind: error instanceof MailServerError ? error.kind : 'unexpected' });
  }
}

/** When notifications stopped: the last sign of delivery, at worst the last renewal (or registration). */
function gapStartOf(mailbox: ManagedMailbox, now: number): number {
  const lastKnownGood = Math.max(mailbox.lastNotificationAt ?? 0, mailbox.managed.renewedAt ?? 0, mailbox.createdAt);
  return Math.min(now, mailbox.expiresAt !== undefined ? Math.min(lastKnownGood, mailbox.expiresAt) : lastKnownGood);
}

/** The app's subscription whose notification URL carries this mailbox's URL secret, if Graph has one. */
async function findOwn(manager: GraphSubscriptionManager, callbackKey: string): Promise<ManagedSubscription | undefined> {
  const listed = await manager.list();
  const own = listed.find((subscription) => secretHashOf(subscription.notificationUrl) === callbackKey);
  return own && { subscriptionId: own.subscriptionId, expiresAt: own.expiresAt };
}


async function gone(input: { mailbox: ManagedMailbox; manager: SubscriptionManager; subscriptionId: string }, deps: KeepManagedDeps): Promise<KeepOutcome> {
  deps.counter.count('ManagedSubscriptionOrphanDeleted');
  if (input.manager.protocol === 'graph') {
    await input.manager.remove(input.subscriptionId).catch((error: unknown) => deps.logger.warn('could not delete an orphan subscription', { error: error as Error }));
  }
  // EWS: the callback answers Unsubscribe for a removed mailbox, which ends the subscription at Exchange.
  return { action: 'gone' };
}

async function recordFailure(input: { mailbox: ManagedMailbox; error: MailServerError; now: number }, deps: KeepManagedDeps): Promise<KeepOutcome> {
  const { mailbox, error, now } = input;
  const failures = (mailbox.managed.failures ?? 0) + 1;
  const retryAt = retryDueAt({
    attempt: failures,
    now,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(mailbox.expiresAt === undefined ? {} : { expiresAt: mailbox.expiresAt }),
  });
  deps.counter.count(`ManagedSubscriptionFailed-${error.kind}`);
  // The kind and a protocol code only: never the address, a URL or the server's text.
  deps.logger.warn('managed subscription attempt failed', { kind: error.kind, detail: error.detail, failures });
  await deps.managed.updateManaged(mailbox.deviceId, mailbox.mailboxId, { dueAt: retryAt, managed: { failures, lastError: error.kind } });
  return { action: 'failed', kind: error.kind, retryAt };
}

async function decide(mailbox: ManagedMailbox, at: number, outcome: 'subscription-renewed' | 'subscription-recreated', reason: string, deps: KeepManagedDeps): Promise<void> {
  deps.counter.count(`Outcome-${outcome}`);
  try {
    await deps.decisions.record(mailbox.deviceId, { at: new Date(at).toISOString(), mailbox: mailbox.mailboxId, outcome, reason });
  } catch (error) {
    deps.logger.error('could not record a decision', { error: error as Error, outcome });
  }
}
