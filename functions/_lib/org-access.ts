import { MailServerError, type MessageDetailsReader, type MessageDetailsReaderFactory, type OrgHealth, type OrgKeyring, type OrgRecord, type OrgStore } from '../../shared/org/ports.js';
import type { SubscriptionManager, SubscriptionManagerFactory } from '../../shared/org/subscription-manager.js';
import { open, secretContext, vipHashKey } from './org-secrets.js';

/**
 * An organization ready to use: its record, its data key (to seal and open addresses), its VIP-hash key and a reader
 * for its mail server with the service account's secret opened. Built per request from the store and the keyring;
 * the keyring caches opened data keys, so on a warm container this costs no KMS call.
 */
export interface OrgAccess {
  org: OrgRecord;
  dataKey: Uint8Array;
  vipKey: Uint8Array;
  reader: MessageDetailsReader;
}

export interface OrgAccessDeps {
  orgs: OrgStore;
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
}

export async function openOrgAccess(org: OrgRecord, deps: Pick<OrgAccessDeps, 'keyring' | 'readers'>): Promise<OrgAccess> {
  const dataKey = await deps.keyring.openDataKey(org.orgId, org.wrappedDataKey);
  const secret = open(dataKey, secretContext(org.orgId), org.sealedSecret);
  return { org, dataKey, vipKey: vipHashKey(dataKey), reader: deps.readers(org.mailServer, secret) };
}

/**
 * The manager of the relay's own subscriptions (contract section 9) for the org's mail server, with the service
 * account's secret opened, and the org's data key (to open the mailboxes' sealed addresses).
 */
export async function openSubscriptionManager(
  org: OrgRecord,
  deps: { keyring: OrgKeyring; subscriptionManagers: SubscriptionManagerFactory },
): Promise<{ manager: SubscriptionManager; dataKey: Uint8Array }> {
  const dataKey = await deps.keyring.openDataKey(org.orgId, org.wrappedDataKey);
  return { manager: deps.subscriptionManagers(org.mailServer, open(dataKey, secretContext(org.orgId), org.sealedSecret)), dataKey };
}

/** The org in organization mode, opened; undefined in the default mode (no org record). */
export async function loadOrgAccess(orgId: string, deps: OrgAccessDeps): Promise<OrgAccess | undefined> {
  const org = await deps.orgs.getOrg(orgId);
  return org ? openOrgAccess(org, deps) : undefined;
}

/**
 * Records the outcome of a mail-server request as the org's `health`, but only when it says something new: a change
 * between ok and failing (or of the failure's kind), or the last record being older than `refreshMs`. So a busy org
 * costs one write a minute, not one per mail.
 */
export async function recordOrgHealth(
  orgs: Pick<OrgStore, 'recordHealth'>,
  org: Pick<OrgRecord, 'orgId' | 'health'>,
  outcome: { ok: true } | { ok: false; error: unknown },
  now: number,
  refreshMs = 60_000,
): Promise<OrgHealth> {
  const health: OrgHealth = outcome.ok ? { at: now, ok: true } : { at: now, ok: false, error: outcome.error instanceof MailServerError ? outcome.error.kind : 'server-error' };
  const previous = org.health;
  const changed = !previous || previous.ok !== health.ok || previous.error !== health.error || now - previous.at >= refreshMs;
  if (changed) {
    await orgs.recordHealth(org.orgId, health);
    org.health = health;
  }
  return health;
}
