import { DUE_SHARDS } from './ports.js';

/**
 * The due-index shard (0 .. DUE_SHARDS - 1) of a device's items. The DynamoDB adapter and the in-memory store both
 * use this one function, so a test that asks the in-memory store for a shard sees what the table would hold there.
 *
 * FNV-1a (32 bit) over the UTF-16 code units: stable across runtimes and releases (it is part of what is stored), no
 * node:crypto, so that this stays runtime-neutral. The high half is folded into the low half before the modulo
 * because the lowest bits of FNV-1a alone mix less well than the whole hash.
 */
export function dueShardOf(deviceId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) {
    hash ^= deviceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return ((hash ^ (hash >>> 16)) >>> 0) % DUE_SHARDS;
}
