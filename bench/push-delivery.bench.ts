import { runApnsGatewayBench, type ApnsBenchReport } from './apns-gateway.bench.js';
import { progress } from './support/progress.js';
import { fixed } from './support/stats.js';

/**
 * Group 3, push delivery: pushes/s from one process to a local HTTP/2 APNs peer, our gateway next to @parse/node-apn
 * and apns2 with the same payloads, tokens and pushes in flight. The measuring is apns-gateway.bench.ts's; this
 * group picks the sizes for a full or quick run and adds each client's ratio to the best of the two libraries.
 */

export interface PushDeliveryRow {
  client: string;
  pushesPerSecond: number;
  /** pushesPerSecond over the best library's (the fastest row that is not inbox-relay's own gateway). */
  ratioToBestLibrary: number;
  clientCpuMicrosPerPush: number;
  peerCpuShare: number;
  latencyMs: { p50: number; p99: number };
  failures: number;
}

export interface PushDeliveryResult {
  pushes: number;
  inFlight: number;
  rounds: number;
  payloadBytes: number;
  bestLibrary: string;
  rows: PushDeliveryRow[];
}

export async function runPushDeliveryBench(options: { quick: boolean }): Promise<PushDeliveryResult> {
  const sizes = options.quick ? { pushes: 2000, rounds: 1, warmup: 300 } : { pushes: 20_000, rounds: 3, warmup: 2000 };
  progress('push-delivery', `${sizes.pushes} pushes × ${sizes.rounds} rounds per client (apns-gateway.bench.ts)`);
  const report: ApnsBenchReport = await runApnsGatewayBench({ ...sizes, inFlight: 100, print: false });
  const libraries = report.rows.filter((row) => !row.client.startsWith('inbox-relay'));
  const best = libraries.reduce((a, b) => (b.pushesPerSecond > a.pushesPerSecond ? b : a), libraries[0]!);
  return {
    pushes: report.pushes,
    inFlight: report.inFlight,
    rounds: report.rounds,
    payloadBytes: report.payloadBytes,
    bestLibrary: best.client,
    rows: report.rows.map((row) => ({
      client: row.client,
      pushesPerSecond: row.pushesPerSecond,
      ratioToBestLibrary: fixed(row.pushesPerSecond / best.pushesPerSecond, 2),
      clientCpuMicrosPerPush: row.clientCpuMicrosPerPush,
      peerCpuShare: row.peerCpuShare,
      latencyMs: row.latencyMs,
      failures: row.failures,
    })),
  };
}
