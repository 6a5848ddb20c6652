import { apnsPayloadSchema, newMessagesOf } from '../push/apns-payloads.js';

/**
 * What the app does with a push from the relay (contract section 6), and what it shows once it has synced.
 */

/**
 * What a push asks the app to do.
 * - `sync-mailbox`: new mail in `mailboxId`; sync it now, then show what `planDisplay` says instead of the generic
 *   alert (`alert`, the text APNs displayed).
 * - `resubscribe`: the relay has not heard from the mailbox's Exchange subscription, or it is about to expire;
 *   renew it (see `planRenewal`).
 * - `reauthorize`: Graph asks to reauthorize the mailbox's subscription (`reauthorizationRequired`); renew it with a
 *   fresh token (PATCH, see `planGraphRenewal`), or Graph pauses delivery and drops what it held after 4 hours.
 * - `sync`: Graph missed notifications for the mailbox; catch up with a delta query, then show what is new.
 * - `background-refresh`: interval mode's periodic wake-up; check every mailbox.
 * - `unknown`: not a relay push (another sender, or a newer contract); ignore it. `reason` says why, for logs.
 */
export type PushInstruction =
  | { type: 'sync-mailbox'; mailboxId: string; newMessages: number; alert: string }
  | { type: 'resubscribe'; mailboxId: string }
  | { type: 'reauthorize'; mailboxId: string }
  | { type: 'sync'; mailboxId: string }
  | { type: 'background-refresh' }
  | { type: 'unknown'; reason: string };

/**
 * Decodes a push payload (the notification's `userInfo`, as an object or as its JSON text). Never throws.
 *
 * @example
 * ```ts
 * const instruction = decodePush(userInfo);
 * switch (instruction.type) {
 *   case 'sync-mailbox': await sync(instruction.mailboxId); break;
 *   case 'resubscribe': await resubscribe(instruction.mailboxId); break;
 *   case 'background-refresh': await syncAll(); break;
 * }
 * ```
 */
export function decodePush(payload: unknown): PushInstruction {
  let value = payload;
  if (typeof payload === 'string') {
    try {
      value = JSON.parse(payload);
    } catch {
      return { type: 'unknown', reason: 'the payload is text but not JSON' };
    }
  }
  const decoded = apnsPayloadSchema.safeParse(value);
  if (!decoded.success) return { type: 'unknown', reason: 'the payload is not one the relay sends' };
  const push = decoded.data;
  switch (push.type) {
    case 'new-mail':
      return { type: 'sync-mailbox', mailboxId: push.payload.mailbox, newMessages: newMessagesOf(push.payload), alert: push.payload.aps.alert };
    case 'resubscribe':
    case 'reauthorize':
    case 'sync':
      return { type: push.type, mailboxId: push.payload.mailbox };
    case 'interval':
      return { type: 'background-refresh' };
  }
}

/** An unread mail the app found while syncing. The details come from the app's own fetch, never from the push. */
export interface UnreadMail {
  /** The app's id for the mail (stable across syncs). */
  id: string;
  mailboxId: string;
  sender?: string;
  subject?: string;
  preview?: string;
}

export interface DisplaySettings {
  /** The user's "Show Mail Details" (`alerts.showDetails`). */
  showDetails: boolean;
  /** The administrator's `allow_detailed_notifications`; details are shown only when both are on. */
  allowDetailedNotifications: boolean;
}

/**
 * A notification to show. Texts are left to the app (localization); `id` is stable, so showing the same plan twice
 * replaces rather than repeats, and `threadId` groups by mailbox like the relay's `thread-id`.
 */
export type PlannedNotification =
  | { kind: 'mail'; id: string; threadId: string; mailId: string; sender?: string; subject?: string; preview?: string }
  | { kind: 'unread-count'; id: string; threadId?: string; unreadCount: number };

/**
 * What to show after a sync, in place of the generic "You have new messages" alert: withdraw the generic alert and
 * show these. With details allowed and on, one notification per unread mail carrying its sender, subject and
 * preview; otherwise one notification with the number of unread mails. No unread mail (read elsewhere meanwhile)
 * gives an empty list: withdraw the generic alert and show nothing.
 *
 * @example
 * ```ts
 * planDisplay(unread, { showDetails: alerts.showDetails, allowDetailedNotifications: config.allowDetailedNotifications });
 * // details off: [{ kind: 'unread-count', id: 'unread:me', threadId: 'me', unreadCount: 3 }]
 * ```
 */
export function planDisplay(unreadMails: readonly UnreadMail[], settings: DisplaySettings): PlannedNotification[] {
  const seen = new Set<string>();
  const mails = unreadMails.filter((mail) => {
    const key = `${mail.mailboxId}\u0000${mail.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (mails.length === 0) return [];
  if (settings.showDetails && settings.allowDetailedNotifications) {
    return mails.map((mail) => ({
      kind: 'mail',
      id: `mail:${mail.mailboxId}:${mail.id}`,
      threadId: mail.mailboxId,
      mailId: mail.id,
      ...(mail.sender === undefined ? {} : { sender: mail.sender }),
      ...(mail.subject === undefined ? {} : { subject: mail.subject }),
      ...(mail.preview === undefined ? {} : { preview: mail.preview }),
    }));
  }
  const mailboxes = new Set(mails.map((mail) => mail.mailboxId));
  const [only] = mailboxes;
  // Privacy: the aggregate names no sender or subject, only how many mails are unread.
  return mailboxes.size === 1 && only !== undefined
    ? [{ kind: 'unread-count', id: `unread:${only}`, threadId: only, unreadCount: mails.length }]
    : [{ kind: 'unread-count', id: 'unread:all', unreadCount: mails.length }];
}
