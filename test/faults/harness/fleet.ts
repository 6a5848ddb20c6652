import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mapWithConcurrency, sleep } from '../../../scripts/simulator/concurrency.js';
import type { RecordedPush } from '../../../infra/local/apns-sandbox.js';
import { newMessagesOf } from '../../../shared/push/apns-payloads.js';
import type { LocalService } from '../../../infra/local/service.js';
import type { EventQueue, QueueMessage } from '../../../shared/queue/queue-messages.js';
import { api, eventually } from '../../support/device-api.js';
import { newMailBody, postNotification, type CallbackAnswer } from '../../support/exchange.js';

/**
 * A fleet of registered devices on a running local service, Exchange as a client that retries, and the accounting
 * of pushes per mailbox that the fault suites report (expected, received, lost, duplicates).
 */

export interface FleetMailbox {
  deviceId: string;
  mailboxId: string;
  pushToken: string;
  callbackUrl: string;
}

export interface FleetDevice {
  deviceId: string;
  deviceSecret: string;
  pushToken: string;
  mailboxes: FleetMailbox[];
}

/** A distinct, valid APNs token (64 hex) per device number and run. */
export function pushTokenFor(run: string, index: number): string {
  const seed = Buffer.from(`${run}:${index}`).toString('hex');
  return (seed + '0'.repeat(64)).slice(0, 56) + index.toString(16).padStart(8, '0');
}

/**
 * Registers `devices` devices with one primary and `delegated` delegated mailboxes each (at most 4), under `orgId`.
 * Each mailbox gets its own callback URL; the accounting counts pushes per (token, mailbox).
 */
export async function registerFleet(
  service: Pick<LocalService, 'baseUrl' | 'orgToken'>,
  options: { devices: number; delegated?: number; run: string; orgId?: string },
): Promise<FleetDevice[]> {
  const fleet: FleetDevice[] = [];
  const token = await service.orgToken(options.orgId ?? `org-${options.run}`);
  for (let index = 0; index < options.devices; index++) {
    const pushToken = pushTokenFor(options.run, index);
    const mailboxes = [{ id: 'inbox', kind: 'primary' }, ...Array.from({ length: options.delegated ?? 4 }, (_, n) => ({ id: `shared-${n}`, kind: 'delegated' }))];
    const answer = await api(service.baseUrl, 'POST', '/v1/devices', { token, body: { pushToken, mailboxes } });
    if (answer.status !== 201) throw new Error(`registration failed with ${answer.status}: ${JSON.stringify(answer.body)}`);
    const body = answer.body as { deviceId: string; deviceSecret: string; mailboxes: Array<{ id: string; callbackUrl: string }> };
    fleet.push({
      deviceId: body.deviceId,
      deviceSecret: body.deviceSecret,
      pushToken,
      mailboxes: body.mailboxes.map((m) => ({ deviceId: body.deviceId, mailboxId: m.id, pushToken, callbackUrl: m.callbackUrl })),
    });
  }
  return fleet;
}

export interface Delivery {
  mailbox: FleetMailbox;
  itemIds: string[];
  body: string;
  /** Every answer Exchange got for this body, in order. */
  answers: Array<{ status: number; subscriptionStatus?: string; error?: string }>;
}

/**
 * Plays Exchange: POSTs a SendNotification and, like Exchange, sends the same body again after a non-200 answer or a
 * broken connection, until it gets a SOAP answer or `maxAttempts` run out.
 */
export async function deliverLikeExchange(
  mailbox: FleetMailbox,
  itemIds: string[],
  options: { maxAttempts?: number; retryDelayMs?: number; subscriptionId?: string } = {},
): Promise<Delivery> {
  const body = newMailBody(options.subscriptionId ?? 'sub-fault', itemIds.map((itemId) => ({ itemId })));
  const delivery: Delivery = { mailbox, itemIds, body, answers: [] };
  for (let attempt = 1; attempt <= (options.maxAttempts ?? 20); attempt++) {
    let answer: CallbackAnswer;
    try {
      answer = await postNotification(mailbox.callbackUrl, body);
    } catch (error) {
      delivery.answers.push({ status: 0, error: (error as Error).message });
      await sleep(options.retryDelayMs ?? 20);
      continue;
    }
    delivery.answers.push({ status: answer.status, ...(answer.subscriptionStatus ? { subscriptionStatus: answer.subscriptionStatus } : {}) });
    if (answer.status === 200) return delivery;
    await sleep(options.retryDelayMs ?? 20);
  }
  return delivery;
}

export interface PushAccount {
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Mailboxes whose count is off, for the failure message. */
  offBy: Array<{ mailbox: string; expected: number; received: number }>;
}

/**
 * Compares delivered alert pushes with the mails sent. A push carries no item id, only the mailbox and how many new
 * messages it stands for (`newMessages`), so the accounting is per (token, mailbox): the sum of `newMessages` of its
 * accepted alert pushes against the distinct items sent to it. Less is lost mail, more is duplicates.
 */
export function accountPushes(pushes: RecordedPush[], deliveries: Delivery[]): PushAccount {
  const expected = new Map<string, Set<string>>();
  for (const delivery of deliveries) {
    const key = `${delivery.mailbox.pushToken}/${delivery.mailbox.mailboxId}`;
    const items = expected.get(key) ?? new Set<string>();
    for (const item of delivery.itemIds) items.add(item);
    expected.set(key, items);
  }
  // Only the tokens of these deliveries: the sandbox also holds the pushes of earlier scenarios.
  const tokens = new Set(deliveries.map((delivery) => delivery.mailbox.pushToken));
  const received = new Map<string, number>();
  for (const push of pushes) {
    if (push.status !== 200 || push.headers['apns-push-type'] !== 'alert' || !tokens.has(push.token)) continue;
    const payload = push.payload as { mailbox?: string; newMessages?: number };
    const key = `${push.token}/${payload.mailbox}`;
    received.set(key, (received.get(key) ?? 0) + newMessagesOf(payload));
  }
  const account: PushAccount = { expected: 0, received: 0, lost: 0, duplicates: 0, offBy: [] };
  for (const key of new Set([...expected.keys(), ...received.keys()])) {
    const want = expected.get(key)?.size ?? 0;
    const got = received.get(key) ?? 0;
    account.expected += want;
    account.received += got;
    account.lost += Math.max(0, want - got);
    account.duplicates += Math.max(0, got - want);
    if (want !== got) account.offBy.push({ mailbox: `…${key.slice(56)}`, expected: want, received: got });
  }
  return account;
}

/** Messages visible, in flight or delayed on a queue. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes: attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return (
    Number(attributes.ApproximateNumberOfMessages ?? 0) +
    Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/**
 * Waits until the event queue is empty (nothing visible, in flight or delayed) twice in a row: the poller deletes a
 * message only after the dispatcher finished it, so no further push can come from what was queued.
 */
export async function waitForQuiescence(service: Pick<LocalService, 'awsClients' | 'backends'>, timeoutMs = 60_000): Promise<void> {
  let emptyChecks = 0;
  await eventually(async () => {
    const depth = await queueDepth(service.awsClients.sqs, service.backends.eventQueueUrl);
    emptyChecks = depth === 0 ? emptyChecks + 1 : 0;
    return emptyChecks >= 2 ? true : undefined;
  }, timeoutMs, 50);
}

/** The event queue as the scenarios watch it: how many bodies of each device/mailbox it accepted and refused. */
export class RecordingQueue implements EventQueue {
  readonly accepted = new Map<string, number>();
  readonly refused = new Map<string, number>();
  constructor(private readonly inner: EventQueue) {}
  async enqueue(messages: QueueMessage[], ...rest: unknown[]): Promise<void> {
    const key = `${messages[0]?.deviceId}/${messages[0]?.mailboxId}`;
    try {
      await (this.inner.enqueue as (m: QueueMessage[], ...r: unknown[]) => Promise<void>)(messages, ...rest);
    } catch (error) {
      this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
      throw error;
    }
    this.accepted.set(key, (this.accepted.get(key) ?? 0) + 1);
  }
}

export { mapWithConcurrency, sleep };
