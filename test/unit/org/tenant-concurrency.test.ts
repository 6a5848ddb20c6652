import { describe, expect, it } from 'vitest';
import { KeyedConcurrencyLimit } from '../../../functions/_lib/adapters/tenant-concurrency.js';

describe('KeyedConcurrencyLimit', () => {
  it('keeps at most the limit in flight per key, in order, without holding up other keys', async () => {
    const limit = new KeyedConcurrencyLimit(2);
    const releases: Array<() => void> = [];
    let peak = 0;
    const started: string[] = [];
    const task = (name: string) => () =>
      new Promise<string>((resolve) => {
        started.push(name);
        peak = Math.max(peak, limit.inFlight('tenant-a'));
        releases.push(() => resolve(name));
      });
    const runs = ['a1', 'a2', 'a3', 'a4'].map((name) => limit.run('tenant-a', task(name)));
    const other = limit.run('tenant-b', task('b1'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a1', 'a2', 'b1']);
    releases.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all([...runs, other])).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);
    expect(peak).toBe(2);
    expect(limit.inFlight('tenant-a')).toBe(0);
  });

  it('frees the slot when a task fails', async () => {
    const limit = new KeyedConcurrencyLimit(1);
    await expect(limit.run('t', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit.run('t', async () => 'next')).toBe('next');
  });
});
