/**
 * AWS prices the cost model uses (us-east-1, USD, on-demand, free tiers left out), each with where it came from.
 *
 * Most come from the team's research notes on APNs and SNS costs (not part of this repository), whose sources are third-party summaries: the live
 * pricing pages were not in the stored corpus the notes were written from. Two prices the notes do not have
 * (DynamoDB on-demand, Lambda on arm64) were looked up for this file, also from third-party pages. Check all of them on
 * aws.amazon.com/<service>/pricing before quoting a cost model to anyone.
 */

export interface Price {
  /** USD per `unit`. */
  usd: number;
  unit: string;
  source: string;
  /** [A] first-party AWS page, [3P] third-party summary. */
  quality: '[A]' | '[3P]';
  /** When the figure was taken for this file, and from what. */
  taken: string;
}

const FROM_NOTES = '2026-11-23, from notes/apns-and-sns.md §2.7';
const LOOKED_UP = '2026-11-23, looked up for this file (not in the notes)';

export const PRICES = {
  apiGatewayHttpRequest: {
    usd: 1e-6,
    unit: 'API Gateway HTTP API request (first 300 M/month; metered per 512 KB)',
    source: 'https://www.apigatewaycost.com/aws; https://appropri8-astro.pages.dev/tutorials/2025/12/02/deploying-simple-api-aws/page/7',
    quality: '[3P]',
    taken: FROM_NOTES,
  },
  lambdaRequest: {
    usd: 2e-7,
    unit: 'Lambda invocation',
    source: 'https://appropri8-astro.pages.dev/tutorials/2025/12/02/deploying-simple-api-aws/page/7',
    quality: '[3P]',
    taken: FROM_NOTES,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second on arm64 (first 7.5 billion GB-s/month); the notes give only x86 ($0.0000166667)',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing ("AWS Lambda Pricing Breakdown: Ultimate Guide 2024")',
    quality: '[3P]',
    taken: LOOKED_UP,
  },
  sqsRequest: {
    usd: 4e-7,
    unit: 'SQS standard request (per 64 KB chunk; first 100 B/month)',
    source: 'https://cloudburn.io/blog/amazon-sqs-pricing; https://www.factualminds.com/blog/amazon-sqs-pricing-64kb-rule-fifo-vs-standard/',
    quality: '[3P]',
    taken: FROM_NOTES,
  },
  snsPublish: {
    usd: 5e-7,
    unit: 'SNS publish',
    source: 'study note quoting aws.amazon.com/sns/pricing; https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/',
    quality: '[3P]',
    taken: FROM_NOTES,
  },
  snsMobilePushDelivery: {
    usd: 5e-7,
    unit: 'SNS mobile push delivery',
    source: 'study note quoting aws.amazon.com/sns/pricing; https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/',
    quality: '[3P]',
    taken: FROM_NOTES,
  },
  dynamoDbReadRequestUnit: {
    usd: 1.25e-7,
    unit: 'DynamoDB on-demand read request unit (strongly consistent read of up to 4 KB)',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing (page dated 2025-07-21, after the November 2024 on-demand price cut); units as defined on https://aws.amazon.com/dynamodb/pricing/on-demand/',
    quality: '[3P]',
    taken: LOOKED_UP,
  },
  dynamoDbWriteRequestUnit: {
    usd: 6.25e-7,
    unit: 'DynamoDB on-demand write request unit (write of up to 1 KB; each secondary-index write too)',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing (page dated 2025-07-21, after the November 2024 on-demand price cut); units as defined on https://aws.amazon.com/dynamodb/pricing/on-demand/',
    quality: '[3P]',
    taken: LOOKED_UP,
  },
} as const satisfies Record<string, Price>;

/**
 * Memory of each function as infra/stacks/relay-stack.ts configures it (RelayFunction's default is 256 MB), for
 * GB-seconds. Architecture arm64.
 */
export const FUNCTION_MEMORY_MB = {
  callback: 512,
  dispatcher: 256,
  'device-api': 512,
} as const;

/**
 * The reference workload: what one mailbox does in a 30-day month.
 * - 40 new mails a day, each its own notification (Exchange may batch several into one; that would cost less).
 * - StatusFrequency 30 minutes: Exchange sends a StatusEvent only when nothing else was sent in the interval, so 48
 *   a day is an upper bound (new mail during the day replaces some of them).
 * - Hourly resubscription: the device creates a new EWS subscription every hour and reports it (PUT .../subscription).
 */
export const REFERENCE_WORKLOAD = {
  newMailsPerDay: 40,
  statusFrequencyMinutes: 30,
  resubscriptionsPerDay: 24,
  daysPerMonth: 30,
} as const;

export function perMailboxMonth(): { newMail: number; heartbeat: number; resubscription: number } {
  const days = REFERENCE_WORKLOAD.daysPerMonth;
  return {
    newMail: REFERENCE_WORKLOAD.newMailsPerDay * days,
    heartbeat: ((24 * 60) / REFERENCE_WORKLOAD.statusFrequencyMinutes) * days,
    resubscription: REFERENCE_WORKLOAD.resubscriptionsPerDay * days,
  };
}
