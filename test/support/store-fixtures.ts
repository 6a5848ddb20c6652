import { randomUUID } from 'node:crypto';
import { DEFAULT_ALERT_SETTINGS } from '../../shared/device/device-schemas.js';
import type { DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';

/** 2026-11-23T10:00:00Z: a fixed "now" for store tests. */
export const T0 = Date.parse('2026-11-23T10:00:00.000Z');

/** A fresh id, so tests sharing one table never see each other's items. */
export function uniqueId(prefix = 'id'): string {
  return `${prefix}-${randomUUID()}`;
}

/** An active device record with defaults; override what the test is about. */
export function makeDevice(overrides: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    deviceId: uniqueId('dev'),
    orgId: 'org-1',
    secretHash: 'c2VjcmV0LWhhc2g',
    pushToken: 'a'.repeat(64),
    pushTokenUpdatedAt: T0 - 60_000,
    apnsEnvironment: 'production',
    mode: 'realtime',
    intervalSeconds: 900,
    timeZone: 'UTC',
    alerts: structuredClone(DEFAULT_ALERT_SETTINGS),
    status: 'active',
    createdAt: T0 - 60_000,
    updatedAt: T0 - 60_000,
    ...overrides,
  };
}

/** A mailbox of `deviceId` with a fresh callback key; delegated unless overridden. */
export function makeMailbox(deviceId: string, overrides: Partial<MailboxRecord> = {}): MailboxRecord {
  return {
    deviceId,
    mailboxId: uniqueId('mbx'),
    kind: 'delegated',
    callbackKey: uniqueId('cb'),
    createdAt: T0 - 60_000,
    ...overrides,
  };
}
