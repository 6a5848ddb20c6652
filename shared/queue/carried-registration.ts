import * as z from '../zod.js';
import { deviceRecordSchema, mailboxRecordSchema } from '../store/records.js';

/**
 * The registration the callback read (strongly consistent) when it queued new mail, carried to the dispatcher sealed
 * on the `new-mail` message (`NewMailMessage.registration`), so that the dispatcher of a young first delivery judges
 * by it instead of reading the device and mailbox again (issue 15: the seventh call). Only what the default mode's
 * judgement and push read: the ids come from the message, which the seal is bound to.
 */
export const carriedRegistrationSchema = z.object({
  device: z.pick(deviceRecordSchema, {
    pushToken: true,
    apnsEnvironment: true,
    endpointArn: true,
    mode: true,
    timeZone: true,
    alerts: true,
    status: true,
    retiredReason: true,
  }),
  mailbox: z.pick(mailboxRecordSchema, { lastNotificationAt: true, statusFrequencyMinutes: true }),
});
export type CarriedRegistration = z.infer<typeof carriedRegistrationSchema>;

/** What a carried registration is bound to: opened for any other message, it does not open. */
export interface CarriedRegistrationBinding {
  deviceId: string;
  mailboxId: string;
  /** The message's `receivedAt`: a seal copied onto a younger-looking message does not open. */
  receivedAt: number;
}

/**
 * Seals and opens carried registrations under a key only the callback and the dispatcher hold. Both answer
 * `undefined` instead of throwing when they cannot (no key, a seal that does not open or parse): the callback then
 * queues without one and the dispatcher reads the registration as it would without one.
 */
export interface RegistrationSeal {
  seal(registration: CarriedRegistration, binding: CarriedRegistrationBinding): Promise<string | undefined>;
  open(sealed: string, binding: CarriedRegistrationBinding): Promise<CarriedRegistration | undefined>;
}
