import { MailServerError, type OrgKeyring, type OrgRecord, type OrgStore } from '../../shared/org/ports.js';
import type { SubscriptionManager, SubscriptionManagerFactory } from '../../shared/org/subscription-manager.js';
import type { EventQueue, ManagedSubscriptionMessage } from '../../shared/queue/queue-messages.js';
import type { DeviceReader, MailboxRecord } from '../../shared/store/ports.js';
import { deleteGraphSubscriptions } from '../_lib/managed-work.js';
import { openSubscriptionManager } from '../_lib/org-access.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';

export interface SwitchMailServerDeps {
  orgs: Pick<OrgStore, 'listMembers'>;
  devices: DeviceReader;
  keyring: OrgKeyring;
  subscriptionManagers: SubscriptionManagerFactory;
  queue: EventQueue;
  now: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
}

/**
 * After `PUT /v1/orgs/{orgId}` moved the org to the other kind of mail server (EWS to Graph or back): the relay's
 * subscriptions of its mailboxes (contract section 9) are of the old kind, which the new service account can neither
 * renew nor repair. Each such mailbox gets `keep` work at once, which the dispatcher answers with a subscription of
 * the org's new kind (decision `subscription-recreated`, reason `<protocol>:mail-server-type-changed`), instead of
 * the mailbox staying silent until its renewal came due (up to days for Graph). A Graph subscription is deleted here
 * first, with the old service account, the last moment it is at hand; one that cannot be deleted gets 404 once the
 * recreation moves the mailbox to new secrets, and unrenewed Graph ends it within its lifetime. An EWS one ends with
 * the `Unsubscribe` its old URL gets then.
 *
 * Never fails the PUT, which stored the org already: a failure is logged and counted, and the supervisor does the
 * same work when the mailbox comes due.
 */
export async function switchManagedSubscriptions(input: { orgId: string; previous: OrgRecord; type: 'ews' | 'graph' }, deps: SwitchMailServerDeps): Promise<void> {
  const { orgId, previous, type } = input;
  let oldManager: Promise<SubscriptionManager> | undefined;
  const managerOfOldServer = () => (oldManager ??= openSubscriptionManager(previous, deps).then((opened) => opened.manager));
  const work: ManagedSubscriptionMessage[] = [];
  try {
    for (const deviceId of await deps.orgs.listMembers(orgId)) {
      const found = await deps.devices.getDeviceWithMailboxes(deviceId);
      if (!found || found.device.orgId !== orgId) continue;
      for (const mailbox of found.mailboxes) {
        if (mailbox.managedProtocol === undefined || mailbox.managedProtocol === type) continue;
        if (mailbox.managedProtocol === 'graph') await deleteOldGraphSubscription(mailbox, managerOfOldServer, deps);
        work.push({ v: 1, type: 'managed-subscription', deviceId, mailboxId: mailbox.mailboxId, requestedAt: deps.now(), job: { work: 'keep' } });
      }
    }
    if (work.length > 0) await deps.queue.enqueue(work);
    deps.counter.count('ManagedSubscriptionSwitchQueued', work.length);
  } catch (error) {
    deps.counter.count('ManagedSubscriptionSwitchFailed');
    deps.logger.error('could not queue the new subscriptions of an org whose mail server type changed; the supervisor makes them when due', { error: error as Error });
  }
}

async function deleteOldGraphSubscription(mailbox: MailboxRecord, manager: () => Promise<SubscriptionManager>, deps: Pick<SwitchMailServerDeps, 'logger' | 'counter'>): Promise<void> {
  if (mailbox.subscriptionId === undefined && mailbox.managedSubscribingSince === undefined) return;
  try {
    const graph = await manager();
    if (graph.protocol !== 'graph') return;
    const deleted = await deleteGraphSubscriptions(graph, {
      ...(mailbox.subscriptionId === undefined ? {} : { subscriptionId: mailbox.subscriptionId }),
      ...(mailbox.managedSubscribingSince === undefined ? {} : { callbackKey: mailbox.callbackKey }),
    });
    deps.counter.count('ManagedSubscriptionDeleted', deleted);
  } catch (error) {
    // Best effort: the new subscription matters more than the old one's early end.
    deps.counter.count('ManagedSubscriptionNotDeleted');
    deps.logger.warn('could not delete the Graph subscription of an org that moved to EWS', error instanceof MailServerError ? { kind: error.kind, detail: error.detail } : { error: error as Error });
  }
}
