import type { Decision } from '../device/device-schemas.js';
import type { DeviceRecord, MailboxRecord } from './ports.js';

/** A dedupe key as the in-memory store keeps it (the DynamoDB item's fields). */
export interface InMemoryDedupeEntry {
  claimant: string;
  state: 'pending' | 'done';
  outcome?: string;
  expiresAt: number;
}

/** A recorded decision and the order it was recorded in. */
export interface InMemoryDecisionEntry {
  decision: Decision;
  atMs: number;
  /** Epoch ms at which the decision counts as expired (the DynamoDB item's `ttl`, in ms). */
  expiresAtMs: number;
  sequence: number;
}

/**
 * What the in-memory stores share, mirroring the single DynamoDB table: everything of a device lives under one key,
 * so deleting the device also drops its dedupe keys and decisions. Build the stores together with
 * `createInMemoryStores()` (or hand them one state) when a test relies on that.
 */
export class InMemoryStoreState {
  readonly devices = new Map<string, DeviceRecord>();
  /** deviceId → mailboxId → mailbox. */
  readonly mailboxes = new Map<string, Map<string, MailboxRecord>>();
  /** callbackKey → lookup. */
  readonly callbacks = new Map<string, { deviceId: string; mailboxId: string }>();
  /** deviceId → key → entry. */
  readonly dedupe = new Map<string, Map<string, InMemoryDedupeEntry>>();
  /** deviceId → decisions in recording order. */
  readonly decisions = new Map<string, InMemoryDecisionEntry[]>();
  /** pushToken → the device holding it. */
  readonly pushTokenHolders = new Map<string, string>();
  /** orgId → registered devices counted against the cap. */
  readonly orgDeviceCounts = new Map<string, number>();
  private nextSequence = 0;

  takeSequence(): number {
    return this.nextSequence++;
  }

  mailboxesOf(deviceId: string): Map<string, MailboxRecord> {
    let mailboxes = this.mailboxes.get(deviceId);
    if (!mailboxes) {
      mailboxes = new Map();
      this.mailboxes.set(deviceId, mailboxes);
    }
    return mailboxes;
  }

  /** Everything stored under the device's key (not its callback lookups). */
  dropDevicePartition(deviceId: string): void {
    this.devices.delete(deviceId);
    this.mailboxes.delete(deviceId);
    this.dedupe.delete(deviceId);
    this.decisions.delete(deviceId);
  }
}

/** A deep copy, so that neither the caller nor the store can change the other's objects. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}
