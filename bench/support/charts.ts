import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CostLines } from '../cost-model.js';
import type { BenchReport } from './report.js';

/**
 * The two pictures of a benchmark run, as standalone SVG (no script, no external font or stylesheet, so GitHub and
 * any browser show them as images): end-to-end latency against the offered load, and what each AWS component costs.
 * Pure functions of the report, so they are tested on a fixed report and can be redrawn from any earlier JSON.
 */

/** Chart file names after the JSON's own: `latest.json` gets `latest.latency-vs-load.svg` beside it. */
export const CHART_SUFFIXES = { latency: 'latency-vs-load.svg', cost: 'cost-per-component.svg' } as const;

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
const INK = '#1d2430';
const GRID = '#d8dde6';

/** The cost components in drawing order, with their colours and labels. */
const COMPONENTS: Array<{ key: Exclude<keyof CostLines, 'total'>; label: string; colour: string }> = [
  { key: 'apiGateway', label: 'API Gateway', colour: '#4c78a8' },
  { key: 'lambdaRequests', label: 'Lambda requests', colour: '#f58518' },
  { key: 'lambdaDuration', label: 'Lambda duration', colour: '#e45756' },
  { key: 'dynamoDbReads', label: 'DynamoDB reads', colour: '#72b7b2' },
  { key: 'dynamoDbWrites', label: 'DynamoDB writes', colour: '#54a24b' },
  { key: 'sqs', label: 'SQS', colour: '#b279a2' },
  { key: 'sns', label: 'SNS mobile push', colour: '#9d755d' },
];

/** Text for SVG content and attributes. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis maximum at or above `value`: 1, 2 or 5 times a power of ten. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function number(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
}

function svg(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">`,
    `<title>${escape(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * End-to-end latency (callback POST to the push at the APNs peer) p50 and p99, and the callback's own answer time,
 * at each offered rate of the end-to-end group. Undefined when the report has no end-to-end group.
 */
export function latencyVersusLoadSvg(report: BenchReport): string | undefined {
  const levels = [...(report.groups.endToEnd?.levels ?? [])].sort((a, b) => a.rate - b.rate);
  if (levels.length === 0) return undefined;
  const series = [
    { label: 'end to end p99', colour: '#e45756', dash: '', values: levels.map((l) => l.endToEndMs.p99) },
    { label: 'end to end p50', colour: '#4c78a8', dash: '', values: levels.map((l) => l.endToEndMs.p50) },
    { label: 'callback answer p99', colour: '#e45756', dash: ' stroke-dasharray="6 4"', values: levels.map((l) => l.answerMs.p99) },
    { label: 'callback answer p50', colour: '#4c78a8', dash: ' stroke-dasharray="6 4"', values: levels.map((l) => l.answerMs.p50) },
  ];
  const [width, height] = [720, 400];
  const plot = { left: 64, right: width - 190, top: 48, bottom: height - 56 };
  // The x axis spans the measured rates with a margin, not from zero: the interesting part is between them.
  const rates = levels.map((l) => l.rate);
  const span = Math.max(...rates) - Math.min(...rates) || Math.max(...rates) || 1;
  const [xMin, xMax] = [Math.min(...rates) - span * 0.15, Math.max(...rates) + span * 0.15];
  const yMax = niceCeiling(Math.max(...series.flatMap((s) => s.values)));
  const x = (rate: number) => plot.left + ((rate - xMin) / (xMax - xMin)) * (plot.right - plot.left);
  const y = (ms: number) => plot.bottom - (ms / yMax) * (plot.bottom - plot.top);

  const body: string[] = [
    `<text x="${plot.left}" y="24" ${FONT} font-size="15" font-weight="600" fill="${INK}">Latency against load (${escape(report.date.slice(0, 10))}, commit ${escape(report.git.commit.slice(0, 7))})</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const ms = (yMax / 5) * i;
    body.push(
      `<line x1="${plot.left}" x2="${plot.right}" y1="${y(ms)}" y2="${y(ms)}" stroke="${GRID}"/>`,
      `<text x="${plot.left - 8}" y="${y(ms) + 4}" ${FONT} font-size="11" text-anchor="end" fill="${INK}">${number(ms)}</text>`,
    );
  }
  for (const level of levels) {
    body.push(
      `<line x1="${x(level.rate)}" x2="${x(level.rate)}" y1="${plot.top}" y2="${plot.bottom}" stroke="${GRID}"/>`,
      `<text x="${x(level.rate)}" y="${plot.bottom + 16}" ${FONT} font-size="11" text-anchor="middle" fill="${INK}">${number(level.rate)}/s</text>`,
      `<text x="${x(level.rate)}" y="${plot.bottom + 30}" ${FONT} font-size="11" text-anchor="middle" fill="${INK}">${Math.round(level.load * 100)} %</text>`,
    );
  }
  body.push(
    `<line x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}" stroke="${INK}"/>`,
    `<line x1="${plot.left}" x2="${plot.left}" y1="${plot.top}" y2="${plot.bottom}" stroke="${INK}"/>`,
    `<text x="${(plot.left + plot.right) / 2}" y="${height - 8}" ${FONT} font-size="12" text-anchor="middle" fill="${INK}">new mails per second offered (share of the sustainable rate)</text>`,
    `<text x="16" y="${(plot.top + plot.bottom) / 2}" ${FONT} font-size="12" text-anchor="middle" fill="${INK}" transform="rotate(-90 16 ${(plot.top + plot.bottom) / 2})">milliseconds</text>`,
  );
  series.forEach((s, index) => {
    const points = levels.map((level, i) => `${x(level.rate)},${y(s.values[i]!)}`).join(' ');
    body.push(`<polyline points="${points}" fill="none" stroke="${s.colour}" stroke-width="2.5"${s.dash} data-series="${escape(s.label)}"/>`);
    for (const [i, level] of levels.entries()) body.push(`<circle cx="${x(level.rate)}" cy="${y(s.values[i]!)}" r="3.5" fill="${s.colour}"/>`);
    const legendY = plot.top + 8 + index * 22;
    body.push(
      `<line x1="${plot.right + 16}" x2="${plot.right + 44}" y1="${legendY}" y2="${legendY}" stroke="${s.colour}" stroke-width="2.5"${s.dash}/>`,
      `<text x="${plot.right + 50}" y="${legendY + 4}" ${FONT} font-size="12" fill="${INK}">${escape(s.label)}</text>`,
    );
  });
  return svg(width, height, 'inbox-relay: end-to-end latency against offered load', body);
}

/**
 * What each AWS component costs, as stacked horizontal bars: per 1,000,000 new mails and per 1,000 mailbox-months,
 * each with direct APNs and with SNS mobile push (and per 1,000 mailbox-months with the callback on API Gateway). Undefined when the report has no cost model.
 */
export function costPerComponentSvg(report: BenchReport): string | undefined {
  const model = report.groups.awsCalls?.costModel;
  if (!model) return undefined;
  const panels = [
    {
      title: 'USD per 1,000,000 new mails',
      bars: [
        { label: 'direct APNs', lines: model.perMillionNewMail.apns.total },
        { label: 'SNS mobile push', lines: model.perMillionNewMail.sns.total },
      ],
    },
    {
      title: 'USD per 1,000 mailbox-months (reference workload)',
      bars: [
        { label: 'direct APNs', lines: model.perThousandMailboxMonths.apns.total },
        // What the callback's function URL saves (callbackEndpoint), in reports that have it.
        ...(model.perThousandMailboxMonthsCallbackOnApi ? [{ label: 'APNs, API callback', lines: model.perThousandMailboxMonthsCallbackOnApi }] : []),
        { label: 'SNS mobile push', lines: model.perThousandMailboxMonths.sns.total },
      ],
    },
  ];
  const [width, barHeight] = [720, 26];
  const left = 130;
  const right = width - 70;
  const body: string[] = [
    `<text x="16" y="24" ${FONT} font-size="15" font-weight="600" fill="${INK}">Cost per component (us-east-1 list prices, ${escape(report.date.slice(0, 10))})</text>`,
  ];
  let top = 44;
  for (const panel of panels) {
    const max = niceCeiling(Math.max(...panel.bars.map((bar) => bar.lines.total)));
    const scale = (usd: number) => (usd / max) * (right - left);
    body.push(`<text x="16" y="${top + 14}" ${FONT} font-size="13" font-weight="600" fill="${INK}">${escape(panel.title)}</text>`);
    top += 24;
    for (const bar of panel.bars) {
      body.push(`<text x="${left - 8}" y="${top + barHeight / 2 + 4}" ${FONT} font-size="12" text-anchor="end" fill="${INK}">${escape(bar.label)}</text>`);
      let x = left;
      for (const component of COMPONENTS) {
        const usd = bar.lines[component.key];
        if (!(usd > 0)) continue;
        const w = scale(usd);
        body.push(
          `<rect x="${x}" y="${top}" width="${w}" height="${barHeight}" fill="${component.colour}" data-component="${component.key}"><title>${escape(`${component.label}: $${number(usd)}`)}</title></rect>`,
        );
        x += w;
      }
      body.push(`<text x="${x + 6}" y="${top + barHeight / 2 + 4}" ${FONT} font-size="12" fill="${INK}">$${number(bar.lines.total)}</text>`);
      top += barHeight + 8;
    }
    body.push(
      `<line x1="${left}" x2="${left}" y1="${top - panel.bars.length * (barHeight + 8)}" y2="${top - 8}" stroke="${INK}"/>`,
      `<text x="${right}" y="${top + 6}" ${FONT} font-size="11" text-anchor="end" fill="${INK}">scale: 0 to $${number(max)}</text>`,
    );
    top += 24;
  }
  // Legend, in rows of four.
  COMPONENTS.forEach((component, index) => {
    const lx = 16 + (index % 4) * 172;
    const ly = top + Math.floor(index / 4) * 20;
    body.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${component.colour}"/>`,
      `<text x="${lx + 18}" y="${ly + 10}" ${FONT} font-size="12" fill="${INK}">${escape(component.label)}</text>`,
    );
  });
  return svg(width, top + 48, 'inbox-relay: cost per AWS component', body);
}

/** Writes the charts the report has data for next to its JSON file (`jsonFile` names it); returns the files written. */
export async function writeBenchCharts(report: BenchReport, jsonFile: string): Promise<string[]> {
  const base = path.join(path.dirname(jsonFile), path.basename(jsonFile, '.json'));
  const written: string[] = [];
  for (const [suffix, chart] of [
    [CHART_SUFFIXES.latency, latencyVersusLoadSvg(report)],
    [CHART_SUFFIXES.cost, costPerComponentSvg(report)],
  ] as const) {
    if (chart === undefined) continue;
    const target = `${base}.${suffix}`;
    await writeFile(target, chart);
    written.push(target);
  }
  return written;
}
