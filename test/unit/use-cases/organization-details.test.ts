import { describe, expect, it } from 'vitest';
import { LocalOrgKeyring } from '../../../functions/_lib/adapters/local-org-keyring.js';
import { addressContext, hashVipSender, seal, secretContext, vipHashKey } from '../../../functions/_lib/org-secrets.js';
import { OrganizationDetails, type OrgDeviceFields } from '../../../functions/dispatcher/organization-details.js';
import { decryptAlert, exportAlertPublicKey, generateAlertKeyPair } from '../../../shared/client/alert-key.js';
import { DEFAULT_ALERT_SETTINGS } from '../../../shared/device/device-schemas.js';
import { MailServerError, type MessageDetails, type MessageDetailsReader } from '../../../shared/org/ports.js';
import { newMailPush } from '../../../shared/push/apns-payloads.js';
import { InMemoryOrgStore } from '../../../shared/store/in-memory-org-store.js';
import { RecordingLogger } from '../../support/fakes.js';

const ORG = 'acme';
// Monday 2026-12-07: 10:00 UTC is inside 09:00-18:00, 22:00 UTC is outside.
const INSIDE = Date.parse('2026-12-07T10:00:00Z');
const AFTER_HOURS = Date.parse('2026-12-07T22:00:00Z');
const VIP = 'CEO@Example.com';
const details: MessageDetails = { from: { name: 'The CEO', address: 'ceo@example.com' }, subject: 'Board meeting', preview: 'Tomorrow at nine', receivedAt: '2026-12-07T21:59:58.000Z' };

async function setup(options: { detailedAlerts?: 'off' | 'encrypted'; read?: (address: string, id: string) => Promise<MessageDetails> } = {}) {
  const orgs = new InMemoryOrgStore();
  const keyring = LocalOrgKeyring.inMemory();
  const { dataKey, wrapped } = await keyring.newDataKey(ORG);
  await orgs.putOrg(
    {
      orgId: ORG,
      detailedAlerts: options.detailedAlerts ?? 'encrypted',
      mailServer: { type: 'ews', url: 'https://mail.example.com/EWS/Exchange.asmx', username: 'svc', auth: 'basic' },
      sealedSecret: seal(dataKey, secretContext(ORG), 'pw'),
      wrappedDataKey: wrapped,
      createdAt: 0,
      updatedAt: 0,
    },
    { ifRevision: 0 },
  );
  const reads: Array<{ address: string; id: string }> = [];
  const reader: MessageDetailsReader = {
    readMessage: async (address, id) => {
      reads.push({ address, id });
      return options.read ? options.read(address, id) : details;
    },
    inboxMessageReceivedAt: async () => details.receivedAt,
    check: async () => undefined,
  };
  const logger = new RecordingLogger();
  const organization = new OrganizationDetails({ orgs, keyring, readers: () => reader, now: () => AFTER_HOURS, logger });
  const pair = await generateAlertKeyPair();
  const device: OrgDeviceFields = {
    orgId: ORG,
    timeZone: 'UTC',
    alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, vipAfterHours: true, showDetails: true },
    vipSenderHashes: [hashVipSender(vipHashKey(dataKey), VIP)],
    alertKey: await exportAlertPublicKey(pair.publicKey),
  };
  const mailbox = { deviceId: 'device-1', mailboxId: 'inbox', sealedAddress: seal(dataKey, addressContext(ORG, 'device-1', 'inbox'), 'ada@example.com') };
  const judge = (at: number, overrides: { device?: Partial<OrgDeviceFields>; itemId?: string | undefined; sealedAddress?: string | undefined } = {}) =>
    organization.judge({
      device: { ...device, ...overrides.device },
      mailbox: { ...mailbox, ...('sealedAddress' in overrides ? { sealedAddress: overrides.sealedAddress } : {}) },
      itemId: 'itemId' in overrides ? overrides.itemId : 'AAMkItem1',
      at,
      payloadWithoutEnc: () => newMailPush({ mailboxId: 'inbox', newMessages: 1 }).payload,
    });
  return { judge, reads, orgs, pair, logger };
}

describe('organization mode in the dispatcher', () => {
  it("lets a VIP's mail through after hours, matching the address case-insensitively, with reason vip", async () => {
    const { judge, reads } = await setup();
    const judgement = await judge(AFTER_HOURS);
    expect(judgement.decision).toEqual({ alert: true, rule: 'vip-after-hours' });
    expect(judgement.reason).toBe('vip');
    expect(reads).toEqual([{ address: 'ada@example.com', id: 'AAMkItem1' }]);
  });

  it("keeps a non-VIP's mail suppressed after hours", async () => {
    const { judge } = await setup({ read: async () => ({ ...details, from: { name: 'Someone', address: 'someone@example.com' } }) });
    const judgement = await judge(AFTER_HOURS);
    expect(judgement.decision).toEqual({ alert: false, rule: 'outside-work-hours' });
    expect(judgement.enc).toBeUndefined();
  });

  it('adds enc that the device decrypts to the sender and subject during work hours', async () => {
    const { judge, pair } = await setup();
    const judgement = await judge(INSIDE);
    expect(judgement.decision.alert).toBe(true);
    expect(await decryptAlert(judgement.enc!, pair.privateKey)).toEqual({ mailbox: 'inbox', ...details });
  });

  it('does not ask the mail server when nothing could change: details off and no VIP rule, or no address, or no item id', async () => {
    const off = await setup({ detailedAlerts: 'off' });
    expect((await off.judge(INSIDE)).enc).toBeUndefined();
    await off.judge(AFTER_HOURS, { device: { vipSenderHashes: [] } });
    await off.judge(AFTER_HOURS, { device: { alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, vipAfterHours: false } } });
    expect(off.reads).toHaveLength(0);
    const on = await setup();
    await on.judge(INSIDE, { device: { alertKey: undefined } });
    await on.judge(INSIDE, { device: { alerts: { ...DEFAULT_ALERT_SETTINGS, showDetails: false } } });
    await on.judge(AFTER_HOURS, { sealedAddress: undefined });
    await on.judge(AFTER_HOURS, { itemId: undefined });
    expect(on.reads).toHaveLength(0);
  });

  it('judges a failed fetch as a non-VIP without details, says fetch-failed and records the health', async () => {
    const { judge, orgs, logger } = await setup({ read: async () => Promise.reject(new MailServerError('timeout', '3000ms')) });
    expect(await judge(AFTER_HOURS)).toEqual({ decision: { alert: false, rule: 'outside-work-hours' }, reason: 'fetch-failed' });
    expect(await judge(INSIDE)).toEqual({ decision: { alert: true, rule: 'inside-work-hours' }, reason: 'fetch-failed' });
    expect((await orgs.getOrg(ORG))!.health).toMatchObject({ ok: false, error: 'timeout' });
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(logger.lines)).not.toMatch(/ada@example\.com|AAMkItem1/);
  });
});
