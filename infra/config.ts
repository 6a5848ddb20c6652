import * as z from 'zod';

/**
 * The deployment configuration: what an operator chooses per installation. It lives in `cdk.json` under the context
 * key `relay` and is validated here once, so a typo fails `cdk synth` with the field's path instead of deploying
 * something else.
 */

export const CONTEXT_KEY = 'relay';

const regionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as "eu-west-1"');

const customDomainSchema = z.strictObject({
  /** E.g. `relay-eu.example.com`; the operator points a DNS record at the stack's `CustomDomainTarget` output. */
  domainName: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case DNS name'),
  /** An ACM certificate for `domainName` in the same region as the stack (API Gateway regional endpoints). */
  certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, 'must be an ACM certificate ARN'),
});

const regionEntrySchema = z.strictObject({
  region: regionSchema,
  /** Optional custom domain for this region's API; without it devices get the execute-api URL. */
  customDomain: customDomainSchema.optional(),
});

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
      })
      .default({ orgTokenSecretName: 'inbox-relay/org-token', apnsCredentialsSecretName: 'inbox-relay/apns-credentials' }),
    /**
     * Bump after putting a new key into the APNs credentials secret: CloudFormation then updates the SNS platform
     * applications, which read the secret only at deploy time.
     */
    apnsCredentialsRevision: z.int().nonnegative().default(1),
    /** Subscribed to the alarm topic (the recipient confirms by e-mail). */
    alarmEmail: z.email().optional(),
    /** CloudWatch Logs retention of every function and of the API access log. */
    logRetentionDays: z
      .literal([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653])
      .default(30),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** Stage-wide HTTP API throttling: steady requests per second and burst. */
    apiThrottle: z
      .strictObject({ rateLimit: z.int().positive(), burstLimit: z.int().positive() })
      .default({ rateLimit: 200, burstLimit: 400 }),
    /** Concurrent dispatcher invocations per region at most, so that a backlog cannot flood SNS or APNs. */
    dispatcherMaxConcurrency: z.int().min(2).max(1000).default(20),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.regions.forEach((entry, index) => {
      if (seen.has(entry.region)) ctx.addIssue({ code: 'custom', path: ['regions', index, 'region'], message: `${entry.region} is listed twice` });
      seen.add(entry.region);
    });
  });

export type DeploymentConfig = z.infer<typeof deploymentConfigSchema>;
export type RegionConfig = DeploymentConfig['regions'][number];

/** Validates the raw context value; the error lists every problem with its path under `relay`. */
export function parseDeploymentConfig(raw: unknown): DeploymentConfig {
  if (raw === undefined) throw new Error(`cdk.json has no "${CONTEXT_KEY}" context: see docs/operations.md`);
  const result = deploymentConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${[CONTEXT_KEY, ...issue.path].join('.')}: ${issue.message}`);
    throw new Error(`invalid deployment configuration:\n${problems.join('\n')}`);
  }
  return result.data;
}
