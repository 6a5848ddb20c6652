import * as z from '../zod.js';
import { alertPublicKeySchema } from './alert-details.js';

/**
 * The organization-mode fields a device may send (contract sections 3 and 8). Refused with `organization_mode_off`
 * unless the device's org is in organization mode; nothing that names a person is stored in the default mode.
 */

export const MAX_VIP_SENDERS = 100;
/** A proof names a message received at most this long ago. */
export const ADDRESS_PROOF_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** An SMTP address as Exchange knows them (internal domains such as `.local` included); at most 320 characters. */
export const mailAddressSchema = z.string().check(
  z.maxLength(320, 'must be an e-mail address of at most 320 characters'),
  z.regex(
    /^[^\s@"<>(),;:\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/,
    'must be an e-mail address',
  ),
);

export const vipSendersSchema = z.array(mailAddressSchema).check(z.maxLength(MAX_VIP_SENDERS, `at most ${MAX_VIP_SENDERS} VIP senders`));

export const addressProofSchema = z.strictObject({
  /** An EWS ItemId or Graph message id of a message in that mailbox's inbox, received in the last 30 days. */
  messageId: z.string().check(z.minLength(1), z.maxLength(1024)),
});
export type AddressProof = z.infer<typeof addressProofSchema>;

export const managedBySchema = z.enum(['device', 'relay']);
export type ManagedBy = z.infer<typeof managedBySchema>;

/** Per mailbox, at registration and when adding one. */
export const mailboxOrgFieldsSchema = z.object({
  address: z.optional(mailAddressSchema),
  addressProof: z.optional(addressProofSchema),
  managedBy: z.optional(managedBySchema),
});
export type MailboxOrgFields = z.infer<typeof mailboxOrgFieldsSchema>;

/** `PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}`: merge-patch of the mailbox's organization-mode fields. */
export const patchMailboxRequestSchema = z.strictObject({
  address: z.optional(z.nullable(mailAddressSchema)),
  addressProof: z.optional(z.nullable(addressProofSchema)),
  managedBy: z.optional(z.nullable(managedBySchema)),
});
export type PatchMailboxRequest = z.infer<typeof patchMailboxRequestSchema>;

/** Per device, at registration and in a PATCH. */
export const deviceOrgFieldsSchema = z.object({
  vipSenders: z.optional(vipSendersSchema),
  alertKey: z.optional(alertPublicKeySchema),
});
export type DeviceOrgFields = z.infer<typeof deviceOrgFieldsSchema>;
