import { XMLParser } from 'fast-xml-parser';
import { organizationDeps } from '../test/support/organization.js';
import { registerDevice } from '../functions/device-api/register-device.js';
import { reportSubscription } from '../functions/device-api/report-subscription.js';
import { acceptNotifications, type CallbackDeps } from '../functions/exchange-callback/accept-notifications.js';
import { readSendNotification } from '../shared/ews/inbound.js';
import { registerDeviceRequestSchema } from '../shared/device/device-schemas.js';
import { buildSendNotificationResult } from '../shared/ews/index.js';
import { noEndpointRegistry } from '../shared/push/push-gateway.js';
import { InMemoryEventQueue } from '../shared/store/in-memory-event-queue.js';
import { createInMemoryStores } from '../shared/store/in-memory-stores.js';
import { newMailBody, statusEventBody } from '../test/support/exchange.js';
import { FLEET_STATUS_FREQUENCY_MINUTES } from './support/fleet.js';
import { runLoad, type ClosedLoopResult } from './support/load-generator.js';
import { startBenchStack, type BenchStack } from './support/local-stack.js';
import { progress } from './support/progress.js';
import { fixed, median, sig, type LatencySummary } from './support/stats.js';

/**
 * Group 1, the Exchange callback: HTTP answer time and sustained requests/s on the local stack for NewMail and
 * StatusEvent bodies (autocannon in another process, closed loop), the rate at which the whole pipeline (callback,
 * queue, dispatcher, push) keeps up, and the in-process cost of one notification next to fast-xml-parser alone.
 */

export interface ClosedLoopFigures {
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  failed: number;
  /**
   * CPU time of the service process (the function code, the local router, the AWS SDK clients and the emulators it
   * talks to) per request; for NewMail including the dispatcher's share. What bounds the local throughput.
   */
  serviceCpuMsPerRequest: number;
}

export interface PipelineRate {
  /**
   * New-mail notifications the stack processed in the measured run, counted as pushes: every request goes to a mailbox
   * that had no mail for longer than the burst window, so each one is pushed once. (autocannon's own count misses
   * the requests still in flight when it stops, which the stack processes all the same.)
   */
  notifications: number;
  /** From the first request until the queue was empty again. */
  seconds: number;
  /** notifications / seconds: what group 2 calls the sustainable rate. */
  notificationsPerSecond: number;
  /** Of `seconds`, how long the queue took to drain after the load stopped. */
  drainSeconds: number;
}

export interface InProcessFigures {
  /** parse + verify (URL secret, device and subscription state, in-memory stores) + queue + build reply. */
  callbackMicros: number;
  /** `new XMLParser().parse()` of the same bytes. */
  parserOnlyMicros: number;
  /** callbackMicros / parserOnlyMicros. */
  ratio: number;
}

export interface CallbackBenchResult {
  settings: { connections: number; seconds: number; warmupSeconds: number; mailboxes: number };
  newMail: ClosedLoopFigures;
  status: ClosedLoopFigures;
  pipeline: PipelineRate;
  inProcess: { bodyBytes: { newMail: number; status: number }; newMail: InProcessFigures; status: InProcessFigures };
}

const SCOPE = 'callback';
/** Exchange keeps a few connections per CAS server; 10 is also autocannon's default. */
const CONNECTIONS = 10;

export interface CallbackBenchOptions {
  quick: boolean;
}

export async function runCallbackBench(options: CallbackBenchOptions): Promise<CallbackBenchResult> {
  const seconds = options.quick ? 2 : 10;
  const warmupSeconds = options.quick ? 1 : 2;
  // Enough mailboxes that none gets a second new mail within the dispatcher's 5 s burst window (which would hold
  // the alert back and add a delayed flush): a single busy mailbox is not what this group measures.
  const warmupMailboxes = options.quick ? 300 : 2000;
  const measuredMailboxes = options.quick ? 1200 : 12_000;
  const stack = await startBenchStack({ scope: SCOPE });
  try {
    progress(SCOPE, `seeding ${warmupMailboxes + measuredMailboxes} mailboxes`);
    await stack.seed(warmupMailboxes + measuredMailboxes);
    const warmupIndexes = range(0, warmupMailboxes);
    const measuredIndexes = range(warmupMailboxes, warmupMailboxes + measuredMailboxes);

    progress(SCOPE, `NewMail: ${warmupSeconds} s warm-up, then ${seconds} s with ${CONNECTIONS} connections`);
    await closedLoop(stack, { kind: 'new-mail', indexes: warmupIndexes, seconds: warmupSeconds, runTag: 'warmup' });
    await stack.waitForQueueDrained(120_000);
    const cpuBefore = process.cpuUsage();
    const pipelineRun = await measurePipeline(stack, { indexes: measuredIndexes, seconds, runTag: 'measured', scope: SCOPE });
    const newMailCpuMs = cpuMs(process.cpuUsage(cpuBefore)) / pipelineRun.pipeline.notifications;

    progress(SCOPE, `StatusEvent: ${warmupSeconds} s warm-up, then ${seconds} s`);
    const allIndexes = range(0, warmupMailboxes + measuredMailboxes);
    // The NewMail runs warmed up everything a heartbeat uses but its own branch; a quick run skips this one.
    if (!options.quick) await closedLoop(stack, { kind: 'status', indexes: allIndexes, seconds: warmupSeconds, runTag: 'warmup-status' });
    const statusCpuBefore = process.cpuUsage();
    const status = await closedLoop(stack, { kind: 'status', indexes: allIndexes, seconds, runTag: 'status' });
    const statusCpuMs = cpuMs(process.cpuUsage(statusCpuBefore)) / status.ok;
    await stack.stop();

    progress(SCOPE, 'in-process cost per notification');
    const inProcess = await measureInProcess(options.quick);
    return {
      settings: { connections: CONNECTIONS, seconds, warmupSeconds, mailboxes: warmupMailboxes + measuredMailboxes },
      newMail: figures(pipelineRun.load, newMailCpuMs),
      status: figures(status, statusCpuMs),
      pipeline: pipelineRun.pipeline,
      inProcess,
    };
  } catch (error) {
    await stack.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * New mail as fast as the callback answers, then until the queue is empty: the notifications over the whole time is
 * the rate the local stack sustains end to end (callback, SQS, dispatcher and push share one core).
 */
export async function measurePipeline(
  stack: BenchStack,
  run: { indexes: number[]; seconds: number; runTag: string; scope: string },
): Promise<{ load: ClosedLoopResult; pipeline: PipelineRate }> {
  const pushesBefore = stack.service.apnsSandbox?.pushes().length ?? 0;
  const load = await closedLoop(stack, { kind: 'new-mail', indexes: run.indexes, seconds: run.seconds, runTag: run.runTag }, run.scope);
  const drained = await stack.waitForQueueDrained(300_000);
  if (!drained) throw new Error('the event queue did not drain within 5 minutes');
  const endedAt = Date.now();
  const seconds = (endedAt - load.startedAt) / 1000;
  const pushes = (stack.service.apnsSandbox?.pushes().length ?? 0) - pushesBefore;
  const pipeline: PipelineRate = {
    notifications: pushes,
    seconds: fixed(seconds, 2),
    notificationsPerSecond: Math.round(pushes / seconds),
    drainSeconds: fixed((endedAt - load.endedAt) / 1000, 2),
  };
  progress(run.scope, `pipeline: ${pipeline.notifications} notifications in ${pipeline.seconds} s = ${pipeline.notificationsPerSecond}/s`);
  return { load, pipeline };
}

async function closedLoop(
  stack: BenchStack,
  run: { kind: 'new-mail' | 'status'; indexes: number[]; seconds: number; runTag: string },
  scope = SCOPE,
): Promise<ClosedLoopResult> {
  const result = await runLoad({
    mode: 'closed-loop',
    publicUrl: stack.service.publicUrl,
    salt: stack.salt,
    connections: CONNECTIONS,
    ...run,
  });
  if (result.failed > 0) throw new Error(`${run.kind}: ${result.failed} requests failed`);
  progress(scope, `${run.kind} (${run.runTag}): ${Math.round(result.requestsPerSecond)} requests/s, p50 ${result.latencyMs.p50} ms`);
  return result;
}

function figures(result: ClosedLoopResult, serviceCpuMsPerRequest: number): ClosedLoopFigures {
  return {
    requestsPerSecond: Math.round(result.requestsPerSecond),
    latencyMs: result.latencyMs,
    failed: result.failed,
    serviceCpuMsPerRequest: sig(serviceCpuMsPerRequest, 3),
  };
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

async function measureInProcess(quick: boolean): Promise<CallbackBenchResult['inProcess']> {
  const stores = createInMemoryStores();
  const queue = new InMemoryEventQueue();
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const registered = await registerDevice(
    {
      orgId: 'bench-org',
      request: registerDeviceRequestSchema.parse({ pushToken: 'ab'.repeat(32), mailboxes: [{ id: 'primary', kind: 'primary' }] }),
    },
    { ...stores.ports, maxDevicesPerOrg: 1_000_000, decisions: stores.decisions, endpoints: noEndpointRegistry, publicUrl: 'http://127.0.0.1', now: Date.now, random: Math.random, ...organizationDeps(stores.state) },
  );
  const device = (await stores.devices.getDevice(registered.deviceId))!;
  await reportSubscription(
    {
      device,
      mailboxId: 'primary',
      request: { subscriptionId: 'sub-bench', expiresAt: new Date(Date.now() + 86_400_000).toISOString(), statusFrequencyMinutes: FLEET_STATUS_FREQUENCY_MINUTES },
    },
    { ...stores.ports, now: Date.now },
  );
  const callbackUrl = registered.mailboxes[0]!.callbackUrl;
  const secret = callbackUrl.slice(callbackUrl.lastIndexOf('/') + 1);
  const deps: CallbackDeps = { ...stores.ports, decisions: stores.decisions, queue, now: Date.now, logger: quiet, counter: { count() {} } };
  const parser = new XMLParser();

  const bodies = {
    newMail: Buffer.from(newMailBody('sub-bench', [{ itemId: 'AAMkInProcess-1' }])),
    status: Buffer.from(statusEventBody('sub-bench')),
  };
  const iterations = quick ? 500 : 3000;
  const rounds = quick ? 3 : 7;
  const result = {} as Record<'newMail' | 'status', InProcessFigures>;
  for (const kind of ['newMail', 'status'] as const) {
    const body = bodies[kind];
    const ours = async () => {
      const status = await acceptNotifications({ secret, notifications: readSendNotification(body, 'text/xml; charset=utf-8') }, deps);
      if (status !== 'OK') throw new Error(`in-process callback answered ${status}`);
      buildSendNotificationResult(status);
    };
    const parserOnly = () => parser.parse(body);
    // Untimed first: JIT, and the one last-seen write a fresh mailbox gets.
    for (let i = 0; i < iterations; i++) {
      await ours();
      parserOnly();
    }
    const oursRounds: number[] = [];
    const parserRounds: number[] = [];
    // Alternating rounds, so that drift on a shared machine hits both alike; the median round is kept.
    for (let round = 0; round < rounds; round++) {
      queue.clear();
      let started = performance.now();
      for (let i = 0; i < iterations; i++) await ours();
      oursRounds.push(((performance.now() - started) * 1000) / iterations);
      started = performance.now();
      for (let i = 0; i < iterations; i++) parserOnly();
      parserRounds.push(((performance.now() - started) * 1000) / iterations);
    }
    const callbackMicros = median(oursRounds);
    const parserOnlyMicros = median(parserRounds);
    result[kind] = { callbackMicros: sig(callbackMicros), parserOnlyMicros: sig(parserOnlyMicros), ratio: fixed(callbackMicros / parserOnlyMicros, 2) };
  }
  return { bodyBytes: { newMail: bodies.newMail.byteLength, status: bodies.status.byteLength }, ...result };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
