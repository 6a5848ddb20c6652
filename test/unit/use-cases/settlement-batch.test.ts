import { afterEach, describe, expect, it, vi } from 'vitest';
import { SettlementBatch } from '../../../functions/dispatcher/settlement-batch.js';
import type { Settlement, SettlementLog } from '../../../shared/store/ports.js';

/** The dispatcher's settlements of one invocation: parallel mailbox groups share writes. */
describe('SettlementBatch', () => {
  const settlement = (deviceId: string): Settlement => ({
    deviceId,
    keys: ['k'],
    claimant: 'c',
    outcome: 'pushed',
    expiresAt: 1,
    decision: { at: '2026-11-23T10:00:00.000Z', mailbox: 'primary', outcome: 'pushed', reason: 'apns:delivered' },
  });
  const recording = () => {
    const writes: string[][] = [];
    const log: SettlementLog = { settle: async (settled) => void writes.push(settled.map((s) => s.deviceId)) };
    return { log, writes };
  };

  afterEach(() => vi.useRealTimers());

  it('writes once every group at work waits to settle, or has finished', async () => {
    // No timer ever fires here: each write below is due to the groups alone.
    vi.useFakeTimers();
    const { log, writes } = recording();
    const batch = new SettlementBatch(log);
    batch.working();
    batch.working();
    batch.working();
    const a = batch.settle([settlement('a')]);
    const b = batch.settle([settlement('b')]);
    expect(writes).toEqual([]);
    batch.resting();
    await Promise.all([a, b]);
    expect(writes).toEqual([['a', 'b']]);

    // Both are back at work after settling; once one has finished, the other's next settlement waits for nobody.
    batch.resting();
    await batch.settle([settlement('c')]);
    expect(writes).toEqual([['a', 'b'], ['c']]);
  });

  it('does not hold a settlement back longer than its wait for a group still at work', async () => {
    vi.useFakeTimers();
    const { log, writes } = recording();
    const batch = new SettlementBatch(log, 20);
    batch.working();
    batch.working();
    const a = batch.settle([settlement('a')]);
    await vi.advanceTimersByTimeAsync(19);
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await a;
    expect(writes).toEqual([['a']]);
  });

  it('fails every settlement of a write that failed', async () => {
    const failure = new Error('throttled');
    const batch = new SettlementBatch({ settle: async () => Promise.reject(failure) });
    batch.working();
    batch.working();
    const settled = [batch.settle([settlement('a')]), batch.settle([settlement('b')])];
    expect(await Promise.allSettled(settled)).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
  });
});
