import { isRelayManaged } from '../../shared/org/managed-subscription.js';
import type { ReportSubscriptionRequest } from '../../shared/device/device-schemas.js';
import { MailboxNotFoundError, RelayManagedError } from '../../shared/errors.js';
import type { DeviceRecord } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import type { DeviceApiDeps } from './deps.js';

/**
 * Records the subscription the device made for a mailbox, and when the supervisor must look at it next. A mailbox whose
 * subscription the relay manages itself refuses it (409 relay_managed): a second subscription would alert twice.
 */
export async function reportSubscription(
  input: { device: DeviceRecord; mailboxId: string; request: ReportSubscriptionRequest },
  deps: Pick<DeviceApiDeps, 'devices' | 'mailboxes' | 'now'>,
): Promise<void> {
  const { mailbox } = await deps.devices.getDeviceAndMailbox(input.device.deviceId, input.mailboxId);
  if (!mailbox) throw new MailboxNotFoundError();
  if (isRelayManaged(mailbox)) throw new RelayManagedError();
  const reportedAt = deps.now();
  const protocol = input.request.protocol ?? 'ews';
  // A report of one protocol supersedes the other's subscription (contract section 3): the callback of the other
  // protocol compares with `protocol` from now on. Graph has no StatusFrequency; a value sent with it is ignored.
  const subscription = {
    protocol,
    subscriptionId: input.request.subscriptionId,
    expiresAt: Date.parse(input.request.expiresAt),
    reportedAt,
    ...(input.request.statusFrequencyMinutes === undefined || protocol !== 'ews' ? {} : { statusFrequencyMinutes: input.request.statusFrequencyMinutes }),
  };
  const { statusFrequencyMinutes: _previous, ...withoutFrequency } = mailbox;
  const dueAt = supervisionDueAt({ ...withoutFrequency, ...subscription, subscriptionReportedAt: reportedAt });
  await deps.mailboxes.setSubscription(input.device.deviceId, input.mailboxId, { ...subscription, dueAt });
}
