/**
 * `npm run soak`: the assurance suites of `npm test`, longer and with other seeds, in one process, ending with one
 * summary table (faults injected, cases tried, pushes expected and received, lost, duplicates, crashes). Exits 1 when
 * any row does not hold: something lost, a duplicate beyond what the design allows, or a crash.
 *
 *   npm run soak                     # the default sizes (tens of minutes on two cores)
 *   SOAK_SCALE=0.1 npm run soak      # a quick pass
 *   SOAK_SEED=42 npm run soak        # other seeds (the default is fixed, so a run can be repeated)
 */
import { writeFileSync } from 'node:fs';

// The same quiet environment as vitest.config.mts, set before any Powertools module loads.
process.env.POWERTOOLS_DEV ??= 'false';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.HOSTILE_ANSWER_BOUND_MS ??= '2000'; // the hostile suites' answer bound holds here, never in npm test

const { formatSummary, rowHolds, emptyRow } = await import('../test/faults/harness/summary.js');
type SummaryRow = import('../test/faults/harness/summary.js').SummaryRow;
const { simulateCrashes, crashSimRow, KILL_POINTS } = await import('../test/faults/harness/crash-sim.js');
const { runQueueOutage } = await import('../test/faults/scenarios/queue-outage.js');
const { runApnsFaults, runDeadLetterRedrive } = await import('../test/faults/scenarios/apns-faults.js');
const { runDynamoFaults } = await import('../test/faults/scenarios/dynamodb-faults.js');
const { runRestartCycles } = await import('../test/faults/scenarios/restart-cycles.js');
const { fuzzCallback, fuzzDeviceApi } = await import('../test/hostile/fuzz.js');
const { fuzzGraph } = await import('../test/hostile/graph-fuzz.js');
const { forgeCallbacks } = await import('../test/security/forged-callbacks.js');
const fc = (await import('fast-check')).default;

const scale = Number(process.env.SOAK_SCALE ?? '1');
const seed = Number(process.env.SOAK_SEED ?? '0x50a4');
const n = (count: number) => Math.max(1, Math.round(count * scale));
const rows: SummaryRow[] = [];
const started = Date.now();

async function step<T>(name: string, run: () => Promise<T>, toRows: (result: T) => SummaryRow[]): Promise<void> {
  const at = Date.now();
  process.stdout.write(`soak: ${name} ...`);
  try {
    const result = await run();
    const produced = toRows(result);
    rows.push(...produced);
    process.stdout.write(` ${Math.round((Date.now() - at) / 1000)} s, ${produced.every(rowHolds) ? 'holds' : 'DOES NOT HOLD'}\n`);
  } catch (error) {
    process.stdout.write(` failed: ${(error as Error).stack ?? error}\n`);
    rows.push({ ...emptyRow('soak', name), crashes: 1, note: `the scenario itself failed: ${(error as Error).message}` });
  }
}

await step(
  `dispatcher killed mid-batch, ${n(3_000)} random schedules`,
  async () => {
    const scenario = fc.record({
      devices: fc.integer({ min: 1, max: 12 }),
      notifications: fc.array(fc.record({ device: fc.nat(11), items: fc.integer({ min: 1, max: 4 }), retriedByExchange: fc.boolean() }), { minLength: 1, maxLength: 80 }),
      kills: fc.array(fc.record({ invocation: fc.nat(40), point: fc.constantFrom(...KILL_POINTS), occurrence: fc.integer({ min: 1, max: 3 }) }), { maxLength: 12 }),
      batchSize: fc.constantFrom(1, 3, 10),
      maxReceiveCount: fc.constant(5),
      arrivalGapMs: fc.constantFrom(0, 300, 2_000),
    });
    const results = [];
    for (const s of fc.sample(scenario, { seed, numRuns: n(3_000) })) results.push(await simulateCrashes(s));
    return results;
  },
  (results) => [crashSimRow('dispatcher killed mid-batch (sim)', results)],
);
await step('event queue unavailable', () => runQueueOutage({ devices: n(40), partialMailboxes: n(20) }), (r) => r.rows);
await step('APNs faults', () => runApnsFaults({ devices: n(20), faultFactor: 1.5 }), (r) => r.rows);
await step('dead letter and redrive', () => runDeadLetterRedrive(), (r) => [r.row]);
for (const [index, dynamoSeed] of [seed, seed + 1, seed + 2].entries()) {
  await step(`DynamoDB faults ${index + 1}/3`, () => runDynamoFaults({ devices: Math.max(2, n(10)), seed: dynamoSeed, failureRate: 0.2 }), (r) => [r.row]);
}
await step('restart cycles', () => runRestartCycles({ devices: n(10), cycles: Math.max(2, n(5)) }), (r) => [r.row]);
await step(`callback fuzz, ${n(50_000)} cases`, () => fuzzCallback({ cases: n(50_000), seed }), (r) => [r.row]);
await step(`Graph fuzz, ${n(50_000)} cases`, () => fuzzGraph({ cases: n(50_000), seed }), (r) => [r.row]);
await step(`device API fuzz, ${n(30_000)} cases`, () => fuzzDeviceApi({ cases: n(30_000), seed }), (r) => [
  { ...r.row, crashes: r.row.crashes + (r.deviceStillValid ? 0 : 1) + (r.prototypeClean ? 0 : 1) },
]);
await step(`forged callbacks, ${n(20_000)} secrets`, () => forgeCallbacks({ cases: n(20_000), seed }), (r) => [r.row]);

const minutes = Math.round((Date.now() - started) / 6_000) / 10;
const table = formatSummary(rows);
const holds = rows.every(rowHolds);
process.stdout.write(`\ninbox-relay soak: scale ${scale}, seed ${seed}, ${minutes} min\n\n${table}\n\n${holds ? 'Everything holds.' : 'SOMETHING DOES NOT HOLD: see the rows marked NO.'}\n`);
if (process.env.SOAK_SUMMARY_FILE) writeFileSync(process.env.SOAK_SUMMARY_FILE, `${table}\n`);
process.exit(holds ? 0 : 1);
