import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ewsSubscriptionManager } from '../../functions/_lib/adapters/ews-subscription-manager.js';
import { MailServerError } from '../../shared/org/ports.js';
import type { EwsSubscriptionManager } from '../../shared/org/subscription-manager.js';
import { startPlayedEws, type PlayedEws } from '../support/played/played-ews.js';
import { rejectionOf } from '../support/thrown.js';

const MAILBOX = 'ada@example.com';
const CALLBACK = 'https://relay.example/v1/callback/Zm9vYmFyYmF6cXV4cXV1eHh5enp5';

let ews: PlayedEws;
const manager = (password = 'right-password'): EwsSubscriptionManager =>
  ewsSubscriptionManager({ type: 'ews', url: ews.url, username: 'svc-relay', auth: 'basic' }, password, { policy: { allowLoopback: true }, budgetMs: 3_000 });

const failure = (promise: Promise<unknown>): Promise<MailServerError> => rejectionOf(promise, MailServerError);

beforeAll(async () => {
  ews = await startPlayedEws({ username: 'svc-relay', password: 'right-password', mailboxes: [MAILBOX] });
});
afterAll(() => ews?.close());
beforeEach(() => {
  ews.clearFaults();
  ews.setImpersonationAllowed(true);
});

describe('ewsSubscriptionManager', () => {
  it('subscribes the inbox to NewMailEvent by push, impersonating the mailbox, to its callback URL', async () => {
    const { subscriptionId, expiresAt } = await manager().subscribe({ address: MAILBOX, callbackUrl: CALLBACK, statusFrequencyMinutes: 30 });
    expect(expiresAt).toBeUndefined();
    expect(ews.pushSubscriptions().at(-1)).toEqual({ subscriptionId, mailbox: MAILBOX, url: CALLBACK, statusFrequencyMinutes: 30, folders: ['inbox'], eventTypes: ['NewMailEvent'] });
    expect(ews.operations().at(-1)).toEqual({ operation: 'Subscribe', impersonated: MAILBOX });
    expect(ews.requests.at(-1)?.headers['x-anchormailbox']).toBe(MAILBOX);
  });

  it('says forbidden when the service account may not impersonate, unauthorized for a wrong password', async () => {
    ews.setImpersonationAllowed(false);
    expect(await failure(manager().subscribe({ address: MAILBOX, callbackUrl: CALLBACK, statusFrequencyMinutes: 30 }))).toMatchObject({ kind: 'forbidden', detail: 'ErrorImpersonateUserDenied' });
    expect(await failure(manager('wrong').subscribe({ address: MAILBOX, callbackUrl: CALLBACK, statusFrequencyMinutes: 30 }))).toMatchObject({ kind: 'unauthorized' });
  });

  it('says not-found for a mailbox the server does not have', async () => {
    expect(await failure(manager().subscribe({ address: 'nobody@example.com', callbackUrl: CALLBACK, statusFrequencyMinutes: 30 }))).toMatchObject({ kind: 'not-found', detail: 'ErrorNonExistentMailbox' });
  });

  it('tries again after ErrorServerBusy within its budget', async () => {
    ews.queueServerBusy(50);
    const before = ews.pushSubscriptions().length;
    await manager().subscribe({ address: MAILBOX, callbackUrl: CALLBACK, statusFrequencyMinutes: 30 });
    expect(ews.pushSubscriptions()).toHaveLength(before + 1);
  });
});
