import { describe, expect, it } from 'vitest';
import { statusTiles, summarizeStatus } from '../../infra/local/status-summary.js';

const NOW = Date.parse('2026-12-07T10:30:30Z');
const minutesAgo = (minutes: number) => NOW - minutes * 60_000;

describe('the status page summary', () => {
  const summary = summarizeStatus({
    now: NOW,
    devices: [
      { status: 'active', mailboxes: [{ state: 'live', protocol: 'ews', managedBy: 'relay' }, { state: 'silent', protocol: 'ews', managedBy: 'device' }] },
      { status: 'retired', mailboxes: [{ state: 'pending', protocol: null, managedBy: 'device' }] },
    ],
    recentDecisions: [
      { atMs: minutesAgo(0.2), recordedMs: minutesAgo(0.2) + 40, outcome: 'pushed' },
      { atMs: minutesAgo(5), recordedMs: minutesAgo(5) + 900, outcome: 'pushed' },
      { atMs: minutesAgo(5), recordedMs: undefined, outcome: 'suppressed' },
      { atMs: minutesAgo(30), recordedMs: minutesAgo(30), outcome: 'dead-lettered' },
      { atMs: minutesAgo(61), recordedMs: minutesAgo(61), outcome: 'pushed' },
    ],
    sandboxPushes: [{ atMs: minutesAgo(0.2), status: 200 }, { atMs: minutesAgo(5), status: 410 }, { atMs: minutesAgo(90), status: 200 }],
    queues: { visible: 2, inFlight: 1, deadLetters: 1 },
  });

  it('counts devices by status and mailboxes by state, protocol and who keeps their subscription', () => {
    expect(summary.devices).toEqual({ total: 2, byStatus: { active: 1, retired: 1 } });
    expect(summary.mailboxes).toEqual({
      total: 3,
      byState: { live: 1, silent: 1, pending: 1 },
      byProtocol: { ews: 2, 'none reported': 1 },
      byManager: { relay: 1, device: 2 },
    });
    expect(statusTiles(summary).find((tile) => tile.id === 'mailboxes')?.detail).toContain('subscribed by the relay: 1');
  });

  it('counts only the last hour, and the callback-to-push latency of its pushes', () => {
    expect(summary.lastHour).toEqual({
      decisions: 4,
      byOutcome: { pushed: 2, suppressed: 1, 'dead-lettered': 1 },
      pushed: 2,
      failures: 1,
      apns: { received: 2, refused: 1 },
    });
    expect(summary.callbackToPushMs).toEqual({ samples: 2, p50: 40, p99: 900 });
  });

  it('buckets the hour by minute, the current minute last', () => {
    const { buckets, startsAt } = summary.timeline;
    expect(buckets).toHaveLength(60);
    expect(startsAt).toBe('2026-12-07T09:31:00.000Z');
    expect(buckets[59]).toEqual({ pushed: 1, notPushed: 0, failures: 0, apnsReceived: 1 });
    expect(buckets[54]).toEqual({ pushed: 1, notPushed: 1, failures: 0, apnsReceived: 1 });
    expect(buckets[29]!.failures + buckets[30]!.failures).toBe(1);
  });

  it('colours the tiles that need an operator', () => {
    const tones = Object.fromEntries(statusTiles(summary).map((tile) => [tile.id, tile.tone]));
    expect(tones).toEqual({ devices: 'neutral', mailboxes: 'warn', pushes: 'good', failures: 'bad', latency: 'neutral', queue: 'bad' });
  });
});
