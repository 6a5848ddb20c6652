import type { AlertIntent } from './alert-profiles.js';
import { GRAPH_NOTIFICATION_KINDS, NOTIFICATION_KINDS, type GraphNotificationKind, type NotificationKind, type SimulationReport } from './report.js';

/** The end-of-run summary as plain text tables, for a terminal or a README. */

const KIND_LABELS: Record<NotificationKind, string> = {
  'new-mail-single': 'new mail, one event',
  'new-mail-batch': 'new mail, several events',
  heartbeat: 'heartbeat (StatusEvent)',
  retry: 'exact retry of a sent body',
  superseded: 'superseded subscription',
  migrated: 'EWS leftover of a mailbox moved to Graph',
};

const GRAPH_KIND_LABELS: Record<GraphNotificationKind, string> = {
  'new-mail': 'new mail (created message)',
  retry: 'exact retry of a sent body',
  superseded: 'replaced subscription (ignored)',
  lifecycle: 'lifecycle event',
};

const INTENT_LABELS: Record<AlertIntent, string> = {
  always: 'always',
  'inside-work-hours': 'inside work hours',
  'outside-work-hours': 'outside work hours',
  'non-work-day': 'non-work day',
  'weekend-alerts': 'weekend alerts',
};

export function formatSummary(report: SimulationReport): string {
  const lines: string[] = [];
  const { devices: d, subscriptions: s, apns } = report;
  lines.push(
    `inbox-relay simulator: seed ${report.seed}, ${d.count} devices, ${d.mailboxes} mailboxes, ` +
      `relay ${report.target.kind} at ${report.target.baseUrl}, ${(report.durationMs / 1000).toFixed(1)} s`,
    '',
    'Devices',
    `  alert settings   ${Object.entries(d.byIntent).map(([intent, n]) => `${INTENT_LABELS[intent as AlertIntent]} ${n}`).join(', ')}`,
    `  mailboxes        ${d.count} primary, ${d.delegated} delegated (${d.delegatedAddedLater} added after registration), ${d.timeZones} time zones`,
    `  protocols        ${d.mailboxes - report.graph.mailboxes} on EWS (on-premises Exchange), ${report.graph.mailboxes} on Graph (Exchange Online), ${report.graph.migrated} of them moved from EWS mid-run`,
    `  subscriptions    ${s.subscribed} subscribed (${s.busyRetries} retried after ErrorServerBusy), ${s.resubscribed} resubscribed, ${report.graph.subscriptions} Graph subscriptions created`,
    `  settings         ${d.settingsChanged} devices changed their alert settings mid-run`,
    '',
  );

  const total = { sent: 0, ok: 0, unsubscribe: 0, errors: 0 };
  const rows = NOTIFICATION_KINDS.map((kind) => {
    const t = report.notifications[kind];
    total.sent += t.sent;
    total.ok += t.ok;
    total.unsubscribe += t.unsubscribe;
    total.errors += t.errors;
    return [KIND_LABELS[kind], t.sent, t.ok, t.unsubscribe, t.errors];
  });
  rows.push(['total', total.sent, total.ok, total.unsubscribe, total.errors]);
  lines.push(...table(['Exchange -> relay (SendNotification)', 'sent', 'OK', 'Unsubscribe', 'errors'], rows), '');

  const graphTotal = { sent: 0, accepted: 0, errors: 0 };
  const graphRows = GRAPH_NOTIFICATION_KINDS.map((kind) => {
    const t = report.graph.notifications[kind];
    graphTotal.sent += t.sent;
    graphTotal.accepted += t.accepted;
    graphTotal.errors += t.errors;
    return [GRAPH_KIND_LABELS[kind], t.sent, t.accepted, t.errors];
  });
  graphRows.push(['total', graphTotal.sent, graphTotal.accepted, graphTotal.errors]);
  lines.push(
    ...table(['Graph -> relay (change notifications)', 'sent', '202', 'errors'], graphRows),
    `  validation requests: ${report.graph.validations.echoed} of ${report.graph.validations.sent} echoed exactly`,
    '',
  );

  if (apns.visible) {
    lines.push(
      ...table(
        ['Relay -> APNs', 'pushes', ''],
        [
          ['new-mail alerts', apns.alerts, `${apns.newMessages} new messages, ${apns.devicesReached} devices`],
          ['resubscribe requests', apns.resubscribeRequests, ''],
          ['reauthorize requests (Graph)', apns.reauthorizeRequests, ''],
          ['sync requests (Graph missed)', apns.syncRequests, ''],
          ['background refreshes', apns.backgroundRefreshes, ''],
          ['refused by APNs', apns.refused, ''],
        ],
      ),
      '',
    );
  } else {
    lines.push('Relay -> APNs: not visible (the relay sends to the APNs server in APNS_URL)', '');
  }

  const decided = report.decisions.reduce((sum, e) => sum + e.count, 0);
  lines.push(
    ...table(
      ['Why, from the device event logs', 'reason', 'count', ''],
      [...report.decisions.map((e) => [e.outcome, e.reason, e.count, explain(e.reason)]), ['total', '', decided, '']],
    ),
    '',
    ...organizationLines(report),
    'Expectations',
    ...report.expectations.map((e) => `  ${e.ok === undefined ? 'skip' : e.ok ? 'ok  ' : 'FAIL'}  ${e.name} (${e.detail})`),
    '',
    report.ok ? 'All expectations met.' : 'Some expectations FAILED.',
  );
  return lines.join('\n');
}

const CASE_LABELS: Record<string, string> = {
  'detailed-alert': 'detailed alert (enc decrypted on the device)',
  'vip-after-hours': "VIP's mail after hours",
  'non-vip-after-hours': "non-VIP's mail after hours",
  'mail-server-down': 'mail server down',
};

/** Organization mode: each org, each case, what was pushed and why (never the mail's content). */
function organizationLines(report: SimulationReport): string[] {
  const org = report.organization;
  if (!org) return [];
  return [
    `Organization mode: ${org.orgs.map((o) => `${o.type} org (check ${o.checkOk ? 'ok' : 'FAILED'})`).join(', ')}, ${org.devices} devices, ${org.vipSenders} VIP senders (stored as keyed hashes)`,
    ...table(
      ['Case', 'org', 'pushes', 'enc decrypted to the sent sender+subject', 'decision', ''],
      org.cases.map((c) => [
        CASE_LABELS[c.case] ?? c.case,
        c.org,
        c.pushes,
        c.decrypted ? (c.decrypted.from === c.sent.from && c.decrypted.subject === c.sent.subject ? 'yes' : 'NO') : '-',
        c.decision ? `${c.decision.outcome} (${c.decision.reason})` : '-',
        c.ok ? 'ok' : 'FAIL',
      ]),
    ),
    '',
  ];
}

/** A newcomer's reading of the relay's decision reasons; unknown ones are shown as they are. */
function explain(reason: string): string {
  const coalesced = /^apns:delivered:coalesced-(\d+)$/.exec(reason);
  if (coalesced) return `one alert for ${coalesced[1]} new mails`;
  const known: Record<string, string> = {
    'apns:delivered': 'one alert for one new mail',
    'already-seen': 'the same events again (an Exchange retry): never a second alert',
    'rule:outside-work-hours': 'work hours only: a work day, outside the window (no VIPs without organization mode)',
    vip: 'a VIP sender, let through after hours (organization mode)',
    'fetch-failed': 'the mail server could not be read in time: judged as a non-VIP without details',
    'rule:non-work-day': 'work hours only: not a work day, no weekend alerts',
    superseded: 'Graph item of a subscription the device replaced: ignored',
    'lifecycle:missed': 'Graph missed notifications: the app catches up with a delta query',
    'lifecycle:reauthorizationRequired': 'Graph asks for reauthorization: the app renews with a fresh token',
    'lifecycle:subscriptionRemoved': 'Graph removed the subscription: the app subscribes again',
  };
  if (known[reason]) return known[reason];
  if (reason.startsWith('rule:')) return `the alert rule "${reason.slice(5)}"`;
  if (reason.startsWith('apns:')) return "APNs's answer";
  return '';
}

/** Left-aligned text, right-aligned numbers, two spaces between columns. */
function table(header: string[], rows: Array<Array<string | number>>): string[] {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) => column > 0 && rows.every((row) => typeof row[column] === 'number'));
  return cells.map((row, index) =>
    `${index === 0 ? '' : '  '}${row
      .map((cell, column) => {
        // The first column's header sits two spaces left of its rows, like a section title.
        const width = (widths[column] ?? 0) + (column === 0 ? (index === 0 ? 2 : 0) : 0);
        return numeric[column] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd()}`,
  );
}
