import { describe, expect, it } from 'vitest';
import { InMemoryDecisionLog } from '../../../shared/store/in-memory-decision-log.js';
import { InMemoryDedupeStore } from '../../../shared/store/in-memory-dedupe-store.js';
import { InMemoryDeviceStore } from '../../../shared/store/in-memory-device-store.js';
import { createInMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { InMemoryManagedSubscriptions } from '../../../shared/store/in-memory-managed-subscriptions.js';
import { describeStoreBehaviour } from '../../support/store-behaviour.js';
import { T0, makeDevice, makeMailbox } from '../../support/store-fixtures.js';

describeStoreBehaviour('in-memory stores', (now) => {
  const stores = createInMemoryStores({ now });
  return { ...stores, managed: new InMemoryManagedSubscriptions({ state: stores.state }) };
});

describe('in-memory stores built separately', () => {
  it('work on their own, each with its own state', async () => {
    const devices = new InMemoryDeviceStore();
    const dedupe = new InMemoryDedupeStore();
    const decisions = new InMemoryDecisionLog({ now: () => T0 });
    const device = makeDevice();
    await devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary' })]);
    await dedupe.claim({ deviceId: device.deviceId, keys: ['k'], claimant: 'm', now: T0, ttlSeconds: 60 });
    await decisions.record(device.deviceId, { at: new Date(T0).toISOString(), mailbox: 'p', outcome: 'pushed', reason: 'r' });

    await devices.deleteDevice(device.deviceId);

    expect(await devices.getDevice(device.deviceId)).toBeUndefined();
    // Not sharing a state, the log keeps what it has: share one through createInMemoryStores() to model the table.
    expect(await decisions.list(device.deviceId, 0)).toHaveLength(1);
    expect((await dedupe.claim({ deviceId: device.deviceId, keys: ['k'], claimant: 'other', now: T0, ttlSeconds: 60 })).get('k')).toBe('duplicate');
  });
});
