import { managedSubscriptionOf, type CatchUpRequests, type ManagedMailbox, type ManagedRelease, type ManagedSubscriptionStore } from '../../shared/org/managed-subscription.js';
import { MailServerError } from '../../shared/org/ports.js';
import type { SubscriptionManager } from '../../shared/org/subscription-manager.js';
import type { ManagedSubscriptionJob, ManagedSubscriptionMessage } from '../../shared/queue/queue-messages.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { keepManagedSubscription, type KeepOutcome } from '../supervisor/keep-managed-subscription.js';
import { deleteGraphSubscriptions } from '../_lib/managed-work.js';
import { holdsRelaySubscription, releaseRetiredMailbox } from '../_lib/release-retired-mailbox.js';
import { catchUpMailbox } from './catch-up-mailbox.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';
import { claimantOf } from './event-claims.js';
import { recordOutcome } from './record-outcome.js';

/**
 * The mail-server work of a relay-managed subscription (contract section 9), queued by whoever noticed it is due: the
 * supervisor (subscribe, renew, recreate: `keep`), a lifecycle event (`reauthorize`, `recreate` after
 * `subscriptionRemoved`, `catch-up` after `missed`) or a recreation (`catch-up`). It runs in the dispatcher because
 * the dispatcher already opens organizations (their service account, the mailbox's sealed address) and pushes (a
 * catch-up alerts); nothing here is pushed to the device as a request to act: the app never receives `resubscribe`,
 * `reauthorize` or `sync` for a relay-managed mailbox.
 *
 * A failure the server may recover from is thrown, so the queue redelivers the message (and dead-letters it after
 * its attempts); `keep` records its own failures and backoff instead, and the supervisor finds the mailbox due again.
 */

/** Opens what the relay needs to act for a mailbox: its proven address and a manager for its org's mail server. */
export interface ManagedTargets {
  /** Undefined when the mailbox is not (or no longer) relay-managed, or its org left organization mode. */
  open(device: DeviceRecord, mailbox: MailboxRecord): Promise<{ address: string; manager: SubscriptionManager } | undefined>;
  /** The org's manager alone (deleting a subscription needs no mailbox); undefined when the org left organization mode. */
  manager(orgId: string): Promise<SubscriptionManager | undefined>;
}

export type ManageSubscriptionDeps = DispatcherDeps & {
  targets: ManagedTargets;
  managed: ManagedSubscriptionStore;
  /** Lets go of the subscription of a retired device's mailbox instead of keeping it. */
  release: ManagedRelease;
  catchUps: CatchUpRequests;
};

export type ManageOutcome =
  | KeepOutcome
  | { action: 'caught-up'; alerted: number }
  | { action: 'deleted'; subscriptions: number }
  | { action: 'released' }
  | { action: 'skipped'; reason: string };

export async function manageSubscription(record: DispatchRecord<ManagedSubscriptionMessage>, deps: ManageSubscriptionDeps): Promise<ManageOutcome> {
  const { message } = record;
  // The mailbox of a deletion is gone (or no longer the relay's): only the org is needed.
  if (message.job.work === 'delete') return deleteSubscriptions(message.job, deps);
  const { device, mailbox } = await deps.devices.getDeviceAndMailbox(message.deviceId, message.mailboxId);
  if (!device || !mailbox) return skipped('mailbox-removed', deps);
  const managed = managedSubscriptionOf(mailbox);
  // managedProtocol is set only on mailboxes the relay manages (and cleared when it hands one back).
  if (!managed) return skipped('not-relay-managed', deps);
  // Work queued before the device was retired (or a lifecycle event since): nothing is kept for a retired device.
  if (device.status !== 'active') {
    const released = holdsRelaySubscription(mailbox) && (await releaseRetiredMailbox({ orgId: device.orgId, mailbox }, { ...deps, managed: deps.release }));
    return released ? { action: 'released' } : skipped('device-retired', deps);
  }
  const target = await deps.targets.open(device, mailbox);
  if (!target) return skipped('organization-unavailable', deps);
  const view: ManagedMailbox = { ...mailbox, managed };
  // The operator moved the org to the other kind of mail server (`PUT /v1/orgs/{orgId}`): whatever the work was, the
  // subscription of the old kind can no longer be kept, and one of the org's kind replaces it (with a catch-up of the
  // gap on Graph), so the mailbox does not stay silent with the app unable to help (its routes answer relay_managed).
  if (target.manager.protocol !== managed.protocol) return keepManagedSubscription({ mailbox: view, ...target, recreate: 'mail-server-type-changed' }, deps);

  const { job } = message;
  switch (job.work) {
    case 'keep':
      return keepManagedSubscription({ mailbox: view, ...target }, deps);
    case 'recreate':
      return keepManagedSubscription({ mailbox: view, ...target, recreate: job.reason }, deps);
    case 'reauthorize': {
      if (target.manager.protocol !== 'graph' || mailbox.subscriptionId === undefined) return skipped('nothing-to-reauthorize', deps);
      try {
        await target.manager.reauthorize(mailbox.subscriptionId);
        deps.counter.count('ManagedSubscriptionReauthorized');
        // A renewal of the subscription's authorization (its expiry stays): the why-log shows it as one.
        await recordOutcome({ deviceId: device.deviceId, at: deps.now(), mailbox: mailbox.mailboxId, outcome: 'subscription-renewed', reason: 'graph:reauthorized' }, deps);
        return { action: 'reauthorized' };
      } catch (error) {
        // Graph no longer has it: reauthorizing is moot, a new subscription is what brings notifications back.
        if (error instanceof MailServerError && error.kind === 'not-found') return keepManagedSubscription({ mailbox: view, ...target, recreate: 'removed' }, deps);
        throw error;
      }
    }
    case 'catch-up': {
      if (target.manager.protocol !== 'graph') return skipped('no-delta-for-ews', deps);
      const gapSince = Math.min(job.gapSince, managed.gapSince ?? job.gapSince);
      const result = await catchUpMailbox(
        {
          device,
          mailboxId: mailbox.mailboxId,
          address: target.address,
          ...(managed.deltaLink === undefined ? {} : { deltaLink: managed.deltaLink }),
          gapStartedAt: gapSince,
          trigger: job.trigger,
          claimant: claimantOf(record),
          receiveCount: record.receiveCount,
        },
        { ...deps, inbox: target.manager },
      );
      await deps.managed.updateManaged(mailbox.deviceId, mailbox.mailboxId, { managed: { deltaLink: result.deltaLink, gapSince: null } });
      return { action: 'caught-up', alerted: result.alerted };
    }
  }
}

/**
 * Deletes the relay's Graph subscription of a mailbox that is gone or handed back, and the one an interrupted attempt
 * may have made without recording it (found by the hash of its URL secret). A failure goes back to the queue.
 */
async function deleteSubscriptions(job: Extract<ManagedSubscriptionJob, { work: 'delete' }>, deps: ManageSubscriptionDeps): Promise<ManageOutcome> {
  const manager = await deps.targets.manager(job.orgId);
  if (!manager) return skipped('organization-unavailable', deps);
  if (manager.protocol !== 'graph') return skipped('nothing-to-delete-for-ews', deps);
  const deleted = await deleteGraphSubscriptions(manager, job);
  deps.counter.count('ManagedSubscriptionDeleted', deleted);
  return { action: 'deleted', subscriptions: deleted };
}

function skipped(reason: string, deps: Pick<DispatcherDeps, 'logger' | 'counter'>): ManageOutcome {
  deps.counter.count(`ManagedSubscriptionSkipped-${reason}`);
  deps.logger.info('managed subscription work skipped', { reason });
  return { action: 'skipped', reason };
}
