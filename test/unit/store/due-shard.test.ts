import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dueShardOf } from '../../../shared/store/due-shard.js';
import { DUE_SHARDS } from '../../../shared/store/ports.js';

describe('dueShardOf', () => {
  it('spreads 10,000 random device ids over all shards, none far from an even share', () => {
    const counts = new Array<number>(DUE_SHARDS).fill(0);
    for (let i = 0; i < 10_000; i++) counts[dueShardOf(randomUUID())]!++;

    // An even share is 625 with a standard deviation of about 24; 25% off is more than 6 deviations.
    for (const [shard, count] of counts.entries()) {
      expect(count, `shard ${shard}`).toBeGreaterThan(625 * 0.75);
      expect(count, `shard ${shard}`).toBeLessThan(625 * 1.25);
    }
  });

  it('gives an integer shard from 0 to DUE_SHARDS - 1, the same every time', () => {
    for (const id of ['', 'a', 'dev-ü-☃', '0d6f5a4e-1c1b-4bd4-9d4f-0e1d2c3b4a59']) {
      const shard = dueShardOf(id);
      expect(Number.isInteger(shard) && shard >= 0 && shard < DUE_SHARDS, id).toBe(true);
      expect(dueShardOf(id)).toBe(shard);
    }
  });

  it('does not change between releases: stored items carry its value', () => {
    // Pinned values: a different hash would leave every stored item in the wrong shard until rewritten.
    expect(['', 'a', 'device-1', '0d6f5a4e-1c1b-4bd4-9d4f-0e1d2c3b4a59'].map(dueShardOf)).toEqual(PINNED);
  });
});

const PINNED = [9, 0, 3, 4];
