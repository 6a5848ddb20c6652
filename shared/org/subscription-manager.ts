import type { MailServerSettings } from './org-schemas.js';

/**
 * Subscriptions the relay manages itself with an organization's service account (contract section 9): the port the
 * supervisor, the lifecycle handling and the catch-up use, implemented for Microsoft Graph and for EWS in
 * `functions/_lib/adapters/`. The two protocols share little beyond "subscribe", so the port is a union on
 * `protocol`: Graph subscriptions expire and are renewed, reauthorized, listed and caught up with a delta query; an
 * EWS push subscription has no expiry to extend (it lives while its callbacks are answered `OK`) and is simply made
 * again when it goes silent.
 *
 * Every method throws only `MailServerError` (`shared/org/ports.ts`), whose `retryAfterMs` says when the server asked
 * to be tried again (429, 503, ErrorServerBusy). Addresses and URLs go to the mail server and nowhere else: no error
 * or log line carries one.
 *
 * Times are epoch milliseconds.
 */

/** A subscription as the mail server answered it. */
export interface ManagedSubscription {
  subscriptionId: string;
  /** When it ends unless renewed (Graph); absent for an EWS push subscription, which does not expire by date. */
  expiresAt?: number;
}

/** What a Graph subscription is created with: the mailbox, the relay's own URLs for it, and its `clientState`. */
export interface GraphSubscriptionTarget {
  /** The mailbox's SMTP address (proven, section 8). */
  address: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  clientState: string;
  /** At most 10,080 minutes from now (Graph's limit for Outlook messages). */
  expiresAt: number;
}

/** A subscription of the app, as `GET /v1.0/subscriptions` lists it: how a crash between create and store is found. */
export interface ListedGraphSubscription {
  subscriptionId: string;
  resource: string;
  notificationUrl: string;
  expiresAt: number;
}

/** A message of the inbox as the delta query reports it: no subject, sender or body, only what judges "new". */
export interface InboxMessageChange {
  /** The immutable id (the same id the live path's notifications carry, so they share their dedupe key). */
  messageId: string;
  receivedAt: number;
  isRead: boolean;
}

/** One pass of the inbox delta query, every page followed. */
export interface InboxChanges {
  /** Messages added or changed since the delta link (removed ones are left out). */
  changes: InboxMessageChange[];
  /** Where the next pass starts (`@odata.deltaLink`); an opaque cursor of the mailbox's sync state. */
  deltaLink: string;
  /**
   * The kept delta link had expired (410 Gone: Graph dropped the sync state), so this pass is a full resync of the
   * messages received since `resyncedSince` instead of the changes since the link.
   */
  resyncedSince?: number;
}

export interface GraphSubscriptionManager {
  readonly protocol: 'graph';
  /**
   * `POST /v1.0/subscriptions` (changeType `created` on the inbox's messages). Graph validates both URLs before it
   * answers, so the relay's own endpoints must answer the validation while this call is in flight.
   */
  create(target: GraphSubscriptionTarget): Promise<ManagedSubscription>;
  /** `PATCH /v1.0/subscriptions/{id}`; a subscription Graph no longer has throws MailServerError `not-found`. */
  renew(subscriptionId: string, expiresAt: number): Promise<ManagedSubscription>;
  /** `POST /v1.0/subscriptions/{id}/reauthorize` (the answer to `reauthorizationRequired`). */
  reauthorize(subscriptionId: string): Promise<void>;
  /** `DELETE /v1.0/subscriptions/{id}`; one Graph no longer has counts as deleted. */
  remove(subscriptionId: string): Promise<void>;
  /** The app's subscriptions (`GET /v1.0/subscriptions`, every page). */
  list(): Promise<ListedGraphSubscription[]>;
  /**
   * The inbox delta query of `address`: from `deltaLink` when one was kept, else a first pass over the messages
   * received since `receivedSince` (the baseline). An expired link is replaced by a resync since
   * `max(receivedSince, now - 24 h)`.
   */
  inboxChanges(input: { address: string; deltaLink?: string; receivedSince: number }): Promise<InboxChanges>;
}

/** What an EWS push subscription is made with. */
export interface EwsSubscriptionTarget {
  /** The mailbox's SMTP address (proven, section 8), impersonated. */
  address: string;
  /** The mailbox's callback URL. */
  callbackUrl: string;
  /** StatusFrequency: minutes between heartbeats (section 9: 30). */
  statusFrequencyMinutes: number;
}

export interface EwsSubscriptionManager {
  readonly protocol: 'ews';
  /** `Subscribe` (push, the inbox, `NewMailEvent`) with ExchangeImpersonation of the mailbox. */
  subscribe(target: EwsSubscriptionTarget): Promise<ManagedSubscription>;
}

export type SubscriptionManager = GraphSubscriptionManager | EwsSubscriptionManager;

/** A manager for an org's mail server, given its settings and the service account's secret in clear. */
export type SubscriptionManagerFactory = (server: MailServerSettings, secret: string) => SubscriptionManager;

/**
 * An address that can stand in a Graph path and resource as it is: an SMTP address without anything that would end
 * the path segment, start a query or close the quoted key.
 */
const GRAPH_SAFE_ADDRESS = /^[A-Za-z0-9.!#$%&*+=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,255}$/;

/** Whether `address` may be written into a Graph resource (the adapters refuse the others). */
export function isGraphSafeAddress(address: string): boolean {
  return GRAPH_SAFE_ADDRESS.test(address) && !address.includes('..');
}

/** The Graph resource a relay-managed subscription watches: the inbox's messages of one mailbox. */
export function graphInboxResource(address: string): string {
  return `/users/${address}/mailFolders('inbox')/messages`;
}
