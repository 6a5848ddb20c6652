import { RouteNotFoundError } from '../../shared/errors.js';
import { toInboundNotifications } from '../../shared/graph/inbound.js';
import type { GraphChangeNotification, GraphNotificationBatch } from '../../shared/graph/change-notifications.js';
import type { DecisionLog, DeviceRecord, MailboxRecord } from '../../shared/store/ports.js';
import { secretMatches } from '../_lib/device-secrets.js';
import { findMailboxOfSecret, queueNewMail, recordRefusal, type CallbackDeps } from './accept-notifications.js';

/** What the Graph endpoints need: the EWS callback's ports, and the decision log for the items they refuse. */
export interface GraphCallbackDeps extends CallbackDeps {
  decisions: DecisionLog;
}

/** Why an item of a body was not taken for its mailbox (contract section 7), the decision's reason. */
export type GraphItemRefusal = 'client-state' | 'superseded';

/** The mailbox a Graph URL's secret belongs to, read with its device. */
export interface GraphTarget {
  device: DeviceRecord;
  mailbox: MailboxRecord;
}

/**
 * The mailbox of a Graph notification or lifecycle URL. A secret that matches no mailbox (never issued, rotated away,
 * a removed mailbox or a deleted device) is a 404: Graph then stops validating or sending to it.
 *
 * @throws RouteNotFoundError for an unknown secret.
 */
export async function findGraphTarget(secret: string, deps: Pick<CallbackDeps, 'callbacks' | 'devices'>): Promise<GraphTarget> {
  const found = await findMailboxOfSecret(secret, deps);
  if (found?.device && found.mailbox) return { device: found.device, mailbox: found.mailbox };
  throw new RouteNotFoundError('no such notification URL');
}

/**
 * Judges one item for the mailbox: its `clientState` must be the mailbox's (compared in constant time: both sides are
 * hashed first, so neither length nor content leaks through timing), and it must belong to the mailbox's current
 * subscription when the device has reported one (contract section 7). Before the first report an item is taken on its
 * `clientState` alone, a lifecycle event as much as a notification: a `missed` or `subscriptionRemoved` that arrives
 * before the app got to report its new subscription is exactly the one it must hear about.
 */
export function refusalOf(item: { subscriptionId: string; clientState?: string | undefined }, mailbox: MailboxRecord): GraphItemRefusal | undefined {
  if (mailbox.clientStateHash === undefined || item.clientState === undefined || !secretMatches(item.clientState, mailbox.clientStateHash)) {
    return 'client-state';
  }
  if (mailbox.subscriptionId === undefined) return undefined;
  if (mailbox.protocol !== 'graph' || item.subscriptionId !== mailbox.subscriptionId) return 'superseded';
  return undefined;
}

/**
 * Accepts one Graph notification POST (contract section 7) whose body the edge has read: finds the mailbox by the URL
 * secret, judges every item on its own (refused items are recorded, one decision per reason and body, and push
 * nothing), and queues the new mail of the accepted ones exactly as the EWS callback does. Resolves (202) only once
 * that is queued; a queue that refuses makes it throw, the answer is 5xx and Graph retries.
 *
 * @throws RouteNotFoundError for an unknown URL secret.
 */
export async function acceptGraphNotifications(
  input: { secret: string; batch: GraphNotificationBatch<GraphChangeNotification> },
  deps: GraphCallbackDeps,
): Promise<void> {
  const receivedAt = deps.now();
  const { device, mailbox } = await findGraphTarget(input.secret, deps);
  const { accepted, refused } = judge(input.batch.items, mailbox);
  deps.counter.count('GraphItemsReceived', input.batch.items.length + input.batch.skipped);
  if (input.batch.skipped > 0) deps.counter.count('GraphItemsMalformed', input.batch.skipped);

  const notifications = toInboundNotifications(accepted);
  if (device.status !== 'active') {
    // Nothing is queued for a retired device: it would only be suppressed there. Said once per body, like the rest.
    if (notifications.length > 0) refused.add('retired');
  } else if (accepted.length > 0) {
    // The subscription is alive (any accepted item says so): the dispatcher records last-seen with the new mail.
    await queueNewMail({ device, mailbox, notifications, receivedAt }, deps);
  }
  await recordRefusals({ device, mailbox, reasons: refused, at: receivedAt }, deps);
}

/** Splits items into those taken for the mailbox and the reasons the others were not. */
export function judge<I extends { subscriptionId: string; clientState?: string | undefined }>(
  items: readonly I[],
  mailbox: MailboxRecord,
): { accepted: I[]; refused: Set<string> } {
  const accepted: I[] = [];
  const refused = new Set<string>();
  for (const item of items) {
    const refusal = refusalOf(item, mailbox);
    if (refusal) refused.add(refusal);
    else accepted.push(item);
  }
  return { accepted, refused };
}

/**
 * One `suppressed` decision per reason and body: enough for the device's why-log, and a forged body cannot make the
 * relay write more than two. Best effort: what was queued stands whatever happens here.
 */
export async function recordRefusals(
  input: { device: DeviceRecord; mailbox: MailboxRecord; reasons: ReadonlySet<string>; at: number },
  deps: Pick<GraphCallbackDeps, 'decisions' | 'logger' | 'counter'>,
): Promise<void> {
  for (const reason of input.reasons) {
    deps.counter.count(`GraphRefused-${reason}`);
    await recordRefusal({ device: input.device, mailbox: input.mailbox, reason, at: input.at }, deps);
  }
}

