import * as z from 'zod';
import { DEFAULT_MAX_DEVICES_PER_ORG } from '../functions/_lib/config.js';

/**
 * The deployment configuration: what an operator chooses per installation. It lives in `cdk.json` under the context
 * key `relay` and is validated here once, so a typo fails `cdk synth` with the field's path instead of deploying
 * something else.
 */

export const CONTEXT_KEY = 'relay';

/**
 * Where a deployment that does not say receives mail servers' callbacks (`callbackEndpoint`; the cost model prices
 * it), in a region that offers function URLs: see {@link callbackEndpointOf}.
 */
export type CallbackEndpoint = 'function-url' | 'api';
export const DEFAULT_CALLBACK_ENDPOINT: CallbackEndpoint = 'function-url';

/**
 * Regions where Lambda offers no function URLs (AWS Lambda developer guide, "Creating and managing Lambda function
 * URLs", as of 2026-12): a stack there receives callbacks on the API.
 */
export const REGIONS_WITHOUT_FUNCTION_URLS: ReadonlySet<string> = new Set([
  'ap-south-2',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ap-east-2',
  'ca-west-1',
  'eu-south-2',
  'eu-central-2',
  'il-central-1',
  'me-central-1',
]);

const regionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as "eu-west-1"');

const customDomainSchema = z.strictObject({
  /** E.g. `relay-eu.example.com`; the operator points a DNS record at the stack's `CustomDomainTarget` output. */
  domainName: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case DNS name'),
  /** An ACM certificate for `domainName` in the same region as the stack (API Gateway regional endpoints). */
  certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, 'must be an ACM certificate ARN'),
});

const throttleSchema = z.strictObject({ rateLimit: z.int().positive(), burstLimit: z.int().positive() });

const regionEntrySchema = z.strictObject({
  region: regionSchema,
  /** Optional custom domain for this region's API; without it devices get the execute-api URL. */
  customDomain: customDomainSchema.optional(),
  /** This region's limits for the Exchange callback route; left out, `callbackThrottle` applies. */
  callbackThrottle: throttleSchema.optional(),
});

/**
 * Where alarms go: an e-mail address subscribed to the stack's own alarm topic (the recipient confirms by e-mail), or
 * an existing SNS topic (ARN) that on-call tooling already watches. One of the two is required: alarms nobody
 * receives do not page.
 */
const alarmsSchema = z.union(
  [
    z.strictObject({ email: z.email('must be an e-mail address') }),
    z.strictObject({ topicArn: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN') }),
  ],
  { error: 'give {"email": "<address>"} or {"topicArn": "<SNS topic ARN>"}' },
);

export const deploymentConfigSchema = z
  .strictObject({
    /** One stack per entry. */
    regions: z.array(regionEntrySchema).min(1, 'list at least one region'),
    /** Pins every stack to this account; left out, the stacks deploy to the account of the credentials in use. */
    account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').optional(),
    /**
     * A production deployment: the table has deletion protection, and the table, logs and SNS platform applications
     * are kept when the stack is deleted.
     */
    production: z.boolean(),
    /** `sns`: SNS mobile push (platform applications are created); `apns`: HTTP/2 straight to APNs from the dispatcher. */
    pushGateway: z.enum(['sns', 'apns']).default('sns'),
    /** The iOS app's bundle id (`apns-topic`, `ApplePlatformBundleID`). */
    bundleId: z.string().regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, 'must be a bundle id such as "com.example.mail"'),
    secrets: z
      .strictObject({
        /** Secrets Manager secret (plain string) that signs organization tokens (HS256). */
        orgTokenSecretName: z.string().min(1).default('inbox-relay/org-token'),
        /** Secrets Manager secret, JSON `{keyId, teamId, privateKey, topic}`: the APNs .p8 token credentials. */
        apnsCredentialsSecretName: z.string().min(1).default('inbox-relay/apns-credentials'),
        /** Secrets Manager secret (plain string) that signs operator (admin) tokens (HS256), contract section 8. */
        adminTokenSecretName: z.string().min(1).default('inbox-relay/admin-token'),
      })
      .default({ orgTokenSecretName: 'inbox-relay/org-token', apnsCredentialsSecretName: 'inbox-relay/apns-credentials', adminTokenSecretName: 'inbox-relay/admin-token' }),
    /**
     * Bump after putting a new key into the APNs credentials secret: CloudFormation then updates the SNS platform
     * applications, which read the secret only at deploy time.
     */
    apnsCredentialsRevision: z.int().nonnegative().default(1),
    /**
     * Required: where alarms are sent (see alarmsSchema). `cdk deploy -c alarmEmail=<address>` or
     * `-c alarmTopicArn=<arn>` sets it from the command line (infra/app.ts).
     */
    alarms: alarmsSchema,
    /**
     * Base of the runbook links in alarm descriptions, so that a link works from the console or an e-mail: the
     * operations guide as published (a repository's blob URL of docs/operations.md, or an internal wiki page).
     */
    docsBaseUrl: z.url({ protocol: /^https$/ }).default('https://github.com/inbox-relay/inbox-relay/blob/main/docs/operations.md'),
    /** CloudWatch Logs retention of every function and of the API access log. */
    logRetentionDays: z
      .literal([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653])
      .default(30),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** Stage-wide HTTP API throttling: steady requests per second and burst. */
    apiThrottle: throttleSchema.default({ rateLimit: 200, burstLimit: 400 }),
    /**
     * Limits of the Exchange callback route (`POST /v1/callbacks/{secret}`), which replace the stage's for that route
     * (with `callbackEndpoint: 'function-url'` they apply only to URLs handed out on the API before):
     * Exchange's genuine traffic and a flood of forged secrets share them, so they are sized for the peak of genuine
     * notifications (at most one per mailbox per new mail) with room to spare. Per region with `regions[].callbackThrottle`.
     */
    callbackThrottle: throttleSchema.default({ rateLimit: 100, burstLimit: 200 }),
    /**
     * Where Exchange and Graph send their callbacks, that is, the origin of newly minted callback and Graph
     * notification and lifecycle URLs (CALLBACK_BASE_URL of the device API and the dispatcher). The paths are the same
     * either way (`/v1/callbacks/{secret}`, `/v1/graph/...`), and the HTTP API keeps its callback routes in both
     * modes, so URLs handed out before a switch stay valid (until their mailbox's secrets are rotated, as always).
     * - `function-url` (default): the callback function's own Lambda function URL (auth type NONE: mail servers send no
     *   credentials; the URL ends in a 256-bit secret). No API Gateway charge per callback (issue 15: $2.64 of
     *   $3.36 per 1,000 mailbox-months), but the URLs are on `<id>.lambda-url.<region>.on.aws`, not the custom domain;
     *   there is no per-route throttling (`callbackThrottle` then limits only old URLs still on the API), no WAF and no
     *   access log, and a made-up path invokes the function (answering 404) where API Gateway refused it for free.
     *   `callbackReservedConcurrency` is the limit that remains: callbacks beyond it answer 429.
     * - `api`: the HTTP API (the custom domain if configured), with its callback throttle, per-route metrics and alarms.
     * Left out, it is `function-url` where Lambda offers function URLs and `api` where it does not
     * ({@link REGIONS_WITHOUT_FUNCTION_URLS}). A deployment with a `customDomain` must say which: its operator chose
     * the name mail servers call (and may have put WAF or firewall rules on it), an upgrade must not move new callback
     * URLs off it unasked, and adding a custom domain later must not flip the default and delete the function URL
     * that callback URLs were minted on.
     */
    callbackEndpoint: z.optional(z.enum(['function-url', 'api'])),
    /**
     * Concurrency reserved for (and capping) the callback function, so that the device API or the dispatcher cannot
     * starve it and a flood of callbacks cannot starve them. Lambda keeps 100 of the account's concurrency unreserved:
     * an account still at a low default quota must raise it first.
     */
    callbackReservedConcurrency: z.int().min(1).max(1000).default(50),
    /**
     * Devices one organization may have registered; one more answers `409 device_limit_reached`. A bound on what one
     * leaked org token can cost, not a licence count. A device a reinstall replaced stops counting.
     */
    maxDevicesPerOrg: z.int().min(1).default(DEFAULT_MAX_DEVICES_PER_ORG),
    /** Concurrent dispatcher invocations per region at most, so that a backlog cannot flood SNS or APNs. */
    dispatcherMaxConcurrency: z.int().min(2).max(1000).default(20),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.regions.forEach((entry, index) => {
      if (seen.has(entry.region)) ctx.addIssue({ code: 'custom', path: ['regions', index, 'region'], message: `${entry.region} is listed twice` });
      seen.add(entry.region);
      if (config.callbackEndpoint === 'function-url' && REGIONS_WITHOUT_FUNCTION_URLS.has(entry.region)) {
        ctx.addIssue({ code: 'custom', path: ['callbackEndpoint'], message: `Lambda offers no function URLs in ${entry.region}: use "api" (see docs/operations.md)` });
      }
    });
    const withDomain = config.regions.find((entry) => entry.customDomain !== undefined);
    if (config.callbackEndpoint === undefined && withDomain) {
      ctx.addIssue({
        code: 'custom',
        path: ['callbackEndpoint'],
        message:
          `${withDomain.region} has a customDomain: say where mail servers' callbacks go, "api" to keep newly minted callback URLs on ` +
          `${withDomain.customDomain!.domainName} (as before callbackEndpoint existed) or "function-url" for the callback function's own URL ` +
          '(no API Gateway charge; no custom domain or WAF). See docs/operations.md, "Where callbacks arrive"',
      });
    }
  });

export type DeploymentConfig = z.infer<typeof deploymentConfigSchema>;

/**
 * The callback entry of one region's stack: as configured (`parseDeploymentConfig` has refused a function URL where
 * there is none, and a custom domain without a choice), else the default where function URLs exist, else `api`.
 */
export function callbackEndpointOf(config: Pick<DeploymentConfig, 'callbackEndpoint'>, region: Pick<RegionConfig, 'region'>): CallbackEndpoint {
  return config.callbackEndpoint ?? (REGIONS_WITHOUT_FUNCTION_URLS.has(region.region) ? 'api' : DEFAULT_CALLBACK_ENDPOINT);
}

export type AlarmDestination = DeploymentConfig['alarms'];
export type RegionConfig = DeploymentConfig['regions'][number];

/** Validates the raw context value; the error lists every problem with its path under `relay`. */
export function parseDeploymentConfig(raw: unknown): DeploymentConfig {
  if (raw === undefined) throw new Error(`cdk.json has no "${CONTEXT_KEY}" context: see docs/operations.md`);
  if (typeof raw === 'object' && raw !== null && !('alarms' in raw)) {
    throw new Error(
      `no alarm destination: alarms that nobody receives do not page. Deploy with \`-c alarmEmail=<address>\` or ` +
        `\`-c alarmTopicArn=<SNS topic ARN>\`, or set "${CONTEXT_KEY}.alarms" in cdk.json (docs/operations.md#alarms)`,
    );
  }
  const result = deploymentConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${[CONTEXT_KEY, ...issue.path].join('.')}: ${issue.message}`);
    throw new Error(`invalid deployment configuration:\n${problems.join('\n')}`);
  }
  return result.data;
}

/**
 * The raw `relay` context with the alarm destination given on the command line (`-c alarmEmail=...` or
 * `-c alarmTopicArn=...`), which wins over cdk.json: the address is the operator's, not the repository's.
 */
export function withAlarmDestination(raw: unknown, context: { alarmEmail?: unknown; alarmTopicArn?: unknown }): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  if (typeof context.alarmTopicArn === 'string') return { ...raw, alarms: { topicArn: context.alarmTopicArn } };
  if (typeof context.alarmEmail === 'string') return { ...raw, alarms: { email: context.alarmEmail } };
  return raw;
}
