import type { DeviceEventsResponse } from '../../shared/device/device-schemas.js';
import { DECISION_RETENTION_MS, DEVICE_EVENTS_LIMIT, type DeviceRecord } from '../../shared/store/ports.js';
import type { DeviceApiDeps } from './deps.js';

/** Why each notification was or was not pushed, newest first, the last 7 days (all of them, up to a bound no device reaches). */
export async function listDecisions(device: DeviceRecord, deps: Pick<DeviceApiDeps, 'decisions' | 'now'>): Promise<DeviceEventsResponse> {
  const events = await deps.decisions.list(device.deviceId, deps.now() - DECISION_RETENTION_MS, DEVICE_EVENTS_LIMIT);
  return { events };
}
