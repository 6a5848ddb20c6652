import { ConcurrentUpdateError } from '../errors.js';
import type { OrgHealth, OrgRecord, OrgStore } from '../org/ports.js';

/** OrgStore in memory, for unit tests: the same conditional-write rules as DynamoDbOrgStore. */
export class InMemoryOrgStore implements OrgStore {
  readonly orgs = new Map<string, OrgRecord>();
  readonly members = new Map<string, Set<string>>();

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

  async addMember(orgId: string, deviceId: string): Promise<void> {
    const members = this.members.get(orgId) ?? new Set<string>();
    members.add(deviceId);
    this.members.set(orgId, members);
  }

  async listMembers(orgId: string): Promise<string[]> {
    return [...(this.members.get(orgId) ?? [])];
  }

  async removeMember(orgId: string, deviceId: string): Promise<void> {
    this.members.get(orgId)?.delete(deviceId);
  }
}
