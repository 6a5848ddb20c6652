import { describe, expect, it } from 'vitest';
import { assertAllowedServerUrl, classifyAddress } from '../../../functions/_lib/outbound-address-policy.js';
import { ValidationError } from '../../../shared/errors.js';
import { putOrgRequestSchema } from '../../../shared/org/org-schemas.js';

const onAws = { allowLoopback: false };
const underNpmStart = { allowLoopback: true };
const resolvesTo = (...addresses: string[]) => async () => addresses;

describe('where the relay may send requests for an org (server-side request forgery)', () => {
  it.each([
    ['10.1.2.3', 'refused'],
    ['172.20.0.1', 'refused'],
    ['192.168.1.1', 'refused'],
    ['169.254.169.254', 'refused'],
    ['100.64.0.1', 'refused'],
    ['0.0.0.0', 'refused'],
    ['fd00::1', 'refused'],
    ['fe80::1', 'refused'],
    ['::', 'refused'],
    ['::ffff:169.254.169.254', 'refused'],
    ['::ffff:a9fe:a9fe', 'refused'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['52.97.1.2', 'public'],
    ['2603:1026::1', 'public'],
    ['not-an-address', 'refused'],
  ])('classifies %s as %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it('accepts https to a host that resolves only to public addresses', async () => {
    await expect(assertAllowedServerUrl('mailServer.url', 'https://mail.example.com/EWS/Exchange.asmx', onAws, resolvesTo('52.97.1.2'))).resolves.toBeUndefined();
  });

  it('refuses a host that resolves to the metadata service, a private or a unique-local address, before any connection', async () => {
    for (const address of ['169.254.169.254', '10.0.0.5', 'fd12::5']) {
      await expect(assertAllowedServerUrl('mailServer.url', 'https://mail.example.com/EWS/Exchange.asmx', onAws, resolvesTo('52.97.1.2', address))).rejects.toThrow(ValidationError);
    }
  });

  it('refuses loopback on AWS and accepts it, also over http, only under npm start', async () => {
    await expect(assertAllowedServerUrl('mailServer.url', 'http://127.0.0.1:8443/EWS/Exchange.asmx', onAws)).rejects.toThrow(/public address/);
    await expect(assertAllowedServerUrl('mailServer.url', 'https://localhost/EWS/Exchange.asmx', onAws, resolvesTo('127.0.0.1'))).rejects.toThrow(ValidationError);
    await expect(assertAllowedServerUrl('mailServer.url', 'http://127.0.0.1:8443/EWS/Exchange.asmx', underNpmStart)).resolves.toBeUndefined();
  });

  it('refuses http to a public host even under npm start, and a name that does not resolve', async () => {
    await expect(assertAllowedServerUrl('mailServer.url', 'http://mail.example.com/EWS/Exchange.asmx', underNpmStart, resolvesTo('52.97.1.2'))).rejects.toThrow(/https/);
    const fails = async () => {
      throw new Error('ENOTFOUND');
    };
    await expect(assertAllowedServerUrl('mailServer.url', 'https://nowhere.invalid/', onAws, fails)).rejects.toThrow(/does not resolve/);
  });

  it('never echoes the URL in its message', async () => {
    const error = await assertAllowedServerUrl('mailServer.url', 'https://secret-name.internal/x', onAws, resolvesTo('10.0.0.1')).catch((e: Error) => e);
    expect(String((error as Error).message)).not.toContain('secret-name');
  });
});

describe('the org configuration schema', () => {
  const ews = { type: 'ews', url: 'https://mail.example.com/EWS/Exchange.asmx', username: 'svc-relay', password: 'p' };

  it('fills the defaults of a Graph server and of detailedAlerts', () => {
    const parsed = putOrgRequestSchema.parse({ mailServer: { type: 'graph', tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 's' } });
    expect(parsed).toEqual({
      detailedAlerts: 'off',
      mailServer: {
        type: 'graph',
        tenantId: 'contoso.onmicrosoft.com',
        clientId: '11111111-2222-3333-4444-555555555555',
        clientSecret: 's',
        graphUrl: 'https://graph.microsoft.com',
        loginUrl: 'https://login.microsoftonline.com',
        scope: 'https://graph.microsoft.com/.default',
      },
    });
  });

  it('takes Basic by default and NTLM when asked (contract section 8: "auth": "basic | ntlm")', () => {
    expect(putOrgRequestSchema.parse({ mailServer: ews }).mailServer).toMatchObject({ auth: 'basic' });
    expect(putOrgRequestSchema.parse({ mailServer: { ...ews, username: 'CONTOSO\\svc-relay', auth: 'ntlm' } }).mailServer).toMatchObject({ auth: 'ntlm' });
  });

  it.each([
    ['an unknown type', { mailServer: { ...ews, type: 'imap' } }],
    ['a missing field', { mailServer: { type: 'ews', url: ews.url, password: 'p' } }],
    ['an unknown field', { mailServer: ews, extra: 1 }],
    ['credentials in the URL', { mailServer: { ...ews, url: 'https://u:p@mail.example.com/EWS/Exchange.asmx' } }],
    ['a non-http URL', { mailServer: { ...ews, url: 'file:///etc/passwd' } }],
    ['an unknown auth', { mailServer: { ...ews, auth: 'kerberos' } }],
    ['an unknown detailedAlerts', { detailedAlerts: 'clear', mailServer: ews }],
  ])('refuses %s', (_label, body) => {
    expect(putOrgRequestSchema.safeParse(body).success).toBe(false);
  });
});
