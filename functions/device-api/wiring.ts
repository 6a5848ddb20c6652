import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import type { DeviceApiDeps } from './deps.js';

export interface DeviceApiWiringOptions
  extends Pick<DeviceApiDeps, 'endpoints' | 'publicUrl' | 'orgTokenSecret' | 'maxDevicesPerOrg'>,
    Partial<Pick<DeviceApiDeps, 'sleep'>> {
  /** Organization mode: the key that opens organizations' data keys, and their mail servers (address proofs). */
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
}

/** The device API's deps, for the Lambda entry and the local runtime alike. */
export function buildDeviceApiDeps(runtime: RelayRuntime, options: DeviceApiWiringOptions): DeviceApiDeps {
  const { devices, registry, mailboxes, retirement, pushTokens, deviceQuota } = runtime.ports;
  return {
    devices,
    registry,
    mailboxes,
    retirement,
    pushTokens,
    deviceQuota,
    maxDevicesPerOrg: options.maxDevicesPerOrg,
    decisions: runtime.decisions,
    endpoints: options.endpoints,
    publicUrl: options.publicUrl,
    orgTokenSecret: options.orgTokenSecret,
    now: runtime.now,
    random: runtime.random,
    orgs: runtime.orgs,
    keyring: options.keyring,
    readers: options.readers,
    ...(options.sleep ? { sleep: options.sleep } : {}),
  };
}
