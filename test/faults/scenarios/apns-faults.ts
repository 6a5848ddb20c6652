import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { generateApnsTestKey, startApnsSandbox, type ApnsSandbox, type SandboxAnswer } from '../../../infra/local/apns-sandbox.js';
import { LOCAL_APNS_TOPIC, startLocalService, type LocalService } from '../../../infra/local/service.js';
import { redriveDeadLetters } from '../../../soak/redrive-dlq.js';
import { api, eventually } from '../../support/device-api.js';
import { RecordingLogger } from '../../support/fakes.js';
import { accountPushes, deliverLikeExchange, mapWithConcurrency, queueDepth, registerFleet, waitForQuiescence } from '../harness/fleet.js';
import { startH2FaultProxyProcess, type H2FaultProxyProcess } from '../harness/h2-fault-proxy.js';
import { emptyRow, type SummaryRow } from '../harness/summary.js';

/**
 * APNs misbehaves for a while: 503, 429 with retry-after, 500, connections dropped (before and after APNs accepted
 * the push) and GOAWAY. The relay retries with backoff (the gateway's in-process retries, then SQS redelivery) and
 * every mail arrives after recovery. A record that keeps failing ends in the DLQ with its reason and comes back with
 * the redrive.
 */

export interface ApnsFaultOptions {
  /** Devices per scenario (5 mailboxes each, one new mail per mailbox). */
  devices: number;
  /** Faults per scenario, as a multiple of the mailboxes (default 1: as many failed attempts as mails). */
  faultFactor?: number;
}

export interface ApnsFaultResult {
  rows: SummaryRow[];
  /** Unsubscribe answers (must be 0). */
  unsubscribes: number;
}

interface Harness {
  service: LocalService;
  sandbox: ApnsSandbox;
  proxy: H2FaultProxyProcess;
  logger: RecordingLogger;
}

async function startHarness(options: { visibilityTimeoutSeconds: number; maxReceiveCount: number; alertBudget: { windowMs: number; maxPerWindow: number } }): Promise<Harness> {
  const key = generateApnsTestKey();
  const credentials = { keyId: 'FAULTKEY01', teamId: 'FAULTTEAM1', topic: LOCAL_APNS_TOPIC };
  const sandbox = await startApnsSandbox({ ...credentials, publicKeyPem: key.publicKeyPem });
  const proxy = await startH2FaultProxyProcess(sandbox.url);
  const logger = new RecordingLogger();
  try {
    const service = await startLocalService({
      port: 0,
      dataDir: ':memory:',
      apns: { url: proxy.url, privateKeyPem: key.privateKeyPem, ...credentials },
      logger,
      // No supervisor sweeps: their background pushes would take faults meant for the mails.
      supervisorIntervalMs: 0,
      ...options,
    });
    return { service, sandbox, proxy, logger };
  } catch (error) {
    await proxy.stop();
    await sandbox.stop();
    throw error;
  }
}

async function stopHarness(harness: Harness): Promise<void> {
  await harness.service.stop();
  await harness.proxy.stop();
  await harness.sandbox.stop();
}

/** A sandbox rule that answers `answer` to the first `count` pushes from now on. */
function firstAnswers(count: number, answer: SandboxAnswer): { rule: () => SandboxAnswer | undefined; injected: () => number } {
  let injected = 0;
  return { rule: () => (injected < count ? (injected++, answer) : undefined), injected: () => injected };
}

export async function runApnsFaults(options: ApnsFaultOptions): Promise<ApnsFaultResult> {
  const result: ApnsFaultResult = { rows: [], unsubscribes: 0 };
  // The gateway retries 3 times within one dispatcher run (at most 2 x 1 s with retry-after: 1); the visibility timeout
  // stays well above that and above the alert-budget window, as the deployed queue's 6 x function timeout does, so a run is
  // not redelivered while busy and a redelivery is not held back by the window its own failed attempt opened.
  const harness = await startHarness({ visibilityTimeoutSeconds: 5, maxReceiveCount: 5, alertBudget: { windowMs: 1_000, maxPerWindow: 3 } });
  try {
    const mailboxes = options.devices * 5;
    const faults = Math.max(1, Math.round(mailboxes * (options.faultFactor ?? 1)));
    const scenarios: Array<{ name: string; arm: () => Promise<() => Promise<number>>; allowed: () => Promise<number>; note: string }> = [
      {
        name: 'APNs 503 ServiceUnavailable',
        arm: async () => {
          const plan = firstAnswers(faults, { status: 503, reason: 'ServiceUnavailable' });
          harness.sandbox.respondWith(plan.rule);
          return async () => plan.injected();
        },
        allowed: async () => 0,
        note: `first ${faults} requests answered 503; the gateway also drops the connection after each`,
      },
      {
        name: 'APNs 429 TooManyRequests',
        arm: async () => {
          const plan = firstAnswers(faults, { status: 429, reason: 'TooManyRequests', retryAfter: 1 });
          harness.sandbox.respondWith(plan.rule);
          return async () => plan.injected();
        },
        allowed: async () => 0,
        note: `first ${faults} requests answered 429 with retry-after: 1`,
      },
      {
        name: 'APNs 500 InternalServerError',
        arm: async () => {
          const plan = firstAnswers(faults, { status: 500, reason: 'InternalServerError' });
          harness.sandbox.respondWith(plan.rule);
          return async () => plan.injected();
        },
        allowed: async () => 0,
        note: `first ${faults} requests answered 500`,
      },
      {
        name: 'connection dropped before APNs',
        arm: async () => {
          await harness.proxy.use({ fault: 'drop-before', count: faults });
          return async () => (await harness.proxy.stats()).injected['drop-before'];
        },
        // The dropped stream never reached APNs, but other streams on the same connection may have been accepted
        // with their answers still in flight: those the relay must resend.
        allowed: async () => (await harness.proxy.stats()).acceptedButUnanswered,
        note: `TCP connection destroyed on the first ${faults} streams, before APNs saw them (answers of other streams in flight on it are lost too)`,
      },
      {
        name: 'GOAWAY',
        arm: async () => {
          // Each GOAWAY ends its connection, so the relay has to reconnect every time.
          await harness.proxy.use({ fault: 'goaway', count: Math.max(1, Math.ceil(faults / 2)) });
          return async () => (await harness.proxy.stats()).injected.goaway;
        },
        allowed: async () => 0,
        note: 'GOAWAY (Shutdown) refusing the stream in flight, on each new connection in turn',
      },
      {
        name: 'connection dropped after APNs accepted',
        arm: async () => {
          await harness.proxy.use({ fault: 'drop-after', count: Math.max(1, Math.ceil(faults / 4)) });
          return async () => (await harness.proxy.stats()).injected['drop-after'];
        },
        // The relay cannot know APNs took a push whose answer never came: it must resend, so those may arrive twice.
        allowed: async () => (await harness.proxy.stats()).acceptedButUnanswered,
        note: 'APNs accepted, the answer was lost with the connection: a resend is the only safe choice, so those mails may arrive twice',
      },
    ];

    for (const scenario of scenarios) {
      const fleet = await registerFleet(harness.service, { devices: options.devices, run: `apns-${scenario.name}` });
      const injected = await scenario.arm();
      const deliveries = await mapWithConcurrency(
        fleet.flatMap((device) => device.mailboxes),
        8,
        (mailbox, index) => deliverLikeExchange(mailbox, [`AAMkApns${index}`]),
      );
      await waitForQuiescence(harness.service, 120_000);
      const deadLetters = await queueDepth(harness.service.awsClients.sqs, harness.service.backends.deadLetterQueueUrl);
      const unsubscribes = deliveries.filter((d) => d.answers.some((a) => a.subscriptionStatus === 'Unsubscribe')).length;
      result.unsubscribes += unsubscribes;
      const account = accountPushes(harness.sandbox.pushes(), deliveries);
      result.rows.push({
        ...emptyRow('faults', scenario.name),
        injected: await injected(),
        sent: deliveries.length,
        pushesExpected: account.expected,
        pushesReceived: account.received,
        lost: account.lost + deadLetters,
        duplicates: account.duplicates,
        duplicatesAllowed: await scenario.allowed(),
        crashes: unsubscribes,
        note: scenario.note,
      });
      harness.sandbox.respondWith(undefined);
      await harness.proxy.use(undefined);
    }
  } finally {
    await stopHarness(harness);
  }
  return result;
}

export interface DeadLetterResult {
  row: SummaryRow;
  /** The dead-lettered record's decision, as the device API shows it. */
  decisionBeforeRedrive: { outcome: string; reason: string } | undefined;
  deadLettersBeforeRedrive: number;
  moved: number;
  /** Alert pushes the device got after the redrive (expected 1). */
  pushesAfterRedrive: number;
  deadLettersAfterRedrive: number;
  /** The logged reason of a record that is not a queue message at all. */
  poisonLogged: boolean;
  poisonDeadLettered: boolean;
}

/**
 * One mail whose push APNs keeps refusing with 500 until it is dead-lettered (maxReceiveCount 2 here, to be quick),
 * and one record that is not a queue message at all. Then APNs recovers and the operator redrives the DLQ.
 */
export async function runDeadLetterRedrive(): Promise<DeadLetterResult> {
  // The visibility timeout must outlast one attempt (the gateway's own retries of the 500s included), as on AWS, where it
  // is six times the function's timeout. At 2 s a loaded machine could receive the record again while its first attempt
  // still ran, the likely way the mail reached the DLQ with no dead-lettered decision (seen twice under load 20+).
  const harness = await startHarness({ visibilityTimeoutSeconds: 5, maxReceiveCount: 2, alertBudget: { windowMs: 500, maxPerWindow: 3 } });
  try {
    const { service, sandbox } = harness;
    const [device] = await registerFleet(service, { devices: 1, delegated: 0, run: 'dead-letter' });
    const mailbox = device!.mailboxes[0]!;
    let refused = 0;
    sandbox.respondWith((push) => (push.token === device!.pushToken ? (refused++, { status: 500, reason: 'InternalServerError' }) : undefined));
    const delivery = await deliverLikeExchange(mailbox, ['AAMkPoison1']);

    // The poison: a body no dispatcher can read.
    await service.awsClients.sqs.send(new SendMessageCommand({ QueueUrl: service.backends.eventQueueUrl, MessageBody: 'not a queue message' }));
    const dlq = service.backends.deadLetterQueueUrl;
    const deadLettersBeforeRedrive = await eventually(async () => {
      const depth = await queueDepth(service.awsClients.sqs, dlq);
      return depth >= 2 ? depth : undefined;
    }, 60_000, 100);
    await waitForQuiescence(service);
    const events = await api(service.baseUrl, 'GET', `/v1/devices/${device!.deviceId}/events`, { token: device!.deviceSecret });
    const decisionBeforeRedrive = (events.body.events as Array<{ outcome: string; reason: string }>).find((e) => e.outcome === 'dead-lettered');
    const poisonLogged = harness.logger.lines.some((line) => line.level === 'error' && /poison record/.test(line.message));

    // APNs is back; the operator redrives.
    sandbox.respondWith(undefined);
    const before = sandbox.pushes().filter((p) => p.status === 200).length;
    const { moved } = await redriveDeadLetters(service.awsClients.sqs, { from: dlq, to: service.backends.eventQueueUrl });
    // The poison comes back to the DLQ after its receives; the mail is pushed.
    await eventually(async () => ((await queueDepth(service.awsClients.sqs, dlq)) >= 1 && (await queueDepth(service.awsClients.sqs, service.backends.eventQueueUrl)) === 0 ? true : undefined), 60_000, 100);
    await waitForQuiescence(service);
    const pushesAfterRedrive = sandbox.pushes().filter((p) => p.status === 200).length - before;
    const deadLettersAfterRedrive = await queueDepth(service.awsClients.sqs, dlq);
    const account = accountPushes(sandbox.pushes(), [delivery]);
    const checks = [
      decisionBeforeRedrive?.reason === 'InternalServerError',
      deadLettersBeforeRedrive === 2,
      poisonLogged,
      deadLettersAfterRedrive === 1,
      moved === 2,
      pushesAfterRedrive === 1,
    ];
    return {
      row: {
        ...emptyRow('faults', 'dead letter + redrive'),
        injected: refused + 1,
        sent: 1,
        pushesExpected: account.expected,
        pushesReceived: account.received,
        lost: account.lost,
        duplicates: account.duplicates,
        crashes: checks.filter((ok) => !ok).length,
        note: 'APNs 500 until dead-lettered (decision dead-lettered, reason kept), plus one unreadable record (logged); then recovery and redrive',
      },
      decisionBeforeRedrive,
      deadLettersBeforeRedrive,
      moved,
      pushesAfterRedrive,
      deadLettersAfterRedrive,
      poisonLogged,
      poisonDeadLettered: deadLettersAfterRedrive === 1,
    };
  } finally {
    await stopHarness(harness);
  }
}
