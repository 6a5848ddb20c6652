import fc from 'fast-check';
import { startLocalService, type LocalService } from '../../../infra/local/service.js';
import { redriveDeadLetters } from '../../../soak/redrive-dlq.js';
import { api } from '../../support/device-api.js';
import { AwsFaultInjector, type AwsFaultKind } from '../harness/aws-faults.js';
import { RecordingQueue, accountPushes, deliverLikeExchange, mapWithConcurrency, queueDepth, registerFleet, waitForQuiescence } from '../harness/fleet.js';
import { emptyRow, type SummaryRow } from '../harness/summary.js';

/**
 * DynamoDB throttles and fails (500, 503) at random while Exchange calls back and the dispatcher works, on the running
 * local service: faults injected at the SDK client (a middleware before the SDK's retries, as if those were spent),
 * so every use case sees them: the callback, the dispatcher, the device API.
 */

export interface DynamoFaultOptions {
  devices: number;
  seed: number;
  /** Share of DynamoDB calls that fail while the faults are on. */
  failureRate?: number;
}

export interface DynamoFaultResult {
  row: SummaryRow;
  /** OK answers for a notification whose events the queue had not accepted (must be 0). */
  okWithoutQueueing: number;
  /** Unsubscribe answers to healthy devices (must be 0: a throttle must not cancel a subscription). */
  unsubscribes: number;
  /** Exchange gave up on a body (must be 0). */
  undelivered: number;
  /** Devices retired although APNs never refused their token (must be 0). */
  retiredByMistake: string[];
  /** The device whose token APNs does refuse: retired, as it must be. */
  unregisteredRetired: boolean;
  /** Device API reads during the faults answered 403/404, i.e. as if the device were gone (must be 0). */
  misleadingReads: number;
  readsDuringFaults: Record<string, number>;
  failedByCommand: Record<string, number>;
  /** Records the dispatcher gave up on while DynamoDB failed (maxReceiveCount reached), redriven after recovery. */
  deadLettered: number;
}

export async function runDynamoFaults(options: DynamoFaultOptions): Promise<DynamoFaultResult> {
  let queue: RecordingQueue | undefined;
  const service: LocalService = await startLocalService({
    port: 0,
    dataDir: ':memory:',
    supervisorIntervalMs: 0,
    // Redeliveries of failed dispatcher runs come after the (short) alert-budget window, as on AWS.
    visibilityTimeoutSeconds: 2,
    alertBudget: { windowMs: 300, maxPerWindow: 3 },
    wrapEventQueue: (inner) => (queue = new RecordingQueue(inner)),
  });
  const result: DynamoFaultResult = {
    row: emptyRow('faults', `DynamoDB throttling and 5xx, seed ${options.seed}`),
    okWithoutQueueing: 0,
    unsubscribes: 0,
    undelivered: 0,
    retiredByMistake: [],
    unregisteredRetired: false,
    misleadingReads: 0,
    readsDuringFaults: {},
    failedByCommand: {},
    deadLettered: 0,
  };
  try {
    const fleet = await registerFleet(service, { devices: options.devices, run: `dynamo-${options.seed}` });
    const doomed = fleet[0]!;
    service.apnsSandbox!.unregister(doomed.pushToken, Date.now());

    // A seeded choice per call: fail it or not, and how.
    const rate = options.failureRate ?? 0.15;
    // Uniform draws (fast-check's doubles lean towards the edges on purpose, which is not what a rate means).
    const choices = fc.sample(fc.tuple(fc.integer({ min: 0, max: 9_999 }).map((n) => n / 10_000), fc.constantFrom<AwsFaultKind>('throttle', 'server-error', 'unavailable')), {
      seed: options.seed,
      numRuns: 50_000,
    });
    const faults = new AwsFaultInjector('dynamodb').attach(service.awsClients.dynamodb);
    faults.use((call) => {
      const [draw, kind] = choices[call.index % choices.length]!;
      return draw < rate ? kind : undefined;
    });

    const mailboxes = fleet.flatMap((device) => device.mailboxes);
    const reads = (async () => {
      // Devices read their registration while DynamoDB struggles: 200 or 5xx, never "gone" or "not yours".
      for (let round = 0; round < 3; round++) {
        await mapWithConcurrency(fleet, 4, async (device) => {
          const read = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
          result.readsDuringFaults[read.status] = (result.readsDuringFaults[read.status] ?? 0) + 1;
          if (read.status === 403 || read.status === 404) result.misleadingReads++;
        });
      }
    })();
    const deliveries = await mapWithConcurrency(mailboxes, 6, (mailbox, index) => deliverLikeExchange(mailbox, [`AAMkDynamo${index}`], { maxAttempts: 50, retryDelayMs: 20 }));
    await reads;
    // The dispatcher's redeliveries run into the faults too, until the queue is empty: a record that fails
    // maxReceiveCount times goes to the DLQ (with DynamoDB down there is nowhere to record a decision).
    await waitForQuiescence(service, 120_000);
    for (const call of faults.calls) if (call.failed) result.failedByCommand[call.commandName] = (result.failedByCommand[call.commandName] ?? 0) + 1;
    // DynamoDB recovers; the operator redrives the DLQ (docs/assurance.md).
    faults.heal();
    result.deadLettered = await queueDepth(service.awsClients.sqs, service.backends.deadLetterQueueUrl);
    await redriveDeadLetters(service.awsClients.sqs, { from: service.backends.deadLetterQueueUrl, to: service.backends.eventQueueUrl });
    await waitForQuiescence(service, 120_000);

    for (const delivery of deliveries) {
      const key = `${delivery.mailbox.deviceId}/${delivery.mailbox.mailboxId}`;
      const oks = delivery.answers.filter((a) => a.status === 200 && a.subscriptionStatus === 'OK').length;
      result.okWithoutQueueing += Math.max(0, oks - (queue!.accepted.get(key) ?? 0));
      if (delivery.answers.at(-1)?.status !== 200) result.undelivered++;
      // Once APNs has retired the doomed device, its mailboxes are rightly told to unsubscribe.
      if (delivery.mailbox.deviceId === doomed.deviceId) continue;
      result.unsubscribes += delivery.answers.filter((a) => a.subscriptionStatus === 'Unsubscribe').length;
    }
    for (const device of fleet) {
      const read = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
      if (device === doomed) result.unregisteredRetired = read.body.status === 'retired';
      else if (read.body.status !== 'active') result.retiredByMistake.push(device.deviceId);
    }

    // The doomed device's mails end as token-retired, not as pushes: account only the healthy ones.
    const healthy = deliveries.filter((d) => d.mailbox.deviceId !== doomed.deviceId);
    const account = accountPushes(service.apnsSandbox!.pushes(), healthy);
    const injected = Object.values(result.failedByCommand).reduce((a, b) => a + b, 0);
    result.row = {
      ...result.row,
      injected,
      sent: deliveries.length,
      pushesExpected: account.expected,
      pushesReceived: account.received,
      lost: account.lost,
      duplicates: account.duplicates,
      crashes: result.okWithoutQueueing + result.unsubscribes + result.undelivered + result.retiredByMistake.length + result.misleadingReads,
      note: `dead-lettered then redriven ${result.deadLettered}; failed calls ${Object.entries(result.failedByCommand).map(([c, n]) => `${c.replace('Command', '')} ${n}`).join(', ')}; Exchange attempts ${deliveries.reduce((n, d) => n + d.answers.length, 0)}; device reads ${JSON.stringify(result.readsDuringFaults)}`,
    };
  } finally {
    await service.stop();
  }
  return result;
}
