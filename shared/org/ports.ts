import { RelayError } from '../errors.js';
import type { DetailedAlerts, MailServerSettings } from './org-schemas.js';

/**
 * Ports of organization mode. The use cases depend on these only; `functions/_lib/adapters/` implements them
 * (DynamoDB, KMS, EWS GetItem, Microsoft Graph) and `shared/store/in-memory-org-store.ts` stores orgs for tests.
 *
 * Times are epoch milliseconds unless the name says otherwise.
 */

/** The last request made to an organization's mail server. `error` is a {@link MailServerErrorKind}, never a text. */
export interface OrgHealth {
  at: number;
  ok: boolean;
  error?: MailServerErrorKind;
}

/**
 * An organization in organization mode. The password or client secret exists only sealed: AES-256-GCM under the
 * org's data key (`sealedSecret`), and the data key itself only wrapped by the operator's key (`wrappedDataKey`,
 * KMS on AWS, a key under DATA_DIR locally). The same data key derives the org's VIP-hash key, so deleting the org
 * makes every VIP hash of its devices meaningless even before they are deleted.
 */
export interface OrgRecord {
  orgId: string;
  detailedAlerts: DetailedAlerts;
  mailServer: MailServerSettings;
  sealedSecret: string;
  wrappedDataKey: string;
  health?: OrgHealth;
  createdAt: number;
  updatedAt: number;
  /** Incremented by every `putOrg`; a PUT that read revision N writes only if it is still N. */
  revision: number;
}

export interface OrgStore {
  getOrg(orgId: string): Promise<OrgRecord | undefined>;
  /**
   * Creates or replaces the org. `ifRevision` (the revision read, or 0 for "must not exist yet") makes the write
   * conditional; a collision throws ConcurrentUpdateError. Returns the stored record (with its new revision).
   */
  putOrg(record: Omit<OrgRecord, 'revision' | 'health'>, options: { ifRevision: number }): Promise<OrgRecord>;
  /** Records the outcome of the latest mail-server request; a missing org is ignored. */
  recordHealth(orgId: string, health: OrgHealth): Promise<void>;
  /** Deletes the org record; idempotent. (The devices' organization-mode fields are cleared by the use case.) */
  deleteOrg(orgId: string): Promise<void>;
  /**
   * Devices that stored organization-mode fields (address, VIP hashes, alert key), so that the org's DELETE can find
   * and clear them without scanning the table. Adding is idempotent; a listed device may since have been deleted.
   */
  addMember(orgId: string, deviceId: string): Promise<void>;
  listMembers(orgId: string): Promise<string[]>;
  removeMember(orgId: string, deviceId: string): Promise<void>;
}

/** Wraps and unwraps organizations' data keys with a key the operator controls. */
export interface OrgKeyring {
  /** A fresh 256-bit data key for `orgId`, in clear (for immediate use) and wrapped (for storage). */
  newDataKey(orgId: string): Promise<{ dataKey: Uint8Array; wrapped: string }>;
  /** Unwraps a data key; fails when it was wrapped for another org (the org id is bound to the wrapping). */
  openDataKey(orgId: string, wrapped: string): Promise<Uint8Array>;
  /** Says, for the startup log, where the operator's key lives (never the key). */
  readonly description: string;
}

/** What organization mode reads about one new message. Lives in memory only, for one notification. */
export interface MessageDetails {
  from: { name: string; address: string };
  subject: string;
  preview: string;
  /** ISO 8601. */
  receivedAt: string;
}

/**
 * Reads messages with an organization's service account (EWS impersonation or Graph application permission).
 * Every method keeps within its time budget (3 s unless the adapter was built with another), retrying inside it,
 * and throws only {@link MailServerError}.
 */
export interface MessageDetailsReader {
  /** Sender, subject, preview and receive time of message `messageId` in the mailbox `address`. */
  readMessage(address: string, messageId: string): Promise<MessageDetails>;
  /**
   * For a proof of mailbox access: when message `messageId` of `address`'s inbox was received. A message of another
   * folder or another mailbox, or an unknown id, throws MailServerError `not-found`.
   */
  inboxMessageReceivedAt(address: string, messageId: string): Promise<string>;
  /** One authenticated request that needs no mailbox (`POST /v1/orgs/{orgId}/check`). */
  check(): Promise<void>;
}

/** A reader for an org's mail server, given its settings and the service account's secret in clear. */
export type MessageDetailsReaderFactory = (server: MailServerSettings, secret: string) => MessageDetailsReader;

export const MAIL_SERVER_ERROR_KINDS = [
  /** No answer within the budget. */
  'timeout',
  /** Connection refused, reset, DNS failure. */
  'unreachable',
  /** The URL (or what its host resolves to) is not allowed: loopback, private, link-local, unique-local. */
  'address-refused',
  /** Wrong password, client secret, or token. */
  'unauthorized',
  /** Authenticated, but not allowed: no impersonation right, no application permission, outside the access policy. */
  'forbidden',
  /** No such message (or mailbox) for this account. */
  'not-found',
  /** 429 or ErrorServerBusy beyond what the budget could wait for. */
  'throttled',
  /** 5xx, or an EWS error code that is not one of the above. */
  'server-error',
  /** An answer that is not what the protocol says (garbage XML, a DOCTYPE, wrong JSON). */
  'malformed-response',
  /** An answer larger than any legitimate one. */
  'response-too-large',
] as const;
export type MailServerErrorKind = (typeof MAIL_SERVER_ERROR_KINDS)[number];

/**
 * A request to an organization's mail server failed. `kind` is safe to store and show; `detail` is a short
 * protocol code (an EWS ResponseCode, an HTTP status, an AADSTS number) and never holds a secret, an address or mail
 * content, because it may reach the org's `health` and the logs.
 */
export class MailServerError extends RelayError {
  readonly code = 'mail_server_error';
  /** How long the server asked to wait before trying again (Retry-After, EWS BackOffMilliseconds), when it did. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly kind: MailServerErrorKind,
    readonly detail: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(`the mail server request failed: ${kind} (${detail})`, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}
