/**
 * Microsoft Graph change notifications (Exchange Online): reading what Graph POSTs (notifications, lifecycle events,
 * validation requests) and building the subscription requests. Runtime-neutral, so the device library uses it too.
 * All readers treat their input as hostile and throw only the typed errors of `graph-errors.ts`.
 */
export { GraphArgumentError, GraphBodyTooLargeError, GraphMalformedError, GraphValidationTokenError } from './graph-errors.js';
export { MAX_GRAPH_BODY_BYTES, MAX_JSON_DEPTH } from './safe-json.js';
export {
  graphChangeNotificationSchema,
  graphResourceDataSchema,
  isMessageNotification,
  isNewMessageNotification,
  messageIdOfResource,
  messageKeyOf,
  parseChangeNotifications,
  type GraphChangeNotification,
  type GraphNotificationBatch,
  type GraphResourceData,
} from './change-notifications.js';
export {
  graphLifecycleNotificationSchema,
  lifecycleActionOf,
  lifecycleActionSchema,
  parseLifecycleNotifications,
  type GraphLifecycleNotification,
  type LifecycleAction,
} from './lifecycle-notifications.js';
export { toInboundNotifications } from './inbound.js';
export { MAX_VALIDATION_TOKEN_LENGTH, VALIDATION_RESPONSE_HEADERS, validationTokenOf } from './validation-request.js';
export {
  GRAPH_IMMUTABLE_ID_HEADERS,
  GRAPH_MAX_CLIENT_STATE_LENGTH,
  GRAPH_MAX_SUBSCRIPTION_MINUTES,
  GRAPH_MIN_SUBSCRIPTION_MINUTES,
  GRAPH_SUBSCRIPTIONS_URL,
  buildGraphRenewalRequest,
  buildGraphSubscriptionRequest,
  graphErrorCodeOf,
  graphErrorSchema,
  graphSubscriptionInputSchema,
  graphSubscriptionRequestSchema,
  graphSubscriptionSchema,
  parseGraphSubscription,
  type GraphSubscription,
  type GraphSubscriptionInput,
  type GraphSubscriptionRequest,
} from './subscription.js';
