/**
 * EWS protocol: parsing what Exchange sends (push notifications, subscribe responses) and building what we send.
 * All parsers treat their input as hostile and throw only the typed errors of `ews-errors.ts`.
 */
export {
  EwsArgumentError,
  EwsBodyTooLargeError,
  EwsDoctypeError,
  EwsMalformedError,
} from './ews-errors.js';
export {
  buildSendNotificationResult,
  ewsEventSchema,
  ewsEventTypeSchema,
  ewsIdSchema,
  ewsNotificationSchema,
  parseSendNotification,
  parseSendNotificationResult,
  SEND_NOTIFICATION_RESULT_CONTENT_TYPE,
  subscriptionStatusSchema,
  type EwsEvent,
  type EwsEventType,
  type EwsId,
  type EwsNotification,
  type SubscriptionStatus,
} from './send-notification.js';
export {
  buildPushSubscribeRequest,
  ewsSubscribableEventTypeSchema,
  parseSubscribeResponse,
  pushSubscribeInputSchema,
  subscribeResultSchema,
  STATUS_FREQUENCY_MINUTES_DEFAULT,
  STATUS_FREQUENCY_MINUTES_MAX,
  STATUS_FREQUENCY_MINUTES_MIN,
  type EwsSubscribableEventType,
  type PushSubscribeInput,
  type SubscribeResult,
} from './subscribe.js';
export { MAX_EWS_BODY_BYTES } from './safe-xml.js';
export { EWS_MESSAGES_NS, EWS_TYPES_NS, SOAP_ENVELOPE_NS } from './soap.js';
