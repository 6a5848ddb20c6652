import { readFile, mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { KmsOrgKeyring } from '../../../functions/_lib/adapters/kms-org-keyring.js';
import { CachingOrgKeyring, LOCAL_ORG_KEY_FILE, LocalOrgKeyring } from '../../../functions/_lib/adapters/local-org-keyring.js';
import { addressContext, hashVipSender, open, seal, SealedValueError, secretContext, vipHashKey } from '../../../functions/_lib/org-secrets.js';

const key = new Uint8Array(32).fill(7);

describe('secrets sealed under an org data key', () => {
  it('opens only with the same key and the same context', () => {
    const sealed = seal(key, secretContext('org-a'), 'hunter2');
    expect(sealed).not.toContain('hunter2');
    expect(open(key, secretContext('org-a'), sealed)).toBe('hunter2');
    expect(() => open(key, secretContext('org-b'), sealed)).toThrow(SealedValueError);
    expect(() => open(new Uint8Array(32).fill(8), secretContext('org-a'), sealed)).toThrow(SealedValueError);
    expect(() => open(key, addressContext('org-a', 'd', 'm'), sealed)).toThrow(SealedValueError);
  });

  it('refuses a tampered value', () => {
    const [version, iv, data] = seal(key, 'c', 'value').split('.') as [string, string, string];
    const tampered = `${version}.${iv}.${data.startsWith('A') ? 'B' : 'A'}${data.slice(1)}`;
    expect(() => open(key, 'c', tampered)).toThrow(SealedValueError);
  });
});

describe('VIP sender hashes', () => {
  it('compares addresses case-insensitively and ignores surrounding blanks', () => {
    const vipKey = vipHashKey(key);
    expect(hashVipSender(vipKey, 'CEO@Example.COM ')).toBe(hashVipSender(vipKey, 'ceo@example.com'));
    expect(hashVipSender(vipKey, 'ceo@example.com')).not.toBe(hashVipSender(vipKey, 'cfo@example.com'));
  });

  it('depends on the org key, so two orgs hash the same address differently', () => {
    expect(hashVipSender(vipHashKey(key), 'ceo@example.com')).not.toBe(hashVipSender(vipHashKey(new Uint8Array(32).fill(1)), 'ceo@example.com'));
  });
});

describe('the local keyring (npm start)', () => {
  it('keeps its key under DATA_DIR, mode 0600, and finds it again after a restart', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'org-keyring-'));
    const first = await LocalOrgKeyring.underDataDir(dataDir);
    const { dataKey, wrapped } = await first.newDataKey('org-a');
    const file = path.join(dataDir, LOCAL_ORG_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(first.description).toContain(file);
    const again = await LocalOrgKeyring.underDataDir(dataDir);
    expect(Buffer.from(await again.openDataKey('org-a', wrapped))).toEqual(Buffer.from(dataKey));
    await expect(again.openDataKey('org-b', wrapped)).rejects.toThrow(SealedValueError);
    expect(await readFile(file, 'utf8')).not.toContain(Buffer.from(dataKey).toString('base64url'));
  });
});

describe('the KMS keyring (AWS)', () => {
  it('asks KMS for a per-org data key and binds the org id as encryption context', async () => {
    const kms = mockClient(KMSClient);
    const plaintext = new Uint8Array(32).fill(3);
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: plaintext, CiphertextBlob: new Uint8Array([1, 2, 3]) });
    kms.on(DecryptCommand).resolves({ Plaintext: plaintext });
    const keyring = new KmsOrgKeyring(new KMSClient({ region: 'eu-west-1' }), 'alias/inbox-relay-orgs');
    const { dataKey, wrapped } = await keyring.newDataKey('org-a');
    expect(dataKey).toEqual(plaintext);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input).toMatchObject({ KeyId: 'alias/inbox-relay-orgs', KeySpec: 'AES_256', EncryptionContext: { orgId: 'org-a' } });
    await keyring.openDataKey('org-a', wrapped);
    expect(kms.commandCalls(DecryptCommand)[0]!.args[0].input).toMatchObject({ EncryptionContext: { orgId: 'org-a' } });
    kms.restore();
  });

  it('is asked once per org and cache period when cached', async () => {
    let calls = 0;
    let now = 0;
    const inner = {
      description: 'counting',
      newDataKey: async () => ({ dataKey: key, wrapped: 'w' }),
      openDataKey: async () => {
        calls++;
        return key;
      },
    };
    const cached = new CachingOrgKeyring(inner, { ttlMs: 1_000, now: () => now });
    await cached.openDataKey('org-a', 'w');
    await cached.openDataKey('org-a', 'w');
    expect(calls).toBe(1);
    now = 1_001;
    await cached.openDataKey('org-a', 'w');
    expect(calls).toBe(2);
  });
});
