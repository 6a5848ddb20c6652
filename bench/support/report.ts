import type { AwsCallsResult, FunctionUsage, PhaseResult } from '../aws-calls.bench.js';
import type { BundlesResult } from '../bundles.bench.js';
import type { CallbackBenchResult } from '../callback.bench.js';
import type { CostLines } from '../cost-model.js';
import type { EndToEndResult } from '../end-to-end.bench.js';
import type { GrowthResult } from '../growth.bench.js';
import type { PushDeliveryResult } from '../push-delivery.bench.js';
import { targetRows } from './targets.js';

/** The whole run, as bench/results/latest.json holds it. */
export interface BenchReport {
  schema: 1;
  mode: 'full' | 'quick';
  command: string;
  date: string;
  durationSeconds: number;
  git: { commit: string; dirty: boolean };
  machine: {
    cpuModel: string;
    cpus: number;
    memoryGiB: number;
    os: string;
    node: string;
    /** 1-minute load average before and after the run: a busy machine makes every time here longer. */
    loadAverage: { before: number; after: number };
    /**
     * Per group, the CPU other processes on the machine used meanwhile, in cores on average (Linux only): anything
     * well above 0 means that group's times were slowed by someone else's work.
     */
    otherProcessesCores: Record<string, number>;
  };
  groups: {
    callback?: CallbackBenchResult;
    endToEnd?: EndToEndResult;
    pushDelivery?: PushDeliveryResult;
    awsCalls?: AwsCallsResult;
    bundles?: BundlesResult;
    growth?: GrowthResult;
  };
  /** Groups that failed, with the error. */
  errors: Record<string, string>;
}

/** Markdown tables, readable in a terminal and pasteable into docs/performance.md. */
export function renderReport(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    `inbox-relay benchmarks: ${report.mode} run of ${report.date.slice(0, 10)}, commit ${report.git.commit.slice(0, 12)}${report.git.dirty ? ' (with uncommitted changes)' : ''}, ${report.durationSeconds} s`,
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; load average ${m.loadAverage.before} before, ${m.loadAverage.after} after`,
    ...(Object.keys(m.otherProcessesCores ?? {}).length
      ? [`Other processes meanwhile (cores used on average): ${Object.entries(m.otherProcessesCores).map(([group, cores]) => `${group} ${cores}`).join(', ')}`]
      : []),
    '',
  ];
  const g = report.groups;
  out.push(...targetsSection(g));
  if (g.callback) out.push(...callbackSection(g.callback));
  if (g.endToEnd) out.push(...endToEndSection(g.endToEnd));
  if (g.pushDelivery) out.push(...pushSection(g.pushDelivery));
  if (g.awsCalls) out.push(...awsCallsSection(g.awsCalls));
  if (g.bundles) out.push(...bundlesSection(g.bundles));
  if (g.growth) out.push(...growthSection(g.growth));
  for (const [group, error] of Object.entries(report.errors)) out.push(`**${group} failed:** ${error}`, '');
  return out.join('\n');
}

function targetsSection(groups: BenchReport['groups']): string[] {
  return [
    '### Issue 15 budgets (before: 2026-12-06, docs/performance.md)',
    '',
    ...table(['target', 'budget', 'before', 'this run', 'met'], targetRows(groups)),
  ];
}

function table(header: string[], rows: Array<Array<string | number>>): string[] {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), ''];
}

function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  return Number.isInteger(value) && Math.abs(value) >= 10_000 ? value.toLocaleString('en-US') : String(value);
}

const usd = (value: number) => `$${value < 0.1 && value > 0 ? value.toPrecision(2) : value.toFixed(2)}`;

function callbackSection(r: CallbackBenchResult): string[] {
  const s = r.settings;
  return [
    `### 1. Callback (autocannon, ${s.connections} connections, ${s.seconds} s after ${s.warmupSeconds} s warm-up, ${s.mailboxes.toLocaleString('en-US')} mailboxes)`,
    '',
    ...table(
      ['body', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'stack CPU ms/request', 'in-process µs', 'fast-xml-parser alone µs', 'ratio'],
      [
        ['NewMail', r.newMail.requestsPerSecond, r.newMail.latencyMs.p50, r.newMail.latencyMs.p90, r.newMail.latencyMs.p99, r.newMail.serviceCpuMsPerRequest, r.inProcess.newMail.callbackMicros, r.inProcess.newMail.parserOnlyMicros, `${r.inProcess.newMail.ratio}×`],
        ['StatusEvent', r.status.requestsPerSecond, r.status.latencyMs.p50, r.status.latencyMs.p90, r.status.latencyMs.p99, r.status.serviceCpuMsPerRequest, r.inProcess.status.callbackMicros, r.inProcess.status.parserOnlyMicros, `${r.inProcess.status.ratio}×`],
      ],
    ),
    'Stack CPU: the service process (router, function code, AWS SDK clients, dynalite, fauxqs, APNs peer; for NewMail the dispatcher too) per request. ' +
      'In-process: parse + verify + queue + build the reply with in-memory stores, next to fast-xml-parser alone on the same bytes.',
    '',
    `Sustainable new-mail rate of the whole local pipeline (callback → SQS → dispatcher → APNs peer on one core): **${r.pipeline.notificationsPerSecond}/s** ` +
      `(${r.pipeline.notifications} notifications in ${r.pipeline.seconds} s, the queue empty ${r.pipeline.drainSeconds} s after the load stopped).`,
    '',
  ];
}

function endToEndSection(r: EndToEndResult): string[] {
  const rows = [...r.levels.map((l) => ['EWS', l] as const), ...(r.graphLevels ?? []).map((l) => ['Graph', l] as const)];
  return [
    `### 2. End to end (notification POST due → push received by the APNs peer; open loop, ${r.secondsPerLevel} s per level in ${r.passesPerLevel} interleaved passes, each figure the median over the passes; sustainable rate ${r.sustainableRate}/s from ${r.rateSource}, the same levels for EWS and Graph)`,
    '',
    ...table(
      ['protocol', 'load', 'rate/s', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'answer p50 ms', 'answer p99 ms', 'p50 / p99 per pass', 'missing pushes'],
      rows.map(([protocol, l]) => [
        protocol,
        `${Math.round(l.load * 100)}%`,
        l.rate,
        l.requests,
        l.endToEndMs.p50,
        l.endToEndMs.p90,
        l.endToEndMs.p99,
        l.endToEndMs.max,
        l.answerMs.p50,
        l.answerMs.p99,
        l.passes.map((p) => `${p.p50} / ${p.p99}`).join(', '),
        l.missingPushes,
      ]),
    ),
  ];
}

function pushSection(r: PushDeliveryResult): string[] {
  return [
    `### 3. Push delivery (${r.pushes.toLocaleString('en-US')} pushes × ${r.rounds} rounds per client, ${r.inFlight} in flight, ${r.payloadBytes}-byte payload, local HTTP/2 peer in another process)`,
    '',
    ...table(
      ['client', 'pushes/s', '× best library', 'client CPU µs/push', 'peer CPU share', 'p50 ms', 'p99 ms', 'failures'],
      r.rows.map((row) => [row.client, row.pushesPerSecond, `${row.ratioToBestLibrary}×`, row.clientCpuMicrosPerPush, row.peerCpuShare, row.latencyMs.p50, row.latencyMs.p99, row.failures]),
    ),
    `Best library: ${r.bestLibrary}.`,
    '',
  ];
}

function callsCell(usage: FunctionUsage, service: 'DynamoDB' | 'SQS'): string {
  const entries = Object.entries(usage.calls)
    .filter(([name]) => name.startsWith(service))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name.slice(service.length + 1)} ${n}`);
  return entries.length ? entries.join(', ') : '-';
}

function awsCallsSection(r: AwsCallsResult): string[] {
  const rows: Array<Array<string | number>> = [];
  const add = (work: string, phase: PhaseResult) => {
    for (const fn of ['callback', 'device-api', 'dispatcher'] as const) {
      const usage = phase.perUnit[fn];
      if (!usage) continue;
      rows.push([
        work,
        fn,
        usage.invocations,
        callsCell(usage, 'DynamoDB'),
        usage.dynamoDbReadUnits,
        `${usage.dynamoDbWriteUnits} + ${usage.dynamoDbIndexWriteUnits}`,
        callsCell(usage, 'SQS'),
        usage.sqsRequests,
        phase.totals[fn]!.meanInvocationMs,
      ]);
    }
  };
  const p = r.phases;
  add(`new mail, one at a time (${p.newMail.units})`, p.newMail);
  add(`new mail, ${r.burstConcurrency} in flight (${p.newMailBurst.units})`, p.newMailBurst);
  add(`heartbeat (${p.heartbeat.units})`, p.heartbeat);
  add(`subscription report (${p.resubscription.units})`, p.resubscription);
  if (p.graphNewMail) add(`Graph new mail, one at a time (${p.graphNewMail.units})`, p.graphNewMail);

  const cm = r.costModel;
  const costRow = (label: string, lines: CostLines) => [
    label,
    usd(lines.apiGateway),
    usd(lines.lambdaRequests),
    usd(lines.lambdaDuration),
    usd(lines.dynamoDbReads),
    usd(lines.dynamoDbWrites),
    usd(lines.sqs),
    usd(lines.sns),
    `**${usd(lines.total)}**`,
  ];
  const w = cm.workload;
  return [
    '### 4. AWS calls per notification (SDK middleware counts on the local stack) and what they cost',
    '',
    ...table(['work', 'function', 'invocations', 'DynamoDB calls', 'read units', 'write units + index', 'SQS calls', 'SQS requests', 'mean ms'], rows),
    `Cost (us-east-1 prices of bench/prices.ts, third-party sources; free tiers left out). Reference workload per mailbox-month: ${w.newMail} new mails (40/day), ` +
      `${w.heartbeat} heartbeats (StatusFrequency ${r.workload.statusFrequencyMinutes} min, an upper bound), ${w.resubscription} subscription reports (hourly).`,
    '',
    ...table(
      ['USD', 'API Gateway', 'Lambda requests', 'Lambda GB-s', 'DynamoDB reads', 'DynamoDB writes', 'SQS', 'SNS', 'total'],
      [
        costRow('per 1M new mails, callback', cm.perMillionNewMail.apns.byFunction.callback!),
        costRow('per 1M new mails, dispatcher (direct APNs)', cm.perMillionNewMail.apns.byFunction.dispatcher!),
        costRow('per 1M new mails, direct APNs', cm.perMillionNewMail.apns.total),
        costRow('per 1M new mails, SNS mobile push', cm.perMillionNewMail.sns.total),
        costRow('per 1,000 mailbox-months: new mail', cm.perThousandMailboxMonths.apns.newMail),
        costRow('per 1,000 mailbox-months: heartbeats', cm.perThousandMailboxMonths.apns.heartbeat),
        costRow('per 1,000 mailbox-months: subscription reports', cm.perThousandMailboxMonths.apns.resubscription),
        costRow('per 1,000 mailbox-months, direct APNs', cm.perThousandMailboxMonths.apns.total),
        ...(cm.perThousandMailboxMonthsCallbackOnApi ? [costRow('per 1,000 mailbox-months, direct APNs, callback on API Gateway', cm.perThousandMailboxMonthsCallbackOnApi)] : []),
        costRow('per 1,000 mailbox-months, SNS mobile push', cm.perThousandMailboxMonths.sns.total),
      ],
    ),
    // Reports from before callbackEndpoint (callbacks all on API Gateway) print as they did.
    ...(cm.callbackEndpoint === undefined
      ? []
      : [
          cm.callbackEndpoint === 'function-url'
            ? 'Callbacks on the callback function\'s URL (`callbackEndpoint` function-url, the default): no API Gateway charge for them; the device API\'s requests stay on API Gateway.'
            : 'Callbacks on API Gateway (`callbackEndpoint` api).',
          '',
        ]),
    `Prices: ${Object.values(r.prices).map(priceText).join('; ')}.`,
    '',
    `Secondary-index write units alone: ${usd(cm.indexWrites.usdPerThousandMailboxMonths)} per 1,000 mailbox-months, ${Math.round(cm.indexWrites.shareOfTotal * 100)}% of the total with direct APNs.`,
    `Lambda GB-s use the local mean invocation times (loopback backends); each 10 ms more per invocation on AWS adds ${usd(cm.durationSensitivityPer10ms)} per 1M new mails.`,
    '',
  ];
}

/** "SQS standard request $0.40/M", or per GB-second for Lambda duration. */
function priceText(price: { usd: number; unit: string }): string {
  const what = price.unit.split(' (')[0]!;
  return what.startsWith('GB-second') ? `Lambda ${what} $${price.usd}` : `${what} $${(price.usd * 1e6).toFixed(3).replace(/0+$/, '').replace(/\.$/, '')}/M`;
}

function bundlesSection(r: BundlesResult): string[] {
  return [
    `### 5. Lambda bundles (esbuild as the CDK stack runs it; cold import in a fresh Node ${r.node} process, median of ${r.bundles[0]?.runs ?? 0})`,
    '',
    ...table(
      ['function', 'minified KiB (≤ 150) ³', 'with lazy chunks KiB', 'gzip KiB', 'cold import ms', 'reference ms ²', 'ratio (≤ 1.5)', 'largest inputs (KiB)'],
      r.bundles.map((b) => [
        b.name + (b.note ? ' ¹' : ''),
        Math.round(b.minifiedBytes / 1024),
        b.totalMinifiedBytes === undefined ? '-' : Math.round(b.totalMinifiedBytes / 1024),
        Math.round(b.gzipBytes / 1024),
        b.coldImportMs,
        b.reference?.coldImportMs ?? '-',
        b.coldImportRatio ?? '-',
        b.largestInputs.map((i) => `${i.input} ${Math.round(i.bytes / 1024)}`).join(', '),
      ]),
    ),
    ...r.bundles.filter((b) => b.note).map((b) => `¹ ${b.name}: ${b.note}.`),
    ...(r.bundles.some((b) => b.reference)
      ? [
          '² A handler importing only the function\'s AWS SDK packages (one client each), bundled the same way and imported ' +
            'alternately with it in this run; the ratio is the median of the per-run ratios.',
          ...r.bundles
            .filter((b) => (b.reference?.unusedInBundle.length ?? 0) > 0)
            .map((b) => `  ${b.name} also imports ${b.reference!.unusedInBundle.join(', ')}, which it does not use.`),
        ]
      : []),
    ...(r.bundles.some((b) => b.totalMinifiedBytes !== undefined)
      ? [
          '³ What a cold start loads, as Node reports it: the entry and the chunks its import and initialization load. Chunks ' +
            'imported on first use (organization mode, relay-managed subscriptions, the JWT verifier of a registration, direct ' +
            'APNs in an SNS deployment) are in the next column only.',
        ]
      : []),
    '',
  ];
}

function growthSection(r: GrowthResult): string[] {
  return [
    `### 6. Growth (end to end at ${Math.round(r.load * 100)}% of ${r.sustainableRate}/s, fresh mailboxes, median of ${r.levels[0]?.endToEnd.passes.length ?? 1} passes; calls per notification, callback + dispatcher)`,
    '',
    ...table(
      ['mailboxes', 'requests', 'p50 ms', 'p99 ms', 'answer p50 ms', 'answer p99 ms', 'DynamoDB calls', 'read units', 'write units + index', 'SQS requests', 'missing pushes'],
      r.levels.map((l) => [
        l.mailboxes,
        l.endToEnd.requests,
        l.endToEnd.endToEndMs.p50,
        l.endToEnd.endToEndMs.p99,
        l.endToEnd.answerMs.p50,
        l.endToEnd.answerMs.p99,
        l.perNotification.dynamoDbCalls,
        l.perNotification.dynamoDbReadUnits,
        `${l.perNotification.dynamoDbWriteUnits} + ${l.perNotification.dynamoDbIndexWriteUnits}`,
        l.perNotification.sqsRequests,
        l.endToEnd.missingPushes,
      ]),
    ),
  ];
}
