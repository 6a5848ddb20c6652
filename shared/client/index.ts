/**
 * The device's half of inbox-relay: app configuration, the relay's device API, Exchange push subscriptions and their
 * renewal, incoming pushes and what to display, and the delegated-mailbox permission model.
 *
 * Runtime-neutral (no Node-only API; `fetch` is injectable) and free of side effects at import, so a bundler keeps
 * only what the app uses. See docs/client.md.
 *
 * @example
 * ```ts
 * import { parseAppConfig, RelayClient, buildMailboxSubscribeRequest, readSubscribeResponse, decodePush } from './shared/client/index.js';
 * ```
 */
export {
  APP_CONFIG_KEYS,
  APP_CONFIG_LIMITS,
  AUTH_MODES,
  DELEGATED_MAILBOX_FEATURE,
  isAuthModeAllowed,
  parseAppConfig,
  type AppConfig,
  type AppConfigKey,
  type AuthMode,
  type ConfigProblem,
  type ParsedAppConfig,
} from './app-config.js';
export {
  RelayClient,
  type AppliesFrom,
  type DeviceCredentials,
  type FetchLike,
  type KnownMailbox,
  type MergePatch,
  type RegisterDeviceInput,
  type RegisteredMailboxWithKind,
  type Registration,
  type RelayClientOptions,
  type SettingsPatch,
  type SettingsUpdate,
  type SubscriptionReport,
} from './relay-client.js';
export {
  RelayApiError,
  RelayBadRequestError,
  RelayClientUsageError,
  RelayConflictError,
  RelayForbiddenError,
  RelayNetworkError,
  RelayNotFoundError,
  RelayPayloadTooLargeError,
  RelayProtocolError,
  RelayServerError,
  RelayUnauthorizedError,
} from './relay-errors.js';
export { MailboxExistsError, MailboxLimitError, PrimaryMailboxRemovalError, ValidationError, type FieldIssue } from '../errors.js';
export {
  DEFAULT_STATUS_FREQUENCY_MINUTES,
  EXPIRY_LEAD_MS,
  buildMailboxSubscribeRequest,
  planRenewal,
  readSubscribeResponse,
  relaySubscriptionTimes,
  type AcceptedSubscription,
  type MailboxSubscribeOptions,
  type RefusedSubscription,
  type RenewalPlan,
  type RenewalPolicy,
  type RenewalReason,
  type SubscriptionState,
} from './subscriptions.js';
export {
  DEFAULT_GRAPH_SUBSCRIPTION_MINUTES,
  GRAPH_INBOX_RESOURCE,
  GRAPH_RENEWAL_LEAD_MAX_MS,
  buildGraphRenewalRequestFor,
  buildGraphSubscriptionRequestFor,
  planGraphRenewal,
  readGraphSubscriptionResponse,
  type AcceptedGraphSubscription,
  type GraphRenewalPlan,
  type GraphRenewalReason,
  type GraphSubscribeOptions,
  type GraphSubscriptionState,
  type RefusedGraphSubscription,
} from './graph-subscriptions.js';
export { GRAPH_IMMUTABLE_ID_HEADERS, GRAPH_SUBSCRIPTIONS_URL, GraphArgumentError, GraphMalformedError } from '../graph/index.js';
export { decodePush, planDisplay, type DisplaySettings, type PlannedNotification, type PushInstruction, type UnreadMail } from './incoming-push.js';
export {
  MAILBOX_ACTIONS,
  PERMISSIONS,
  PERMISSION_LEVELS,
  can,
  delegateLevelOf,
  permissionChange,
  purgePlan,
  type LocalMailboxData,
  type MailboxAction,
  type PermissionChange,
  type PermissionLevel,
  type PurgePlan,
} from './delegation.js';
export {
  AlertDecryptionError,
  alertKeyIdOf,
  alertKeyThumbprint,
  decryptAlert,
  exportAlertPublicKey,
  generateAlertKeyPair,
  importAlertPrivateKey,
  type AlertDetails,
  type AlertPublicKey,
} from './alert-key.js';
