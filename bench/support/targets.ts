import type { BenchReport } from './report.js';

/**
 * Issue 15's budgets, each next to its figure of 2026-12-06 (docs/performance.md) and this run's. A row measures
 * from one group's result and says `not run` when that group did not run; adding a target is adding a row here.
 */
export interface Target {
  /** What is measured, as the issue names it. */
  name: string;
  /** The figure of 2026-12-06 (issue 15, docs/performance.md). */
  before: string;
  /** The budget. */
  budget: string;
  /** This run's figure and whether it is within budget; undefined when the group it comes from did not run. */
  measure(groups: BenchReport['groups']): { value: string; met: boolean | undefined } | undefined;
}

/** Calls per new mail of one phase, callback and dispatcher together, to two decimals. */
function callsPerNewMail(phase: { perUnit: Record<string, { calls: Record<string, number> } | undefined> }): number {
  const total = ['callback', 'dispatcher'].reduce((sum, fn) => sum + Object.values(phase.perUnit[fn]?.calls ?? {}).reduce((a, b) => a + b, 0), 0);
  return Math.round(total * 100) / 100;
}

const kib = (bytes: number) => Math.round(bytes / 1024);

export const ISSUE_15_TARGETS: Target[] = [
  {
    name: 'AWS calls per new mail, one at a time (callback + dispatcher)',
    before: '11',
    budget: '≤ 7',
    measure: (g) => {
      if (!g.awsCalls) return undefined;
      const calls = callsPerNewMail(g.awsCalls.phases.newMail);
      return { value: String(calls), met: calls <= 7 };
    },
  },
  {
    name: 'AWS calls per new mail, 20 in flight',
    before: '9.2',
    budget: '≤ 5',
    measure: (g) => {
      if (!g.awsCalls) return undefined;
      const calls = callsPerNewMail(g.awsCalls.phases.newMailBurst);
      return { value: String(calls), met: calls <= 5 };
    },
  },
  {
    name: 'Heartbeat: DynamoDB write units per StatusEvent + index',
    before: '1 + 2',
    budget: '≤ 0.5 + 0',
    measure: (g) => {
      const callback = g.awsCalls?.phases.heartbeat.perUnit.callback;
      if (!callback) return undefined;
      return { value: `${callback.dynamoDbWriteUnits} + ${callback.dynamoDbIndexWriteUnits}`, met: callback.dynamoDbWriteUnits <= 0.5 && callback.dynamoDbIndexWriteUnits === 0 };
    },
  },
  {
    name: 'Cost per 1,000 mailbox-months, direct APNs',
    before: '$17.00',
    budget: '≤ $10.00',
    measure: (g) => {
      if (!g.awsCalls) return undefined;
      const total = g.awsCalls.costModel.perThousandMailboxMonths.apns.total.total;
      return { value: `$${total.toFixed(2)}`, met: total <= 10 };
    },
  },
  {
    name: 'Bundles: largest minified function',
    before: '352 KiB',
    budget: '≤ 150 KiB',
    measure: (g) => {
      if (!g.bundles?.bundles.length) return undefined;
      const largest = Math.max(...g.bundles.bundles.map((b) => b.minifiedBytes));
      return { value: `${kib(largest)} KiB`, met: largest <= 150 * 1024 };
    },
  },
  {
    name: 'Bundles: largest cold import / reference handler',
    before: 'not measured',
    budget: '≤ 1.5',
    measure: (g) => {
      const ratios = (g.bundles?.bundles ?? []).flatMap((b) => (b.coldImportRatio === undefined ? [] : [b.coldImportRatio]));
      if (ratios.length === 0) return undefined;
      const largest = Math.max(...ratios);
      return { value: String(largest), met: largest <= 1.5 };
    },
  },
  {
    name: 'One APNs provider token for the fleet',
    before: 'one per instance',
    budget: 'one per fleet',
    measure: () => ({ value: 'a test, not a benchmark: test/integration/apns-fleet-token.test.ts', met: undefined }),
  },
];

/** The targets table: budget, the 2026-12-06 figure and this run's, and whether it is met. */
export function targetRows(groups: BenchReport['groups'], targets: Target[] = ISSUE_15_TARGETS): string[][] {
  return targets.map((target) => {
    const measured = target.measure(groups);
    const met = measured?.met === undefined ? '' : measured.met ? 'yes' : 'NO';
    return [target.name, target.budget, target.before, measured?.value ?? 'not run', met];
  });
}
