import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FleetProviderToken } from '../../functions/_lib/adapters/apns-fleet-token.js';
import { ApnsProviderToken, ApnsTokenSigner } from '../../functions/_lib/adapters/apns-provider-token.js';
import { ApnsPushGateway } from '../../functions/_lib/adapters/apns-push-gateway.js';
import { DynamoDbProviderTokenStore } from '../../functions/_lib/adapters/dynamodb-provider-token-store.js';
import { generateApnsTestKey, startApnsSandbox, type ApnsSandbox, type RecordedPush } from '../../infra/local/apns-sandbox.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import type { ProviderTokenStore, SharedProviderToken } from '../../shared/push/provider-token-store.js';
import type { PushMessage, PushResult, PushTarget } from '../../shared/push/push-gateway.js';
import { InMemoryProviderTokenStore } from '../../shared/store/in-memory-provider-token-store.js';
import { withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';

/**
 * Several gateway instances (one per simulated Lambda instance, each with its own signer and memory) share one token
 * store, against an APNs peer that enforces Apple's 20-minute floor between new provider tokens.
 */

const TOPIC = 'com.example.inboxrelay';
const KEY_ID = 'KEYID12345';
const TEAM_ID = 'TEAMID6789';
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 7, 3, 0, 0);
const INSTANCES = 5;
const key = generateApnsTestKey();

const alert: PushMessage = {
  kind: 'alert',
  priority: 10,
  payload: { aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'inbox' }, mailbox: 'inbox' },
};
const targetOf = (n: number): PushTarget => ({
  deviceId: `device-${n}`,
  pushToken: n.toString(16).padStart(2, '0').repeat(32),
  environment: 'production',
});

/** The relay's clock, and how far ahead of it the APNs peer's runs. */
const clock = { now: T0, apnsAheadMs: 0 };
let sandbox: ApnsSandbox;
let local: LocalBackendsHarness;
const gateways: ApnsPushGateway[] = [];

beforeAll(async () => {
  [sandbox, local] = await Promise.all([
    startApnsSandbox({
      topic: TOPIC,
      keyId: KEY_ID,
      teamId: TEAM_ID,
      publicKeyPem: key.publicKeyPem,
      clock: () => clock.now + clock.apnsAheadMs,
      tokenUpdateFloorMs: 20 * MINUTE,
    }),
    withLocalBackends(),
  ]);
});
afterAll(async () => {
  await Promise.all([sandbox?.stop(), local?.stop()]);
});
beforeEach(() => {
  clock.now = T0;
  clock.apnsAheadMs = 0;
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
  sandbox.reset();
});

/** Counts what reached the store and can make its next reads fail, like a DynamoDB outage seen by one instance. */
class ObservedStore implements ProviderTokenStore {
  reads = 0;
  stored = 0;
  failReads = 0;
  constructor(private readonly inner: ProviderTokenStore) {}
  async read(k: { keyId: string; teamId: string }): Promise<SharedProviderToken | undefined> {
    this.reads += 1;
    if (this.failReads > 0) {
      this.failReads -= 1;
      throw new Error('store unavailable');
    }
    return this.inner.read(k);
  }
  async replace(next: SharedProviderToken, replacing: number | undefined): Promise<boolean> {
    const won = await this.inner.replace(next, replacing);
    if (won) this.stored += 1;
    return won;
  }
}

function gatewayWith(token: ApnsProviderToken | FleetProviderToken): ApnsPushGateway {
  const gateway = new ApnsPushGateway({
    production: sandbox.url,
    sandbox: sandbox.url,
    topic: TOPIC,
    token,
    retry: { attempts: 3 },
    random: () => 0.5,
    sleep: async () => undefined,
  });
  gateways.push(gateway);
  return gateway;
}

/** One instance: its own signer (its own copy of the key) and its own memory; only the store is shared. */
function fleetInstance(store: ProviderTokenStore, onStoreError?: (error: unknown) => void): ApnsPushGateway {
  const signer = new ApnsTokenSigner({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: key.privateKeyPem });
  return gatewayWith(new FleetProviderToken({ signer, store, clock: () => clock.now, onStoreError }));
}

/** Every instance sends `perInstance` pushes at once. */
async function pushFromAll(instances: ApnsPushGateway[], perInstance: number): Promise<Array<PushResult | Error>> {
  const sends = instances.flatMap((gateway, i) =>
    Array.from({ length: perInstance }, (_, j) => gateway.send(targetOf(i * perInstance + j + 1), alert).catch((error: Error) => error)),
  );
  return Promise.all(sends);
}

const bearer = (push: RecordedPush): string => push.headers['authorization'] ?? '';
const tokensAccepted = (pushes: RecordedPush[]): Set<string> => new Set(pushes.filter((p) => p.status === 200).map(bearer));
const iatOf = (authorization: string): number =>
  (JSON.parse(Buffer.from(authorization.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number }).iat;

describe('the APNs peer with a 20-minute floor between provider tokens', () => {
  it('refuses all but one instance when every instance mints its own token (the problem the fleet token solves)', async () => {
    const instances = Array.from({ length: INSTANCES }, () =>
      gatewayWith(new ApnsProviderToken({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: key.privateKeyPem, clock: () => clock.now })),
    );

    const results = await pushFromAll(instances, 1);

    expect(results.filter((r) => !(r instanceof Error) && r.outcome === 'delivered')).toHaveLength(1);
    const refused = results.filter((r): r is RetryableDeliveryError => r instanceof RetryableDeliveryError);
    expect(refused.map((r) => r.reason)).toEqual(Array(INSTANCES - 1).fill('TooManyProviderTokenUpdates'));
  });
});

describe.each([
  ['in memory', () => new InMemoryProviderTokenStore()],
  ['DynamoDB (dynalite)', () => new DynamoDbProviderTokenStore(local.clients.documentClient, local.backends.tableName)],
])('one provider token for the fleet, stored %s', (_name, makeStore) => {
  let store: ObservedStore;
  beforeEach(() => {
    store = new ObservedStore(makeStore());
  });

  it('has every instance present the same token, renewed once per refresh period for the whole fleet', async () => {
    await resetStoredToken(store);
    const instances = Array.from({ length: INSTANCES }, () => fleetInstance(store));

    const cold = await pushFromAll(instances, 3);
    expect(cold.every((r) => !(r instanceof Error) && r.outcome === 'delivered')).toBe(true);
    expect(tokensAccepted(sandbox.pushes()).size).toBe(1);
    expect(store.stored).toBe(1);

    // 30 minutes on: every instance still sends the token from memory, without asking the store.
    clock.now = T0 + 30 * MINUTE;
    const readsBefore = store.reads;
    await pushFromAll(instances, 3);
    expect(store.reads).toBe(readsBefore);
    expect(tokensAccepted(sandbox.pushes()).size).toBe(1);

    // 51 minutes on, past the 50-minute refresh: one instance renews it, all of them send the renewed one.
    clock.now = T0 + 51 * MINUTE;
    sandbox.clear();
    const renewed = await pushFromAll(instances, 3);
    expect(renewed.every((r) => !(r instanceof Error) && r.outcome === 'delivered')).toBe(true);
    const after = sandbox.pushes();
    expect(new Set(after.map(bearer)).size).toBe(1);
    expect(iatOf(bearer(after[0]!))).toBe((T0 + 51 * MINUTE) / 1000);
    expect(after.every((p) => p.status === 200)).toBe(true);
    expect(store.stored).toBe(2);
  });

  it('answers ExpiredProviderToken with one renewal for the fleet, not one per instance', async () => {
    await resetStoredToken(store);
    const instances = Array.from({ length: INSTANCES }, () => fleetInstance(store));
    await pushFromAll(instances, 1);
    const [first] = tokensAccepted(sandbox.pushes());

    // The peer's clock runs 40 minutes ahead: at 25 minutes by ours the token is 65 minutes old by Apple's.
    clock.now = T0 + 25 * MINUTE;
    clock.apnsAheadMs = 40 * MINUTE;
    sandbox.clear();
    const results = await pushFromAll(instances, 2);

    expect(results.every((r) => !(r instanceof Error) && r.outcome === 'delivered')).toBe(true);
    const pushes = sandbox.pushes();
    expect(new Set(pushes.filter((p) => p.reason === 'ExpiredProviderToken').map(bearer))).toEqual(new Set([first]));
    const accepted = tokensAccepted(pushes);
    expect(accepted.size).toBe(1);
    expect(accepted.has(first!)).toBe(false);
    expect(pushes.some((p) => p.reason === 'TooManyProviderTokenUpdates')).toBe(false);
    expect(store.stored).toBe(2);
  });

  it('answers TooManyProviderTokenUpdates by taking the fleet token, never by minting another', async () => {
    await resetStoredToken(store);
    const warm = Array.from({ length: INSTANCES - 1 }, () => fleetInstance(store));
    await pushFromAll(warm, 1);
    const [fleetToken] = tokensAccepted(sandbox.pushes());

    // A new instance starts a minute later while the store is unreachable for it: it signs its own token.
    clock.now = T0 + MINUTE;
    const storeErrors: unknown[] = [];
    store.failReads = 1;
    const latecomer = fleetInstance(store, (error) => storeErrors.push(error));
    sandbox.clear();
    const result = await latecomer.send(targetOf(99), alert);

    expect(result.outcome).toBe('delivered');
    expect(storeErrors).toHaveLength(1);
    const [refused, accepted, ...rest] = sandbox.pushes();
    expect(rest).toEqual([]);
    expect(refused?.reason).toBe('TooManyProviderTokenUpdates');
    expect(bearer(refused!)).not.toBe(fleetToken);
    expect(bearer(accepted!)).toBe(fleetToken);
    expect(store.stored).toBe(1);
    // And it keeps sending the fleet's token.
    await latecomer.send(targetOf(98), alert);
    expect(bearer(sandbox.pushes().at(-1)!)).toBe(fleetToken);
  });
});

describe('FleetProviderToken and key rotation', () => {
  it('does not reuse a stored token that another key signed, even under the same key id', async () => {
    const store = new InMemoryProviderTokenStore();
    const otherKey = generateApnsTestKey();
    const impostorSigner = new ApnsTokenSigner({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: otherKey.privateKeyPem });
    const impostor = impostorSigner.mint(T0);
    await store.replace({ keyId: KEY_ID, teamId: TEAM_ID, sealedJwt: impostorSigner.seal(impostor), issuedAtMs: T0 }, undefined);

    const signer = new ApnsTokenSigner({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: key.privateKeyPem });
    const token = await new FleetProviderToken({ signer, store, clock: () => T0 + MINUTE }).current();

    expect(token).not.toBe(impostor.jwt);
    expect(signer.recognize(token)?.issuedAtMs).toBe(T0 + MINUTE);
    const stored = await store.read({ keyId: KEY_ID, teamId: TEAM_ID });
    expect(signer.unseal(stored!.sealedJwt)?.jwt).toBe(token);
    // Sealed: the stored text is not the bearer token, and another key cannot open it.
    expect(stored!.sealedJwt.includes(token.split('.')[2]!)).toBe(false);
    expect(impostorSigner.unseal(stored!.sealedJwt)).toBeUndefined();
  });

  it('keeps one row per key id, so the new key and the old one never take each other’s token', async () => {
    const store = new InMemoryProviderTokenStore();
    const rotatedKey = generateApnsTestKey();
    const oldSigner = new ApnsTokenSigner({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: key.privateKeyPem });
    const newSigner = new ApnsTokenSigner({ keyId: 'NEWKEY6789', teamId: TEAM_ID, privateKeyPem: rotatedKey.privateKeyPem });

    const oldToken = await new FleetProviderToken({ signer: oldSigner, store, clock: () => T0 }).current();
    const newToken = await new FleetProviderToken({ signer: newSigner, store, clock: () => T0 + MINUTE }).current();

    expect(newSigner.recognize(newToken)).toBeDefined();
    expect(oldSigner.recognize(newToken)).toBeUndefined();
    expect(await new FleetProviderToken({ signer: oldSigner, store, clock: () => T0 + 2 * MINUTE }).current()).toBe(oldToken);
  });
});

/** The dynalite table outlives a test; start each from an empty row for this key. */
async function resetStoredToken(store: ObservedStore): Promise<void> {
  const stored = await store.read({ keyId: KEY_ID, teamId: TEAM_ID });
  if (stored !== undefined) {
    // An old token (issued long before T0) stands for none: the fleet must replace it, as after an hour of quiet.
    const signer = new ApnsTokenSigner({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: key.privateKeyPem });
    const stale = signer.mint(T0 - 24 * 60 * MINUTE);
    await store.replace({ keyId: KEY_ID, teamId: TEAM_ID, sealedJwt: signer.seal(stale), issuedAtMs: stale.issuedAtMs }, stored.issuedAtMs);
  }
  store.reads = 0;
  store.stored = 0;
}
