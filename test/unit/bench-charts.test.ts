import { mkdtemp, readdir, readFile, rm, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { costPerComponentSvg, latencyVersusLoadSvg, niceCeiling, writeBenchCharts } from '../../bench/support/charts.js';
import type { BenchReport } from '../../bench/support/report.js';

/** The benchmark charts, drawn from the committed results of the last full run (bench/results/latest.json). */
const report = JSON.parse(await readFile('bench/results/latest.json', 'utf8')) as BenchReport;

function attribute(svg: string, selector: RegExp, name: string): string[] {
  return [...svg.matchAll(selector)].map((match) => new RegExp(`${name}="([^"]*)"`).exec(match[0])![1]!);
}

describe('benchmark charts', () => {
  it('draws latency against load: one point per measured rate, p99 above p50, higher load higher up', () => {
    const svg = latencyVersusLoadSvg(report)!;
    expect(XMLValidator.validate(svg)).toBe(true);
    const line = (series: string) =>
      attribute(svg, new RegExp(`<polyline [^>]*data-series="${series}"[^>]*>`, 'g'), 'points')[0]!
        .split(' ')
        .map((point) => point.split(',').map(Number) as [number, number]);
    const p50 = line('end to end p50');
    const p99 = line('end to end p99');
    const levels = report.groups.endToEnd!.levels;
    expect(p50).toHaveLength(levels.length);
    // SVG y grows downwards: a longer time is a smaller y.
    p50.forEach(([, y], i) => expect(p99[i]![1]).toBeLessThan(y));
    const highest = [...levels].sort((a, b) => a.rate - b.rate).at(-1)!;
    const lowest = [...levels].sort((a, b) => a.rate - b.rate)[0]!;
    expect(highest.endToEndMs.p99 > lowest.endToEndMs.p99).toBe(p99.at(-1)![1] < p99[0]![1]);
    for (const level of levels) expect(svg).toContain(`>${level.rate}/s<`);
  });

  it('draws cost per component: segment widths in proportion to the dollars, totals labelled', () => {
    const svg = costPerComponentSvg(report)!;
    expect(XMLValidator.validate(svg)).toBe(true);
    const model = report.groups.awsCalls!.costModel;
    const widthOf = (component: string) => attribute(svg, new RegExp(`<rect [^>]*data-component="${component}"[^>]*>`, 'g'), 'width').map(Number);
    // The first bar is "per 1,000,000 new mails, direct APNs": its DynamoDB writes and SQS segments keep their ratio.
    const [writes] = widthOf('dynamoDbWrites');
    const [sqs] = widthOf('sqs');
    const lines = model.perMillionNewMail.apns.total;
    expect(writes! / sqs!).toBeCloseTo(lines.dynamoDbWrites / lines.sqs, 6);
    // SNS costs nothing with direct APNs, so only the two SNS bars have that segment.
    expect(widthOf('sns')).toHaveLength(2);
    expect(svg).toContain(`>$${lines.total}<`);
  });

  it('escapes text and leaves out a chart whose group did not run', () => {
    const partial = { ...report, date: '<script>', groups: { awsCalls: report.groups.awsCalls } } as BenchReport;
    expect(latencyVersusLoadSvg(partial)).toBeUndefined();
    const svg = costPerComponentSvg(partial)!;
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;');
  });

  it('writes the charts next to the JSON, named after it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-charts-'));
    try {
      await copyFile('bench/results/latest.json', path.join(dir, 'run.json'));
      await writeBenchCharts(report, path.join(dir, 'run.json'));
      expect((await readdir(dir)).sort()).toEqual(['run.cost-per-component.svg', 'run.json', 'run.latency-vs-load.svg']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the committed charts in step with the committed results (npm run bench -- --charts redraws them)', async () => {
    expect(await readFile('bench/results/latest.latency-vs-load.svg', 'utf8')).toBe(latencyVersusLoadSvg(report));
    expect(await readFile('bench/results/latest.cost-per-component.svg', 'utf8')).toBe(costPerComponentSvg(report));
  });

  it('rounds axes up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.3, 1, 7, 12, 763, 1000, 1001].map(niceCeiling)).toEqual([1, 0.5, 1, 10, 20, 1000, 1000, 2000]);
  });
});
