import * as z from '../zod.js';
import { subscriptionStateSchema } from '../supervision/subscription-state.js';
import { alertPublicKeySchema } from '../org/alert-details.js';
import { addressProofSchema, mailAddressSchema, managedBySchema, vipSendersSchema } from '../org/device-org-fields.js';
import { deviceOrganizationSchema } from '../org/org-schemas.js';

/**
 * The device API's messages (contract section 3), shared by the API functions and the device-side client.
 * Every request body is parsed by exactly one of these schemas; their inferred types are the only definitions.
 */

export const MAX_DELEGATED_MAILBOXES = 4;
export const INTERVAL_SECONDS_MIN = 300;
export const INTERVAL_SECONDS_MAX = 900;
export const INTERVAL_SECONDS_DEFAULT = 900;

export const pushTokenSchema = z.pipe(
  z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, 'must be an APNs device token of 64 hexadecimal characters')),
  z.transform((token) => token.toLowerCase()),
);

export const mailboxIdSchema = z.string().check(
  z.regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 characters of A-Z, a-z, 0-9, ".", "_" or "-"'),
  // "." and ".." are dot-segments: no URL path can carry them, so such a mailbox could never be addressed.
  z.refine((id) => id !== '.' && id !== '..', 'must not be "." or ".."'),
);

/** True when the runtime knows the IANA zone; uses Intl only, so devices and Lambda agree. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const timeZoneSchema = z.string().check(
  z.minLength(1),
  z.refine(isKnownTimeZone, 'must be a known IANA time zone such as "Europe/Berlin"'),
);

const clockTimeSchema = z.string().check(z.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time "HH:MM"'));

export const workHoursSchema = z.strictObject({
  start: z._default(clockTimeSchema, '09:00'),
  end: z._default(clockTimeSchema, '18:00'),
  days: z._default(
    z
      .array(z.int().check(z.gte(1, 'days are ISO weekdays 1..7'), z.lte(7, 'days are ISO weekdays 1..7')))
      .check(z.maxLength(7), z.refine((days) => new Set(days).size === days.length, 'must not repeat a day')),
    [1, 2, 3, 4, 5],
  ),
});
export type WorkHours = z.infer<typeof workHoursSchema>;

export const alertSettingsSchema = z.strictObject({
  workHoursOnly: z._default(z.boolean(), false),
  workHours: z._default(workHoursSchema, { start: '09:00', end: '18:00', days: [1, 2, 3, 4, 5] }),
  weekendAlerts: z._default(z.boolean(), false),
  vipAfterHours: z._default(z.boolean(), false),
  showDetails: z._default(z.boolean(), false),
});
export type AlertSettings = z.infer<typeof alertSettingsSchema>;

export const DEFAULT_ALERT_SETTINGS: AlertSettings = alertSettingsSchema.parse({});

export const apnsEnvironmentSchema = z.enum(['production', 'sandbox']);
export type ApnsEnvironment = z.infer<typeof apnsEnvironmentSchema>;

export const deliveryModeSchema = z.enum(['realtime', 'interval']);
export type DeliveryMode = z.infer<typeof deliveryModeSchema>;

export const intervalSecondsSchema = z.int().check(
  z.gte(INTERVAL_SECONDS_MIN, `must be at least ${INTERVAL_SECONDS_MIN}`),
  z.lte(INTERVAL_SECONDS_MAX, `must be at most ${INTERVAL_SECONDS_MAX}`),
);

/** The settings a device may change after registration; all fields present once normalized. */
export const deviceSettingsSchema = z.strictObject({
  apnsEnvironment: z._default(apnsEnvironmentSchema, 'production'),
  mode: z._default(deliveryModeSchema, 'realtime'),
  intervalSeconds: z._default(intervalSecondsSchema, INTERVAL_SECONDS_DEFAULT),
  timeZone: z._default(timeZoneSchema, 'UTC'),
  alerts: z._default(alertSettingsSchema, DEFAULT_ALERT_SETTINGS),
});
export type DeviceSettings = z.infer<typeof deviceSettingsSchema>;

export const mailboxKindSchema = z.enum(['primary', 'delegated']);
export type MailboxKind = z.infer<typeof mailboxKindSchema>;

/**
 * Organization-mode fields of a mailbox (contract v2 sections 3 and 8): its SMTP address with a proof that the device
 * can read it, and who keeps its subscription. Refused with `organization_mode_off` in the default mode (`managedBy:
 * "device"` excepted).
 */
const mailboxOrganizationFields = {
  address: z.optional(mailAddressSchema),
  addressProof: z.optional(addressProofSchema),
  managedBy: z.optional(managedBySchema),
};

export const mailboxRequestSchema = z.strictObject({
  id: mailboxIdSchema,
  kind: mailboxKindSchema,
  ...mailboxOrganizationFields,
});

export const registerDeviceRequestSchema = z.strictObject({
  pushToken: pushTokenSchema,
  apnsEnvironment: z._default(apnsEnvironmentSchema, 'production'),
  mode: z._default(deliveryModeSchema, 'realtime'),
  intervalSeconds: z._default(intervalSecondsSchema, INTERVAL_SECONDS_DEFAULT),
  timeZone: z._default(timeZoneSchema, 'UTC'),
  alerts: z._default(alertSettingsSchema, DEFAULT_ALERT_SETTINGS),
  mailboxes: z.array(mailboxRequestSchema).check(
    z.minLength(1, 'must list the primary mailbox'),
    z.maxLength(1 + MAX_DELEGATED_MAILBOXES),
  ),
  /** Organization mode: VIP senders (stored only as keyed hashes) and the public key detailed alerts go to. */
  vipSenders: z.optional(vipSendersSchema),
  alertKey: z.optional(alertPublicKeySchema),
}).check(
  z.superRefine((body, ctx) => {
    const primaries = body.mailboxes.filter((m) => m.kind === 'primary').length;
    if (primaries !== 1) {
      ctx.addIssue({ code: 'custom', path: ['mailboxes'], message: `must contain exactly one primary mailbox, found ${primaries}` });
    }
    const delegated = body.mailboxes.length - primaries;
    if (delegated > MAX_DELEGATED_MAILBOXES) {
      ctx.addIssue({ code: 'custom', path: ['mailboxes'], message: `at most ${MAX_DELEGATED_MAILBOXES} delegated mailboxes` });
    }
    const ids = body.mailboxes.map((m) => m.id);
    if (new Set(ids).size !== ids.length) {
      ctx.addIssue({ code: 'custom', path: ['mailboxes'], message: 'mailbox ids must be unique' });
    }
  }),
);
export type RegisterDeviceRequest = z.infer<typeof registerDeviceRequestSchema>;

/**
 * A PATCH body is a JSON Merge Patch (RFC 7396) over the device's settings and push token. It is applied to the
 * stored settings first and the merged result is then validated with `deviceSettingsSchema`, so `null` restores a
 * default. This schema only checks the top-level shape.
 */
export const patchDeviceRequestSchema = z.strictObject({
  pushToken: z.optional(pushTokenSchema),
  apnsEnvironment: z.optional(z.unknown()),
  mode: z.optional(z.unknown()),
  intervalSeconds: z.optional(z.unknown()),
  timeZone: z.optional(z.unknown()),
  alerts: z.optional(z.unknown()),
  /** Organization mode; replaced as a whole, null removes. */
  vipSenders: z.optional(z.nullable(vipSendersSchema)),
  alertKey: z.optional(z.nullable(alertPublicKeySchema)),
});
export type PatchDeviceRequest = z.infer<typeof patchDeviceRequestSchema>;

export const addMailboxRequestSchema = z.strictObject({
  id: mailboxIdSchema,
  // Only delegated mailboxes can be added, so the kind may be left out.
  kind: z._default(z.literal('delegated', { error: 'only delegated mailboxes can be added' }), 'delegated'),
  ...mailboxOrganizationFields,
});
export type AddMailboxRequest = z.infer<typeof addMailboxRequestSchema>;

/** The inbound protocols a mailbox may subscribe with (contract v2 section 3): EWS push, or Graph change notifications. */
export const subscriptionProtocolSchema = z.enum(['ews', 'graph']);
export type SubscriptionProtocol = z.infer<typeof subscriptionProtocolSchema>;

export const reportSubscriptionRequestSchema = z.strictObject({
  /** Which protocol the subscription speaks (v2; default `ews`). Reporting one supersedes the other's. */
  protocol: z.optional(subscriptionProtocolSchema),
  subscriptionId: z.string().check(z.minLength(1), z.maxLength(512)),
  expiresAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }),
  /**
   * An addition to contract v1 (optional, so v1 devices are unaffected): the StatusFrequency the device subscribed
   * with, so that silence is judged against it; 30 minutes (Exchange's default) when absent. EWS only: Graph sends no
   * heartbeats, so a Graph report's value is ignored.
   */
  statusFrequencyMinutes: z.optional(z.int().check(z.gte(1), z.lte(1440))),
});
export type ReportSubscriptionRequest = z.infer<typeof reportSubscriptionRequestSchema>;

// ---- responses ----

/**
 * Where a mailbox's Graph subscription points (contract v2 section 7): its notification and lifecycle URLs and the
 * `clientState` to subscribe with. The relay keeps only hashes of their secrets.
 */
export const graphEndpointsSchema = z.object({
  notificationUrl: z.url(),
  lifecycleNotificationUrl: z.url(),
  clientState: z.string().check(z.minLength(1), z.maxLength(128)),
});
export type GraphEndpoints = z.infer<typeof graphEndpointsSchema>;

/**
 * `graph` is optional so that the client still reads a relay that predates Graph (contract v1). A mailbox the relay
 * subscribes itself (contract section 9, `managedBy: "relay"`) also says so and its `state` (`pending` until its
 * subscription is heard from, also when the first attempt failed and the relay tries again).
 */
export const registeredMailboxSchema = z.object({
  id: mailboxIdSchema,
  callbackUrl: z.url(),
  graph: z.optional(graphEndpointsSchema),
  managedBy: z.optional(managedBySchema),
  state: z.optional(subscriptionStateSchema),
});
export type RegisteredMailbox = z.infer<typeof registeredMailboxSchema>;

export const registerDeviceResponseSchema = z.object({
  deviceId: z.string(),
  deviceSecret: z.string(),
  mailboxes: z.array(registeredMailboxSchema),
  /** Which organization-mode fields the app may send (v2); optional for older relays. */
  organization: z.optional(deviceOrganizationSchema),
});
export type RegisterDeviceResponse = z.infer<typeof registerDeviceResponseSchema>;

export const deviceStatusSchema = z.enum(['active', 'retired']);
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

export const mailboxViewSchema = z.object({
  id: mailboxIdSchema,
  kind: mailboxKindSchema,
  /**
   * Contract section 3 names these three per mailbox without saying where they stand, so they stand both on the
   * mailbox itself and in `subscription`, which adds the supervision state; the values are always the same.
   */
  subscriptionId: z.nullable(z.string()),
  expiresAt: z.nullable(z.string()),
  lastNotificationAt: z.nullable(z.string()),
  /** The protocol of the current subscription (v2): `ews`, `graph`, or null before the first report. Optional for older relays. */
  protocol: z.optional(z.nullable(subscriptionProtocolSchema)),
  /** The current subscription's state (v2), the same as `subscription.state`. Optional for older relays. */
  state: z.optional(subscriptionStateSchema),
  /** Organization mode (v2): the proven address (null when none) and who keeps the subscription. */
  address: z.optional(z.nullable(z.string())),
  managedBy: z.optional(managedBySchema),
  subscription: z.object({
    subscriptionId: z.nullable(z.string()),
    expiresAt: z.nullable(z.string()),
    lastNotificationAt: z.nullable(z.string()),
    /** pending, live, silent, expired or superseded (see shared/supervision); optional for older relays. */
    state: z.optional(subscriptionStateSchema),
  }),
});
export type MailboxView = z.infer<typeof mailboxViewSchema>;

export const deviceViewSchema = z.object({
  deviceId: z.string(),
  status: deviceStatusSchema,
  pushToken: z.string(),
  apnsEnvironment: apnsEnvironmentSchema,
  mode: deliveryModeSchema,
  intervalSeconds: z.number(),
  timeZone: z.string(),
  alerts: alertSettingsSchema,
  mailboxes: z.array(mailboxViewSchema),
  /** v2, optional for older relays: the organization's mode, the VIP list's size (never the list) and the alert key. */
  organization: z.optional(deviceOrganizationSchema),
  vipSenders: z.optional(z.object({ count: z.int().check(z.nonnegative()) })),
  alertKey: z.optional(z.nullable(alertPublicKeySchema)),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DeviceView = z.infer<typeof deviceViewSchema>;

export const decisionOutcomeSchema = z.enum([
  'pushed',
  'suppressed',
  'duplicate',
  'retried',
  'failed',
  'dead-lettered',
  'token-retired',
  'resubscribe-requested',
  // v2 (contract sections 7 and 9).
  'reauthorize-requested',
  'sync-requested',
  'subscription-renewed',
  'subscription-recreated',
  'caught-up',
]);
export type DecisionOutcome = z.infer<typeof decisionOutcomeSchema>;

export const decisionSchema = z.object({
  at: z.string(),
  mailbox: z.string(),
  outcome: decisionOutcomeSchema,
  reason: z.string(),
});
export type Decision = z.infer<typeof decisionSchema>;

export const deviceEventsResponseSchema = z.object({ events: z.array(decisionSchema) });
export type DeviceEventsResponse = z.infer<typeof deviceEventsResponseSchema>;

/** The error body of every 4xx and 5xx answer. */
export const errorResponseSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorResponse = z.infer<typeof errorResponseSchema>;
