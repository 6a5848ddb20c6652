import * as z from '../zod.js';
import {
  alertSettingsSchema,
  apnsEnvironmentSchema,
  deliveryModeSchema,
  deviceStatusSchema,
  mailboxKindSchema,
  subscriptionProtocolSchema,
} from '../device/device-schemas.js';
import { subscriptionStateSchema } from '../supervision/subscription-state.js';
import { alertPublicKeySchema } from '../org/alert-details.js';
import { managedBySchema } from '../org/device-org-fields.js';

/**
 * What the stores keep about a device and a mailbox. One schema per record: the ports' types are inferred from it and
 * the DynamoDB adapters parse every item they read with it, so a malformed item fails at the adapter edge, named,
 * instead of travelling on as a cast.
 *
 * Nothing here holds an e-mail address or mail content: mailbox ids are the device's opaque ids, secrets are stored
 * as SHA-256 hashes. Times are epoch milliseconds unless the name says otherwise.
 */
export const deviceRecordSchema = z.object({
  deviceId: z.string(),
  orgId: z.string(),
  /** SHA-256 (base64url) of the device secret; the secret itself is never stored. */
  secretHash: z.string(),
  pushToken: z.string(),
  /** When the current push token was registered; a 410 older than this must not retire the device. */
  pushTokenUpdatedAt: z.number(),
  apnsEnvironment: apnsEnvironmentSchema,
  mode: deliveryModeSchema,
  intervalSeconds: z.number(),
  timeZone: z.string(),
  alerts: alertSettingsSchema,
  status: deviceStatusSchema,
  /** Why the device was retired (`Unregistered`, `BadDeviceToken`, ...); absent while active. */
  retiredReason: z.optional(z.string()),
  /** SNS platform endpoint ARN when pushes go through SNS mobile push. */
  endpointArn: z.optional(z.string()),
  /**
   * Interval mode: when the next background push is due. Indexed (with `dueShard`) in the due index, so the
   * scheduler reads only what is due; absent for real-time devices.
   */
  dueAt: z.optional(z.number()),
  createdAt: z.number(),
  updatedAt: z.number(),
  /**
   * Incremented by every `updateDevice`; absent (read as 0) until the first one. A read-modify-write such as a PATCH
   * passes the revision it read as `ifRevision`, so that of two concurrent PATCHes the second is re-applied to the
   * first's result instead of overwriting it.
   */
  revision: z.optional(z.number()),
  /**
   * Organization mode only: the device's VIP senders as HMAC-SHA-256 of the lower-cased address under the org's key
   * (never the addresses), and the public key its detailed alerts are encrypted to.
   */
  vipSenderHashes: z.optional(z.array(z.string())),
  alertKey: z.optional(alertPublicKeySchema),
});
export type DeviceRecord = z.infer<typeof deviceRecordSchema>;

export const mailboxRecordSchema = z.object({
  deviceId: z.string(),
  mailboxId: z.string(),
  kind: mailboxKindSchema,
  /** SHA-256 (base64url) of the callback URL secret; the key of the callback lookup. */
  callbackKey: z.string(),
  /**
   * SHA-256 (base64url) of the Graph `clientState` handed out with the mailbox (contract section 7); absent for a
   * mailbox registered before the relay spoke Graph, whose Graph items are all refused until it is rotated.
   */
  clientStateHash: z.optional(z.string()),
  /** The protocol of the current subscription (`subscriptionId`); absent (read as EWS) before v2 or the first report. */
  protocol: z.optional(subscriptionProtocolSchema),
  subscriptionId: z.optional(z.string()),
  expiresAt: z.optional(z.number()),
  lastNotificationAt: z.optional(z.number()),
  /** When the device last reported its subscription (PUT .../subscription). */
  subscriptionReportedAt: z.optional(z.number()),
  /** The StatusFrequency the device subscribed with; 30 (Exchange's default) when not reported. */
  statusFrequencyMinutes: z.optional(z.number()),
  /** When the callback last refused a notification of another (older) subscription. */
  supersededAt: z.optional(z.number()),
  /**
   * The relay's own EWS subscription of a mailbox handed back to its device (contract section 9): EWS has no way to
   * delete one, so its next callback is answered `Unsubscribe`, also while the device has reported nothing yet (its
   * URL may be the device's own, when the relay subscribed with the registration's).
   */
  endedSubscriptionId: z.optional(z.string()),
  /** When the supervisor last asked the device to resubscribe this mailbox. */
  resubscribeRequestedAt: z.optional(z.number()),
  /** The subscription state the supervisor last recorded, so that only transitions are recorded. */
  supervisionState: z.optional(subscriptionStateSchema),
  /** When the supervisor must look at this mailbox next (`supervisionDueAt`); indexed in the due index. */
  dueAt: z.optional(z.number()),
  /**
   * When a background push asking the app to act on this mailbox (`resubscribe`, `reauthorize`, `sync`) was last
   * sent for a lifecycle event: at most one per mailbox and action in 5 minutes (contract section 6).
   */
  resubscribePushedAt: z.optional(z.number()),
  reauthorizePushedAt: z.optional(z.number()),
  syncPushedAt: z.optional(z.number()),
  /** When the current burst window of new-mail alerts for this mailbox opened (burst coalescing). */
  alertWindowStartedAt: z.optional(z.number()),
  /** Alerts pushed in that window. */
  alertsInWindow: z.optional(z.number()),
  /** New mails held back during a burst, pushed as one alert when the burst window closes. */
  heldAlerts: z.optional(z.number()),
  /** While a flush pushes the held alerts: until when it holds them (`beginFlush`), so no other flush pushes them too. */
  flushingUntil: z.optional(z.number()),
  /**
   * Organization mode, `managedBy: "relay"`: what the relay keeps about the subscription it manages itself
   * (`shared/org/managed-subscription.ts` names them), one attribute each so that concurrent writers (the supervisor,
   * a lifecycle event, a catch-up) each change only their own.
   */
  managedProtocol: z.optional(z.enum(['graph', 'ews'])),
  managedRenewedAt: z.optional(z.number()),
  managedSubscribingSince: z.optional(z.number()),
  managedFailures: z.optional(z.number()),
  managedLastError: z.optional(z.string()),
  managedDeltaLink: z.optional(z.string()),
  managedGapSince: z.optional(z.number()),
  /**
   * While the relay's own subscriptions use secrets of their own: the hashes of the secrets the device was last
   * given for this mailbox (its registration, add-mailbox or rotate answer, or what it held when it handed the mailbox
   * to the relay), so that handing the mailbox back puts them back and the URLs and `clientState` the device holds
   * work again (contract sections 3 and 9). Kept by the relay's first rotation, removed by the hand-back.
   */
  deviceCallbackKey: z.optional(z.string()),
  deviceClientStateHash: z.optional(z.string()),
  /**
   * Organization mode only: the mailbox's proven SMTP address, sealed (AES-256-GCM) under the org's data key and bound
   * to this device and mailbox, so the table never holds it in clear; and who keeps its subscription.
   */
  sealedAddress: z.optional(z.string()),
  managedBy: z.optional(managedBySchema),
  createdAt: z.number(),
});
export type MailboxRecord = z.infer<typeof mailboxRecordSchema>;

/** A callback lookup: which mailbox a callback URL's secret belongs to. */
export const callbackTargetSchema = z.object({ deviceId: z.string(), mailboxId: z.string() });
export type CallbackTarget = z.infer<typeof callbackTargetSchema>;
