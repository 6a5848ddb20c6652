import type { SendMessageBatchCommandInput, SendMessageBatchCommandOutput } from '@aws-sdk/client-sqs';
import { startLocalService, type LocalService } from '../../../infra/local/service.js';
import { AwsFaultInjector, failFirst, type AwsFaultPlan } from '../harness/aws-faults.js';
import { RecordingQueue, accountPushes, deliverLikeExchange, mapWithConcurrency, registerFleet, waitForQuiescence, type Delivery } from '../harness/fleet.js';
import { emptyRow, type SummaryRow } from '../harness/summary.js';

/**
 * Exchange calls back while the event queue (SQS) refuses work. The contract: OK only once the events are queued,
 * otherwise 5xx so that Exchange retries; the retry that gets through leads to exactly one push per new item.
 */

export interface QueueOutageOptions {
  /** Devices per sub-scenario; each has 5 mailboxes and each mailbox gets one notification. */
  devices: number;
  /** Mailboxes that get a 101-item body in the partial-batch scenario (dynalite makes each item cost a few ms). */
  partialMailboxes?: number;
  concurrency?: number;
}

export interface QueueOutageResult {
  rows: SummaryRow[];
  /** OK answers Exchange got for a body whose events the queue had not accepted (must be 0). */
  okWithoutQueueing: number;
  /** 5xx answers that were not explained by a refused enqueue (must be 0). */
  unexplained5xx: number;
  /** Answers other than 200 after Exchange gave up (must be 0: every body got through eventually). */
  undelivered: number;
  /** Unsubscribe answers (must be 0: an outage must never cancel a subscription). */
  unsubscribes: number;
}

/** Records, per mailbox, how many enqueue calls the queue accepted and refused. */
/**
 * For the next `count` SendMessageBatch calls SQS stores only the entry with Id "0" (a body's first queue message) and
 * reports every other entry as failed with a server-side fault, also when the adapter retries them alone, so the
 * adapter gives up with half a body queued.
 */
function partialBatchFailure(count: number) {
  let left = count;
  let injected = 0;
  const middleware = (next: any, context: any) => async (args: any) => {
    if (context.commandName !== 'SendMessageBatchCommand' || left <= 0) return next(args);
    const input = args.input as SendMessageBatchCommandInput;
    const entries = input.Entries ?? [];
    const kept = entries.filter((entry) => entry.Id === '0');
    const failed = entries.filter((entry) => entry.Id !== '0');
    if (failed.length === 0) return next(args);
    left--;
    injected += failed.length;
    const asFailed = failed.map((entry) => ({ Id: entry.Id, Code: 'InternalError', SenderFault: false, Message: 'injected' }));
    if (kept.length === 0) return { output: { Successful: [], Failed: asFailed, $metadata: {} }, response: {} };
    const result = await next({ ...args, input: { ...input, Entries: kept } });
    const output = result.output as SendMessageBatchCommandOutput;
    return { ...result, output: { ...output, Failed: [...(output.Failed ?? []), ...asFailed] } };
  };
  return { middleware, injected: () => injected };
}

export async function runQueueOutage(options: QueueOutageOptions): Promise<QueueOutageResult> {
  let recording: RecordingQueue | undefined;
  const service: LocalService = await startLocalService({
    port: 0,
    dataDir: ':memory:',
    // Nothing fails in the dispatcher here, so nothing needs redelivery; a long visibility timeout keeps a slow run on
    // two cores from being redelivered while it is still working (AWS sets 6x the function timeout for that reason).
    visibilityTimeoutSeconds: 30,
    supervisorIntervalMs: 0,
    wrapEventQueue: (queue) => (recording = new RecordingQueue(queue)),
  });
  const result: QueueOutageResult = { rows: [], okWithoutQueueing: 0, unexplained5xx: 0, undelivered: 0, unsubscribes: 0 };
  try {
    const queue = recording!;
    const faults = new AwsFaultInjector('sqs').attach(service.awsClients.sqs);
    let partialPlan = partialBatchFailure(0);
    service.awsClients.sqs.middlewareStack.add((next: any, context: any) => partialPlan.middleware(next, context), {
      step: 'initialize',
      name: 'assurance-partial-batch',
    });

    const mailboxesPer = 5;
    const notifications = options.devices * mailboxesPer;
    const scenarios: Array<{ name: string; items: number; mailboxes: number; plan: () => { sqs?: AwsFaultPlan; partialCalls?: number }; note: string }> = [
      {
        name: 'queue down, then back',
        items: 1,
        mailboxes: notifications,
        // The first half of the notifications find SQS down; Exchange's retries arrive after it is back.
        plan: () => ({ sqs: failFirst(Math.ceil(notifications / 2), 'unavailable', ['SendMessageBatchCommand']) }),
        note: 'SendMessageBatch fails (503) for the first half of the calls',
      },
      {
        name: 'queue throttling, flapping',
        items: 1,
        mailboxes: notifications,
        plan: () => {
          let calls = 0;
          return { sqs: (call) => (call.commandName === 'SendMessageBatchCommand' && ++calls <= notifications * 2 && calls % 2 === 1 ? 'throttle' : undefined) };
        },
        note: 'every other SendMessageBatch throttled',
      },
      {
        name: 'partial batch accepted',
        items: 101,
        mailboxes: options.partialMailboxes ?? 4,
        // 101 new items make two queue messages (100 + 1) in one SendMessageBatch; SQS takes the first and fails the second
        // three times in a row, beyond the adapter's two entry retries, so the callback answers 5xx with half queued.
        plan: () => ({ partialCalls: (options.partialMailboxes ?? 4) * 3 }),
        note: 'SQS reports entries failed; half a body queued before the 5xx',
      },
    ];

    for (const scenario of scenarios) {
      const fleet = await registerFleet(service, { devices: Math.ceil(scenario.mailboxes / mailboxesPer), run: `queue-${scenario.name}` });
      const mailboxes = fleet.flatMap((device) => device.mailboxes).slice(0, scenario.mailboxes);
      const plan = scenario.plan();
      faults.use(plan.sqs ?? (() => undefined));
      partialPlan = partialBatchFailure(plan.partialCalls ?? 0);
      const deliveries: Delivery[] = await mapWithConcurrency(mailboxes, options.concurrency ?? 8, (mailbox, index) =>
        deliverLikeExchange(
          mailbox,
          Array.from({ length: scenario.items }, (_, n) => `AAMkQueue${index}-${n}-${scenario.name.length}`),
          { maxAttempts: 50, retryDelayMs: 10 },
        ),
      );
      const injected = faults.injected + partialPlan.injected();
      faults.heal();
      faults.injected = 0;
      partialPlan = partialBatchFailure(0);
      await waitForQuiescence(service);

      let violations = 0;
      for (const delivery of deliveries) {
        const key = `${delivery.mailbox.deviceId}/${delivery.mailbox.mailboxId}`;
        const oks = delivery.answers.filter((a) => a.status === 200 && a.subscriptionStatus === 'OK').length;
        const fivexx = delivery.answers.filter((a) => a.status >= 500).length;
        const okWithoutQueueing = Math.max(0, oks - (queue.accepted.get(key) ?? 0));
        const unexplained5xx = Math.max(0, fivexx - (queue.refused.get(key) ?? 0));
        const unsubscribes = delivery.answers.filter((a) => a.subscriptionStatus === 'Unsubscribe').length;
        const undelivered = delivery.answers.at(-1)?.status !== 200 ? 1 : 0;
        result.okWithoutQueueing += okWithoutQueueing;
        result.unexplained5xx += unexplained5xx;
        result.unsubscribes += unsubscribes;
        result.undelivered += undelivered;
        violations += okWithoutQueueing + unexplained5xx + unsubscribes + undelivered;
      }
      const account = accountPushes(service.apnsSandbox!.pushes(), deliveries);
      result.rows.push({
        ...emptyRow('faults', `queue: ${scenario.name}`),
        injected,
        sent: deliveries.length,
        pushesExpected: account.expected,
        pushesReceived: account.received,
        lost: account.lost,
        duplicates: account.duplicates,
        duplicatesAllowed: 0,
        // OK without queueing, 5xx not explained by a refused enqueue, Unsubscribe, Exchange giving up.
        crashes: violations,
        note: `${scenario.note}; Exchange attempts ${deliveries.reduce((n, d) => n + d.answers.length, 0)}`,
      });
    }
  } finally {
    await service.stop();
  }
  return result;
}
