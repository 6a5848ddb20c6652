import type { DeviceView } from '../../shared/device/device-schemas.js';
import type { DeviceOrganization } from '../../shared/org/org-schemas.js';
import type { DeviceWithMailboxes } from '../../shared/store/ports.js';
import { subscriptionState } from '../../shared/supervision/subscription-state.js';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Organization mode as the view shows it: the mode and each mailbox's address, opened by the caller. */
export interface OrganizationViewPart {
  organization: DeviceOrganization;
  addresses: ReadonlyMap<string, string>;
}

/**
 * The registration as the device reads it back: settings, status and per-mailbox subscription state. No secrets;
 * VIP senders only as their count (the relay keeps only hashes).
 */
export function toDeviceView({ device, mailboxes }: DeviceWithMailboxes, now: number, org?: OrganizationViewPart): DeviceView {
  const ordered = [...mailboxes].sort((a, b) => (a.kind === b.kind ? a.createdAt - b.createdAt : a.kind === 'primary' ? -1 : 1));
  return {
    deviceId: device.deviceId,
    status: device.status,
    pushToken: device.pushToken,
    apnsEnvironment: device.apnsEnvironment,
    mode: device.mode,
    intervalSeconds: device.intervalSeconds,
    timeZone: device.timeZone,
    alerts: device.alerts,
    mailboxes: ordered.map((mailbox) => {
      const times = {
        subscriptionId: mailbox.subscriptionId ?? null,
        expiresAt: iso(mailbox.expiresAt),
        lastNotificationAt: iso(mailbox.lastNotificationAt),
      };
      const state = subscriptionState(mailbox, now);
      // A subscription reported before v2 had no protocol: it was EWS.
      const protocol = mailbox.protocol ?? (mailbox.subscriptionId === undefined ? null : 'ews');
      return {
        id: mailbox.mailboxId,
        kind: mailbox.kind,
        protocol,
        state,
        ...times,
        ...(org?.organization.mode === 'organization' ? { address: org.addresses.get(mailbox.mailboxId) ?? null, managedBy: mailbox.managedBy ?? 'device' } : {}),
        subscription: { ...times, state },
      };
    }),
    // The mode always; the organization-mode fields only in organization mode, where a device may send them.
    ...(org ? { organization: org.organization } : {}),
    ...(org?.organization.mode === 'organization' ? { vipSenders: { count: device.vipSenderHashes?.length ?? 0 }, alertKey: device.alertKey ?? null } : {}),
    createdAt: new Date(device.createdAt).toISOString(),
    updatedAt: new Date(device.updatedAt).toISOString(),
  };
}
