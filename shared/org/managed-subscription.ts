import * as z from '../zod.js';
import type { MailboxRecord } from '../store/records.js';
import { MAIL_SERVER_ERROR_KINDS } from './ports.js';

/**
 * What the relay keeps about a subscription it manages itself (contract section 9), beside the mailbox's current
 * `subscriptionId` and `expiresAt` (the same fields a device's report fills, so the callback, the state and the
 * status page read a relay-managed mailbox exactly as any other).
 *
 * Times are epoch milliseconds. No secret is kept here: the URL secret and `clientState` of each (re)subscription
 * exist only as the mailbox's hashes.
 */
export const managedSubscriptionSchema = z.object({
  protocol: z.enum(['graph', 'ews']),
  /** When the current subscription was made or last renewed (the status page's "last renewal"). */
  renewedAt: z.optional(z.number()),
  /**
   * Set when new secrets were stored for a (re)subscription and cleared once the server's answer is recorded: while
   * it is set, a subscription may exist at the server that the relay has not recorded (a crash in between), and the
   * next attempt first looks for it (Graph: among the app's subscriptions, by its notification URL).
   */
  subscribingSince: z.optional(z.number()),
  /** Failed attempts in a row (subscribe, renew, recreate), for the backoff; absent after a success. */
  failures: z.optional(z.int().check(z.positive())),
  /** The kind of the last failure (a MailServerError kind), for the status page; never a text from the server. */
  lastError: z.optional(z.enum(MAIL_SERVER_ERROR_KINDS)),
  /** Graph: the inbox delta query's cursor (`@odata.deltaLink`), set by the baseline and moved by each catch-up. */
  deltaLink: z.optional(z.string().check(z.maxLength(4096))),
  /**
   * Graph: since when notifications may have been lost and not caught up yet (a `missed` event, a subscription that
   * lapsed or was removed); cleared by the catch-up that covers it.
   */
  gapSince: z.optional(z.number()),
});
export type ManagedSubscriptionRecord = z.infer<typeof managedSubscriptionSchema>;

/** The mailbox attribute that stores each field (flat, see `shared/store/records.ts`). */
export const MANAGED_ATTRIBUTES = {
  protocol: 'managedProtocol',
  renewedAt: 'managedRenewedAt',
  subscribingSince: 'managedSubscribingSince',
  failures: 'managedFailures',
  lastError: 'managedLastError',
  deltaLink: 'managedDeltaLink',
  gapSince: 'managedGapSince',
} as const satisfies Record<keyof ManagedSubscriptionRecord, string>;

/** The managed record of a stored mailbox, or undefined when the relay does not manage its subscription. */
export function managedSubscriptionOf(mailbox: Partial<Record<(typeof MANAGED_ATTRIBUTES)[keyof ManagedSubscriptionRecord], unknown>>): ManagedSubscriptionRecord | undefined {
  if (mailbox.managedProtocol === undefined) return undefined;
  const fields = Object.fromEntries(
    Object.entries(MANAGED_ATTRIBUTES)
      .map(([field, attribute]) => [field, mailbox[attribute]])
      .filter(([, value]) => value !== undefined),
  );
  const parsed = managedSubscriptionSchema.safeParse(fields);
  return parsed.success ? parsed.data : undefined;
}

/** The mailbox as this use case needs it: its subscription fields and what the relay keeps about managing it. */
export interface ManagedMailbox {
  deviceId: string;
  mailboxId: string;
  createdAt: number;
  callbackKey: string;
  subscriptionId?: string;
  expiresAt?: number;
  lastNotificationAt?: number;
  subscriptionReportedAt?: number;
  statusFrequencyMinutes?: number;
  managed: ManagedSubscriptionRecord;
}

/** The URLs and `clientState` of a fresh (re)subscription, in clear: they go to the mail server and nowhere else. */
export interface ManagedEndpoints {
  callbackUrl: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  clientState: string;
}

/** Changes to a relay-managed mailbox; `null` removes a field. */
export interface ManagedMailboxChanges {
  /** The protocol of `subscriptionId` (the callback refuses items of a subscription of the other protocol). */
  protocol?: 'graph' | 'ews';
  subscriptionId?: string;
  expiresAt?: number | null;
  subscriptionReportedAt?: number;
  statusFrequencyMinutes?: number;
  /** The supervision due time (the due index). */
  dueAt?: number;
  managed?: { [K in keyof ManagedSubscriptionRecord]?: ManagedSubscriptionRecord[K] | null };
  /**
   * Marks the mailbox relay-managed (with `managed.protocol`): the one write that needs no relay-managed mailbox.
   * Every other write, a change of `managed.protocol` after the org changed its mail server included, applies only
   * while the relay manages the mailbox, so none brings back one handed back meanwhile.
   */
  mark?: true;
}

export interface ManagedSubscriptionStore {
  /**
   * New secrets for the mailbox's URLs and `clientState`, hashes stored (the old URLs stop working at once), and
   * `subscribingSince` set: from here until `updateManaged` records the answer, a subscription may exist at the server
   * that the relay has not recorded. Undefined when the mailbox was removed or handed back meanwhile: then nothing is
   * subscribed.
   */
  renewEndpoints(deviceId: string, mailboxId: string, subscribingSince: number): Promise<ManagedEndpoints | undefined>;
  /**
   * Applies changes to a mailbox the relay manages (one with `managedProtocol`, or a write that `mark`s it); a mailbox
   * removed or handed back meanwhile is not written (false), so whoever made a subscription for it deletes it again.
   */
  updateManaged(deviceId: string, mailboxId: string, changes: ManagedMailboxChanges): Promise<boolean>;
}

/**
 * New secrets for the relay's own (re)subscription of a mailbox it manages, stored as hashes with the attempt's
 * `subscribingSince` in one conditional write (the callback lookup moves as `MailboxRegistry.rotateSecrets` moves it:
 * the old URLs stop at once). The first such rotation keeps the hashes of the secrets the device holds
 * (`deviceCallbackKey`, `deviceClientStateHash`), which the hand-back puts back. False, with nothing rotated, when the
 * mailbox is gone or no longer relay-managed: then nothing is subscribed for it.
 */
export interface ManagedSecretRotation {
  rotateManagedSecrets(deviceId: string, mailboxId: string, input: { callbackKey: string; clientStateHash: string; subscribingSince: number }): Promise<boolean>;
}

/**
 * Ends the relay's management of a mailbox (its device takes over, or the org left organization mode): in one
 * conditional write, every `managed*` field, the relay's subscription fields (`protocol`, `subscriptionId`,
 * `expiresAt`, when it was made and last heard from) and, when asked, `managedBy` are removed and the due time set, so
 * the mailbox reads `pending` until the device reports its own subscription; and the secrets the device holds are put
 * back (the ones the relay's first rotation kept, their callback lookup written before and the relay's removed
 * after), so the URLs and `clientState` of its registration, add-mailbox or rotate answer work again (contract sections
 * 3 and 9) and the relay's own URLs lead nowhere. Answers the mailbox as it was just before that write (whatever a
 * concurrent renewal stored is in it, and any later write of one fails), or undefined when the relay did not manage it
 * (or it is gone).
 */
export interface ManagedHandBack {
  handBack(deviceId: string, mailboxId: string, input: { dueAt: number; clearManagedBy: boolean }): Promise<HandedBackMailbox | undefined>;
}

/**
 * Lets go of the relay's subscription of a mailbox whose device was retired (its token died or a reinstall replaced
 * it): in one conditional write (while the relay manages the mailbox) the relay's subscription fields and every
 * `managed*` field but the protocol are removed and the due time set, so the mailbox stays relay-managed and reads
 * `pending`, nothing renews what the relay had, and a reactivation subscribes it afresh (a new baseline, no catch-up
 * of the retired days). Answers the subscription it had, for the caller to delete, or undefined when the relay does
 * not manage the mailbox (or it is gone).
 */
export interface ManagedRelease {
  /** `endedSubscriptionId`: the relay's EWS subscription as the caller read it, kept for the callback to end (`MailboxRecord`). */
  releaseSubscription(deviceId: string, mailboxId: string, input: { dueAt: number; endedSubscriptionId?: string }): Promise<HandedBackMailbox | undefined>;
}

/** Every write of the relay's own subscription work on a mailbox, as the table's adapter (and its twin) has them. */
export type ManagedMailboxWrites = Pick<ManagedSubscriptionStore, 'updateManaged'> & ManagedSecretRotation & ManagedHandBack & ManagedRelease;

/** What a hand-back leaves the relay to clean up: the subscription it had (and whether one may be unrecorded). */
export interface HandedBackMailbox {
  deviceId: string;
  mailboxId: string;
  callbackKey: string;
  protocol: 'graph' | 'ews';
  subscriptionId?: string;
  subscribingSince?: number;
}

/** What the relay subscribed for a mailbox it managed, as stored; undefined for a mailbox its device managed. */
export function relaySubscriptionOf(mailbox: MailboxRecord): HandedBackMailbox | undefined {
  if (mailbox.managedProtocol === undefined) return undefined;
  return {
    deviceId: mailbox.deviceId,
    mailboxId: mailbox.mailboxId,
    callbackKey: mailbox.callbackKey,
    protocol: mailbox.managedProtocol,
    ...(mailbox.subscriptionId === undefined ? {} : { subscriptionId: mailbox.subscriptionId }),
    ...(mailbox.managedSubscribingSince === undefined ? {} : { subscribingSince: mailbox.managedSubscribingSince }),
  };
}

/** Asks the dispatcher for a catch-up of a Graph mailbox (queued: it pushes, and may take its time). */
export interface CatchUpRequests {
  requestCatchUp(input: { deviceId: string; mailboxId: string; trigger: 'missed' | 'recreated'; gapSince: number; requestedAt: number }): Promise<void>;
}

/**
 * Whether the relay, not the device, keeps this mailbox's subscription (contract section 9): registered with
 * `managedBy: "relay"`, or already subscribed by the relay. Such a mailbox refuses the device's subscription routes
 * (409 relay_managed) and its app never gets resubscribe, reauthorize or sync pushes.
 */
export function isRelayManaged(mailbox: { managedBy?: string | undefined; managedProtocol?: string | undefined }): boolean {
  return mailbox.managedBy === 'relay' || mailbox.managedProtocol !== undefined;
}
