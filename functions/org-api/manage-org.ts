import { ValidationError } from '../../shared/errors.js';
import { OrgNotFoundError } from '../../shared/org/org-errors.js';
import type { MailServerRequest, MailServerSettings, OrgCheckResponse, OrgView, PutOrgRequest } from '../../shared/org/org-schemas.js';
import { MailServerError, type MessageDetailsReaderFactory, type OrgKeyring, type OrgRecord, type OrgStore } from '../../shared/org/ports.js';
import { openOrgAccess, recordOrgHealth } from '../_lib/org-access.js';
import { seal, secretContext } from '../_lib/org-secrets.js';
import { assertAllowedServerUrl, type OutboundPolicy } from '../_lib/outbound-address-policy.js';

/** What the operator API's use cases need. */
export interface OrgApiDeps {
  orgs: OrgStore;
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  policy: OutboundPolicy;
  /** Name resolution for the SSRF check (injected for tests; default the system resolver). */
  resolve?: (hostname: string) => Promise<string[]>;
  /** Clears the organization-mode fields of every device of the org (addresses, VIP hashes, alert keys). */
  clearOrgDevices: (orgId: string) => Promise<void>;
  /**
   * After a PUT moved the org to the other kind of mail server: has the relay's subscriptions of its mailboxes made
   * anew with the new one (`switchManagedSubscriptions`), given the org as it was before.
   */
  mailServerTypeChanged: (orgId: string, previous: OrgRecord) => Promise<void>;
  now: () => number;
}

export function toOrgView(org: OrgRecord): OrgView {
  return {
    orgId: org.orgId,
    mode: 'organization',
    detailedAlerts: org.detailedAlerts,
    mailServer: org.mailServer,
    health: org.health ? { at: new Date(org.health.at).toISOString(), ok: org.health.ok, ...(org.health.error ? { error: org.health.error } : {}) } : null,
    createdAt: new Date(org.createdAt).toISOString(),
    updatedAt: new Date(org.updatedAt).toISOString(),
  };
}

function settingsOf(server: MailServerRequest): MailServerSettings {
  if (server.type === 'ews') return { type: 'ews', url: server.url, username: server.username, auth: server.auth };
  return { type: 'graph', tenantId: server.tenantId, clientId: server.clientId, graphUrl: server.graphUrl, loginUrl: server.loginUrl, scope: server.scope };
}

/** The same server (so a left-out secret is kept): the same EWS URL, or the same tenant and app. */
function sameServer(a: MailServerSettings, b: MailServerSettings): boolean {
  if (a.type === 'ews' && b.type === 'ews') return a.url === b.url;
  if (a.type === 'graph' && b.type === 'graph') return a.tenantId === b.tenantId && a.clientId === b.clientId;
  return false;
}

/**
 * `PUT /v1/orgs/{orgId}`: turns on (or reconfigures) organization mode. Every URL is checked against the outbound
 * policy before anything is stored or any connection made. The org's data key is kept across PUTs, so its devices'
 * VIP hashes and sealed addresses stay valid; only a new password or client secret is sealed anew.
 */
export async function putOrg(input: { orgId: string; request: PutOrgRequest }, deps: OrgApiDeps): Promise<OrgView> {
  const { orgId, request } = input;
  const server = request.mailServer;
  const urls: Array<[string, string]> = server.type === 'ews' ? [['mailServer.url', server.url]] : [['mailServer.graphUrl', server.graphUrl], ['mailServer.loginUrl', server.loginUrl]];
  for (const [field, url] of urls) await assertAllowedServerUrl(field, url, deps.policy, deps.resolve);

  const existing = await deps.orgs.getOrg(orgId);
  const settings = settingsOf(server);
  const secret = server.type === 'ews' ? server.password : server.clientSecret;
  const secretField = server.type === 'ews' ? 'mailServer.password' : 'mailServer.clientSecret';
  if (secret === undefined && !(existing && sameServer(existing.mailServer, settings))) {
    throw new ValidationError([{ path: secretField, message: 'is required (it may be left out only to keep the stored one for the same server)' }]);
  }
  let wrappedDataKey: string;
  let sealedSecret: string;
  if (existing) {
    wrappedDataKey = existing.wrappedDataKey;
    sealedSecret = secret === undefined ? existing.sealedSecret : seal(await deps.keyring.openDataKey(orgId, existing.wrappedDataKey), secretContext(orgId), secret);
  } else {
    const { dataKey, wrapped } = await deps.keyring.newDataKey(orgId);
    wrappedDataKey = wrapped;
    sealedSecret = seal(dataKey, secretContext(orgId), secret as string);
  }
  const now = deps.now();
  const stored = await deps.orgs.putOrg(
    { orgId, detailedAlerts: request.detailedAlerts, mailServer: settings, sealedSecret, wrappedDataKey, createdAt: existing?.createdAt ?? now, updatedAt: now },
    { ifRevision: existing?.revision ?? 0 },
  );
  if (existing && existing.mailServer.type !== settings.type) await deps.mailServerTypeChanged(orgId, existing);
  return toOrgView(stored);
}

export async function getOrg(orgId: string, deps: Pick<OrgApiDeps, 'orgs'>): Promise<OrgView> {
  const org = await deps.orgs.getOrg(orgId);
  if (!org) throw new OrgNotFoundError();
  return toOrgView(org);
}

/** `POST /v1/orgs/{orgId}/check`: one authenticated request that needs no mailbox; the outcome becomes the health. */
export async function checkOrg(orgId: string, deps: OrgApiDeps): Promise<OrgCheckResponse> {
  const org = await deps.orgs.getOrg(orgId);
  if (!org) throw new OrgNotFoundError();
  const access = await openOrgAccess(org, deps);
  try {
    await access.reader.check();
    await recordOrgHealth(deps.orgs, org, { ok: true }, deps.now(), 0);
    return { ok: true };
  } catch (error) {
    if (!(error instanceof MailServerError)) throw error;
    await recordOrgHealth(deps.orgs, org, { ok: false, error }, deps.now(), 0);
    return { ok: false, error: { code: error.kind, message: CHECK_MESSAGES[error.kind] } };
  }
}

const CHECK_MESSAGES: Record<MailServerError['kind'], string> = {
  timeout: 'the mail server did not answer within 3 seconds',
  unreachable: 'the mail server could not be reached',
  'address-refused': 'the mail server address is not one the relay may connect to',
  unauthorized: 'the mail server refused the credentials (username and password, or client id and secret)',
  forbidden: 'the account is not allowed to do this (ApplicationImpersonation role, or the Mail.Read application permission and scope)',
  'not-found': 'the mail server does not know the tenant, account or resource',
  throttled: 'the mail server is throttling the account; try again later',
  'server-error': 'the mail server answered with an error',
  'malformed-response': 'the mail server answered something that is not EWS or Graph',
  'response-too-large': 'the mail server answered with an unexpectedly large body',
};

/** `DELETE /v1/orgs/{orgId}`: back to the default mode; the devices' organization-mode data goes first. */
export async function deleteOrg(orgId: string, deps: Pick<OrgApiDeps, 'orgs' | 'clearOrgDevices'>): Promise<void> {
  await deps.clearOrgDevices(orgId);
  await deps.orgs.deleteOrg(orgId);
}
