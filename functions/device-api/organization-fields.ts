import type { DeviceOrganization } from '../../shared/org/org-schemas.js';
import type { AlertPublicKey } from '../../shared/org/alert-details.js';
import { ADDRESS_PROOF_MAX_AGE_MS, type AddressProof, type ManagedBy } from '../../shared/org/device-org-fields.js';
import { AddressNotProvenError, AddressRequiredError, MailServerUnavailableError, OrganizationModeOffError } from '../../shared/org/org-errors.js';
import { MailServerError, type MessageDetailsReaderFactory, type OrgKeyring, type OrgRecord, type OrgStore } from '../../shared/org/ports.js';
import type { MailboxOrganizationFields, MailboxRecord } from '../../shared/store/ports.js';
import { assertUsableAlertKey } from '../_lib/alert-encryption.js';
import { loadOnce } from '../_lib/load-once.js';
import type { OrgAccess } from '../_lib/org-access.js';

/**
 * The device API's side of organization mode (contract sections 3 and 8): which fields a device may send, the proof
 * that it can read a mailbox it names, and turning what it sends into what is stored (VIP senders as keyed hashes,
 * addresses sealed under the org's data key). In the default mode every such field is refused, so nothing that names
 * a person is ever stored there.
 */
export interface DeviceOrganizationDeps {
  orgs: OrgStore;
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  now: () => number;
}

/**
 * The org's keys and secrets (org-access.ts, org-secrets.ts), loaded when a request first needs them: only in
 * organization mode, so a default-mode deployment's cold start does without them (issue 15).
 */
const orgCrypto = loadOnce(async () => {
  const [access, secrets] = await Promise.all([import('../_lib/org-access.js'), import('../_lib/org-secrets.js')]);
  return { ...access, ...secrets };
});

/** One request's view of the device's organization: the record (or none: default mode), opened only when needed. */
export class OrganizationContext {
  private opened: Promise<OrgAccess> | undefined;

  private constructor(
    readonly org: OrgRecord | undefined,
    private readonly deps: DeviceOrganizationDeps,
  ) {}

  static async load(orgId: string, deps: DeviceOrganizationDeps): Promise<OrganizationContext> {
    return new OrganizationContext(await deps.orgs.getOrg(orgId), deps);
  }

  get view(): DeviceOrganization {
    return this.org ? { mode: 'organization', detailedAlerts: this.org.detailedAlerts } : { mode: 'default', detailedAlerts: 'off' };
  }

  /** The org opened (data key, VIP key, reader); only in organization mode. */
  access(): Promise<OrgAccess> {
    if (!this.org) throw new Error('no organization to open');
    const org = this.org;
    this.opened ??= orgCrypto().then(({ openOrgAccess }) => openOrgAccess(org, this.deps));
    return this.opened;
  }

  /** Refuses organization-mode fields in the default mode, naming them (`managedBy: "device"` is always accepted). */
  refuseInDefaultMode(fields: Record<string, unknown>): void {
    if (this.org) return;
    const sent = Object.entries(fields)
      .filter(([name, value]) => value !== undefined && value !== null && !(name.endsWith('managedBy') && value === 'device'))
      .map(([name]) => name);
    if (sent.length > 0) throw new OrganizationModeOffError(sent);
  }

  /** VIP senders as the org's keyed hashes (deduplicated; compared case-insensitively). */
  async vipSenderHashes(vipSenders: string[]): Promise<string[]> {
    const [{ vipKey }, { hashVipSender }] = await Promise.all([this.access(), orgCrypto()]);
    return [...new Set(vipSenders.map((address) => hashVipSender(vipKey, address)))];
  }

  /** Checks a device's alertKey beyond its shape: a usable P-256 public point. */
  checkAlertKey(alertKey: AlertPublicKey, field = 'alertKey'): AlertPublicKey {
    assertUsableAlertKey(alertKey, field);
    return { kty: alertKey.kty, crv: alertKey.crv, x: alertKey.x, y: alertKey.y };
  }

  /**
   * What to store for a mailbox's organization-mode fields, proving a new address first, and the address in clear
   * (for the relay's own subscription, section 9). Undefined when the device sent none. `current` is the mailbox as
   * stored (a PATCH): an unchanged address needs no new proof.
   */
  async mailboxFields(input: {
    deviceId: string;
    mailboxId: string;
    address?: string | null;
    addressProof?: AddressProof | null;
    managedBy?: ManagedBy | null;
    current?: Pick<MailboxRecord, 'sealedAddress' | 'managedBy'>;
    path: string;
  }): Promise<{ stored: MailboxOrganizationFields; address: string | undefined; addressChanged: boolean } | undefined> {
    const { deviceId, mailboxId, current } = input;
    this.refuseInDefaultMode({ [`${input.path}address`]: input.address, [`${input.path}addressProof`]: input.addressProof, [`${input.path}managedBy`]: input.managedBy });
    if (!this.org) return undefined;
    if (input.address === undefined && input.addressProof === undefined && input.managedBy === undefined) return undefined;
    const { addressContext, normalizeAddress, seal } = await orgCrypto();

    const currentAddress = current?.sealedAddress ? await this.openAddress(deviceId, mailboxId, current.sealedAddress) : undefined;
    const address = input.address === undefined ? currentAddress : (input.address ?? undefined);
    const managedBy = input.managedBy === undefined ? current?.managedBy : (input.managedBy ?? undefined);
    if (managedBy === 'relay' && address === undefined) throw new AddressRequiredError();

    let sealedAddress: string | null = current?.sealedAddress ?? null;
    if (address === undefined) {
      sealedAddress = null;
    } else if (currentAddress === undefined || normalizeAddress(address) !== normalizeAddress(currentAddress) || input.addressProof) {
      if (!input.addressProof) throw new AddressNotProvenError();
      await this.prove(address, input.addressProof);
      const { dataKey } = await this.access();
      sealedAddress = seal(dataKey, addressContext(this.org.orgId, deviceId, mailboxId), address.trim());
    }
    const addressChanged = address === undefined || currentAddress === undefined ? address !== currentAddress : normalizeAddress(address) !== normalizeAddress(currentAddress);
    return { stored: { sealedAddress, managedBy: managedBy ?? null }, address: address?.trim(), addressChanged };
  }

  /** The protocol of the relay's own subscriptions for this org: its mail server's. */
  get managedProtocol(): 'graph' | 'ews' {
    if (!this.org) throw new Error('no organization: the relay manages no subscription in the default mode');
    return this.org.mailServer.type;
  }

  /** The organization part of the device view: the mode and the mailboxes' addresses in clear. */
  async viewPart(mailboxes: ReadonlyArray<Pick<MailboxRecord, 'deviceId' | 'mailboxId' | 'sealedAddress'>>): Promise<{ organization: DeviceOrganization; addresses: Map<string, string> }> {
    const addresses = new Map<string, string>();
    for (const mailbox of mailboxes) {
      const address = mailbox.sealedAddress ? await this.openAddress(mailbox.deviceId, mailbox.mailboxId, mailbox.sealedAddress) : undefined;
      if (address !== undefined) addresses.set(mailbox.mailboxId, address);
    }
    return { organization: this.view, addresses };
  }

  async openAddress(deviceId: string, mailboxId: string, sealed: string): Promise<string | undefined> {
    if (!this.org) return undefined;
    const { addressContext, open } = await orgCrypto();
    try {
      return open((await this.access()).dataKey, addressContext(this.org.orgId, deviceId, mailboxId), sealed);
    } catch {
      // Sealed under an earlier configuration of the org (deleted and created again): as good as no address.
      return undefined;
    }
  }

  /** Looks the message up in that mailbox's inbox with the service account; it must be at most 30 days old. */
  private async prove(address: string, proof: AddressProof): Promise<void> {
    const [{ reader, org }, { recordOrgHealth }] = await Promise.all([this.access(), orgCrypto()]);
    let receivedAt: string;
    try {
      receivedAt = await reader.inboxMessageReceivedAt(address, proof.messageId);
      await recordOrgHealth(this.deps.orgs, org, { ok: true }, this.deps.now());
    } catch (error) {
      if (error instanceof MailServerError && (error.kind === 'not-found' || error.kind === 'forbidden')) {
        // Not found: the server answered well, the device named a wrong message. Forbidden: the service account may
        // not read that mailbox (an access policy), which the operator should see.
        await recordOrgHealth(this.deps.orgs, org, error.kind === 'not-found' ? { ok: true } : { ok: false, error }, this.deps.now());
        throw new AddressNotProvenError();
      }
      await recordOrgHealth(this.deps.orgs, org, { ok: false, error }, this.deps.now());
      throw new MailServerUnavailableError({ cause: error });
    }
    const age = this.deps.now() - Date.parse(receivedAt);
    if (!(age <= ADDRESS_PROOF_MAX_AGE_MS && age >= -5 * 60_000)) throw new AddressNotProvenError();
  }
}
