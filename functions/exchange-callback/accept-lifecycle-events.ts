import { isRelayManaged } from '../../shared/org/managed-subscription.js';
import type { GraphNotificationBatch } from '../../shared/graph/change-notifications.js';
import { lifecycleActionOf, type GraphLifecycleNotification, type LifecycleAction } from '../../shared/graph/lifecycle-notifications.js';
import type { MailboxActionMessage, ManagedSubscriptionJob, ManagedSubscriptionMessage } from '../../shared/queue/queue-messages.js';
import { findGraphTarget, judge, recordRefusals, type GraphCallbackDeps } from './accept-graph-notifications.js';

/** Counted once per accepted lifecycle event; the monitoring alarms on its hourly sum. */
export const GRAPH_LIFECYCLE_METRIC = 'GraphLifecycleEvents';

/** Graph retries a notification for up to 4 hours before it gives up and says `missed`: how far back a gap may begin. */
export const GRAPH_RETRY_WINDOW_MS = 4 * 60 * 60 * 1000;

/** What the relay does itself about a lifecycle event of a mailbox it manages (contract section 9). */
function managedJobOf(action: LifecycleAction, receivedAt: number): ManagedSubscriptionJob {
  switch (action) {
    case 'reauthorize':
      return { work: 'reauthorize' };
    case 'resubscribe':
      return { work: 'recreate', reason: 'removed' };
    case 'sync':
      return { work: 'catch-up', trigger: 'missed', gapSince: Math.max(0, receivedAt - GRAPH_RETRY_WINDOW_MS) };
  }
}

/**
 * Accepts one Graph lifecycle POST (contract section 7): the same URL secret, size and `clientState` rules as
 * notifications, and the event must be about the mailbox's current Graph subscription. Each accepted event becomes a
 * queued background push (`reauthorizationRequired` -> `reauthorize`, `subscriptionRemoved` -> `resubscribe`,
 * `missed` -> `sync`); the dispatcher sends it within the 5-minute limit and records the decision. An event this relay
 * does not know is counted and ignored. Resolves (202) once queued.
 *
 * @throws RouteNotFoundError for an unknown URL secret.
 */
export async function acceptLifecycleEvents(input: { secret: string; batch: GraphNotificationBatch<GraphLifecycleNotification> }, deps: GraphCallbackDeps): Promise<void> {
  const receivedAt = deps.now();
  const { device, mailbox } = await findGraphTarget(input.secret, deps);
  const { accepted, refused } = judge(input.batch.items, mailbox);

  const actions = new Map<LifecycleAction, string>();
  for (const item of accepted) {
    deps.counter.count(GRAPH_LIFECYCLE_METRIC);
    const action = lifecycleActionOf(item.lifecycleEvent);
    if (!action) {
      deps.counter.count('GraphLifecycleEventsUnknown');
      continue;
    }
    deps.counter.count(`GraphLifecycle-${action}`);
    // Several events asking for the same action in one body are one request.
    if (!actions.has(action)) actions.set(action, `lifecycle:${item.lifecycleEvent}`);
  }
  if (device.status !== 'active') {
    if (actions.size > 0) refused.add('retired');
  } else if (actions.size > 0 && isRelayManaged(mailbox)) {
    // The relay manages this subscription: it reauthorizes, recreates and catches up itself, and the app gets no push.
    const messages: ManagedSubscriptionMessage[] = [...actions.keys()].map((action) => ({
      v: 1,
      type: 'managed-subscription',
      deviceId: mailbox.deviceId,
      mailboxId: mailbox.mailboxId,
      requestedAt: receivedAt,
      job: managedJobOf(action, receivedAt),
    }));
    await deps.queue.enqueue(messages);
  } else if (actions.size > 0) {
    const messages: MailboxActionMessage[] = [...actions].map(([action, reason]) => ({
      v: 1,
      type: 'mailbox-action',
      deviceId: mailbox.deviceId,
      mailboxId: mailbox.mailboxId,
      action,
      receivedAt,
      reason,
    }));
    await deps.queue.enqueue(messages);
  }
  await recordRefusals({ device, mailbox, reasons: refused, at: receivedAt }, deps);
}
