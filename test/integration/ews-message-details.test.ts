import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ewsMessageDetailsReader } from '../../functions/_lib/adapters/ews-message-details-reader.js';
import { MailServerError, type MessageDetailsReader } from '../../shared/org/ports.js';
import { startPlayedEws, type PlayedEws } from '../support/played/played-ews.js';
import { rejectionOf } from '../support/thrown.js';

const MAILBOX = 'ada@example.com';
const OTHER = 'grace@example.com';

let ews: PlayedEws;
const settings = () => ({ type: 'ews' as const, url: ews.url, username: 'svc-relay', auth: 'basic' as const });
const reader = (overrides: { password?: string; budgetMs?: number; allowLoopback?: boolean } = {}): MessageDetailsReader =>
  ewsMessageDetailsReader(settings(), overrides.password ?? 'right-password', { policy: { allowLoopback: overrides.allowLoopback ?? true }, budgetMs: overrides.budgetMs ?? 3_000 });

const failure = (promise: Promise<unknown>): Promise<MailServerError> => rejectionOf(promise, MailServerError);

function addMessage(overrides: Partial<Parameters<PlayedEws['addMessage']>[0]> = {}): string {
  const itemId = ews.newItemId();
  ews.addMessage({
    itemId,
    mailbox: MAILBOX,
    from: { name: 'Grace Hopper', address: 'grace@example.com' },
    subject: 'Compilers & <you>',
    preview: 'A ship in port is safe…',
    receivedAt: '2026-12-07T08:00:00.000Z',
    ...overrides,
  });
  return itemId;
}

beforeAll(async () => {
  ews = await startPlayedEws({ username: 'svc-relay', password: 'right-password', mailboxes: [MAILBOX, OTHER] });
});
afterAll(() => ews?.close());
beforeEach(() => {
  ews.setImpersonationAllowed(true);
  ews.setDown(false);
  ews.clearFaults();
});

describe('EWS GetItem with impersonation, against a played Exchange', () => {
  it('reads sender, subject, preview and receive time, impersonating the mailbox with X-AnchorMailbox', async () => {
    const itemId = addMessage();
    const details = await reader().readMessage(MAILBOX, itemId);
    expect(details).toEqual({ from: { name: 'Grace Hopper', address: 'grace@example.com' }, subject: 'Compilers & <you>', preview: 'A ship in port is safe…', receivedAt: '2026-12-07T08:00:00.000Z' });
    const request = ews.requests.at(-1)!;
    expect(request.headers['x-anchormailbox']).toBe(MAILBOX);
    expect(request.body).toContain('<t:RequestServerVersion Version="Exchange2013"/>');
    expect(request.body).toContain(`<t:SmtpAddress>${MAILBOX}</t:SmtpAddress>`);
  });

  it('takes an internal (EX) sender SMTP address from PidTagSenderSmtpAddress', async () => {
    const itemId = addMessage({ from: { name: 'Grace Hopper', address: '/O=EXAMPLE/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=GRACE', routingType: 'EX', smtpAddress: 'Grace@Example.com' } });
    expect((await reader().readMessage(MAILBOX, itemId)).from.address).toBe('Grace@Example.com');
  });

  it.each([
    ['a wrong password', () => reader({ password: 'wrong' }).readMessage(MAILBOX, addMessage()), 'unauthorized'],
    ['a message of another mailbox', () => reader().readMessage(OTHER, addMessage()), 'not-found'],
    ['an unknown item id', () => reader().readMessage(MAILBOX, ews.newItemId()), 'not-found'],
    ['an unknown mailbox', () => reader().readMessage('nobody@example.com', ews.newItemId()), 'not-found'],
  ])('answers %s with a typed error', async (_label, act, kind) => {
    expect((await failure(act())).kind).toBe(kind);
  });

  it('says forbidden when the account lacks the ApplicationImpersonation role', async () => {
    ews.setImpersonationAllowed(false);
    const error = await failure(reader().readMessage(MAILBOX, addMessage()));
    expect([error.kind, error.detail]).toEqual(['forbidden', 'ErrorImpersonateUserDenied']);
  });

  it('waits for ErrorServerBusy when the back-off fits the budget, and gives up when it does not', async () => {
    const itemId = addMessage();
    ews.queueServerBusy(50);
    expect((await reader().readMessage(MAILBOX, itemId)).subject).toBe('Compilers & <you>');
    ews.queueServerBusy(60_000);
    const before = ews.requests.length;
    expect((await failure(reader().readMessage(MAILBOX, itemId))).kind).toBe('throttled');
    expect(ews.requests.length - before).toBe(1);
  });

  it('retries a 503 with Retry-After and a dropped connection inside the budget', async () => {
    const itemId = addMessage();
    ews.queueFaults({ kind: 'answer', status: 503, headers: { 'retry-after': '0' } }, { kind: 'reset' });
    expect((await reader().readMessage(MAILBOX, itemId)).from.name).toBe('Grace Hopper');
  });

  it.each([
    ['garbage XML', { kind: 'answer', status: 200, body: '<soap:Envelope><unclosed>', headers: { 'content-type': 'text/xml' } }, 'malformed-response'],
    ['a DOCTYPE', { kind: 'answer', status: 200, body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', headers: { 'content-type': 'text/xml' } }, 'malformed-response'],
    ['a 10 MB body', { kind: 'answer', status: 200, body: `<x>${'a'.repeat(10 * 1024 * 1024)}</x>`, headers: { 'content-type': 'text/xml' } }, 'response-too-large'],
    ['a 502', { kind: 'answer', status: 502, body: 'bad gateway' }, 'server-error'],
  ] as const)('turns %s into a typed error, not a crash', async (_label, fault, kind) => {
    const itemId = addMessage();
    ews.queueFaults(fault, fault, fault);
    expect((await failure(reader().readMessage(MAILBOX, itemId))).kind).toBe(kind);
  });

  it('ends a request that never answers at the budget', async () => {
    ews.setDown(true);
    const startedAt = Date.now();
    expect((await failure(reader({ budgetMs: 300 }).readMessage(MAILBOX, addMessage()))).kind).toBe('timeout');
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  });

  it('refuses a loopback server when the policy does not allow loopback, before any request', async () => {
    const before = ews.requests.length;
    expect((await failure(reader({ allowLoopback: false }).readMessage(MAILBOX, addMessage()))).kind).toBe('address-refused');
    expect(ews.requests.length).toBe(before);
  });
});

describe('EWS proof of mailbox access and check', () => {
  it('finds an inbox message of the mailbox and refuses one of another folder', async () => {
    expect(await reader().inboxMessageReceivedAt(MAILBOX, addMessage())).toBe('2026-12-07T08:00:00.000Z');
    expect((await failure(reader().inboxMessageReceivedAt(MAILBOX, addMessage({ folder: 'archive' })))).kind).toBe('not-found');
    expect((await failure(reader().inboxMessageReceivedAt(OTHER, addMessage()))).kind).toBe('not-found');
  });

  it('checks the account with a request that impersonates nobody', async () => {
    await reader().check();
    expect(ews.operations().at(-1)).toEqual({ operation: 'GetServerTimeZones' });
    expect((await failure(reader({ password: 'wrong' }).check())).kind).toBe('unauthorized');
  });
});


describe('EWS with NTLM (Windows authentication), against a played Exchange that checks the NTLMv2 handshake', () => {
  let ntlmEws: PlayedEws;
  const ntlmReader = (password: string, username = 'CONTOSO\\svc-relay'): MessageDetailsReader =>
    ewsMessageDetailsReader({ type: 'ews', url: ntlmEws.url, username, auth: 'ntlm' }, password, { policy: { allowLoopback: true }, budgetMs: 3_000 });

  beforeAll(async () => {
    ntlmEws = await startPlayedEws({ username: 'CONTOSO\\svc-relay', password: 'right-password', mailboxes: [MAILBOX], auth: 'ntlm' });
  });
  afterAll(() => ntlmEws?.close());

  it('negotiates, answers the challenge and reads the message on that one connection', async () => {
    const itemId = ntlmEws.newItemId();
    ntlmEws.addMessage({ itemId, mailbox: MAILBOX, from: { name: 'Grace Hopper', address: 'grace@example.com' }, subject: 'Hi', preview: 'p', receivedAt: '2026-12-07T08:00:00.000Z' });
    expect((await ntlmReader('right-password').readMessage(MAILBOX, itemId)).subject).toBe('Hi');
    const [negotiate, authenticate] = ntlmEws.requests.slice(-2);
    expect(negotiate!.headers.authorization).toMatch(/^NTLM /);
    expect(negotiate!.body).toBe('');
    expect(authenticate!.connection).toBe(negotiate!.connection);
    expect(authenticate!.body).toContain('<m:GetItem>');
    // Never the password, in any form the server could read back.
    expect(JSON.stringify(ntlmEws.requests)).not.toContain('right-password');
  });

  it('is unauthorized with a wrong password or another account, and the check says so', async () => {
    expect((await failure(ntlmReader('wrong-password').readMessage(MAILBOX, ntlmEws.newItemId()))).kind).toBe('unauthorized');
    expect((await failure(ntlmReader('right-password', 'CONTOSO\\someone-else').check())).kind).toBe('unauthorized');
    await expect(ntlmReader('right-password').check()).resolves.toBeUndefined();
  });

  it('refuses a loopback server the policy does not allow, before the handshake\'s first request', async () => {
    const before = ntlmEws.requests.length;
    const refused = ewsMessageDetailsReader({ type: 'ews', url: ntlmEws.url.replace('http://127.0.0.1', 'https://localhost'), username: 'CONTOSO\\svc-relay', auth: 'ntlm' }, 'right-password', {
      policy: { allowLoopback: false },
      budgetMs: 3_000,
    });
    expect((await failure(refused.check())).kind).toBe('address-refused');
    expect(ntlmEws.requests.length).toBe(before);
  });

  it('speaks NTLM under the Negotiate scheme to an IIS whose only provider is Negotiate', async () => {
    const negotiateOnly = await startPlayedEws({ username: 'CONTOSO\\svc-relay', password: 'right-password', mailboxes: [MAILBOX], auth: 'ntlm', ntlm: { providers: 'negotiate-only' } });
    try {
      const reader = ewsMessageDetailsReader({ type: 'ews', url: negotiateOnly.url, username: 'CONTOSO\\svc-relay', auth: 'ntlm' }, 'right-password', { policy: { allowLoopback: true }, budgetMs: 3_000 });
      await expect(reader.check()).resolves.toBeUndefined();
      expect(negotiateOnly.requests.map((request) => request.headers.authorization?.split(' ')[0])).toEqual(['NTLM', 'Negotiate', 'Negotiate']);
    } finally {
      await negotiateOnly.close();
    }
  });

  it('says the connection was not kept, not that the password is wrong, when the server closes it after the challenge', async () => {
    const closing = await startPlayedEws({ username: 'CONTOSO\\svc-relay', password: 'right-password', mailboxes: [MAILBOX], auth: 'ntlm', ntlm: { closeAfterChallenge: true } });
    try {
      const reader = ewsMessageDetailsReader({ type: 'ews', url: closing.url, username: 'CONTOSO\\svc-relay', auth: 'ntlm' }, 'right-password', { policy: { allowLoopback: true }, budgetMs: 3_000 });
      expect(await failure(reader.check())).toMatchObject({ kind: 'server-error', detail: 'ntlm-connection-not-kept' });
    } finally {
      await closing.close();
    }
  });

  it('is unauthorized against a server that offers Basic only (no NTLM challenge)', async () => {
    const basicOnly = ewsMessageDetailsReader({ type: 'ews', url: ews.url, username: 'svc-relay', auth: 'ntlm' }, 'right-password', { policy: { allowLoopback: true }, budgetMs: 3_000 });
    expect((await failure(basicOnly.check())).kind).toBe('unauthorized');
  });
});
