import type { GraphNotificationBatch } from '../../shared/graph/change-notifications.js';
import { lifecycleActionOf, type GraphLifecycleNotification, type LifecycleAction } from '../../shared/graph/lifecycle-notifications.js';
import type { MailboxActionMessage } from '../../shared/queue/queue-messages.js';
import { findGraphTarget, judge, recordRefusals, type GraphCallbackDeps } from './accept-graph-notifications.js';

/** Counted once per accepted lifecycle event; the monitoring alarms on its hourly sum. */
export const GRAPH_LIFECYCLE_METRIC = 'GraphLifecycleEvents';

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
  const { accepted, refused } = judge(input.batch.items, mailbox, { requireReport: true });

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
