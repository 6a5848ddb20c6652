import { measurePipeline } from './callback.bench.js';
import { fleetMember } from './support/fleet.js';
import { runLoad, type NotificationKind } from './support/load-generator.js';
import { startBenchStack, type BenchStack } from './support/local-stack.js';
import { progress, sleep } from './support/progress.js';
import { median, summarizeLatencies, type LatencySummary } from './support/stats.js';

/**
 * Group 2, end to end: from the moment a callback POST is due until the APNs peer (the local sandbox) receives the
 * push, at 50, 80 and 100 % of the sustainable rate measured in group 1. Open-loop load from another process, one
 * fresh mailbox per request, so every push answers exactly one request (found by its device token) and no burst
 * coalescing merges two of them.
 */

export interface EndToEndLevel {
  /** Fraction of the sustainable rate. */
  load: number;
  rate: number;
  requests: number;
  /**
   * Due → push received by the peer. The peer stamps arrivals in whole milliseconds. With several passes, each
   * figure is the median of the passes' figures (and `count` their sum).
   */
  endToEndMs: LatencySummary;
  /** Due → callback answer complete. */
  answerMs: LatencySummary;
  /** End-to-end p50 and p99 of each pass, in the order they ran. */
  passes: Array<{ p50: number; p99: number }>;
  /** Requests whose push never arrived (must be 0). */
  missingPushes: number;
  failedRequests: number;
}

export interface EndToEndResult {
  /** The same levels with Graph change notifications instead of EWS (a Graph fleet on a stack of its own). */
  graphLevels?: EndToEndLevel[];
  sustainableRate: number;
  rateSource: 'group 1' | 'measured in this group';
  secondsPerLevel: number;
  /** Each level runs in this many passes, interleaved with the other levels (see `runEndToEndBench`). */
  passesPerLevel: number;
  levels: EndToEndLevel[];
}

const SCOPE = 'end-to-end';
export const LOAD_LEVELS = [0.5, 0.8, 1] as const;
/**
 * The machine the benchmarks run on may be shared: a burst of someone else's work during one level would make that
 * level look slow. Each level runs as several shorter passes, interleaved with the other levels, and each figure is
 * the median over its passes, so one disturbed pass does not decide it.
 */
const PASSES = 3;

export interface EndToEndOptions {
  quick: boolean;
  /** The sustainable rate from group 1; measured here when absent. */
  sustainableRate?: number;
}

export async function runEndToEndBench(options: EndToEndOptions): Promise<EndToEndResult> {
  const secondsPerLevel = options.quick ? 2 : 10;
  // A quick run is a smoke test of the whole path; one pass each keeps it short.
  const passCount = options.quick ? 1 : PASSES;
  const stack = await startBenchStack({ scope: SCOPE });
  let stopped = false;
  try {
    let rate = options.sustainableRate;
    const rateSource: EndToEndResult['rateSource'] = rate === undefined ? 'measured in this group' : 'group 1';
    if (rate === undefined) rate = await measureSustainableRate(stack, options.quick, SCOPE);

    const perLevel = LOAD_LEVELS.map((load) => Math.max(passCount, Math.round(rate! * load * secondsPerLevel)));
    const warmupRequests = Math.max(10, Math.round(rate * LOAD_LEVELS[0] * (options.quick ? 1 : 2)));
    const total = warmupRequests + perLevel.reduce((sum, n) => sum + Math.ceil(n / passCount) * passCount, 0);
    progress(SCOPE, `seeding ${total} fresh mailboxes (one per request) for ${LOAD_LEVELS.map((l) => `${l * 100}%`).join(', ')} of ${rate}/s`);
    const first = stack.seeded;
    await stack.seed(first + total);
    await warmUp(stack, { rate: rate * LOAD_LEVELS[0], indexes: Array.from({ length: warmupRequests }, (_, k) => first + k), scope: SCOPE });

    const passes: EndToEndLevel[][] = LOAD_LEVELS.map(() => []);
    let next = first + warmupRequests;
    for (let pass = 0; pass < passCount; pass++) {
      for (const [i, load] of LOAD_LEVELS.entries()) {
        const count = Math.ceil(perLevel[i]! / passCount);
        const indexes = Array.from({ length: count }, (_, k) => next + k);
        next += count;
        passes[i]!.push(await runLevel(stack, { load, rate: rate * load, indexes, runTag: `e2e-${load}-${pass}`, scope: SCOPE }));
        // A short pause, so that one run's stragglers do not overlap the next run's start.
        await sleep(300);
      }
    }
    const levels = passes.map(combinePasses);
    await stack.stop();
    stopped = true;
    const graphLevels = await runGraphLevels({ rate, perLevel, warmupRequests, passCount });
    return { sustainableRate: rate, rateSource, secondsPerLevel, passesPerLevel: passCount, levels, graphLevels };
  } finally {
    if (!stopped) await stack.stop();
  }
}

/**
 * The same load levels (fractions of the same EWS sustainable rate, the same requests per level and passes) with
 * Graph notifications (one `created` message each, JSON) to the Graph URL of a fleet whose mailboxes report Graph
 * subscriptions: the Graph answer time and end to end next to EWS's.
 */
async function runGraphLevels(run: { rate: number; perLevel: number[]; warmupRequests: number; passCount: number }): Promise<EndToEndLevel[]> {
  const stack = await startBenchStack({ scope: SCOPE, protocol: 'graph' });
  try {
    const total = run.warmupRequests + run.perLevel.reduce((sum, n) => sum + Math.ceil(n / run.passCount) * run.passCount, 0);
    progress(SCOPE, `Graph: seeding ${total} fresh Graph mailboxes`);
    await stack.seed(total);
    await warmUp(stack, { rate: run.rate * LOAD_LEVELS[0], indexes: Array.from({ length: run.warmupRequests }, (_, k) => k), scope: SCOPE, kind: 'graph-new-mail' });
    const passes: EndToEndLevel[][] = LOAD_LEVELS.map(() => []);
    let next = run.warmupRequests;
    for (let pass = 0; pass < run.passCount; pass++) {
      for (const [i, load] of LOAD_LEVELS.entries()) {
        const count = Math.ceil(run.perLevel[i]! / run.passCount);
        const indexes = Array.from({ length: count }, (_, k) => next + k);
        next += count;
        passes[i]!.push(await runLevel(stack, { load, rate: run.rate * load, indexes, runTag: `graph-${load}-${pass}`, scope: SCOPE, kind: 'graph-new-mail' }));
        await sleep(300);
      }
    }
    return passes.map(combinePasses);
  } finally {
    await stack.stop();
  }
}

/** One level's passes as one: each percentile the median over the passes, counts summed. */
export function combinePasses(passes: EndToEndLevel[]): EndToEndLevel {
  const combine = (pick: (level: EndToEndLevel) => LatencySummary): LatencySummary => ({
    count: passes.reduce((sum, level) => sum + pick(level).count, 0),
    p50: median(passes.map((level) => pick(level).p50)),
    p90: median(passes.map((level) => pick(level).p90)),
    p99: median(passes.map((level) => pick(level).p99)),
    max: median(passes.map((level) => pick(level).max)),
  });
  return {
    load: passes[0]!.load,
    rate: passes[0]!.rate,
    requests: passes.reduce((sum, level) => sum + level.requests, 0),
    endToEndMs: combine((level) => level.endToEndMs),
    answerMs: combine((level) => level.answerMs),
    passes: passes.flatMap((level) => level.passes),
    missingPushes: passes.reduce((sum, level) => sum + level.missingPushes, 0),
    failedRequests: passes.reduce((sum, level) => sum + level.failedRequests, 0),
  };
}

/** Group 1's pipeline measurement, for when this group runs on its own (`--only end-to-end`). */
export async function measureSustainableRate(stack: BenchStack, quick: boolean, scope: string): Promise<number> {
  const mailboxes = quick ? 1500 : 8000;
  progress(scope, `no sustainable rate given: measuring it as group 1 does, on ${mailboxes} mailboxes`);
  const first = stack.seeded;
  await stack.seed(first + mailboxes);
  const indexes = Array.from({ length: mailboxes }, (_, k) => first + k);
  const { pipeline } = await measurePipeline(stack, { indexes, seconds: quick ? 2 : 5, runTag: 'rate-probe', scope });
  return pipeline.notificationsPerSecond;
}

/**
 * Untimed open-loop traffic before the first measured level: the first requests of a fresh process pay for JIT
 * compilation and for opening connections, which no later request does.
 */
export async function warmUp(stack: BenchStack, run: { rate: number; indexes: number[]; scope: string; kind?: NotificationKind }): Promise<void> {
  progress(run.scope, `warm-up: ${run.indexes.length} requests at ${Math.round(run.rate)}/s, not measured`);
  await runLoad({
    mode: 'open-loop',
    publicUrl: stack.service.publicUrl,
    salt: stack.salt,
    indexes: run.indexes,
    kind: run.kind ?? 'new-mail',
    runTag: 'warm-up',
    rate: run.rate,
    count: run.indexes.length,
    maxSockets: 64,
  });
  await stack.waitForQueueDrained(60_000);
}

/** One open-loop run at `rate`; each push is matched to its request by device token. */
export async function runLevel(
  stack: BenchStack,
  run: { load: number; rate: number; indexes: number[]; runTag: string; scope: string; kind?: NotificationKind },
): Promise<EndToEndLevel> {
  const sandbox = stack.service.apnsSandbox;
  if (!sandbox) throw new Error('the benchmarks need the embedded APNs sandbox');
  sandbox.clear();
  progress(run.scope, `${Math.round(run.load * 100)}%: ${run.indexes.length} requests at ${Math.round(run.rate)}/s`);
  const sent = await runLoad({
    mode: 'open-loop',
    publicUrl: stack.service.publicUrl,
    salt: stack.salt,
    indexes: run.indexes,
    kind: run.kind ?? 'new-mail',
    runTag: run.runTag,
    rate: run.rate,
    count: run.indexes.length,
    maxSockets: 64,
  });
  // Everything answered; the last pushes may still be on their way.
  await stack.waitForQueueDrained(120_000);

  const byToken = new Map<string, number>();
  run.indexes.forEach((index, k) => byToken.set(fleetMember(stack.salt, index).pushToken, k));
  const endToEnd: number[] = [];
  const seen = new Set<number>();
  for (const push of sandbox.pushes()) {
    const k = byToken.get(push.token);
    if (k === undefined || push.status !== 200 || seen.has(k)) continue;
    seen.add(k);
    endToEnd.push(push.at - sent.dueAt[k]!);
  }
  // EWS answers 200, Graph 202.
  const answered = sent.answerMs.filter((ms, k) => ms >= 0 && sent.status[k]! >= 200 && sent.status[k]! < 300);
  const endToEndMs = summarizeLatencies(endToEnd);
  const level: EndToEndLevel = {
    load: run.load,
    rate: Math.round(run.rate),
    requests: run.indexes.length,
    endToEndMs,
    answerMs: summarizeLatencies(answered),
    passes: [{ p50: endToEndMs.p50, p99: endToEndMs.p99 }],
    missingPushes: run.indexes.length - seen.size,
    failedRequests: run.indexes.length - answered.length,
  };
  progress(run.scope, `${Math.round(run.load * 100)}%: end to end p50 ${level.endToEndMs.p50} ms, p99 ${level.endToEndMs.p99} ms; answer p50 ${level.answerMs.p50} ms`);
  return level;
}
