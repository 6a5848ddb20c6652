import { describe, expect, it } from 'vitest';
import {
  MAILBOX_ACTIONS,
  PERMISSION_LEVELS,
  can,
  delegateLevelOf,
  permissionChange,
  purgePlan,
  type MailboxAction,
  type PermissionLevel,
} from '../../../shared/client/delegation.js';

// [MS-OXODLGT] 3.1.4.3.2: Reviewer = ReadAny; Author = ReadAny, Create, EditOwned, DeleteOwned; Editor = those and
// EditAny, DeleteAny.
const MATRIX: Record<PermissionLevel, Record<MailboxAction, boolean>> = {
  None: { read: false, create: false, 'edit-own': false, 'edit-all': false, 'delete-own': false, 'delete-all': false },
  Reviewer: { read: true, create: false, 'edit-own': false, 'edit-all': false, 'delete-own': false, 'delete-all': false },
  Author: { read: true, create: true, 'edit-own': true, 'edit-all': false, 'delete-own': true, 'delete-all': false },
  Editor: { read: true, create: true, 'edit-own': true, 'edit-all': true, 'delete-own': true, 'delete-all': true },
};

const pairs = PERMISSION_LEVELS.flatMap((from) => PERMISSION_LEVELS.map((to) => [from, to] as const));

describe('the permission matrix', () => {
  it.each(PERMISSION_LEVELS.flatMap((level) => MAILBOX_ACTIONS.map((action) => [level, action, MATRIX[level][action]] as const)))(
    '%s may %s: %s',
    (level, action, allowed) => {
      expect(can(level, action)).toBe(allowed);
    },
  );

  it('orders the levels so each allows everything the weaker ones do', () => {
    for (const [i, level] of PERMISSION_LEVELS.entries()) {
      for (const weaker of PERMISSION_LEVELS.slice(0, i)) {
        for (const action of MAILBOX_ACTIONS) if (can(weaker, action)) expect(can(level, action)).toBe(true);
      }
    }
  });
});

describe('delegateLevelOf', () => {
  // The rights of Exchange's other levels (EWS PermissionLevelType) in the same actions.
  const exchangeLevels: Record<string, MailboxAction[]> = {
    Owner: [...MAILBOX_ACTIONS],
    PublishingEditor: [...MAILBOX_ACTIONS],
    Editor: [...MAILBOX_ACTIONS],
    PublishingAuthor: ['read', 'create', 'edit-own', 'delete-own'],
    Author: ['read', 'create', 'edit-own', 'delete-own'],
    NoneditingAuthor: ['read', 'create', 'delete-own'],
    Reviewer: ['read'],
    Contributor: ['create'],
    None: [],
  };

  it.each([
    ['Owner', 'Editor'],
    ['PublishingEditor', 'Editor'],
    ['Editor', 'Editor'],
    ['PublishingAuthor', 'Author'],
    ['Author', 'Author'],
    ['NoneditingAuthor', 'Reviewer'],
    ['Reviewer', 'Reviewer'],
    ['Contributor', 'None'],
    ['None', 'None'],
    ['Custom', 'None'],
    ['editor', 'None'],
  ])('maps %s to %s', (exchangeLevel, expected) => {
    expect(delegateLevelOf(exchangeLevel)).toBe(expected);
  });

  it('never grants an action the Exchange level lacks', () => {
    for (const [exchangeLevel, rights] of Object.entries(exchangeLevels)) {
      for (const action of MAILBOX_ACTIONS) if (can(delegateLevelOf(exchangeLevel), action)) expect(rights).toContain(action);
    }
  });
});

describe('permissionChange', () => {
  it.each(pairs)('from %s to %s gains and loses exactly the difference', (from, to) => {
    const { gained, lost } = permissionChange(from, to);
    for (const action of MAILBOX_ACTIONS) {
      expect(gained.includes(action)).toBe(!MATRIX[from][action] && MATRIX[to][action]);
      expect(lost.includes(action)).toBe(MATRIX[from][action] && !MATRIX[to][action]);
    }
  });

  it('names what an Editor loses as an Author', () => {
    expect(permissionChange('Editor', 'Author')).toEqual({ gained: [], lost: ['edit-all', 'delete-all'] });
  });

  it('names what a Reviewer gains as an Author', () => {
    expect(permissionChange('Reviewer', 'Author')).toEqual({ gained: ['create', 'edit-own', 'delete-own'], lost: [] });
  });
});

describe('purgePlan', () => {
  it('discards queued changes to other people’s items when an Editor becomes an Author', () => {
    expect(purgePlan('Editor', 'Author')).toEqual({
      purge: ['pending-edits-others', 'pending-deletes-others'],
      removeFromRelay: false,
      remaining: ['read', 'create', 'edit-own', 'delete-own'],
    });
  });

  it('discards every queued change but keeps the mail when an Author becomes a Reviewer', () => {
    expect(purgePlan('Author', 'Reviewer')).toEqual({
      purge: ['pending-creates', 'pending-edits-own', 'pending-deletes-own'],
      removeFromRelay: false,
      remaining: ['read'],
    });
  });

  it('purges the mailbox content and stops its pushes when access is revoked', () => {
    expect(purgePlan('Reviewer', 'None')).toEqual({
      purge: ['messages', 'search-index', 'notifications', 'sync-state', 'subscription'],
      removeFromRelay: true,
      remaining: [],
    });
  });

  it('purges content and every queued change when an Editor loses all access', () => {
    const plan = purgePlan('Editor', 'None');
    expect(plan.purge).toEqual([
      'messages',
      'search-index',
      'notifications',
      'sync-state',
      'subscription',
      'pending-creates',
      'pending-edits-own',
      'pending-edits-others',
      'pending-deletes-own',
      'pending-deletes-others',
    ]);
    expect(plan.removeFromRelay).toBe(true);
  });

  it.each(PERMISSION_LEVELS)('purges everything, including the mailbox entry, when a %s mailbox is removed', (from) => {
    const plan = purgePlan(from, 'removed');
    expect(new Set(plan.purge)).toEqual(
      new Set([
        'messages',
        'search-index',
        'notifications',
        'sync-state',
        'subscription',
        'pending-creates',
        'pending-edits-own',
        'pending-edits-others',
        'pending-deletes-own',
        'pending-deletes-others',
        'mailbox-entry',
      ]),
    );
    expect(plan.removeFromRelay).toBe(true);
    expect(plan.remaining).toEqual([]);
  });

  it.each(pairs.filter(([from, to]) => permissionChange(from, to).lost.length === 0))('purges nothing from %s to %s', (from, to) => {
    expect(purgePlan(from, to)).toEqual({ purge: [], removeFromRelay: false, remaining: [...MAILBOX_ACTIONS.filter((a) => can(to, a))] });
  });
});
