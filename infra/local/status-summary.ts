import * as z from '../../shared/zod.js';

/**
 * What the status page's dashboard shows first: the summary numbers, the tiles drawn from them and the last hour's
 * timeline. `summarizeStatus` is the one function that computes them from what the snapshot read, so a new fact (a
 * mailbox protocol, an organization's mail-server health) is one field of `StatusSummaryInput`, one count here and
 * one tile in `statusTiles`; the page draws whatever tiles it is given.
 */

/** One device as the summary counts it (a subset of the page's device view). */
export interface SummaryDevice {
  status: string;
  /** `managedBy`: who keeps the subscription, `relay` (contract section 9) or `device`. */
  mailboxes: Array<{ state: string; protocol: string | null; managedBy: string }>;
}

/** One decision of the last hour, with when it was recorded (its sort key says so). */
export interface SummaryDecision {
  /** When the notification arrived (epoch ms). */
  atMs: number;
  /** When the decision was recorded (epoch ms); undefined for an item without the recording time in its key. */
  recordedMs: number | undefined;
  outcome: string;
}

export interface SummaryPush {
  atMs: number;
  status: number;
}

export interface StatusSummaryInput {
  now: number;
  devices: SummaryDevice[];
  /** Every decision of the scanned devices whose `at` falls in the last hour (not only the ones listed per device). */
  recentDecisions: SummaryDecision[];
  /** Pushes the embedded APNs sandbox received, or undefined with an external APNs server. */
  sandboxPushes: SummaryPush[] | undefined;
  /** Messages in the event queue and its dead-letter queue; undefined when they could not be read. */
  queues: { visible: number; inFlight: number; deadLetters: number } | undefined;
}

export const TIMELINE_MINUTES = 60;
/** Decisions that mean a push did not go out and will not without help. */
const FAILURE_OUTCOMES = new Set(['failed', 'dead-lettered', 'token-retired']);

const counts = z.record(z.string(), z.number());

export const statusSummarySchema = z.object({
  devices: z.object({ total: z.number(), byStatus: counts }),
  mailboxes: z.object({ total: z.number(), byState: counts, byProtocol: counts, byManager: counts }),
  lastHour: z.object({
    decisions: z.number(),
    byOutcome: counts,
    pushed: z.number(),
    failures: z.number(),
    /** Pushes the sandbox received in the last hour and how many it refused; null with an external APNs server. */
    apns: z.nullable(z.object({ received: z.number(), refused: z.number() })),
  }),
  /** From a notification's arrival at the callback to its `pushed` decision, over the last hour's pushes. */
  callbackToPushMs: z.object({ samples: z.number(), p50: z.nullable(z.number()), p99: z.nullable(z.number()) }),
  queue: z.nullable(z.object({ visible: z.number(), inFlight: z.number(), deadLetters: z.number() })),
  /** One bucket per minute, oldest first; the last one is the current minute. */
  timeline: z.object({
    startsAt: z.string(),
    bucketSeconds: z.number(),
    buckets: z.array(z.object({ pushed: z.number(), notPushed: z.number(), failures: z.number(), apnsReceived: z.number() })),
  }),
});
export type StatusSummary = z.infer<typeof statusSummarySchema>;

export const statusTileSchema = z.object({
  id: z.string(),
  label: z.string(),
  value: z.string(),
  /** One line under the value: the breakdown. */
  detail: z.string(),
  /** Colours the tile: `bad` when something needs an operator. */
  tone: z.enum(['neutral', 'good', 'warn', 'bad']),
});
export type StatusTile = z.infer<typeof statusTileSchema>;

function increment(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** The nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarizeStatus(input: StatusSummaryInput): StatusSummary {
  const byStatus: Record<string, number> = {};
  const byState: Record<string, number> = {};
  const byProtocol: Record<string, number> = {};
  const byManager: Record<string, number> = {};
  let mailboxes = 0;
  for (const device of input.devices) {
    increment(byStatus, device.status || 'unknown');
    for (const mailbox of device.mailboxes) {
      mailboxes += 1;
      increment(byState, mailbox.state);
      increment(byProtocol, mailbox.protocol ?? 'none reported');
      increment(byManager, mailbox.managedBy);
    }
  }

  const minuteMs = 60_000;
  const currentMinute = Math.floor(input.now / minuteMs) * minuteMs;
  const startsAt = currentMinute - (TIMELINE_MINUTES - 1) * minuteMs;
  const buckets = Array.from({ length: TIMELINE_MINUTES }, () => ({ pushed: 0, notPushed: 0, failures: 0, apnsReceived: 0 }));
  const bucketOf = (ms: number) => {
    const index = Math.floor((ms - startsAt) / minuteMs);
    return index >= 0 && index < TIMELINE_MINUTES ? buckets[index] : undefined;
  };
  const hourAgo = input.now - 60 * minuteMs;

  const byOutcome: Record<string, number> = {};
  const latencies: number[] = [];
  let decisions = 0;
  for (const decision of input.recentDecisions) {
    if (decision.atMs < hourAgo || decision.atMs > input.now) continue;
    decisions += 1;
    increment(byOutcome, decision.outcome);
    const bucket = bucketOf(decision.atMs);
    if (decision.outcome === 'pushed') {
      if (bucket) bucket.pushed += 1;
      if (decision.recordedMs !== undefined) latencies.push(Math.max(0, decision.recordedMs - decision.atMs));
    } else if (FAILURE_OUTCOMES.has(decision.outcome)) {
      if (bucket) bucket.failures += 1;
    } else if (bucket) bucket.notPushed += 1;
  }
  latencies.sort((a, b) => a - b);

  let apns: StatusSummary['lastHour']['apns'] = null;
  if (input.sandboxPushes) {
    apns = { received: 0, refused: 0 };
    for (const push of input.sandboxPushes) {
      if (push.atMs < hourAgo) continue;
      apns.received += 1;
      if (push.status !== 200) apns.refused += 1;
      const bucket = bucketOf(push.atMs);
      if (bucket) bucket.apnsReceived += 1;
    }
  }

  return {
    devices: { total: input.devices.length, byStatus },
    mailboxes: { total: mailboxes, byState, byProtocol, byManager },
    lastHour: {
      decisions,
      byOutcome,
      pushed: byOutcome['pushed'] ?? 0,
      failures: [...FAILURE_OUTCOMES].reduce((sum, outcome) => sum + (byOutcome[outcome] ?? 0), 0),
      apns,
    },
    callbackToPushMs: { samples: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    queue: input.queues ?? null,
    timeline: { startsAt: new Date(startsAt).toISOString(), bucketSeconds: 60, buckets },
  };
}

function breakdown(record: Record<string, number>): string {
  const entries = Object.entries(record).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${count} ${key}`).join(' · ');
}

function milliseconds(value: number | null): string {
  return value === null ? '—' : value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

/** The dashboard's tiles, in the order the page shows them. */
export function statusTiles(summary: StatusSummary): StatusTile[] {
  const retired = summary.devices.byStatus['retired'] ?? 0;
  const unhealthyMailboxes = (summary.mailboxes.byState['silent'] ?? 0) + (summary.mailboxes.byState['expired'] ?? 0);
  const { lastHour, callbackToPushMs, queue } = summary;
  return [
    {
      id: 'devices',
      label: 'Devices',
      value: String(summary.devices.total),
      detail: breakdown(summary.devices.byStatus),
      tone: summary.devices.total > 0 && retired === summary.devices.total ? 'warn' : 'neutral',
    },
    {
      id: 'mailboxes',
      label: 'Mailboxes',
      value: String(summary.mailboxes.total),
      detail: `${breakdown(summary.mailboxes.byState)}; protocol: ${breakdown(summary.mailboxes.byProtocol)}${
        summary.mailboxes.byManager['relay'] ? `; subscribed by the relay: ${summary.mailboxes.byManager['relay']}` : ''
      }`,
      tone: unhealthyMailboxes > 0 ? 'warn' : 'neutral',
    },
    {
      id: 'pushes',
      label: 'Pushed, last hour',
      value: String(lastHour.pushed),
      detail: lastHour.apns
        ? `${lastHour.decisions} decisions; APNs sandbox received ${lastHour.apns.received}, refused ${lastHour.apns.refused}`
        : `${lastHour.decisions} decisions; APNs is external (APNS_URL)`,
      tone: lastHour.pushed > 0 ? 'good' : 'neutral',
    },
    {
      id: 'failures',
      label: 'Failures, last hour',
      value: String(lastHour.failures),
      detail: `failed ${lastHour.byOutcome['failed'] ?? 0} · dead-lettered ${lastHour.byOutcome['dead-lettered'] ?? 0} · token-retired ${lastHour.byOutcome['token-retired'] ?? 0} · retried ${lastHour.byOutcome['retried'] ?? 0}`,
      tone: lastHour.failures > 0 ? 'bad' : 'good',
    },
    {
      id: 'latency',
      label: 'Callback → push',
      value: `p50 ${milliseconds(callbackToPushMs.p50)}`,
      detail: `p99 ${milliseconds(callbackToPushMs.p99)} over ${callbackToPushMs.samples} pushes in the last hour`,
      tone: 'neutral',
    },
    {
      id: 'queue',
      label: 'Queue',
      value: queue ? String(queue.visible + queue.inFlight) : '—',
      detail: queue ? `${queue.visible} waiting · ${queue.inFlight} in flight · ${queue.deadLetters} dead letters` : 'could not be read',
      tone: queue === null ? 'warn' : queue.deadLetters > 0 ? 'bad' : 'neutral',
    },
  ];
}
