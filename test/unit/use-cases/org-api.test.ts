import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAdminToken } from '../../../functions/_lib/admin-token.js';
import { ewsMessageDetailsReader } from '../../../functions/_lib/adapters/ews-message-details-reader.js';
import { graphMessageDetailsReader } from '../../../functions/_lib/adapters/graph-message-details-reader.js';
import { LocalOrgKeyring } from '../../../functions/_lib/adapters/local-org-keyring.js';
import { issueOrgToken } from '../../../functions/_lib/org-token.js';
import { createOrgApiHandler, type OrgApiHandlerDeps } from '../../../functions/org-api/edge.js';
import type { MessageDetailsReaderFactory } from '../../../shared/org/ports.js';
import { InMemoryOrgStore } from '../../../shared/store/in-memory-org-store.js';
import { startPlayedEws, type PlayedEws } from '../../support/played/played-ews.js';

const ADMIN_SECRET = 'admin-secret';
const admin = await issueAdminToken('ops', ADMIN_SECRET);
const policy = { allowLoopback: true };
const readers: MessageDetailsReaderFactory = (server, secret) =>
  server.type === 'ews' ? ewsMessageDetailsReader(server, secret, { policy }) : graphMessageDetailsReader(server, secret, { policy });

let ews: PlayedEws;
beforeAll(async () => {
  ews = await startPlayedEws({ username: 'svc-relay', password: 'right-password', mailboxes: ['ada@example.com'] });
});
afterAll(() => ews?.close());

function setup(overrides: Partial<OrgApiHandlerDeps> = {}) {
  const orgs = new InMemoryOrgStore();
  const cleared: string[] = [];
  const switched: string[] = [];
  let now = Date.parse('2026-12-07T10:00:00Z');
  const deps: OrgApiHandlerDeps = {
    orgs,
    keyring: LocalOrgKeyring.inMemory(),
    readers,
    policy,
    resolve: async () => ['52.97.1.2'],
    clearOrgDevices: async (orgId) => {
      cleared.push(orgId);
    },
    mailServerTypeChanged: async (orgId, previous) => {
      switched.push(`${orgId}:from-${previous.mailServer.type}`);
    },
    now: () => now,
    adminTokenSecret: ADMIN_SECRET,
    ...overrides,
  };
  const handler = createOrgApiHandler(deps);
  const call = async (routeKey: string, orgId: string, options: { token?: string; body?: unknown } = {}) => {
    const answer = await handler(
      {
        routeKey,
        pathParameters: { orgId },
        headers: { authorization: `Bearer ${options.token ?? admin}`, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        isBase64Encoded: false,
      } as never,
      {} as never,
    );
    return { status: answer.statusCode, body: answer.body ? JSON.parse(answer.body as string) : undefined, raw: String(answer.body ?? '') };
  };
  return { call, orgs, cleared, switched, advance: (ms: number) => (now += ms) };
}

const ewsServer = () => ({ type: 'ews', url: ews.url, username: 'svc-relay', password: 'right-password' });

describe('operator API (contract section 8)', () => {
  it('stores an org, answers without any secret, and GETs it with its health', async () => {
    const { call } = setup();
    const put = await call('PUT /v1/orgs/{orgId}', 'acme', { body: { detailedAlerts: 'encrypted', mailServer: ewsServer() } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ orgId: 'acme', mode: 'organization', detailedAlerts: 'encrypted', mailServer: { type: 'ews', url: ews.url, username: 'svc-relay', auth: 'basic' }, health: null });
    expect(put.raw).not.toContain('right-password');
    const got = await call('GET /v1/orgs/{orgId}', 'acme');
    expect(got.body).toEqual(put.body);
  });

  it('stores an EWS server with NTLM (Windows authentication) and checks it with the NTLMv2 handshake', async () => {
    const ntlmEws = await startPlayedEws({ username: 'CONTOSO\\svc-relay', password: 'right-password', mailboxes: ['ada@example.com'], auth: 'ntlm' });
    try {
      const { call } = setup();
      const put = await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: { type: 'ews', url: ntlmEws.url, username: 'CONTOSO\\svc-relay', password: 'right-password', auth: 'ntlm' } } });
      expect(put.status).toBe(200);
      expect(put.body.mailServer).toEqual({ type: 'ews', url: ntlmEws.url, username: 'CONTOSO\\svc-relay', auth: 'ntlm' });
      expect((await call('POST /v1/orgs/{orgId}/check', 'acme')).body).toEqual({ ok: true });
      expect(ntlmEws.requests.map((request) => request.headers.authorization?.split(' ')[0])).toEqual(['NTLM', 'NTLM']);
    } finally {
      await ntlmEws.close();
    }
  });

  it('refuses an org token, and any call without a token', async () => {
    const { call } = setup();
    expect((await call('GET /v1/orgs/{orgId}', 'acme', { token: await issueOrgToken('acme', ADMIN_SECRET) })).status).toBe(401);
    expect((await call('PUT /v1/orgs/{orgId}', 'acme', { token: 'garbage', body: { mailServer: ewsServer() } })).status).toBe(401);
  });

  it('keeps the stored password when a later PUT leaves it out for the same server, and asks for it for another', async () => {
    const { call } = setup();
    await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: ewsServer() } });
    const { password: _omitted, ...withoutPassword } = ewsServer();
    expect((await call('PUT /v1/orgs/{orgId}', 'acme', { body: { detailedAlerts: 'encrypted', mailServer: withoutPassword } })).status).toBe(200);
    expect((await call('POST /v1/orgs/{orgId}/check', 'acme')).body).toEqual({ ok: true });
    const moved = await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: { ...withoutPassword, url: `${ews.url}?moved` } } });
    expect([moved.status, moved.body.error.code]).toEqual([400, 'invalid_request']);
    expect(moved.body.error.message).toContain('mailServer.password');
  });

  it('checks the mail server and records the outcome as health, without echoing secrets', async () => {
    const { call } = setup();
    await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: { ...ewsServer(), password: 'wrong-password' } } });
    const check = await call('POST /v1/orgs/{orgId}/check', 'acme');
    expect(check.body).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(check.raw).not.toContain('wrong-password');
    const got = await call('GET /v1/orgs/{orgId}', 'acme');
    expect(got.body.health).toEqual({ at: '2026-12-07T10:00:00.000Z', ok: false, error: 'unauthorized' });
  });

  it.each([
    ['http to a public host', { type: 'ews', url: 'http://mail.example.com/EWS/Exchange.asmx', username: 'u', password: 'p' }, ['52.97.1.2']],
    ['a host resolving to the metadata service', { type: 'ews', url: 'https://mail.example.com/EWS/Exchange.asmx', username: 'u', password: 'p' }, ['169.254.169.254']],
    ['a private login URL', { type: 'graph', tenantId: 't', clientId: 'c', clientSecret: 's', loginUrl: 'https://login.example.com' }, ['10.0.0.1']],
    ['an unknown type', { type: 'imap', url: 'https://mail.example.com' }, ['52.97.1.2']],
    ['a missing field', { type: 'ews', url: 'https://mail.example.com/EWS/Exchange.asmx', password: 'p' }, ['52.97.1.2']],
  ])('refuses %s with a 400 that echoes no secret', async (_label, mailServer, addresses) => {
    const { call, orgs } = setup({ resolve: async () => addresses, policy: { allowLoopback: false } });
    const answer = await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer } });
    expect(answer.status).toBe(400);
    expect(answer.raw).not.toMatch(/"p"|"s"/);
    expect(orgs.orgs.size).toBe(0);
  });

  it('has the relay’s subscriptions made anew when a PUT changes the mail server’s type, and only then', async () => {
    const { call, switched } = setup();
    const graphServer = { type: 'graph', tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 's', graphUrl: 'https://graph.example.com', loginUrl: 'https://login.example.com' };
    await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: ewsServer() } });
    await call('PUT /v1/orgs/{orgId}', 'acme', { body: { detailedAlerts: 'encrypted', mailServer: ewsServer() } });
    expect(switched).toEqual([]);
    expect((await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: graphServer } })).status).toBe(200);
    expect((await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: ewsServer() } })).status).toBe(200);
    expect(switched).toEqual(['acme:from-ews', 'acme:from-graph']);
  });

  it('DELETE clears the devices first, then the org; GET then answers 404', async () => {
    const { call, cleared } = setup();
    await call('PUT /v1/orgs/{orgId}', 'acme', { body: { mailServer: ewsServer() } });
    expect((await call('DELETE /v1/orgs/{orgId}', 'acme')).status).toBe(204);
    expect(cleared).toEqual(['acme']);
    const got = await call('GET /v1/orgs/{orgId}', 'acme');
    expect([got.status, got.body.error.code]).toEqual([404, 'org_not_found']);
  });
});
