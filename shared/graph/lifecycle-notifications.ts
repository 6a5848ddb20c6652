import * as z from '../zod.js';
import { lenient, readCollection, type GraphNotificationBatch } from './change-notifications.js';

/**
 * Graph lifecycle notifications (GRAPH change-notifications-lifecycle-events.md), POSTed to a subscription's
 * `lifecycleNotificationUrl`, and what the relay asks the device to do about each.
 */

/** One item of `value`. `lifecycleEvent` is kept as sent: an event this relay does not know is well-formed but ignored. */
export const graphLifecycleNotificationSchema = z.object({
  subscriptionId: z.string().check(z.minLength(1), z.maxLength(512)),
  lifecycleEvent: z.string().check(z.minLength(1), z.maxLength(128)),
  clientState: lenient(z.string().check(z.maxLength(1024))),
});
export type GraphLifecycleNotification = z.infer<typeof graphLifecycleNotificationSchema>;

/** The background push a lifecycle event asks for (contract sections 6 and 7). */
export const lifecycleActionSchema = z.enum(['reauthorize', 'resubscribe', 'sync']);
export type LifecycleAction = z.infer<typeof lifecycleActionSchema>;

const ACTIONS: ReadonlyMap<string, LifecycleAction> = new Map([
  // Graph pauses delivery until the subscription is reauthorized (or renewed), and drops what it held after 4 hours.
  ['reauthorizationrequired', 'reauthorize'],
  // The subscription is gone: only a new one brings notifications again.
  ['subscriptionremoved', 'resubscribe'],
  // Graph could not deliver some notifications: the app catches up with a delta query.
  ['missed', 'sync'],
]);

/** The action for a lifecycle event (compared case-insensitively), or undefined for an event this relay does not know. */
export function lifecycleActionOf(lifecycleEvent: string): LifecycleAction | undefined {
  return ACTIONS.get(lifecycleEvent.toLowerCase());
}

/**
 * Reads a lifecycle POST: `{"value": [{"subscriptionId", "lifecycleEvent", "clientState", ...}]}`, with the same
 * size, depth and partial-acceptance rules as {@link parseChangeNotifications}.
 *
 * @throws GraphBodyTooLargeError, GraphMalformedError; nothing else.
 */
export function parseLifecycleNotifications(body: Uint8Array | string): GraphNotificationBatch<GraphLifecycleNotification> {
  return readCollection(body, graphLifecycleNotificationSchema, 'subscriptionId and lifecycleEvent');
}
