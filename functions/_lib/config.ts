/**
 * The only reader of process.env for the Lambda functions. Each function asks for what it needs; a missing variable
 * fails the cold start at once, naming the variable, instead of failing later on the first request.
 */

/** Devices one organization may register unless the deployment says otherwise (infra/config.ts maxDevicesPerOrg). */
export const DEFAULT_MAX_DEVICES_PER_ORG = 10_000;

/** MAX_DEVICES_PER_ORG, for a Lambda function and for `npm start` alike. */
export function parseMaxDevicesPerOrg(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_DEVICES_PER_ORG;
  const max = Number(value);
  if (!Number.isInteger(max) || max < 1) throw new MissingConfigError('MAX_DEVICES_PER_ORG', `must be a positive integer, not "${value}"`);
  return max;
}

export class MissingConfigError extends Error {
  constructor(variable: string, why: string) {
    super(`environment variable ${variable} is required (${why})`);
    this.name = 'MissingConfigError';
  }
}

function required(name: string, why: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') throw new MissingConfigError(name, why);
  return value;
}

function optional(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

export const config = {
  tableName: () => required('TABLE_NAME', 'the DynamoDB table of devices, mailboxes and decisions'),
  eventQueueUrl: () => required('EVENT_QUEUE_URL', 'the SQS queue the callback writes to'),
  /**
   * The origin of the callback and Graph URLs the device API and the relay's own subscriptions mint: the HTTP API or the
   * callback function's URL, as the stack's `callbackEndpoint` chose (infra/stacks/relay-stack.ts sets it for both).
   */
  callbackBaseUrl: () => required('CALLBACK_BASE_URL', 'the base of the callback and Graph URLs handed to devices and mail servers'),
  orgTokenSecretArn: () => required('ORG_TOKEN_SECRET_ARN', 'the Secrets Manager secret that signs organization tokens'),
  adminTokenSecretArn: () => required('ADMIN_TOKEN_SECRET_ARN', 'the Secrets Manager secret that signs operator (admin) tokens'),
  /** Optional: without it the callback carries no sealed registration and the dispatcher always reads (issue 15). */
  queueSealSecretArn: () => optional('QUEUE_SEAL_SECRET_ARN'),
  orgSecretsKeyArn: () => required('ORG_SECRETS_KEY_ARN', "the KMS key that wraps organizations' data keys (organization mode)"),
  maxReceiveCount: () => Number(optional('MAX_RECEIVE_COUNT') ?? '5'),
  maxDevicesPerOrg: () => parseMaxDevicesPerOrg(optional('MAX_DEVICES_PER_ORG')),
  pushGateway: (): 'sns' | 'apns' => {
    const value = optional('PUSH_GATEWAY') ?? 'sns';
    if (value !== 'sns' && value !== 'apns') throw new MissingConfigError('PUSH_GATEWAY', `must be "sns" or "apns", not "${value}"`);
    return value;
  },
  snsPlatformApplicationArn: () => required('SNS_PLATFORM_APPLICATION_ARN', 'the APNS platform application (PUSH_GATEWAY=sns)'),
  snsSandboxPlatformApplicationArn: () => required('SNS_SANDBOX_PLATFORM_APPLICATION_ARN', 'the APNS_SANDBOX platform application (PUSH_GATEWAY=sns)'),
  apnsCredentialsSecretArn: () => required('APNS_CREDENTIALS_SECRET_ARN', 'the APNs token credentials (PUSH_GATEWAY=apns)'),
  apnsUrl: () => optional('APNS_URL'),
  region: () => optional('AWS_REGION') ?? 'us-east-1',
  /** True inside Lambda; the local runtime and tests run the same handlers without X-Ray. */
  inLambda: () => optional('AWS_LAMBDA_FUNCTION_NAME') !== undefined,
  /** Where Lambda's X-Ray daemon listens; set by Lambda only when the function has active tracing. */
  xrayDaemonAddress: () => optional('AWS_XRAY_DAEMON_ADDRESS'),
  /** The handler Lambda runs (`index.handler`), named in the invocation's X-Ray subsegment. */
  lambdaHandlerName: () => optional('_HANDLER') ?? 'handler',
};
