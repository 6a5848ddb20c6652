import type { RelayRuntime } from '../_lib/relay-runtime.js';
import { clearOrgDevices } from './clear-org-devices.js';
import type { OrgApiHandlerDeps } from './edge.js';

export type OrgApiWiringOptions = Pick<OrgApiHandlerDeps, 'keyring' | 'readers' | 'policy' | 'adminTokenSecret'>;

/** The org API's deps, for the Lambda entry and the local runtime alike. */
export function buildOrgApiDeps(runtime: RelayRuntime, options: OrgApiWiringOptions): OrgApiHandlerDeps {
  const { devices, registry, mailboxes } = runtime.ports;
  const { orgs, now } = runtime;
  return {
    orgs,
    keyring: options.keyring,
    readers: options.readers,
    policy: options.policy,
    clearOrgDevices: (orgId) => clearOrgDevices(orgId, { orgs, devices, registry, mailboxes, now }),
    adminTokenSecret: options.adminTokenSecret,
    now,
  };
}
