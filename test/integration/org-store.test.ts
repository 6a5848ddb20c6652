import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrgStore, orgKey } from '../../functions/_lib/adapters/dynamodb-org-store.js';
import { LocalOrgKeyring } from '../../functions/_lib/adapters/local-org-keyring.js';
import { open, seal, secretContext } from '../../functions/_lib/org-secrets.js';
import { ConcurrentUpdateError } from '../../shared/errors.js';
import type { OrgRecord, OrgStore } from '../../shared/org/ports.js';
import { InMemoryOrgStore } from '../../shared/store/in-memory-org-store.js';
import { withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';
import { T0, uniqueId } from '../support/store-fixtures.js';

let local: LocalBackendsHarness;
beforeAll(async () => {
  local = await withLocalBackends();
});
afterAll(() => local?.stop());

const keyring = LocalOrgKeyring.inMemory();

async function newOrg(orgId: string, password = 'correct horse battery staple'): Promise<Omit<OrgRecord, 'revision' | 'health'>> {
  const { dataKey, wrapped } = await keyring.newDataKey(orgId);
  return {
    orgId,
    detailedAlerts: 'encrypted',
    mailServer: { type: 'ews', url: 'https://mail.example.com/EWS/Exchange.asmx', username: 'svc-relay', auth: 'basic' },
    sealedSecret: seal(dataKey, secretContext(orgId), password),
    wrappedDataKey: wrapped,
    createdAt: T0,
    updatedAt: T0,
  };
}

function describeOrgStore(label: string, create: () => OrgStore): void {
  describe(`${label}: OrgStore`, () => {
    it('creates, reads, replaces and deletes an org, keeping the secret sealed', async () => {
      const store = create();
      const orgId = uniqueId('org');
      const created = await store.putOrg(await newOrg(orgId), { ifRevision: 0 });
      expect(created.revision).toBe(1);
      const read = (await store.getOrg(orgId))!;
      const dataKey = await keyring.openDataKey(orgId, read.wrappedDataKey);
      expect(open(dataKey, secretContext(orgId), read.sealedSecret)).toBe('correct horse battery staple');
      const replaced = await store.putOrg({ ...read, detailedAlerts: 'off', updatedAt: T0 + 1 }, { ifRevision: 1 });
      expect([replaced.revision, replaced.detailedAlerts]).toEqual([2, 'off']);
      await store.deleteOrg(orgId);
      expect(await store.getOrg(orgId)).toBeUndefined();
    });

    it('refuses a create over an existing org and a replace from a stale revision', async () => {
      const store = create();
      const orgId = uniqueId('org');
      await store.putOrg(await newOrg(orgId), { ifRevision: 0 });
      await expect(store.putOrg(await newOrg(orgId), { ifRevision: 0 })).rejects.toThrow(ConcurrentUpdateError);
      await store.putOrg(await newOrg(orgId), { ifRevision: 1 });
      await expect(store.putOrg(await newOrg(orgId), { ifRevision: 1 })).rejects.toThrow(ConcurrentUpdateError);
    });

    it('keeps the health across a replace and ignores health for a missing org', async () => {
      const store = create();
      const orgId = uniqueId('org');
      await store.putOrg(await newOrg(orgId), { ifRevision: 0 });
      await store.recordHealth(orgId, { at: T0 + 5, ok: false, error: 'timeout' });
      await store.putOrg(await newOrg(orgId), { ifRevision: 1 });
      expect((await store.getOrg(orgId))!.health).toEqual({ at: T0 + 5, ok: false, error: 'timeout' });
      await store.recordHealth(uniqueId('missing'), { at: T0, ok: true });
    });
  });
}

describeOrgStore('in memory', () => new InMemoryOrgStore());
describeOrgStore('DynamoDB on dynalite', () => new DynamoDbOrgStore(local.clients.documentClient, local.backends.tableName));

describe('DynamoDB org item', () => {
  it('holds neither the password nor the data key in clear', async () => {
    const store = new DynamoDbOrgStore(local.clients.documentClient, local.backends.tableName);
    const orgId = uniqueId('org');
    await store.putOrg(await newOrg(orgId, 'the-password-in-clear'), { ifRevision: 0 });
    const item = (await local.clients.documentClient.send(new GetCommand({ TableName: local.backends.tableName, Key: orgKey(orgId) }))).Item;
    expect(JSON.stringify(item)).not.toContain('the-password-in-clear');
    expect(item).toMatchObject({ pk: `ORG#${orgId}`, sk: 'META' });
  });
});
