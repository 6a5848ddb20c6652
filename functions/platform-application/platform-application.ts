import * as z from '../../shared/zod.js';
import { apnsCredentialsSchema } from '../_lib/apns-credentials.js';

/**
 * The SNS platform application (APNS or APNS_SANDBOX) as a CloudFormation custom resource. CloudFormation has no
 * resource type for it, and its token credentials must not pass through the template: the stack hands over only the
 * ARN of the Secrets Manager secret, and this reads the key at deploy time and gives it to SNS directly. Nothing it
 * returns to CloudFormation (physical id, attributes, failure reason) can contain the key.
 */

export const platformSchema = z.enum(['APNS', 'APNS_SANDBOX']);
export type Platform = z.infer<typeof platformSchema>;

/** The custom resource's properties, as the stack writes them (CloudFormation turns every scalar into a string). */
export const platformApplicationPropertiesSchema = z.object({
  Platform: platformSchema,
  /** `ApplePlatformBundleID`: the app's bundle id, which is also the `apns-topic`. */
  BundleId: z.string().check(z.minLength(1)),
  CredentialsSecretArn: z.string().check(z.startsWith('arn:')),
  /** Bumped by the operator after putting a new key into the secret, so that CloudFormation sends an Update. */
  CredentialsRevision: z.optional(z.string()),
  /** Topic for EventDeliveryFailure and EventEndpointUpdated. */
  EventTopicArn: z.optional(z.string().check(z.startsWith('arn:'))),
});
export type PlatformApplicationProperties = z.infer<typeof platformApplicationPropertiesSchema>;


export type RequestType = 'Create' | 'Update' | 'Delete';

export interface PlatformApplicationRequest {
  requestType: RequestType;
  /** Used to name a new application uniquely and recognizably: `<stack>-<logical id>-<request suffix>`. */
  stackName: string;
  logicalResourceId: string;
  requestId: string;
  properties: PlatformApplicationProperties;
  /** Update and Delete: the current application's ARN (or a placeholder left by a failed Create). */
  physicalResourceId?: string;
  oldProperties?: PlatformApplicationProperties;
}

export interface PlatformApplicationResult {
  physicalResourceId: string;
  /** Returned as the resource's attributes (`Fn::GetAtt`); never anything secret. */
  data?: { Arn: string; Name: string };
}

/** What the use case needs from SNS and Secrets Manager; the handler wires the SDK clients. */
export interface PlatformApplicationDeps {
  readSecret(secretArn: string): Promise<string>;
  createPlatformApplication(input: { name: string; platform: Platform; attributes: Record<string, string> }): Promise<string>;
  setPlatformApplicationAttributes(arn: string, attributes: Record<string, string>): Promise<void>;
  /** Resolves also when the application does not exist. */
  deletePlatformApplication(arn: string): Promise<void>;
}

/** Raised for a configuration mistake; its message names the problem, never a secret value. */
export class PlatformApplicationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformApplicationConfigError';
  }
}

const APPLICATION_ARN = /^arn:[^:]+:sns:[^:]+:\d{12}:app\/(APNS|APNS_SANDBOX)\/[A-Za-z0-9_.-]+$/;

export async function managePlatformApplication(
  request: PlatformApplicationRequest,
  deps: PlatformApplicationDeps,
): Promise<PlatformApplicationResult> {
  const existing = request.physicalResourceId !== undefined && APPLICATION_ARN.test(request.physicalResourceId) ? request.physicalResourceId : undefined;

  if (request.requestType === 'Delete') {
    // A failed Create leaves CloudFormation's placeholder id: nothing to delete then.
    if (existing !== undefined) await deps.deletePlatformApplication(existing);
    return { physicalResourceId: request.physicalResourceId ?? 'none' };
  }

  const attributes = await platformAttributes(request.properties, deps);
  const replace = request.requestType === 'Create' || existing === undefined || request.oldProperties?.Platform !== request.properties.Platform;
  if (replace) {
    // A new physical id makes CloudFormation delete the old application once the update succeeded.
    const name = applicationName(request);
    const arn = await deps.createPlatformApplication({ name, platform: request.properties.Platform, attributes });
    return { physicalResourceId: arn, data: { Arn: arn, Name: name } };
  }
  await deps.setPlatformApplicationAttributes(existing, attributes);
  return { physicalResourceId: existing, data: { Arn: existing, Name: nameOf(existing) } };
}

async function platformAttributes(properties: PlatformApplicationProperties, deps: PlatformApplicationDeps): Promise<Record<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await deps.readSecret(properties.CredentialsSecretArn));
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new PlatformApplicationConfigError('the APNs credentials secret is not JSON {keyId, teamId, privateKey, topic}');
    }
    throw error;
  }
  const credentials = apnsCredentialsSchema.safeParse(parsed);
  if (!credentials.success) {
    // Only the paths and rules, never the received values (zod's messages here carry none).
    const problems = credentials.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new PlatformApplicationConfigError(`the APNs credentials secret is invalid: ${problems}`);
  }
  const { keyId, teamId, privateKey, topic } = credentials.data;
  if (topic !== properties.BundleId) {
    // The direct gateway sends to `topic`, SNS to the bundle id: they must be the same app.
    throw new PlatformApplicationConfigError(
      `the secret's topic "${topic}" differs from the configured bundle id "${properties.BundleId}"`,
    );
  }
  const attributes: Record<string, string> = {
    PlatformPrincipal: keyId,
    PlatformCredential: privateKey,
    ApplePlatformTeamID: teamId,
    ApplePlatformBundleID: properties.BundleId,
  };
  if (properties.EventTopicArn !== undefined) {
    attributes.EventDeliveryFailure = properties.EventTopicArn;
    attributes.EventEndpointUpdated = properties.EventTopicArn;
  }
  return attributes;
}

/** SNS allows 256 characters of `[A-Za-z0-9_.-]`; the request-id suffix keeps a replacement from colliding. */
function applicationName(request: PlatformApplicationRequest): string {
  const suffix = request.requestId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
  const base = `${request.stackName}-${request.logicalResourceId}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 200);
  return `${base}-${suffix}`;
}

function nameOf(applicationArn: string): string {
  return applicationArn.slice(applicationArn.lastIndexOf('/') + 1);
}

/** Removes every occurrence of the given secret values (and their lines) from a text bound for CloudFormation or logs. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (!secret) continue;
    result = result.split(secret).join('[redacted]');
    for (const line of secret.split(/\r?\n/)) {
      if (line.trim().length >= 16) result = result.split(line.trim()).join('[redacted]');
    }
  }
  return result;
}
