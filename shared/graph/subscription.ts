import * as z from '../zod.js';
import { GraphArgumentError, GraphMalformedError } from './graph-errors.js';
import { readJsonDocument } from './safe-json.js';

/**
 * Graph subscriptions (GRAPH change-notifications-delivery-webhooks.md, resources/subscription): the body of
 * `POST /v1.0/subscriptions` and of the `PATCH` that renews one, and the subscription object Graph answers with.
 */

/** Graph's longest lifetime for an Outlook message subscription without resource data: 10,080 minutes (7 days). */
export const GRAPH_MAX_SUBSCRIPTION_MINUTES = 10_080;
/** Graph raises a shorter requested lifetime to 45 minutes. */
export const GRAPH_MIN_SUBSCRIPTION_MINUTES = 45;
/** Graph's limit on `clientState`. */
export const GRAPH_MAX_CLIENT_STATE_LENGTH = 128;
/** Where subscriptions are created, on the global cloud. */
export const GRAPH_SUBSCRIPTIONS_URL = 'https://graph.microsoft.com/v1.0/subscriptions';
/**
 * Ask for immutable ids on the subscription's notifications: an Outlook id otherwise changes when the message moves,
 * and the relay's dedupe key is built from it (GRAPH outlook-immutable-id.md).
 */
export const GRAPH_IMMUTABLE_ID_HEADERS: Readonly<Record<string, string>> = { prefer: 'IdType="ImmutableId"' };

const MINUTE_MS = 60_000;

function isHttpsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  // Graph delivers only over HTTPS (a local relay on loopback is the one exception worth allowing, for tests).
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  return (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) && url.username === '' && url.password === '';
}

const notificationUrlSchema = z.string().check(
  z.maxLength(2048),
  z.refine(isHttpsUrl, 'must be an absolute https URL without credentials'),
);

/** Input of {@link buildGraphSubscriptionRequest}. */
export const graphSubscriptionInputSchema = z.strictObject({
  /** The watched resource, e.g. `/me/mailFolders('inbox')/messages`. */
  resource: z.string().check(z.minLength(1), z.maxLength(2048)),
  notificationUrl: notificationUrlSchema,
  lifecycleNotificationUrl: notificationUrlSchema,
  clientState: z.string().check(z.minLength(1), z.maxLength(GRAPH_MAX_CLIENT_STATE_LENGTH)),
  /** When the subscription should end, epoch ms; between 45 and 10,080 minutes after `now`. */
  expiresAt: z.int(),
  now: z.int(),
});
export type GraphSubscriptionInput = z.input<typeof graphSubscriptionInputSchema>;

/** The JSON body of `POST /v1.0/subscriptions` for new mail. */
export const graphSubscriptionRequestSchema = z.strictObject({
  changeType: z.literal('created'),
  notificationUrl: z.string(),
  lifecycleNotificationUrl: z.string(),
  resource: z.string(),
  expirationDateTime: z.iso.datetime(),
  clientState: z.string(),
});
export type GraphSubscriptionRequest = z.infer<typeof graphSubscriptionRequestSchema>;

function assertLifetime(expiresAt: number, now: number): void {
  const minutes = (expiresAt - now) / MINUTE_MS;
  if (!(minutes >= GRAPH_MIN_SUBSCRIPTION_MINUTES && minutes <= GRAPH_MAX_SUBSCRIPTION_MINUTES)) {
    throw new GraphArgumentError(
      `a subscription must end between ${GRAPH_MIN_SUBSCRIPTION_MINUTES} and ${GRAPH_MAX_SUBSCRIPTION_MINUTES} minutes from now`,
    );
  }
}

/**
 * The body of a `created`-only subscription. Send it as JSON with {@link GRAPH_IMMUTABLE_ID_HEADERS}.
 *
 * @throws GraphArgumentError when a URL is not https, the `clientState` is empty or over 128 characters, or the
 * lifetime is outside 45..10,080 minutes.
 */
export function buildGraphSubscriptionRequest(input: GraphSubscriptionInput): GraphSubscriptionRequest {
  const parsed = graphSubscriptionInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new GraphArgumentError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  }
  const { resource, notificationUrl, lifecycleNotificationUrl, clientState, expiresAt, now } = parsed.data;
  assertLifetime(expiresAt, now);
  return { changeType: 'created', notificationUrl, lifecycleNotificationUrl, resource, expirationDateTime: new Date(expiresAt).toISOString(), clientState };
}

/**
 * The body of `PATCH /v1.0/subscriptions/{id}` that extends a subscription to `expiresAt`.
 * @throws GraphArgumentError when the lifetime is outside 45..10,080 minutes from `now`.
 */
export function buildGraphRenewalRequest(input: { expiresAt: number; now: number }): { expirationDateTime: string } {
  assertLifetime(input.expiresAt, input.now);
  return { expirationDateTime: new Date(input.expiresAt).toISOString() };
}

/**
 * The subscription object Graph answers a create (201) or a renewal (200) with; only what the relay needs is kept.
 * Graph writes `expirationDateTime` with up to 7 fractional digits and an offset.
 */
export const graphSubscriptionSchema = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(512)),
  expirationDateTime: z.string().check(z.refine((value) => Number.isFinite(Date.parse(value)), 'must be a date-time')),
  resource: z.optional(z.string()),
  changeType: z.optional(z.string()),
  clientState: z.nullish(z.string()),
});
export type GraphSubscription = z.infer<typeof graphSubscriptionSchema>;

/**
 * Reads Graph's answer to a subscription create or renewal (the JSON body, not the status line).
 * @throws GraphMalformedError (or GraphBodyTooLargeError) when it is not a subscription object.
 */
export function parseGraphSubscription(body: Uint8Array | string): GraphSubscription {
  const parsed = graphSubscriptionSchema.safeParse(readJsonDocument(body));
  if (!parsed.success) throw new GraphMalformedError('the answer is not a Graph subscription object');
  return parsed.data;
}

/** Graph's error body: `{"error": {"code", "message"}}`. */
export const graphErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.optional(z.string()) }) });

/**
 * The `error.code` of a Graph error answer, or undefined when the body is not one (never throws).
 */
export function graphErrorCodeOf(body: Uint8Array | string): { code: string; message?: string } | undefined {
  try {
    const parsed = graphErrorSchema.safeParse(readJsonDocument(body));
    if (!parsed.success) return undefined;
    return parsed.data.error.message === undefined ? { code: parsed.data.error.code } : { code: parsed.data.error.code, message: parsed.data.error.message };
  } catch {
    return undefined;
  }
}
