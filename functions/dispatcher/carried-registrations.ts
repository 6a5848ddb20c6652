import type { CarriedRegistration } from '../../shared/queue/carried-registration.js';
import type { NewMailMessage } from '../../shared/queue/queue-messages.js';
import type { DispatcherDeps, DispatchRecord } from './deps.js';

/**
 * How old (since the callback received it, so since just before its read) a carried registration may be to be judged
 * by. The event source waits at most 1 s to fill a batch (its batching window) and a dispatcher cold start takes
 * about another second, so a first delivery is normally well within it; what is older (a backlog, an outage of the
 * dispatcher) is read. It is also how stale a push destination or an alert setting can be when a mail is judged,
 * against the tens of milliseconds between the dispatcher's own read and its push (docs/performance.md, issue 15).
 */
export const CARRIED_REGISTRATION_MAX_AGE_MS = 5_000;

/** The device fields a carried registration holds, with its id from the message. */
export type CarriedDevice = CarriedRegistration['device'] & { deviceId: string };
/** The mailbox fields a carried registration holds, with its ids from the message. */
export type CarriedMailbox = CarriedRegistration['mailbox'] & { deviceId: string; mailboxId: string };

/**
 * The registration a group of new-mail records may be judged by without a read: only when every record carries one
 * that opens and parses (`RegistrationSeal`), each is a first delivery (a redelivery may follow a failure the carried
 * registration caused, and is read), and each is younger than `CARRIED_REGISTRATION_MAX_AGE_MS`. The newest record's
 * is taken (the most recent read). Anything else answers undefined, and the group is read as before.
 */
export async function carriedRegistrationOf(
  records: ReadonlyArray<DispatchRecord<NewMailMessage>>,
  deps: Pick<DispatcherDeps, 'registrationSeal' | 'now'>,
): Promise<{ device: CarriedDevice; mailbox: CarriedMailbox } | undefined> {
  const seal = deps.registrationSeal;
  if (!seal || records.length === 0) return undefined;
  const now = deps.now();
  const usable = records.every(
    (record) => record.receiveCount === 1 && record.message.registration !== undefined && Math.abs(now - record.message.receivedAt) < CARRIED_REGISTRATION_MAX_AGE_MS,
  );
  if (!usable) return undefined;
  const opened = await Promise.all(
    records.map(({ message }) => seal.open(message.registration!, { deviceId: message.deviceId, mailboxId: message.mailboxId, receivedAt: message.receivedAt })),
  );
  let newest: { at: number; registration: CarriedRegistration } | undefined;
  for (const [index, registration] of opened.entries()) {
    if (registration === undefined) return undefined;
    const at = records[index]!.message.receivedAt;
    if (!newest || at >= newest.at) newest = { at, registration };
  }
  const { deviceId, mailboxId } = records[0]!.message;
  return { device: { ...newest!.registration.device, deviceId }, mailbox: { ...newest!.registration.mailbox, deviceId, mailboxId } };
}
