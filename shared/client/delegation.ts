/**
 * The permission model of delegated mailboxes: what a delegate may do in another person's (or a shared) mailbox, and
 * what the device must forget when that changes.
 *
 * The levels are Exchange's delegate roles ([MS-OXODLGT] 3.1.4.3.2 "Setting Delegate Folder Permissions"), each a set
 * of folder rights ([MS-OXCPERM] 2.2.7 PidTagMemberRights):
 *
 * | level    | rights                                                     | actions                                   |
 * |----------|------------------------------------------------------------|-------------------------------------------|
 * | None     | none                                                       | none                                      |
 * | Reviewer | ReadAny                                                    | read                                      |
 * | Author   | ReadAny, Create, EditOwned, DeleteOwned                    | read, create, edit own, delete own        |
 * | Editor   | ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny | all of Author, edit all, delete all       |
 *
 * "Own" items are those the delegate created; "all" covers everyone's items.
 */

/** The delegate roles, weakest first. (No zod here: this module is plain data and stays tiny in a bundle.) */
export const PERMISSION_LEVELS = ['None', 'Reviewer', 'Author', 'Editor'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

/** What a delegate can do with the items of a mailbox folder. */
export const MAILBOX_ACTIONS = ['read', 'create', 'edit-own', 'edit-all', 'delete-own', 'delete-all'] as const;
export type MailboxAction = (typeof MAILBOX_ACTIONS)[number];

/**
 * The actions each level allows.
 *
 * @example
 * ```ts
 * PERMISSIONS.Author; // ['read', 'create', 'edit-own', 'delete-own']
 * ```
 */
export const PERMISSIONS: Readonly<Record<PermissionLevel, readonly MailboxAction[]>> = {
  None: [],
  Reviewer: ['read'],
  Author: ['read', 'create', 'edit-own', 'delete-own'],
  Editor: ['read', 'create', 'edit-own', 'edit-all', 'delete-own', 'delete-all'],
};

/**
 * Whether `level` allows `action`.
 *
 * @example
 * ```ts
 * can('Author', 'delete-own'); // true
 * can('Author', 'delete-all'); // false
 * ```
 */
export function can(level: PermissionLevel, action: MailboxAction): boolean {
  return PERMISSIONS[level].includes(action);
}

/**
 * Exchange reports more permission levels than the four delegate roles (EWS `PermissionLevel`). Each maps to the
 * strongest delegate role whose actions it fully grants, so the app never assumes a right it lacks: `Owner` and
 * `PublishingEditor` act as `Editor`, `PublishingAuthor` as `Author`, `NoneditingAuthor` (cannot edit its own items)
 * as `Reviewer`, and `Contributor` (cannot read) as `None`. `Custom` and anything unknown count as `None`; read the
 * individual rights to do better.
 *
 * @example
 * ```ts
 * delegateLevelOf('PublishingAuthor'); // 'Author'
 * ```
 */
export function delegateLevelOf(exchangeLevel: string): PermissionLevel {
  switch (exchangeLevel) {
    case 'Owner':
    case 'PublishingEditor':
    case 'Editor':
      return 'Editor';
    case 'PublishingAuthor':
    case 'Author':
      return 'Author';
    case 'NoneditingAuthor':
    case 'Reviewer':
      return 'Reviewer';
    default:
      return 'None';
  }
}

export interface PermissionChange {
  /** Actions allowed after the change that were not before. */
  gained: MailboxAction[];
  /** Actions allowed before the change that are not any more. */
  lost: MailboxAction[];
}

/**
 * What changes between two levels.
 *
 * @example
 * ```ts
 * permissionChange('Editor', 'Reviewer'); // { gained: [], lost: ['create', 'edit-own', 'edit-all', 'delete-own', 'delete-all'] }
 * ```
 */
export function permissionChange(from: PermissionLevel, to: PermissionLevel): PermissionChange {
  return {
    gained: PERMISSIONS[to].filter((action) => !can(from, action)),
    lost: PERMISSIONS[from].filter((action) => !can(to, action)),
  };
}

/**
 * What the device holds for a delegated mailbox, as purge targets.
 * - `messages`: cached headers, bodies, previews and attachments.
 * - `search-index`: local search entries for the mailbox.
 * - `notifications`: notifications already delivered for it (Notification Center).
 * - `sync-state`: sync keys and watermarks.
 * - `subscription`: its Exchange subscription and renewal schedule.
 * - `pending-creates`: new items and drafts waiting to be uploaded into it.
 * - `pending-edits-own` / `pending-edits-others`: queued edits of items the delegate created / of anyone else's.
 * - `pending-deletes-own` / `pending-deletes-others`: queued deletions, likewise.
 * - `mailbox-entry`: the mailbox's entry in the app (name, address, its settings).
 */
export type LocalMailboxData =
  | 'messages'
  | 'search-index'
  | 'notifications'
  | 'sync-state'
  | 'subscription'
  | 'pending-creates'
  | 'pending-edits-own'
  | 'pending-edits-others'
  | 'pending-deletes-own'
  | 'pending-deletes-others'
  | 'mailbox-entry';

export interface PurgePlan {
  /** What to delete locally for this mailbox only; other mailboxes are untouched. Empty when nothing was lost. */
  purge: LocalMailboxData[];
  /** Remove the mailbox from the relay (`RelayClient.removeDelegatedMailbox`), so no more pushes arrive for it. */
  removeFromRelay: boolean;
  /** What the delegate can still do. */
  remaining: MailboxAction[];
}

/** Queued changes become impossible with the action that allowed them; they would only fail on upload. */
const PENDING_WORK: Readonly<Record<Exclude<MailboxAction, 'read'>, LocalMailboxData>> = {
  create: 'pending-creates',
  'edit-own': 'pending-edits-own',
  'edit-all': 'pending-edits-others',
  'delete-own': 'pending-deletes-own',
  'delete-all': 'pending-deletes-others',
};

/** Losing read access means the content must not stay on the device, nor keep arriving. */
const READ_DATA: readonly LocalMailboxData[] = ['messages', 'search-index', 'notifications', 'sync-state', 'subscription'];

/**
 * What must be purged when a delegate's access changes from `from` to `to`, or the mailbox is removed from the device.
 * Losing `read` purges everything the mailbox put on the device and removes it from the relay (its pushes would tell
 * of mail the user may no longer see); losing a write action discards the queued changes that needed it. Removal
 * also forgets the mailbox's entry. A change that loses nothing purges nothing.
 *
 * @example
 * ```ts
 * purgePlan('Editor', 'Author');
 * // { purge: ['pending-edits-others', 'pending-deletes-others'], removeFromRelay: false,
 * //   remaining: ['read', 'create', 'edit-own', 'delete-own'] }
 * purgePlan('Reviewer', 'removed').purge; // [...everything, 'mailbox-entry']
 * ```
 */
export function purgePlan(from: PermissionLevel, to: PermissionLevel | 'removed'): PurgePlan {
  const removed = to === 'removed';
  const after = removed ? 'None' : to;
  // Removal purges everything whatever the level was: the device may hold data from an earlier, higher level.
  const lost = removed ? [...MAILBOX_ACTIONS] : permissionChange(from, after).lost;
  const purge: LocalMailboxData[] = [];
  if (lost.includes('read')) purge.push(...READ_DATA);
  for (const action of lost) if (action !== 'read') purge.push(PENDING_WORK[action]);
  if (removed) purge.push('mailbox-entry');
  return { purge, removeFromRelay: lost.includes('read'), remaining: [...PERMISSIONS[after]] };
}
