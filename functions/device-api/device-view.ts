import type { DeviceView } from '../../shared/device/device-schemas.js';
import type { DeviceWithMailboxes } from '../../shared/store/ports.js';
import { subscriptionState } from '../../shared/supervision/subscription-state.js';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The registration as the device reads it back: settings, status and per-mailbox subscription state. No secrets. */
export function toDeviceView({ device, mailboxes }: DeviceWithMailboxes, now: number): DeviceView {
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
      return { id: mailbox.mailboxId, kind: mailbox.kind, protocol, state, ...times, subscription: { ...times, state } };
    }),
    createdAt: new Date(device.createdAt).toISOString(),
    updatedAt: new Date(device.updatedAt).toISOString(),
  };
}
