import { describe, expect, it } from 'vitest';
import { decodePush, planDisplay, type UnreadMail } from '../../../shared/client/incoming-push.js';
import { intervalPush, mailboxActionPush, newMailPush, resubscribePush } from '../../../shared/push/apns-payloads.js';

describe('decodePush', () => {
  it('turns a new-mail alert into a sync of its mailbox', () => {
    expect(decodePush(newMailPush({ mailboxId: 'me', newMessages: 2 }).payload)).toEqual({
      type: 'sync-mailbox',
      mailboxId: 'me',
      newMessages: 2,
      alert: 'You have new messages',
    });
  });

  it('turns a resubscribe push into a resubscription of its mailbox', () => {
    expect(decodePush(resubscribePush('team-inbox').payload)).toEqual({ type: 'resubscribe', mailboxId: 'team-inbox' });
  });

  it('turns a reauthorize push into a reauthorization of its mailbox, and a sync push into a catch-up of its mailbox', () => {
    expect(decodePush(mailboxActionPush('reauthorize', 'me').payload)).toEqual({ type: 'reauthorize', mailboxId: 'me' });
    expect(decodePush(JSON.stringify(mailboxActionPush('sync', 'team-inbox').payload))).toEqual({ type: 'sync', mailboxId: 'team-inbox' });
    expect(decodePush({ aps: { 'content-available': 1 }, action: 'sync', mailbox: 'me' })).toEqual({ type: 'sync', mailboxId: 'me' });
  });

  it("turns interval mode's silent push into a background refresh", () => {
    expect(decodePush(intervalPush().payload)).toEqual({ type: 'background-refresh' });
  });

  it('accepts the payload as JSON text', () => {
    expect(decodePush(JSON.stringify(resubscribePush('me').payload))).toEqual({ type: 'resubscribe', mailboxId: 'me' });
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['an empty object', {}],
    ['text that is not JSON', 'You have mail'],
    ['a number', 42],
    ['an alert from another sender', { aps: { alert: 'Sale!' } }],
    ['a new-mail alert without its mailbox', { aps: { alert: 'x', 'mutable-content': 1, 'thread-id': 'me' }, newMessages: 1 }],
    ['a new-mail alert with an invalid mailbox id', { aps: { alert: 'x', 'mutable-content': 1, 'thread-id': 'a b' }, mailbox: 'a b', newMessages: 1 }],
    ['a new-mail alert for no messages', { aps: { alert: 'x', 'mutable-content': 1, 'thread-id': 'me' }, mailbox: 'me', newMessages: 0 }],
    ['an action the contract does not have', { aps: { 'content-available': 1 }, action: 'wipe', mailbox: 'me' }],
    ['a silent push with an extra key', { aps: { 'content-available': 1 }, extra: true }],
    ['a resubscribe without its mailbox', { aps: { 'content-available': 1 }, action: 'resubscribe' }],
    ['a sync without its mailbox', { aps: { 'content-available': 1 }, action: 'sync' }],
    ['a reauthorize as an alert', { aps: { alert: 'x', 'mutable-content': 1, 'thread-id': 'me' }, action: 'reauthorize', mailbox: 'me' }],
  ])('calls %s unknown, without throwing', (_name, payload) => {
    expect(decodePush(payload)).toEqual({ type: 'unknown', reason: expect.any(String) });
  });
});

describe('planDisplay', () => {
  const unread: UnreadMail[] = [
    { id: 'm1', mailboxId: 'me', sender: 'Ada Lovelace', subject: 'Engine notes', preview: 'The analytical engine weaves...' },
    { id: 'm2', mailboxId: 'me', sender: 'Charles Babbage', subject: 'Re: Engine notes' },
  ];
  const detailsOn = { showDetails: true, allowDetailedNotifications: true };

  it('shows one notification per unread mail with its details when Show Mail Details is on and allowed', () => {
    expect(planDisplay(unread, detailsOn)).toEqual([
      {
        kind: 'mail',
        id: 'mail:me:m1',
        threadId: 'me',
        mailId: 'm1',
        sender: 'Ada Lovelace',
        subject: 'Engine notes',
        preview: 'The analytical engine weaves...',
      },
      { kind: 'mail', id: 'mail:me:m2', threadId: 'me', mailId: 'm2', sender: 'Charles Babbage', subject: 'Re: Engine notes' },
    ]);
  });

  it.each([
    ['Show Mail Details is off', { showDetails: false, allowDetailedNotifications: true }],
    ['the administrator does not allow details', { showDetails: true, allowDetailedNotifications: false }],
    ['both are off', { showDetails: false, allowDetailedNotifications: false }],
  ])('shows one unread count and no details when %s', (_name, settings) => {
    const plan = planDisplay(unread, settings);
    expect(plan).toEqual([{ kind: 'unread-count', id: 'unread:me', threadId: 'me', unreadCount: 2 }]);
    expect(JSON.stringify(plan)).not.toMatch(/Ada|Engine|analytical/);
  });

  it('counts unread mail across mailboxes in one notification without a thread', () => {
    const mixed = [...unread, { id: 'm3', mailboxId: 'team' }];
    expect(planDisplay(mixed, { showDetails: false, allowDetailedNotifications: true })).toEqual([
      { kind: 'unread-count', id: 'unread:all', unreadCount: 3 },
    ]);
  });

  it('shows each mail once even if the sync listed it twice', () => {
    const twice = [...unread, unread[0]!];
    expect(planDisplay(twice, detailsOn)).toHaveLength(2);
    expect(planDisplay(twice, { showDetails: false, allowDetailedNotifications: false })).toMatchObject([{ unreadCount: 2 }]);
  });

  it('keeps mails with the same id in different mailboxes apart', () => {
    const sameId = [{ id: 'm1', mailboxId: 'me' }, { id: 'm1', mailboxId: 'team' }];
    expect(planDisplay(sameId, detailsOn).map((n) => n.id)).toEqual(['mail:me:m1', 'mail:team:m1']);
  });

  it('shows nothing when no mail is unread any more', () => {
    expect(planDisplay([], detailsOn)).toEqual([]);
    expect(planDisplay([], { showDetails: false, allowDetailedNotifications: false })).toEqual([]);
  });
});
