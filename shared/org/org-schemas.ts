import * as z from '../zod.js';

/**
 * The operator API's messages (contract section 8): connecting an organization to its mail server. One schema per
 * message; the stored record (shared/org/ports.ts) holds the same settings without the secret in clear.
 *
 * URLs are only checked for their form here (absolute, http or https, no credentials, no fragment). Whether a URL may
 * be used at all (https to a public address; loopback only under `npm start`) depends on where the relay runs and
 * needs name resolution, so `functions/_lib/outbound-address-policy.ts` decides it.
 */

export const ORG_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
export const orgIdSchema = z.string().check(
  z.regex(ORG_ID_PATTERN, 'must be 1 to 128 characters of A-Z, a-z, 0-9, ".", "_" or "-"'),
  z.refine((id) => id !== '.' && id !== '..', 'must not be "." or ".."'),
);

export const detailedAlertsSchema = z.enum(['off', 'encrypted']);
export type DetailedAlerts = z.infer<typeof detailedAlertsSchema>;

/** True for an absolute http(s) URL without user info or fragment: the form every mail-server URL must have. */
export function isPlainHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '' && url.hash === '';
}

const serverUrlSchema = z.string().check(
  z.maxLength(2048),
  z.refine(isPlainHttpUrl, 'must be an absolute https URL without credentials or fragment'),
);

/** A tenant is a GUID or a verified domain name; either is one path segment of the login URL. */
const tenantIdSchema = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$/, 'must be a tenant GUID or domain name'));
const clientIdSchema = z.string().check(z.regex(/^[A-Za-z0-9-]{1,64}$/, 'must be the application (client) id'));
const secretSchema = z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(1024));

export const GRAPH_DEFAULTS = {
  graphUrl: 'https://graph.microsoft.com',
  loginUrl: 'https://login.microsoftonline.com',
  scope: 'https://graph.microsoft.com/.default',
} as const;

/**
 * EWS on premises: the account needs the ApplicationImpersonation role. `auth`: Basic, or NTLM (NTLMv2, as Exchange's
 * Windows authentication offers it; `username` as `DOMAIN\\user` or a UPN), both over HTTPS.
 */
export const ewsServerRequestSchema = z.strictObject({
  type: z.literal('ews'),
  url: serverUrlSchema,
  username: z.string().check(z.minLength(1), z.maxLength(256)),
  /** Left out on a later PUT for the same `url`: the stored password is kept. */
  password: z.optional(secretSchema),
  auth: z._default(z.enum(['basic', 'ntlm']), 'basic'),
});

/** Exchange Online through Microsoft Graph: an app registration with the application permission Mail.Read. */
export const graphServerRequestSchema = z.strictObject({
  type: z.literal('graph'),
  tenantId: tenantIdSchema,
  clientId: clientIdSchema,
  /** Left out on a later PUT for the same tenant and client: the stored secret is kept. */
  clientSecret: z.optional(secretSchema),
  graphUrl: z._default(serverUrlSchema, GRAPH_DEFAULTS.graphUrl),
  loginUrl: z._default(serverUrlSchema, GRAPH_DEFAULTS.loginUrl),
  scope: z._default(z.string().check(z.minLength(1), z.maxLength(512)), GRAPH_DEFAULTS.scope),
});

export const mailServerRequestSchema = z.discriminatedUnion('type', [ewsServerRequestSchema, graphServerRequestSchema], {
  error: 'must be {"type": "ews", ...} or {"type": "graph", ...}',
});
export type MailServerRequest = z.infer<typeof mailServerRequestSchema>;

/** `PUT /v1/orgs/{orgId}`. */
export const putOrgRequestSchema = z.strictObject({
  detailedAlerts: z._default(detailedAlertsSchema, 'off'),
  mailServer: mailServerRequestSchema,
});
export type PutOrgRequest = z.infer<typeof putOrgRequestSchema>;

/** The mail server as stored and shown: everything but the password or client secret. */
export const mailServerSettingsSchema = z.discriminatedUnion('type', [
  z.extend(z.omit(ewsServerRequestSchema, { password: true }), { auth: z.enum(['basic', 'ntlm']) }),
  z.extend(z.omit(graphServerRequestSchema, { clientSecret: true }), { graphUrl: z.string(), loginUrl: z.string(), scope: z.string() }),
]);
export type MailServerSettings = z.infer<typeof mailServerSettingsSchema>;
export type MailServerType = MailServerSettings['type'];

/** The last request to the mail server: when, whether it worked, and a code (never a secret or an address). */
export const orgHealthSchema = z.object({
  at: z.string(),
  ok: z.boolean(),
  error: z.optional(z.string()),
});
export type OrgHealthView = z.infer<typeof orgHealthSchema>;

/** `PUT` and `GET /v1/orgs/{orgId}` answer this; no secret ever appears in it. */
export const orgViewSchema = z.object({
  orgId: z.string(),
  mode: z.literal('organization'),
  detailedAlerts: detailedAlertsSchema,
  mailServer: mailServerSettingsSchema,
  health: z.nullable(orgHealthSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type OrgView = z.infer<typeof orgViewSchema>;

/** `POST /v1/orgs/{orgId}/check`. */
export const orgCheckResponseSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type OrgCheckResponse = z.infer<typeof orgCheckResponseSchema>;

/** What a device's registration answer and GET say about its organization (contract section 3). */
export const deviceOrganizationSchema = z.object({
  mode: z.enum(['default', 'organization']),
  detailedAlerts: detailedAlertsSchema,
});
export type DeviceOrganization = z.infer<typeof deviceOrganizationSchema>;
