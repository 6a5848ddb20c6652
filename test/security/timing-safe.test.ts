import { beforeEach, describe, expect, it, vi } from 'vitest';

// Spy on the comparison the secrets module uses, keeping its behaviour.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const { timingSafeEqual } = await import('node:crypto');
const { hashSecret, newSecret, secretMatches } = await import('../../functions/_lib/device-secrets.js');
const { authenticateDevice } = await import('../../functions/device-api/authenticate-device.js');
const { createInMemoryStores } = await import('../../shared/store/in-memory-stores.js');
const { makeDevice, makeMailbox } = await import('../support/store-fixtures.js');

/**
 * Device secrets are compared in constant time: both sides are hashed to SHA-256 first, so the comparison always runs
 * over equal lengths whatever is presented, and it is crypto.timingSafeEqual, not ===. Timing itself is not measured
 * (no timing thresholds); what is asserted is that no presented secret reaches a comparison that could end early.
 */
describe('device secret comparison', () => {
  const spy = vi.mocked(timingSafeEqual);
  const secret = newSecret();

  beforeEach(() => {
    spy.mockClear();
  });

  it.each([
    ['the right secret', secret, true],
    ['a wrong secret of the same length', secret.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), false],
    ['a truncated secret', secret.slice(0, 10), false],
    ['an empty secret', '', false],
    ['a 10,000-character secret', 'x'.repeat(10_000), false],
    ['the stored hash itself', hashSecret(secret), false],
  ])('compares %s with timingSafeEqual over equal-length buffers', (_, presented, expected) => {
    expect(secretMatches(presented, hashSecret(secret))).toBe(expected);
    expect(spy).toHaveBeenCalledTimes(1);
    const [a, b] = spy.mock.calls[0]! as [Buffer, Buffer];
    expect(a.length).toBe(b.length);
  });

  it('authenticates a device through that comparison, for right and wrong secrets alike', async () => {
    const stores = createInMemoryStores();
    await stores.devices.createDevice(
      makeDevice({ deviceId: 'device-1', secretHash: hashSecret(secret) }),
      [makeMailbox('device-1', { mailboxId: 'inbox', kind: 'primary', callbackKey: 'k' })],
    );
    await expect(authenticateDevice('device-1', secret, { devices: stores.devices })).resolves.toMatchObject({ deviceId: 'device-1' });
    await expect(authenticateDevice('device-1', secret.slice(1), { devices: stores.devices })).rejects.toMatchObject({ code: 'forbidden' });
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
