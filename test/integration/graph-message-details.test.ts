import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphMessageDetailsReader } from '../../functions/_lib/adapters/graph-message-details-reader.js';
import { MailServerError, type MessageDetailsReader } from '../../shared/org/ports.js';
import { startPlayedGraph, type PlayedGraph } from '../support/played/played-graph.js';
import { rejectionOf } from '../support/thrown.js';

const MAILBOX = 'ada@contoso.example';
const OTHER = 'grace@contoso.example';
const TENANT = 'contoso.onmicrosoft.com';
const CLIENT = '11111111-2222-3333-4444-555555555555';

let graph: PlayedGraph;
let basic: PlayedGraph;

/** Each reader gets its own secret unless told, so the module's token cache does not carry over between tests. */
function reader(server = graph, overrides: { clientSecret?: string; scope?: string; tenantId?: string; budgetMs?: number } = {}): MessageDetailsReader {
  return graphMessageDetailsReader(
    { type: 'graph', tenantId: overrides.tenantId ?? TENANT, clientId: CLIENT, graphUrl: server.graphUrl, loginUrl: server.loginUrl, scope: overrides.scope ?? server.scope },
    overrides.clientSecret ?? 'right-secret',
    { policy: { allowLoopback: true }, budgetMs: overrides.budgetMs ?? 3_000 },
  );
}

const failure = (promise: Promise<unknown>): Promise<MailServerError> => rejectionOf(promise, MailServerError);

function addMessage(server = graph, overrides: Partial<Parameters<PlayedGraph['addMessage']>[0]> = {}): string {
  const id = server.newMessageId();
  server.addMessage({ id, mailbox: MAILBOX, from: { name: 'Grace Hopper', address: 'grace@contoso.example' }, subject: 'Launch', preview: 'T minus ten', receivedAt: '2026-12-07T09:30:00.000Z', ...overrides });
  return id;
}

beforeAll(async () => {
  graph = await startPlayedGraph({ tenantId: TENANT, clientId: CLIENT, clientSecret: 'right-secret', mailboxes: [MAILBOX, OTHER] });
  basic = await startPlayedGraph({ tenantId: TENANT, clientId: CLIENT, clientSecret: 'right-secret', mailboxes: [MAILBOX], permission: 'Mail.ReadBasic' });
});
afterAll(async () => {
  await graph?.close();
  await basic?.close();
});
beforeEach(() => {
  graph.setDown(false);
  graph.clearFaults();
  graph.setAccessPolicy(undefined);
});

describe('Graph app-only fetch, against a played Graph and login server', () => {
  it('reads sender, subject, preview and receive time with ImmutableId ids, reusing one token', async () => {
    const issuedBefore = graph.tokensIssued();
    const r = reader();
    const first = await r.readMessage(MAILBOX, addMessage());
    await r.readMessage(MAILBOX, addMessage());
    expect(first).toEqual({ from: { name: 'Grace Hopper', address: 'grace@contoso.example' }, subject: 'Launch', preview: 'T minus ten', receivedAt: '2026-12-07T09:30:00.000Z' });
    expect(graph.tokensIssued() - issuedBefore).toBeLessThanOrEqual(1);
    const request = graph.requests.at(-1)!;
    expect(request.headers.prefer).toBe('IdType="ImmutableId"');
    expect(request.path).toContain('$select=from,subject,bodyPreview,receivedDateTime');
  });

  it('gives an empty preview with Mail.ReadBasic', async () => {
    expect((await reader(basic).readMessage(MAILBOX, addMessage(basic))).preview).toBe('');
  });

  it.each([
    ['a wrong client secret', () => reader(graph, { clientSecret: 'wrong' }).readMessage(MAILBOX, addMessage()), 'unauthorized', 'token:invalid_client:AADSTS7000215'],
    ['an unknown tenant', () => reader(graph, { tenantId: 'fabrikam.example' }).readMessage(MAILBOX, addMessage()), 'unauthorized', 'token:invalid_request:AADSTS90002'],
    ['a wrong scope', () => reader(graph, { scope: 'https://outlook.office.com/.default' }).readMessage(MAILBOX, addMessage()), 'forbidden', 'token:invalid_scope:AADSTS1002012'],
    ['a message of another mailbox', () => reader().readMessage(OTHER, addMessage()), 'not-found', 'ErrorItemNotFound'],
    ['an unknown user', () => reader().readMessage('nobody@contoso.example', addMessage()), 'not-found', 'ErrorInvalidUser'],
  ])('answers %s with a typed error', async (_label, act, kind, detail) => {
    const error = await failure(act());
    expect([error.kind, error.detail]).toEqual([kind, detail]);
  });

  it('says forbidden for a mailbox outside the application access policy', async () => {
    graph.setAccessPolicy([OTHER]);
    const error = await failure(reader().readMessage(MAILBOX, addMessage()));
    expect([error.kind, error.detail]).toEqual(['forbidden', 'ErrorAccessDenied']);
  });

  it('gets a new token once when Graph refuses the cached one', async () => {
    const r = reader();
    await r.readMessage(MAILBOX, addMessage());
    graph.revokeTokens();
    const issuedBefore = graph.tokensIssued();
    expect((await r.readMessage(MAILBOX, addMessage())).subject).toBe('Launch');
    expect(graph.tokensIssued() - issuedBefore).toBe(1);
  });

  it('waits for a 429 Retry-After that fits the budget, and gives up on one that does not', async () => {
    const r = reader();
    const id = addMessage();
    await r.readMessage(MAILBOX, id);
    graph.queueFaults({ kind: 'answer', status: 429, headers: { 'retry-after': '0', 'content-type': 'application/json' }, body: '{"error":{"code":"TooManyRequests","message":"x"}}' });
    expect((await r.readMessage(MAILBOX, id)).subject).toBe('Launch');
    graph.queueFaults({ kind: 'answer', status: 429, headers: { 'retry-after': '30', 'content-type': 'application/json' }, body: '{"error":{"code":"TooManyRequests","message":"x"}}' });
    const error = await failure(r.readMessage(MAILBOX, id));
    expect([error.kind, error.detail]).toEqual(['throttled', 'TooManyRequests']);
  });

  it('retries a 503 and turns garbage into malformed-response', async () => {
    const r = reader();
    const id = addMessage();
    await r.readMessage(MAILBOX, id);
    graph.queueFaults({ kind: 'answer', status: 503, body: '{"error":{"code":"ServiceNotAvailable","message":"x"}}' });
    expect((await r.readMessage(MAILBOX, id)).subject).toBe('Launch');
    graph.queueFaults({ kind: 'answer', status: 200, body: '<html>not json</html>' });
    expect((await failure(r.readMessage(MAILBOX, id))).kind).toBe('malformed-response');
    graph.queueFaults({ kind: 'answer', status: 200, body: '{"subject": 42}' });
    expect((await failure(r.readMessage(MAILBOX, id))).kind).toBe('malformed-response');
  });

  it('ends at the budget when Graph never answers', async () => {
    const r = reader(graph, { budgetMs: 300 });
    const id = addMessage();
    graph.setDown(true);
    expect((await failure(r.readMessage(MAILBOX, id))).kind).toBe('timeout');
  });
});

describe('Graph proof of mailbox access and check', () => {
  it('finds an inbox message of the mailbox and refuses one of another folder or mailbox', async () => {
    const r = reader();
    expect(await r.inboxMessageReceivedAt(MAILBOX, addMessage())).toBe('2026-12-07T09:30:00.000Z');
    expect((await failure(r.inboxMessageReceivedAt(MAILBOX, addMessage(graph, { folder: 'archive' })))).kind).toBe('not-found');
    expect((await failure(r.inboxMessageReceivedAt(OTHER, addMessage()))).kind).toBe('not-found');
    // Graph answers a malformed id 400 ErrorInvalidIdMalformed: no such message, not a server failure.
    expect(await failure(r.inboxMessageReceivedAt(MAILBOX, 'not a valid id'))).toMatchObject({ kind: 'not-found', detail: 'ErrorInvalidIdMalformed' });
    // Dot segments would be resolved away (the request would name the user, or the message list): no message either.
    for (const dots of ['.', '..']) expect(await failure(r.inboxMessageReceivedAt(MAILBOX, dots))).toMatchObject({ kind: 'not-found' });
    expect(await failure(r.readMessage(MAILBOX, '..'))).toMatchObject({ kind: 'not-found' });
  });

  it('checks the app registration with a fresh token request', async () => {
    const issuedBefore = graph.tokensIssued();
    await reader().check();
    await reader().check();
    expect(graph.tokensIssued() - issuedBefore).toBe(2);
    expect((await failure(reader(graph, { clientSecret: 'wrong' }).check())).kind).toBe('unauthorized');
  });
});
