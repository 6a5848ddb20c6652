import { summarize } from './aws-calls.bench.js';
import { combinePasses, measureSustainableRate, runLevel, warmUp, type EndToEndLevel } from './end-to-end.bench.js';
import { startBenchStack } from './support/local-stack.js';
import { progress, sleep } from './support/progress.js';
import { fixed, sig } from './support/stats.js';

/**
 * Group 6, growth: group 2's end-to-end run (shortened, at 50 % of the sustainable rate) with 1,000, 10,000 and
 * 100,000 registered mailboxes, and the AWS calls per notification at each size, to show that what one notification
 * costs does not depend on how many mailboxes there are. Every lookup on the real-time path is by key.
 *
 * The table holds registrations only (device, mailbox, callback lookup per mailbox); a real one would also hold
 * dedupe keys and decisions, which the same key-only lookups never scan either.
 */

export interface GrowthLevel {
  mailboxes: number;
  /** Seconds to seed up to this size (directly through the document client). */
  seedSeconds: number;
  endToEnd: Pick<EndToEndLevel, 'rate' | 'requests' | 'endToEndMs' | 'answerMs' | 'passes' | 'missingPushes' | 'failedRequests'>;
  /** Callback + dispatcher, per new-mail notification. */
  perNotification: { dynamoDbCalls: number; dynamoDbReadUnits: number; dynamoDbWriteUnits: number; dynamoDbIndexWriteUnits: number; sqsRequests: number };
}

export interface GrowthResult {
  sustainableRate: number;
  rateSource: 'group 1' | 'measured in this group';
  load: number;
  levels: GrowthLevel[];
}

const SCOPE = 'growth';
const LOAD = 0.5;
const PASSES = 3;

export async function runGrowthBench(options: { quick: boolean; sustainableRate?: number }): Promise<GrowthResult> {
  const sizes = options.quick ? [1000, 2000] : [1000, 10_000, 100_000];
  let rate = options.sustainableRate;
  const rateSource: GrowthResult['rateSource'] = rate === undefined ? 'measured in this group' : 'group 1';
  if (rate === undefined) {
    // On a stack of its own: the probe's mailboxes must not count towards the sizes below.
    const probe = await startBenchStack({ scope: SCOPE });
    try {
      rate = await measureSustainableRate(probe, options.quick, SCOPE);
    } finally {
      await probe.stop();
    }
  }

  // A fixed number of requests per size, unless the machine is so slow that they would take more than a few seconds.
  const requestsPerLevel = Math.max(20, Math.min(options.quick ? 200 : 1000, Math.round(rate * LOAD * (options.quick ? 2 : 8))));
  const stack = await startBenchStack({ scope: SCOPE, countCalls: true });
  try {
    const levels: GrowthLevel[] = [];
    let seedSeconds = 0;
    for (const size of sizes) {
      const from = stack.seeded;
      progress(SCOPE, `seeding up to ${size.toLocaleString('en-US')} mailboxes`);
      seedSeconds += (await stack.seed(size)).seconds;
      // dynalite's LevelDB compacts in the background after a bulk load; a pause keeps that out of the timed run.
      await sleep(options.quick ? 200 : 3000);
      // The first of the new mailboxes take an untimed warm-up (JIT after the seeding, connections, caches).
      const warmupCount = Math.max(10, Math.min(Math.round(rate * LOAD * (options.quick ? 1 : 2)), Math.floor((size - from) / 10)));
      await warmUp(stack, { rate: rate * LOAD, indexes: Array.from({ length: warmupCount }, (_, k) => from + k), scope: SCOPE });
      const start = from + warmupCount;
      // Mailboxes that never had mail, spread over the rest of the newly seeded ones.
      const fresh = size - start;
      const count = Math.min(requestsPerLevel, fresh);
      const indexes = Array.from({ length: count }, (_, k) => start + Math.floor((k * fresh) / count));
      stack.counter!.take();
      // Three shorter passes, each figure the median over them, as in group 2 (one disturbed pass does not decide).
      const passes: EndToEndLevel[] = [];
      const passCount = options.quick ? 1 : PASSES;
      let pushes = 0;
      for (let pass = 0; pass < passCount; pass++) {
        const part = indexes.filter((_, k) => k % passCount === pass);
        passes.push(await runLevel(stack, { load: LOAD, rate: rate * LOAD, indexes: part, runTag: `growth-${size}-${pass}`, scope: SCOPE }));
        pushes += stack.service.apnsSandbox!.pushes().filter((push) => push.status === 200).length;
      }
      const level = combinePasses(passes);
      const usage = summarize(stack.counter!.take(), count, pushes);
      const functions = [usage.totals.callback, usage.totals.dispatcher].filter((u) => u !== undefined);
      const per = (pick: (u: (typeof functions)[number]) => number) => sig(functions.reduce((sum, u) => sum + pick(u), 0) / count, 3);
      levels.push({
        mailboxes: size,
        seedSeconds: fixed(seedSeconds, 1),
        endToEnd: {
          rate: level.rate,
          requests: level.requests,
          endToEndMs: level.endToEndMs,
          answerMs: level.answerMs,
          passes: level.passes,
          missingPushes: level.missingPushes,
          failedRequests: level.failedRequests,
        },
        perNotification: {
          dynamoDbCalls: per((u) => Object.entries(u.calls).filter(([name]) => name.startsWith('DynamoDB')).reduce((sum, [, n]) => sum + n, 0)),
          dynamoDbReadUnits: per((u) => u.dynamoDbReadUnits),
          dynamoDbWriteUnits: per((u) => u.dynamoDbWriteUnits),
          dynamoDbIndexWriteUnits: per((u) => u.dynamoDbIndexWriteUnits),
          sqsRequests: per((u) => u.sqsRequests),
        },
      });
    }
    return { sustainableRate: rate, rateSource, load: LOAD, levels };
  } finally {
    await stack.stop();
  }
}
