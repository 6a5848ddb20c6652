import { writeFile } from 'node:fs/promises';

/**
 * Runs one benchmark group in this (child) process and writes its result as JSON to the given file. bench/run.ts
 * starts one of these per group, so that each group gets a fresh process (no heap, JIT or open sockets left over
 * from the previous one) and so that the service's own stdout (EMF metrics, logs) stays off the results table.
 *
 * Usage: run-group.ts <group> <result-file> [--quick] [--rate <new mails per second>]
 */

const [group, resultFile, ...flags] = process.argv.slice(2);
const quick = flags.includes('--quick');
const rateFlag = flags.indexOf('--rate');
const sustainableRate = rateFlag === -1 ? undefined : Number(flags[rateFlag + 1]);

async function run(): Promise<unknown> {
  switch (group) {
    case 'callback':
      return (await import('../callback.bench.js')).runCallbackBench({ quick });
    case 'end-to-end':
      return (await import('../end-to-end.bench.js')).runEndToEndBench({ quick, ...(sustainableRate ? { sustainableRate } : {}) });
    case 'push-delivery':
      return (await import('../push-delivery.bench.js')).runPushDeliveryBench({ quick });
    case 'aws-calls':
      return (await import('../aws-calls.bench.js')).runAwsCallsBench({ quick });
    case 'bundles':
      return (await import('../bundles.bench.js')).runBundlesBench({ quick });
    case 'growth':
      return (await import('../growth.bench.js')).runGrowthBench({ quick, ...(sustainableRate ? { sustainableRate } : {}) });
    default:
      throw new Error(`unknown group ${group}`);
  }
}

if (!resultFile) throw new Error('usage: run-group.ts <group> <result-file> [--quick] [--rate N]');
const result = await run();
await writeFile(resultFile, JSON.stringify(result));
// Whatever the group left open (keep-alive sockets, timers of libraries) must not keep the run waiting.
process.exit(0);
