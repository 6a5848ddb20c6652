import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoDbDevicePorts } from '../../functions/_lib/adapters/dynamodb-device-ports.js';
import type { DynamoDbMailboxRegistryOptions } from '../../functions/_lib/adapters/dynamodb-mailbox-registry.js';
import type {
  BurstBudget,
  CallbackDirectory,
  DevicePorts,
  DeviceReader,
  DeviceRegistry,
  MailboxActionLimit,
  MailboxRegistry,
  SupervisionIndex,
  TokenRetirement,
  PushTokenClaims,
  DeviceQuota,
} from '../../shared/store/ports.js';

/**
 * Every device port as one object, for the tests that arrange and inspect the store across ports (the behaviour
 * suite, the adapters' own tests). Use cases never take this: each names the ports it calls.
 */
export type AllDevicePorts = DeviceReader & DeviceRegistry & MailboxRegistry & CallbackDirectory & SupervisionIndex & TokenRetirement & BurstBudget & MailboxActionLimit & PushTokenClaims & DeviceQuota;

const METHODS = {
  devices: ['getDevice', 'getDeviceWithMailboxes', 'getDeviceAndMailbox', 'getDevicesAndMailboxes'],
  registry: ['createDevice', 'updateDevice', 'deleteDevice'],
  mailboxes: ['addMailbox', 'removeMailbox', 'setSubscription', 'rotateSecrets'],
  callbacks: ['findCallback', 'touchMailbox'],
  supervision: ['listDue', 'updateMailboxSupervision'],
  retirement: ['retireDevice'],
  burstBudget: ['claimAlertSlot', 'holdAlerts', 'beginFlush', 'endFlush', 'releaseHeldAlerts'],
  actionLimit: ['claimMailboxAction', 'releaseMailboxAction'],
  pushTokens: ['claimPushToken', 'pushTokenHolder', 'releasePushToken'],
  deviceQuota: ['reserveDevice', 'releaseDevice', 'countDevices'],
} as const satisfies { [P in keyof DevicePorts]: readonly (keyof DevicePorts[P])[] };

/** One object whose methods call the port that owns them. */
export function allDevicePorts(ports: DevicePorts): AllDevicePorts {
  const all: Record<string, unknown> = {};
  for (const [port, methods] of Object.entries(METHODS) as [keyof DevicePorts, readonly string[]][]) {
    const target = ports[port] as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const method of methods) all[method] = (...args: unknown[]) => target[method]!(...args);
  }
  return all as unknown as AllDevicePorts;
}

/** The DynamoDB adapters of every device port on one table, as one object. */
export function dynamoDbDeviceStore(client: DynamoDBDocumentClient, tableName: string, options?: DynamoDbMailboxRegistryOptions): AllDevicePorts {
  return allDevicePorts(dynamoDbDevicePorts(client, tableName, options));
}
