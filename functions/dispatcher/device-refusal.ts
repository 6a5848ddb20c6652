import type { DecisionOutcome } from '../../shared/device/device-schemas.js';
import type { DeviceRecord } from '../../shared/store/ports.js';

/** Why nothing is pushed to a device at all, as a decision; undefined when it is active. */
export function retiredDeviceRefusal(device: Pick<DeviceRecord, 'status' | 'retiredReason'>): { outcome: DecisionOutcome; reason: string } | undefined {
  return device.status === 'active' ? undefined : { outcome: 'token-retired', reason: `device-retired:${device.retiredReason ?? 'unknown'}` };
}

/**
 * Why a device gets no new-mail alert whatever the mail, as a decision: it is retired, or it opted out of real time
 * (interval mode: it syncs on its wake-ups instead, contract sections 4 and 6). Undefined when the alert rules decide.
 * One place for the new-mail path (`judgeRecords`) and the flush of held alerts, so that a new device state is added
 * once.
 */
export function newMailRefusal(device: Pick<DeviceRecord, 'status' | 'retiredReason' | 'mode'>): { outcome: DecisionOutcome; reason: string } | undefined {
  return retiredDeviceRefusal(device) ?? (device.mode === 'interval' ? { outcome: 'suppressed', reason: 'mode:interval' } : undefined);
}
