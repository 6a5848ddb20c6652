import type { Decision, SubscriptionProtocol } from '../device/device-schemas.js';
import type { MailboxAction } from '../push/apns-payloads.js';
import type { SubscriptionState } from '../supervision/subscription-state.js';
import type { CallbackTarget, DeviceRecord, MailboxRecord } from './records.js';

export type { CallbackTarget, DeviceRecord, MailboxRecord } from './records.js';

/**
 * Storage ports. The use cases depend on these interfaces only; `functions/_lib/adapters/dynamodb-*.ts` implement
 * them on one DynamoDB table and `shared/store/in-memory-*.ts` implement them for unit tests. The records they keep
 * are in `records.ts`.
 *
 * Nothing here holds an e-mail address or mail content: mailbox ids are the device's opaque ids, secrets are stored
 * as SHA-256 hashes, Exchange item ids only as salted hashes inside dedupe keys.
 *
 * Times are epoch milliseconds unless the name says otherwise.
 */

/** How many new-mail alerts a mailbox may get per window before further mail is held and pushed as one. */
export interface AlertBudget {
  windowMs: number;
  maxPerWindow: number;
}

/**
 * The due index is split into this many partitions (`dueShard` = `DUE#0` .. `DUE#15`, from a hash of the device id)
 * so that no single partition takes every write of every heartbeat; the sweep queries each shard.
 */
export const DUE_SHARDS = 16;

/** An item the due index says needs attention: a mailbox to supervise, or an interval-mode device to wake. */
export type DueItem = { kind: 'mailbox'; deviceId: string; mailboxId: string; dueAt: number } | { kind: 'interval'; deviceId: string; dueAt: number };

/** Supervision fields the supervisor and the callback change on a mailbox. `null` removes the field. */
export interface MailboxSupervisionChanges {
  supervisionState?: SubscriptionState;
  resubscribeRequestedAt?: number;
  supersededAt?: number;
  /** The new due time, or null to drop the mailbox from the due index. */
  dueAt?: number | null;
}

export interface DeviceWithMailboxes {
  device: DeviceRecord;
  mailboxes: MailboxRecord[];
}

/** The device fields `updateDevice` writes; both stores use this list, anything else in a changes object is ignored. */
export const DEVICE_CHANGEABLE_FIELDS = [
  'pushToken',
  'pushTokenUpdatedAt',
  'apnsEnvironment',
  'mode',
  'intervalSeconds',
  'timeZone',
  'alerts',
  'status',
  'endpointArn',
] as const satisfies readonly (keyof DeviceRecord)[];

/** Settings and token fields that a PATCH, the dispatcher or the supervisor may change on a device. */
export type DeviceChanges = Partial<Pick<DeviceRecord, (typeof DEVICE_CHANGEABLE_FIELDS)[number]>> & {
  retiredReason?: string | null;
  /** Organization-mode fields; null removes them (DELETE of the org, or the device clearing them). */
  vipSenderHashes?: string[] | null;
  alertKey?: DeviceRecord['alertKey'] | null;
  /** Interval schedule; null removes it from the due index. */
  dueAt?: number | null;
};

/**
 * The device ports, each as narrow as its callers (a use case's deps name only the ports it calls):
 *
 * | port               | used by                                                                 |
 * |--------------------|-------------------------------------------------------------------------|
 * | DeviceReader       | every function: reads a device, a device with a mailbox, a registration |
 * | DeviceRegistry     | device API (register, PATCH, delete); supervisor (interval schedule)    |
 * | MailboxRegistry    | device API (delegated mailboxes, subscription reports)                  |
 * | CallbackDirectory  | the callback: callback URL -> mailbox, last-seen time                   |
 * | SupervisionIndex   | supervisor (due items, states); callback (superseded subscriptions)     |
 * | TokenRetirement    | dispatcher, supervisor, SNS feedback: retire a device whose token died  |
 * | BurstBudget        | dispatcher: alert budget per mailbox and the alerts held in a burst     |
 * | MailboxActionLimit | dispatcher: one lifecycle push per mailbox and action in 5 minutes      |
 *
 * `functions/_lib/adapters/dynamodb-<port>.ts` implements each on the one table; `InMemoryDeviceStore` implements
 * them all over one in-memory state for tests.
 */
export interface DeviceReader {
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;

  /** The device and all its mailboxes in one consistent read (undefined when the device does not exist). */
  getDeviceWithMailboxes(deviceId: string): Promise<DeviceWithMailboxes | undefined>;

  /** The device and one of its mailboxes, read together (either may be missing). */
  getDeviceAndMailbox(deviceId: string, mailboxId: string): Promise<{ device?: DeviceRecord; mailbox?: MailboxRecord }>;

  /**
   * `getDeviceAndMailbox` for many mailboxes at once (the supervisor's sweep), in the order asked, as few reads as
   * the store allows; a device with several of the mailboxes is read once.
   */
  getDevicesAndMailboxes(mailboxes: ReadonlyArray<{ deviceId: string; mailboxId: string }>): Promise<Array<{ device?: DeviceRecord; mailbox?: MailboxRecord }>>;
}

export interface DeviceRegistry {
  /**
   * Stores a new device with its mailboxes. Writes the callback lookups and mailboxes first and the device item
   * last, so a crash half-way leaves only unreachable items (a callback whose device is missing answers Unsubscribe).
   */
  createDevice(device: DeviceRecord, mailboxes: MailboxRecord[]): Promise<void>;

  /**
   * Applies changes, stamps `updatedAt` and increments `revision`; throws DeviceNotFoundError when the device is gone,
   * and ConcurrentUpdateError when `ifRevision` is given and the stored revision is another. Returns the new record.
   */
  updateDevice(deviceId: string, changes: DeviceChanges, now: number, options?: { ifRevision?: number }): Promise<DeviceRecord>;

  /**
   * Deletes everything stored for the device: each mailbox's callback lookup first (so its URLs answer Unsubscribe
   * at once), then the mailboxes, then the device item. A new mail already queued with the registration it carries
   * claims its alert slot on the mailbox item, so that claim fails from the deletion's start. Answers its mailboxes as
   * they were when deleted, so that a subscription the relay stored for one a moment before is deleted too (contract
   * section 9); any write after that finds no mailbox.
   */
  deleteDevice(deviceId: string): Promise<MailboxRecord[]>;
}

export interface MailboxRegistry {
  /**
   * Adds a delegated mailbox. Throws MailboxExistsError when the id is taken on this device and MailboxLimitError
   * when the device would have more than `maxDelegated` delegated mailboxes (also under concurrent adds).
   */
  addMailbox(mailbox: MailboxRecord, maxDelegated: number): Promise<void>;

  /**
   * Removes the mailbox; its callback lookup goes first so the URL answers Unsubscribe at once. Idempotent. Answers
   * the mailbox as it was when deleted (undefined when there was none), as `deleteDevice` does.
   */
  removeMailbox(deviceId: string, mailboxId: string): Promise<MailboxRecord | undefined>;

  /**
   * Records the device's current Exchange subscription (and its new supervision due time); throws
   * MailboxNotFoundError.
   */
  setSubscription(deviceId: string, mailboxId: string, subscription: SubscriptionReport): Promise<void>;

  /**
   * Gives the mailbox new secrets: the new callback lookup is written, then the mailbox, then the old lookup goes, so
   * the old URLs stop working and the new ones work from the answer on. Throws MailboxNotFoundError.
   */
  rotateSecrets(deviceId: string, mailboxId: string, secrets: { callbackKey: string; clientStateHash: string }): Promise<void>;
  /**
   * Sets or (null) removes a mailbox's organization-mode fields: its sealed address and who manages its subscription.
   * Throws MailboxNotFoundError.
   */
  setMailboxOrganization(deviceId: string, mailboxId: string, fields: MailboxOrganizationFields): Promise<void>;
}

/** A mailbox's organization-mode fields as `setMailboxOrganization` writes them; null removes one. */
export interface MailboxOrganizationFields {
  sealedAddress: string | null;
  managedBy: NonNullable<MailboxRecord['managedBy']> | null;
}

/** A subscription the device reported, with the supervision due time it implies. */
export interface SubscriptionReport {
  /** The protocol of the reported subscription; it supersedes the other's (absent: EWS). */
  protocol?: SubscriptionProtocol;
  subscriptionId: string;
  expiresAt: number;
  reportedAt: number;
  statusFrequencyMinutes?: number;
  dueAt: number;
}

export interface CallbackDirectory {
  /** Resolves a callback key (hash of the URL secret) to its mailbox. */
  findCallback(callbackKey: string): Promise<CallbackTarget | undefined>;

  /**
   * Sets `lastNotificationAt`, only ever forward. It leaves the due time alone: a notification never makes the
   * supervisor due sooner, and the sweep reschedules what it finds alive.
   */
  touchMailbox(deviceId: string, mailboxId: string, at: number): Promise<void>;
}

export interface SupervisionIndex {
  /**
   * Items of one due-index shard whose `dueAt` is at or before `now`, oldest first, at most `limit`. Reads the
   * index only (eventually consistent): callers re-read each item before acting on it.
   */
  listDue(input: { shard: number; now: number; limit: number; cursor?: string }): Promise<{ items: DueItem[]; cursor?: string }>;

  /** Changes supervision fields of an existing mailbox; a missing mailbox is ignored (it was removed). */
  updateMailboxSupervision(deviceId: string, mailboxId: string, changes: MailboxSupervisionChanges): Promise<void>;
}

export interface TokenRetirement {
  /**
   * Retires the device unless its push token changed after `tokenRejectedAt` (APNs' 410 timestamp, or the time of the
   * rejected request) or it no longer holds `pushToken`. Returns true when this call retired it. The same write makes
   * the device due (`now`), so the supervisor lets go of the subscriptions the relay keeps for its mailboxes (contract
   * section 9), whichever function retired it.
   */
  retireDevice(deviceId: string, input: { pushToken: string; tokenRejectedAt: number; reason: string; now: number }): Promise<boolean>;
}

export interface BurstBudget {
  /**
   * Takes one slot of the mailbox's alert budget: at most `maxPerWindow` new-mail alerts per window of `windowMs`,
   * the window opening with the first alert after the previous one closed. True when the caller may push now; false
   * when the budget of the current window is spent (or the mailbox is gone). Atomic (conditional writes), so
   * concurrent consumers never exceed the budget together. With `seenAt` it records that as the mailbox's last-seen
   * time in the same write (new mail's: the dispatcher records it with the write it makes anyway); a slot refused
   * records nothing. Unlike `touchMailbox`, this may set it back by what a message waited in the queue, never to a
   * time nothing was heard: the silence threshold allows for far more.
   */
  claimAlertSlot(deviceId: string, mailboxId: string, at: number, budget: AlertBudget, seenAt?: number): Promise<boolean>;

  /** Adds new mails held back during a burst (ADD heldAlerts); `seenAt` as for `claimAlertSlot`. */
  holdAlerts(deviceId: string, mailboxId: string, count: number, seenAt?: number): Promise<void>;

  /**
   * Starts a flush: leases the held alerts to one flusher until `leaseUntil`, so that concurrent flushes of one burst
   * push them once. Returns how many are held (`held`), `busyUntil` when another flush holds an unexpired lease, or
   * undefined when nothing is held (or the mailbox is gone). An expired lease is taken over: its holder crashed.
   */
  beginFlush(deviceId: string, mailboxId: string, now: number, leaseUntil: number): Promise<{ held: number } | { busyUntil: number } | undefined>;

  /** Gives a lease back without pushing (the budget was spent): the next flush may take it at once. */
  endFlush(deviceId: string, mailboxId: string): Promise<void>;

  /**
   * Takes back `count` held alerts once they were pushed, and ends the flush's lease; returns false (changing nothing)
   * when fewer are held, i.e. another flush already pushed them.
   */
  releaseHeldAlerts(deviceId: string, mailboxId: string, count: number): Promise<boolean>;
}

export interface MailboxActionLimit {
  /**
   * Takes the right to send the mailbox an `action` push now: true, and `<action>PushedAt` set to `now`, when none
   * was sent in the last `windowMs`; false (changing nothing) otherwise, or when the mailbox is gone. Atomic, so
   * concurrent lifecycle events send one push.
   */
  claimMailboxAction(deviceId: string, mailboxId: string, action: MailboxAction, now: number, windowMs: number): Promise<boolean>;

  /** Gives back a claim taken at `claimedAt` whose push failed and will be retried; a later claim is left alone. */
  releaseMailboxAction(deviceId: string, mailboxId: string, action: MailboxAction, claimedAt: number): Promise<void>;
}

/**
 * Which device holds each push token: one device per token (issue 12). A registration or PATCH with a token another
 * device holds (the app reinstalled) takes the token over and the caller retires the previous holder explicitly, so
 * two devices never share one token or one SNS endpoint, and deleting the old device leaves the new one's endpoint.
 */
export interface PushTokenClaims {
  /** Records that `deviceId` holds `pushToken` (one write); answers the device that held it before, when another. */
  claimPushToken(pushToken: string, deviceId: string): Promise<string | undefined>;
  /** The device holding the token, if any (devices registered before claims existed hold none). */
  pushTokenHolder(pushToken: string): Promise<string | undefined>;
  /** Gives the token up, only if `deviceId` still holds it. */
  releasePushToken(pushToken: string, deviceId: string): Promise<void>;
}

/**
 * How many devices each organization has registered, against a cap (issue 12), counted in one item per organization
 * rather than by reading the devices: what one leaked or shared org token can cost is bounded.
 */
export interface DeviceQuota {
  /** Counts one more device for the organization unless it already has `max`: then false, and nothing changes. */
  reserveDevice(orgId: string, max: number): Promise<boolean>;
  /** Counts one device less (never below zero). */
  releaseDevice(orgId: string): Promise<void>;
  /** The organization's count (0 when it never registered one). */
  countDevices(orgId: string): Promise<number>;
}

/**
 * Every device port by the name use cases give it in their deps. The wiring builds one of these (DynamoDB adapters
 * in a Lambda and in `npm start`, the in-memory store in tests) and each use case takes the ports it names.
 */
export interface DevicePorts {
  devices: DeviceReader;
  registry: DeviceRegistry;
  mailboxes: MailboxRegistry;
  callbacks: CallbackDirectory;
  supervision: SupervisionIndex;
  retirement: TokenRetirement;
  burstBudget: BurstBudget;
  actionLimit: MailboxActionLimit;
  pushTokens: PushTokenClaims;
  deviceQuota: DeviceQuota;
}

export type ClaimResult = 'claimed' | 'duplicate';

/**
 * Idempotency keys for notifications. A key is claimed by one claimant (a hash of the queue message body, which a DLQ
 * redrive keeps while SQS gives the message a new id) in state `pending`,
 * then completed. A redelivery of the same message finds its own pending claim and may push; any other claimant
 * finds the key taken. Expired keys count as absent, so correctness never depends on TTL deletion.
 */
export interface DedupeStore {
  claim(input: { deviceId: string; keys: string[]; claimant: string; now: number; ttlSeconds: number }): Promise<Map<string, ClaimResult>>;
  complete(input: { deviceId: string; keys: string[]; claimant: string; outcome: string; now: number }): Promise<void>;
}

/**
 * A notification the dispatcher has settled: the idempotency keys its record claimed, completed with the outcome, and
 * the decision to record. `expiresAt` is when those claims expire (the claim's time plus its TTL), kept as claimed.
 */
export interface Settlement {
  deviceId: string;
  keys: string[];
  claimant: string;
  outcome: string;
  expiresAt: number;
  decision: Decision;
}

/**
 * Writes settlements down: each one's keys completed (as `DedupeStore.complete`) and its decision recorded (as
 * `DecisionLog.record`), in as few requests as the store allows (on the table, one BatchWriteItem per 25 items). For
 * keys its claimant claimed moments before, in the same invocation, only: the table writes them without `complete`'s
 * condition, which only a claim taken over after it expired (days later) could fail.
 */
export interface SettlementLog {
  settle(settlements: Settlement[]): Promise<void>;
}

/** Why each notification was or was not pushed, per device, kept for 7 days (contract section 3). */
export interface DecisionLog {
  record(deviceId: string, decision: Decision): Promise<void>;
  /** Newest first, only decisions at or after `since` (ms), at most `limit` of them (all when left out). */
  list(deviceId: string, since: number, limit?: number): Promise<Decision[]>;
}

export const DECISION_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Most decisions `GET /v1/devices/{id}/events` answers. The contract asks for all of the last 7 days and has no
 * paging, so this is far above what a device makes (five busy mailboxes at 100 mails a day and every retry of each:
 * a few thousand) and only bounds the answer of a pathological one: about 1 MB of JSON, within Lambda's 6 MB and
 * API Gateway's 10 MB, and about 250 read units to read.
 */
export const DEVICE_EVENTS_LIMIT = 10_000;
