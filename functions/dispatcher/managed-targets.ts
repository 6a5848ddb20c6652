import type { OrgKeyring, OrgStore } from '../../shared/org/ports.js';
import type { SubscriptionManager, SubscriptionManagerFactory } from '../../shared/org/subscription-manager.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { openSubscriptionManager } from '../_lib/org-access.js';
import { addressContext, open } from '../_lib/org-secrets.js';
import type { ManagedTargets } from './manage-subscription.js';

/**
 * {@link ManagedTargets} from the org store: the org's mail server with its service account (the keyring caches the
 * opened data key, so a warm container pays one read of the org per job) and the mailbox's sealed address, opened
 * under the org's data key. An org that left organization mode, or an address sealed under an earlier data key, is
 * no target: the relay has nothing to act with.
 */
export class OrgManagedTargets implements ManagedTargets {
  constructor(private readonly deps: { orgs: Pick<OrgStore, 'getOrg'>; keyring: OrgKeyring; subscriptionManagers: SubscriptionManagerFactory }) {}

  async open(device: DeviceRecord, mailbox: MailboxRecord): Promise<{ address: string; manager: SubscriptionManager } | undefined> {
    if (mailbox.sealedAddress === undefined) return undefined;
    const org = await this.deps.orgs.getOrg(device.orgId);
    if (!org) return undefined;
    const { manager, dataKey } = await openSubscriptionManager(org, this.deps);
    try {
      return { address: open(dataKey, addressContext(org.orgId, device.deviceId, mailbox.mailboxId), mailbox.sealedAddress), manager };
    } catch {
      return undefined;
    }
  }

  async manager(orgId: string): Promise<SubscriptionManager | undefined> {
    const org = await this.deps.orgs.getOrg(orgId);
    return org && (await openSubscriptionManager(org, this.deps)).manager;
  }
}
