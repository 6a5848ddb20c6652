import type { AlertSettings } from '../../shared/device/device-schemas.js';
import type { AlertPublicKey } from '../../shared/org/alert-details.js';
import { MailServerError, type MessageDetailsReaderFactory, type OrgKeyring, type OrgRecord, type OrgStore } from '../../shared/org/ports.js';
import { decideAlert, type AlertDecision } from '../../shared/rules/alert-rules.js';
import { encryptAlertDetails, maxEncBytesFor } from '../_lib/alert-encryption.js';
import { openOrgAccess, recordOrgHealth, type OrgAccess } from '../_lib/org-access.js';
import { addressContext, hashVipSender, open } from '../_lib/org-secrets.js';
import type { UseCaseLogger } from '../_lib/powertools.js';

/**
 * Organization mode in the dispatcher (contract sections 5 and 8): for one new mail, whether reading its sender,
 * subject and preview can change what is pushed, the read itself, the VIP judgement and the encrypted details.
 *
 * The mail server is asked only when the answer matters: a VIP rule that could apply now (the rules suppress the mail,
 * but would let a VIP through, and the device has VIP senders) or a detailed alert (the org has detailed alerts, the
 * device asked for them and has an alertKey, and the rules let the mail through). A failed or slow read leaves the mail
 * exactly what the rules give a non-VIP, with reason `fetch-failed`. The details exist only in this function's memory.
 */
export interface OrganizationDetailsDeps {
  orgs: Pick<OrgStore, 'getOrg' | 'recordHealth'>;
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  now: () => number;
  logger: UseCaseLogger;
}

/** The device and mailbox fields organization mode reads. */
export interface OrgDeviceFields {
  orgId: string;
  alerts: AlertSettings;
  timeZone: string;
  vipSenderHashes?: string[];
  alertKey?: AlertPublicKey;
}
export interface OrgMailboxFields {
  deviceId: string;
  mailboxId: string;
  sealedAddress?: string;
}

export interface OrganizationJudgement {
  decision: AlertDecision;
  /** Set when the decision differs from the plain rules' for a reason the why-log must show. */
  reason?: 'vip' | 'fetch-failed';
  /** The compact JWE for the push, when a detailed alert is due and fits. */
  enc?: string;
}

/** Org records read by this container, briefly: a burst of mail for one org reads the table once. */
const ORG_CACHE_MS = 30_000;

export class OrganizationDetails {
  private readonly orgCache = new Map<string, { org: OrgRecord | undefined; until: number }>();

  constructor(private readonly deps: OrganizationDetailsDeps) {}

  /**
   * Judges one new mail. `itemId` is the EWS ItemId or Graph message id the queue carried (organization mode only);
   * `payloadWithoutEnc` is the push as it would go out, to size `enc` so the whole payload stays within 4 KB.
   */
  async judge(input: {
    device: OrgDeviceFields;
    mailbox: OrgMailboxFields;
    itemId: string | undefined;
    at: number;
    payloadWithoutEnc: () => Record<string, unknown>;
  }): Promise<OrganizationJudgement> {
    const { device, mailbox, itemId, at } = input;
    const plain = decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(at) });
    if (!mailbox.sealedAddress || !itemId) return { decision: plain };
    const vipCouldApply =
      !plain.alert && device.alerts.vipAfterHours && (device.vipSenderHashes?.length ?? 0) > 0 && decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(at), senderIsVip: true }).alert;
    if (!plain.alert && !vipCouldApply) return { decision: plain };

    const org = await this.org(device.orgId);
    if (!org) return { decision: plain };
    const wantsDetails = org.detailedAlerts === 'encrypted' && device.alerts.showDetails && device.alertKey !== undefined;
    if (!vipCouldApply && !wantsDetails) return { decision: plain };

    let access: OrgAccess;
    let address: string;
    try {
      access = await openOrgAccess(org, this.deps);
      address = open(access.dataKey, addressContext(org.orgId, mailbox.deviceId, mailbox.mailboxId), mailbox.sealedAddress);
    } catch (error) {
      // A sealed value that does not open belongs to an earlier configuration of the org: judge as without details.
      this.deps.logger.warn('organization data could not be opened; judged without details', { error: (error as Error).name });
      return { decision: plain, reason: 'fetch-failed' };
    }
    let details;
    try {
      details = await access.reader.readMessage(address, itemId);
      await this.health(org, { ok: true });
    } catch (error) {
      const kind = error instanceof MailServerError ? error.kind : 'unexpected';
      // The kind and the protocol code only: never the address, the id or anything the server said.
      this.deps.logger.warn('message details could not be read', { kind, detail: error instanceof MailServerError ? error.detail : undefined });
      await this.health(org, { ok: false, error });
      return { decision: plain, reason: 'fetch-failed' };
    }

    const senderIsVip = vipCouldApply && device.vipSenderHashes!.includes(hashVipSender(access.vipKey, details.from.address));
    const decision = senderIsVip ? decideAlert({ alerts: device.alerts, timeZone: device.timeZone, at: new Date(at), senderIsVip }) : plain;
    const judgement: OrganizationJudgement = { decision, ...(decision.rule === 'vip-after-hours' ? { reason: 'vip' as const } : {}) };
    if (!decision.alert || !wantsDetails) return judgement;
    const enc = await encryptAlertDetails({ mailbox: mailbox.mailboxId, ...details }, device.alertKey!, maxEncBytesFor(input.payloadWithoutEnc()));
    if (!enc) this.deps.logger.info('detailed alert did not fit the payload; sent without enc');
    return enc ? { ...judgement, enc } : judgement;
  }

  private async org(orgId: string): Promise<OrgRecord | undefined> {
    const now = this.deps.now();
    const cached = this.orgCache.get(orgId);
    if (cached && cached.until > now) return cached.org;
    const org = await this.deps.orgs.getOrg(orgId);
    this.orgCache.set(orgId, { org, until: now + ORG_CACHE_MS });
    return org;
  }

  private async health(org: OrgRecord, outcome: { ok: true } | { ok: false; error: unknown }): Promise<void> {
    try {
      await recordOrgHealth(this.deps.orgs, org, outcome, this.deps.now());
    } catch (error) {
      this.deps.logger.warn('could not record the org health', { error: (error as Error).name });
    }
  }
}
