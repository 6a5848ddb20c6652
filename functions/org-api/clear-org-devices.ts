import { isRelayManaged, type HandedBackMailbox } from '../../shared/org/managed-subscription.js';
import { MailServerError, type OrgKeyring, type OrgStore } from '../../shared/org/ports.js';
import type { SubscriptionManager, SubscriptionManagerFactory } from '../../shared/org/subscription-manager.js';
import type { DeviceReader, DeviceRegistry, MailboxRegistry } from '../../shared/store/ports.js';
import { handBackMailbox, type HandBackDeps } from '../_lib/hand-back-mailbox.js';
import { deleteGraphSubscriptions } from '../_lib/managed-work.js';
import { openSubscriptionManager } from '../_lib/org-access.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';

export interface ClearOrgDevicesDeps extends HandBackDeps {
  orgs: Pick<OrgStore, 'getOrg' | 'listMembers' | 'removeMember'>;
  devices: DeviceReader;
  registry: Pick<DeviceRegistry, 'updateDevice'>;
  mailboxes: Pick<MailboxRegistry, 'setMailboxOrganization'>;
  keyring: OrgKeyring;
  subscriptionManagers: SubscriptionManagerFactory;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
}

/** The reason of the `resubscribe-requested` decision of a mailbox handed back because its org left organization mode. */
export const HANDED_BACK_REASON = 'relay-handed-back:organization-mode-ended';

/**
 * Back to the default mode for every device of the org (contract sections 8 and 9, `DELETE /v1/orgs/{orgId}`): their
 * mailbox addresses, VIP hashes and alert keys are deleted, and each mailbox whose subscription the relay kept is
 * handed back to its device (`action: resubscribe`) after the relay deleted its Graph subscription with the service
 * account, which is still at hand (the org record goes last). The org's members are the devices that ever stored such
 * a field; one deleted since is skipped.
 *
 * A Graph subscription that could not be deleted (Graph down) is logged and counted; with nobody renewing it Graph
 * ends it within its lifetime (at most 7 days). Until then it alerts nothing on URLs of the relay's own (they lead
 * nowhere now); on the device's own (the relay's first subscription uses the registration's) its items are refused as
 * `superseded` once the device reports its own subscription, and dedupe keeps a mail it also brings to one alert.
 */
export async function clearOrgDevices(orgId: string, deps: ClearOrgDevicesDeps): Promise<void> {
  let manager: Promise<SubscriptionManager | undefined> | undefined;
  const managerOfOrg = () => {
    manager ??= deps.orgs.getOrg(orgId).then(async (org) => org && (await openSubscriptionManager(org, deps)).manager);
    return manager;
  };
  for (const deviceId of await deps.orgs.listMembers(orgId)) {
    const found = await deps.devices.getDeviceWithMailboxes(deviceId);
    if (found && found.device.orgId === orgId) {
      for (const mailbox of found.mailboxes) {
        if (isRelayManaged(mailbox)) {
          const handedBack = await handBackMailbox(
            { deviceId, mailboxId: mailbox.mailboxId, clearManagedBy: true, askDevice: { reason: HANDED_BACK_REASON } },
            deps,
          );
          if (handedBack) await deleteRelaySubscription(handedBack, managerOfOrg, deps);
        }
        if (mailbox.sealedAddress !== undefined || mailbox.managedBy !== undefined) {
          await deps.mailboxes.setMailboxOrganization(deviceId, mailbox.mailboxId, { sealedAddress: null, managedBy: null });
        }
      }
      if (found.device.vipSenderHashes !== undefined || found.device.alertKey !== undefined) {
        await deps.registry.updateDevice(deviceId, { vipSenderHashes: null, alertKey: null }, deps.now());
      }
    }
    await deps.orgs.removeMember(orgId, deviceId);
  }
}

async function deleteRelaySubscription(
  handedBack: HandedBackMailbox,
  managerOfOrg: () => Promise<SubscriptionManager | undefined>,
  deps: Pick<ClearOrgDevicesDeps, 'logger' | 'counter'>,
): Promise<void> {
  // EWS: nothing to delete. On the relay's own URL the next notification is answered Unsubscribe, which ends it at
  // Exchange; on the device's own, once the device reports its own subscription (contract section 4).
  if (handedBack.protocol !== 'graph' || (handedBack.subscriptionId === undefined && handedBack.subscribingSince === undefined)) return;
  const manager = await managerOfOrg();
  if (manager?.protocol !== 'graph') return;
  try {
    const deleted = await deleteGraphSubscriptions(manager, {
      ...(handedBack.subscriptionId === undefined ? {} : { subscriptionId: handedBack.subscriptionId }),
      ...(handedBack.subscribingSince === undefined ? {} : { callbackKey: handedBack.callbackKey }),
    });
    deps.counter.count('ManagedSubscriptionDeleted', deleted);
  } catch (error) {
    if (!(error instanceof MailServerError)) throw error;
    deps.counter.count('ManagedSubscriptionNotDeleted');
    deps.logger.warn('could not delete a relay-managed subscription of an org leaving organization mode', { kind: error.kind, detail: error.detail });
  }
}
