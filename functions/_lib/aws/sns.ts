import { SNSClient } from '@aws-sdk/client-sns';
import { traced } from '../powertools.js';
import { lambdaClientSettings } from './settings.js';

let sns: SNSClient | undefined;

/** The Lambda's SNS client, one per process, traced by X-Ray; one SDK attempt (settings.ts says why). */
export function lambdaSnsClient(): SNSClient {
  sns ??= traced(new SNSClient(lambdaClientSettings('sns')));
  return sns;
}
