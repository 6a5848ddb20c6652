import { describe, expect, it } from 'vitest';
import {
  MANAGED_GRAPH_LIFETIME_MS,
  RENEW_AT_LATEST_BEFORE_EXPIRY_MS,
  RENEWAL_SPREAD_MS,
  RETRY_MAX_MS,
  renewalDueAt,
  retryDueAt,
} from '../../../shared/supervision/renewal-schedule.js';

const T0 = Date.parse('2026-12-07T03:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('renewalDueAt', () => {
  it('renews at the latest one hour before expiry, within the day before that, never before now', () => {
    const expiresAt = T0 + MANAGED_GRAPH_LIFETIME_MS;
    for (let i = 0; i < 1_000; i++) {
      const due = renewalDueAt({ key: `device-${i}#primary`, expiresAt, now: T0 });
      expect(due).toBeLessThanOrEqual(expiresAt - RENEW_AT_LATEST_BEFORE_EXPIRY_MS);
      expect(due).toBeGreaterThanOrEqual(expiresAt - RENEW_AT_LATEST_BEFORE_EXPIRY_MS - RENEWAL_SPREAD_MS);
    }
    expect(renewalDueAt({ key: 'late', expiresAt: T0 + 30 * MINUTE, now: T0 })).toBe(T0);
  });

  it('gives one mailbox the same offset every time (the spread keeps from one renewal to the next)', () => {
    const first = renewalDueAt({ key: 'device-7#primary', expiresAt: T0 + MANAGED_GRAPH_LIFETIME_MS, now: T0 });
    const next = renewalDueAt({ key: 'device-7#primary', expiresAt: first + MANAGED_GRAPH_LIFETIME_MS, now: first });
    expect(next - first).toBe(first - T0);
  });

  it('spreads 100,000 subscriptions created in the same minute so that no minute renews more than 150 of them', () => {
    const perMinute = new Map<number, number>();
    const expiresAt = T0 + MANAGED_GRAPH_LIFETIME_MS;
    for (let i = 0; i < 100_000; i++) {
      const due = renewalDueAt({ key: `d${i.toString(36)}-${(i * 7919) % 100_003}#primary`, expiresAt, now: T0 });
      const minute = Math.floor(due / MINUTE);
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }
    // 100,000 over 1,440 minutes is 69 a minute on average.
    expect(Math.max(...perMinute.values())).toBeLessThan(150);
    expect(perMinute.size).toBeGreaterThan(1_400);
  });

  it('spreads a short-lived subscription over half of what is left', () => {
    const expiresAt = T0 + 5 * HOUR;
    const due = renewalDueAt({ key: 'short', expiresAt, now: T0 });
    expect(due).toBeGreaterThanOrEqual(T0 + 2 * HOUR);
    expect(due).toBeLessThanOrEqual(T0 + 4 * HOUR);
  });
});

describe('retryDueAt', () => {
  it('comes back when the server asked, also when that is late', () => {
    expect(retryDueAt({ attempt: 1, now: T0, retryAfterMs: 120_000 })).toBe(T0 + 120_000);
    expect(retryDueAt({ attempt: 1, now: T0, retryAfterMs: 3 * HOUR, expiresAt: T0 + 2 * HOUR })).toBe(T0 + 3 * HOUR);
  });

  it('doubles from a minute up to an hour, and tries before a renewal would be too late', () => {
    expect([1, 2, 3, 10].map((attempt) => retryDueAt({ attempt, now: T0 }) - T0)).toEqual([MINUTE, 2 * MINUTE, 4 * MINUTE, RETRY_MAX_MS]);
    expect(retryDueAt({ attempt: 10, now: T0, expiresAt: T0 + 90 * MINUTE })).toBe(T0 + 30 * MINUTE);
    expect(retryDueAt({ attempt: 10, now: T0, expiresAt: T0 + 30 * MINUTE })).toBe(T0 + MINUTE);
  });
});
