import { DynamoDbDecisionLog } from '../_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbDedupeStore } from '../_lib/adapters/dynamodb-dedupe-store.js';
import { dynamoDbDevicePorts } from '../_lib/adapters/dynamodb-device-ports.js';
import { awsClients, pushGateway } from '../_lib/aws-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { DynamoDbOrgStore } from '../_lib/adapters/dynamodb-org-store.js';
import { OrganizationDetails } from './organization-details.js';
import { config } from '../_lib/config.js';
import { metricsCounter, useCaseLogger } from '../_lib/powertools.js';
import { SqsEventQueue } from '../_lib/adapters/sqs-event-queue.js';
import { DEFAULT_ALERT_BUDGET, DEFAULT_DEDUPE_TTL_SECONDS } from './deps.js';
import { createDispatcherHandler } from './edge.js';

const { documentClient, sqs } = awsClients();
const tableName = config.tableName();
const { devices, retirement, burstBudget, actionLimit } = dynamoDbDevicePorts(documentClient, tableName);

export const handler = createDispatcherHandler({
  devices,
  retirement,
  burstBudget,
  actionLimit,
  dedupe: new DynamoDbDedupeStore(documentClient, tableName),
  decisions: new DynamoDbDecisionLog(documentClient, tableName),
  push: await pushGateway(),
  now: Date.now,
  logger: useCaseLogger,
  counter: metricsCounter,
  maxReceiveCount: config.maxReceiveCount(),
  dedupeTtlSeconds: DEFAULT_DEDUPE_TTL_SECONDS,
  queue: new SqsEventQueue(sqs, config.eventQueueUrl()),
  alertBudget: DEFAULT_ALERT_BUDGET,
  organization: new OrganizationDetails({
    orgs: new DynamoDbOrgStore(documentClient, tableName),
    keyring: orgKeyring(),
    readers: mailServerReaders,
    now: Date.now,
    logger: useCaseLogger,
  }),
});
