import { ConcurrentUpdateError } from '../errors.js';
import type { OrgHealth, OrgRecord, OrgStore } from '../org/ports.js';

/** OrgStore in memory, for unit tests: the same conditional-write rules as DynamoDbOrgStore. */
export class InMemoryOrgStore implements OrgStore {
  readonly orgs = new Map<string, OrgRecord>();

  async getOrg(orgId: string): Promise<OrgRecord | undefined> {
    const org = this.orgs.get(orgId);
    return org ? structuredClone(org) : undefined;
  }

  async putOrg(record: Omit<OrgRecord, 'revision' | 'health'>, options: { ifRevision: number }): Promise<OrgRecord> {
    const existing = this.orgs.get(record.orgId);
    if ((existing?.revision ?? 0) !== options.ifRevision) throw new ConcurrentUpdateError();
    const stored: OrgRecord = { ...structuredClone(record), revision: options.ifRevision + 1, ...(existing?.health ? { health: existing.health } : {}) };
    this.orgs.set(record.orgId, stored);
    return structuredClone(stored);
  }

  async recordHealth(orgId: string, health: OrgHealth): Promise<void> {
    const existing = this.orgs.get(orgId);
    if (existing) existing.health = { ...health };
  }

  async deleteOrg(orgId: string): Promise<void> {
    this.orgs.delete(orgId);
  }
}
