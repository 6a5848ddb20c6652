import { newMailBody, postNotification, statusEventBody } from '../test/support/exchange.js';
import { api } from '../test/support/device-api.js';
import { buildCostModel, type CostModel, type FunctionName, type Usage } from './cost-model.js';
import { PRICES, REFERENCE_WORKLOAD } from './prices.js';
import type { CounterSnapshot } from './support/aws-call-counter.js';
import type { MailboxAttributes } from './support/fleet.js';
import { FLEET_STATUS_FREQUENCY_MINUTES, fleetCallbackUrl, fleetGraphNotificationUrl, fleetMember } from './support/fleet.js';
import { graphBody, messageItem, postGraph } from '../test/support/graph.js';
import { startBenchStack, type BenchStack } from './support/local-stack.js';
import { progress } from './support/progress.js';
import { fixed, mean, sig } from './support/stats.js';

/**
 * Group 4, AWS calls per notification: every call the local service makes to DynamoDB and SQS, counted in the SDK
 * clients' middleware and attributed to the function that made it, for new mails, heartbeats and subscription
 * reports; then the cost model (prices.ts) turns them into dollars.
 *
 * New mail is sent one at a time, each after the previous push arrived, so every SQS batch holds one message: that is
 * what a mailbox-level workload of a few mails an hour per mailbox looks like, and it is the costly case for the
 * per-batch lines (receive, delete, dispatcher invocation). A second run with 20 requests in flight shows what
 * batching saves when traffic is dense.
 */

export interface FunctionUsage {
  invocations: number;
  meanInvocationMs: number;
  /** API calls by service and command, e.g. `DynamoDB GetItem`. */
  calls: Record<string, number>;
  dynamoDbReadUnits: number;
  dynamoDbWriteUnits: number;
  dynamoDbIndexWriteUnits: number;
  sqsRequests: number;
  /** SDK retries (attempts beyond the first); each is billed. */
  retries: number;
}

export interface PhaseResult {
  /** Notifications (or subscription reports) sent. */
  units: number;
  pushes: number;
  /**
   * Long polls of the local poller that returned nothing (left out of every figure: on AWS the event source mapping
   * polls the queue whether or not there is mail, a fixed cost per deployment).
   */
  emptyReceives: number;
  /** Totals over the phase, by function. */
  totals: Partial<Record<FunctionName, FunctionUsage>>;
  /** Per notification, by function (invocations, calls, units, requests divided by `units`). */
  perUnit: Partial<Record<FunctionName, FunctionUsage>>;
}

export interface AwsCallsResult {
  phases: { newMail: PhaseResult; newMailBurst: PhaseResult; heartbeat: PhaseResult; resubscription: PhaseResult; graphNewMail?: PhaseResult };
  burstConcurrency: number;
  costModel: CostModel;
  prices: typeof PRICES;
  workload: typeof REFERENCE_WORKLOAD;
}

const SCOPE = 'aws-calls';

/**
 * Every notification is measured on a live subscription in the steady state of its heartbeats: each mailbox was last
 * heard from one StatusFrequency ago, by the previous heartbeat. The callback records a notification only when the
 * stored time is a write interval old (a quarter of the StatusFrequency, at most a minute), so every heartbeat of a
 * quiet mailbox is written.
 */
function steadyState(seededAt: number): MailboxAttributes {
  const frequencyMs = FLEET_STATUS_FREQUENCY_MINUTES * 60_000;
  return () => ({ lastNotificationAt: seededAt - frequencyMs, supervisionState: 'live' });
}
const BURST_CONCURRENCY = 20;

export async function runAwsCallsBench(options: { quick: boolean }): Promise<AwsCallsResult> {
  const n = options.quick ? 100 : 1000;
  const stack = await startBenchStack({ scope: SCOPE, countCalls: true });
  let stopped = false;
  try {
    progress(SCOPE, `seeding ${3 * n} mailboxes`);
    await stack.seed(3 * n, steadyState(Date.now()));
    const newMailIndexes = range(0, n);
    const heartbeatIndexes = range(n, 2 * n);
    const burstIndexes = range(2 * n, 3 * n);
    stack.counter!.take();

    progress(SCOPE, `${n} new mails, one at a time`);
    const newMail = await phase(stack, n, async () => {
      for (const [k, index] of newMailIndexes.entries()) {
        await sendNotification(stack, index, 'new-mail');
        await stack.service.apnsSandbox!.waitForPushes(k + 1, 10_000);
      }
    });

    progress(SCOPE, `${n} heartbeats (StatusEvent), one at a time`);
    const heartbeat = await phase(stack, n, async () => {
      for (const index of heartbeatIndexes) await sendNotification(stack, index, 'status');
    });

    progress(SCOPE, `${n} subscription reports (hourly resubscription), one at a time`);
    const resubscription = await phase(stack, n, async () => {
      for (const index of newMailIndexes) await reportSubscription(stack, index);
    });

    progress(SCOPE, `${n} new mails, ${BURST_CONCURRENCY} in flight`);
    const newMailBurst = await phase(stack, n, async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: BURST_CONCURRENCY }, async () => {
          while (next < burstIndexes.length) await sendNotification(stack, burstIndexes[next++]!, 'new-mail');
        }),
      );
    });

    const unitUsage = (result: PhaseResult): Usage => {
      const usage: Usage = {};
      for (const fn of Object.keys(result.perUnit) as FunctionName[]) {
        const perUnit = result.perUnit[fn]!;
        const totals = result.totals[fn]!;
        usage[fn] = {
          lambdaInvocations: perUnit.invocations,
          billedMsPerInvocation: Number.isFinite(totals.meanInvocationMs) ? Math.ceil(totals.meanInvocationMs) : 0,
          apiGatewayRequests: fn === 'dispatcher' ? 0 : perUnit.invocations,
          dynamoDbReadUnits: perUnit.dynamoDbReadUnits,
          dynamoDbWriteUnits: perUnit.dynamoDbWriteUnits,
          dynamoDbIndexWriteUnits: perUnit.dynamoDbIndexWriteUnits,
          sqsRequests: perUnit.sqsRequests,
          pushes: fn === 'dispatcher' ? result.pushes / result.units : 0,
        };
      }
      return usage;
    };
    const costModel = buildCostModel({ newMail: unitUsage(newMail), heartbeat: unitUsage(heartbeat), resubscription: unitUsage(resubscription) });
    await stack.stop();
    stopped = true;
    const graphNewMail = await runGraphNewMail(n);
    return {
      phases: { newMail, newMailBurst, heartbeat, resubscription, graphNewMail },
      burstConcurrency: BURST_CONCURRENCY,
      costModel,
      prices: PRICES,
      workload: REFERENCE_WORKLOAD,
    };
  } finally {
    if (!stopped) await stack.stop();
  }
}

/** Graph new mail, one at a time, on a fleet whose mailboxes report Graph subscriptions: the calls per Graph notification. */
async function runGraphNewMail(n: number): Promise<PhaseResult> {
  const stack = await startBenchStack({ scope: SCOPE, countCalls: true, protocol: 'graph' });
  try {
    progress(SCOPE, `Graph: seeding ${n} mailboxes, then ${n} Graph new mails, one at a time`);
    await stack.seed(n);
    return await phase(stack, n, async () => {
      for (let index = 0; index < n; index++) {
        const member = fleetMember(stack.salt, index);
        const body = graphBody([messageItem({ subscriptionId: member.subscriptionId, clientState: member.clientState, messageId: `AAMkGraphCalls-${index}` })]);
        const answer = await postGraph(fleetGraphNotificationUrl(stack.service.publicUrl, member), body);
        if (answer.status !== 202) throw new Error(`Graph notification answered ${answer.status}`);
        await stack.service.apnsSandbox!.waitForPushes(index + 1, 10_000);
      }
    });
  } finally {
    await stack.stop();
  }
}

async function sendNotification(stack: BenchStack, index: number, kind: 'new-mail' | 'status'): Promise<void> {
  const member = fleetMember(stack.salt, index);
  const body = kind === 'new-mail' ? newMailBody(member.subscriptionId, [{ itemId: `AAMkCalls-${index}` }]) : statusEventBody(member.subscriptionId);
  const answer = await postNotification(fleetCallbackUrl(stack.service.publicUrl, member), body);
  if (answer.status !== 200 || answer.subscriptionStatus !== 'OK') throw new Error(`callback answered ${answer.status} ${answer.subscriptionStatus}`);
}

async function reportSubscription(stack: BenchStack, index: number): Promise<void> {
  const member = fleetMember(stack.salt, index);
  const answer = await api(stack.service.baseUrl, 'PUT', `/v1/devices/${member.deviceId}/mailboxes/${member.mailboxId}/subscription`, {
    token: member.deviceSecret,
    body: {
      subscriptionId: `${member.subscriptionId}-renewed`,
      expiresAt: new Date(Date.now() + 2 * 60 * 60 * 1000).toISOString(),
      statusFrequencyMinutes: FLEET_STATUS_FREQUENCY_MINUTES,
    },
  });
  if (answer.status !== 204) throw new Error(`subscription report answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** Runs `work`, waits until the dispatcher is done with it, and sums what was counted meanwhile. */
async function phase(stack: BenchStack, units: number, work: () => Promise<void>): Promise<PhaseResult> {
  stack.counter!.take();
  stack.service.apnsSandbox!.clear();
  await work();
  if (!(await stack.waitForQueueDrained(60_000))) throw new Error('the event queue did not drain');
  const pushes = stack.service.apnsSandbox!.pushes().filter((push) => push.status === 200).length;
  return summarize(stack.counter!.take(), units, pushes);
}

export function summarize(snapshot: CounterSnapshot, units: number, pushes: number): PhaseResult {
  const totals: PhaseResult['totals'] = {};
  const perUnit: PhaseResult['perUnit'] = {};
  const isEmptyReceive = (call: CounterSnapshot['calls'][number]) => call.command === 'ReceiveMessageCommand' && call.messages === 0;
  for (const fn of ['callback', 'device-api', 'dispatcher'] as const) {
    const billed = snapshot.calls.filter((call) => call.origin === fn && !isEmptyReceive(call));
    const invocations = snapshot.invocations.filter((invocation) => invocation.origin === fn);
    if (billed.length === 0 && invocations.length === 0) continue;
    const counted: Record<string, number> = {};
    for (const call of billed) {
      const name = `${call.service} ${call.command.replace(/Command$/, '')}`;
      counted[name] = (counted[name] ?? 0) + 1;
    }
    const sum = (pick: (call: (typeof billed)[number]) => number) => billed.reduce((total, call) => total + pick(call), 0);
    const usage: FunctionUsage = {
      invocations: invocations.length,
      meanInvocationMs: fixed(mean(invocations.map((invocation) => invocation.ms)), 2),
      calls: counted,
      dynamoDbReadUnits: sum((call) => call.readUnits),
      dynamoDbWriteUnits: sum((call) => call.writeUnits),
      dynamoDbIndexWriteUnits: sum((call) => call.indexWriteUnits),
      sqsRequests: sum((call) => call.sqsRequests),
      retries: sum((call) => call.attempts - 1),
    };
    totals[fn] = usage;
    perUnit[fn] = {
      ...usage,
      invocations: sig(usage.invocations / units, 3),
      calls: Object.fromEntries(Object.entries(counted).map(([name, count]) => [name, sig(count / units, 3)])),
      dynamoDbReadUnits: sig(usage.dynamoDbReadUnits / units, 3),
      dynamoDbWriteUnits: sig(usage.dynamoDbWriteUnits / units, 3),
      dynamoDbIndexWriteUnits: sig(usage.dynamoDbIndexWriteUnits / units, 3),
      sqsRequests: sig(usage.sqsRequests / units, 3),
      retries: sig(usage.retries / units, 3),
    };
  }
  return { units, pushes, emptyReceives: snapshot.calls.filter(isEmptyReceive).length, totals, perUnit };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
