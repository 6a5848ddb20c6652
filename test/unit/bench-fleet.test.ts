import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../functions/_lib/device-secrets.js';
import { callbackKey, deviceKey, mailboxKey, pushTokenKey } from '../../functions/_lib/adapters/table-design.js';
import { fleetItems, fleetMember, type FleetTemplate } from '../../bench/support/fleet.js';

/** The benchmarks' fleet: items cloned per member must never repeat a key (BatchWriteItem refuses duplicates). */
describe('bench fleet seeding', () => {
  const templateToken = 'f00d'.repeat(16);
  const template: FleetTemplate = {
    items: [
      { ...pushTokenKey(hashSecret(templateToken)), deviceId: 'template-device' },
      { ...callbackKey('template-callback'), deviceId: 'template-device', mailboxId: 'bench-template-mailbox' },
      { ...mailboxKey('template-device', 'bench-template-mailbox'), callbackKey: 'template-callback', subscriptionId: 'bench-template-subscription' },
      { ...deviceKey('template-device'), orgId: 'bench-org', pushToken: templateToken, secretHash: 'template-secret' },
    ],
    sharedItems: [{ pk: 'ORG#bench-org', sk: 'DEVICE-COUNT', devices: 1 }],
    replacements: {
      deviceId: 'template-device',
      secretHash: 'template-secret',
      callbackKey: 'template-callback',
      clientStateHash: 'template-client-state',
      pushTokenHash: hashSecret(templateToken),
    },
  };

  it('gives every member its own keys, the push-token claim keyed by its own token', () => {
    const keys = new Set<string>();
    for (let index = 0; index < 50; index++) {
      const member = fleetMember('salt', index);
      const items = fleetItems(template, member);
      for (const item of items) keys.add(`${String(item.pk)}|${String(item.sk)}`);
      expect(items).toContainEqual({ ...pushTokenKey(hashSecret(member.pushToken)), deviceId: member.deviceId });
    }
    expect(keys.size).toBe(50 * template.items.length);
  });
});
