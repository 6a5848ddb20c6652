import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { dynamoDbDeviceStore, type AllDevicePorts } from '../../support/device-ports.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { callbackKey, deviceKey, mailboxKey } from '../../../functions/_lib/adapters/table-design.js';
import { makeDevice, makeMailbox } from '../../support/store-fixtures.js';

// The unprocessed-entries paths cannot be provoked on dynalite, which never throttles; a mocked client can.
const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(documentClient);
const TABLE = 'relay';
const options = { batchBackoffMs: 1, batchRetries: 3 };

afterEach(() => mock.reset());

describe('AllDevicePorts batch operations', () => {
  it('reads back keys that BatchGetItem left unprocessed', async () => {
    const device = makeDevice();
    const mailbox = makeMailbox(device.deviceId, { mailboxId: 'primary', kind: 'primary' });
    mock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ ...deviceKey(device.deviceId), ...device }] },
        UnprocessedKeys: { [TABLE]: { Keys: [mailboxKey(device.deviceId, 'primary')], ConsistentRead: true } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [{ ...mailboxKey(device.deviceId, 'primary'), ...mailbox }] } });

    const result = await dynamoDbDeviceStore(documentClient, TABLE, options).getDeviceAndMailbox(device.deviceId, 'primary');

    expect(result).toEqual({ device, mailbox });
    const calls = mock.commandCalls(BatchGetCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input.RequestItems?.[TABLE]).toMatchObject({ ConsistentRead: true });
    expect(calls[1]?.args[0].input.RequestItems?.[TABLE]?.Keys).toEqual([mailboxKey(device.deviceId, 'primary')]);
  });

  it('gives up with DependencyUnavailableError when keys stay unprocessed', async () => {
    mock.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [deviceKey('d')] } } });

    await expect(dynamoDbDeviceStore(documentClient, TABLE, options).getDeviceAndMailbox('d', 'm')).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(mock.commandCalls(BatchGetCommand)).toHaveLength(1 + options.batchRetries);
  });

  it('writes again what BatchWriteItem left unprocessed when deleting a device, in batches of 25', async () => {
    const deviceId = 'dev-1';
    const rest = Array.from({ length: 30 }, (_, i) => ({ pk: `DEVICE#${deviceId}`, sk: `DEDUPE#k${i}` }));
    // The registration's range read before the mailboxes go, and the whole partition once the device item is gone.
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ ...mailboxKey(deviceId, 'primary'), callbackKey: 'cb-1' }, deviceKey(deviceId)] })
      .resolves({ Items: rest });
    const unprocessed = { DeleteRequest: { Key: { pk: `DEVICE#${deviceId}`, sk: 'DEDUPE#k3' } } };
    mock
      .on(BatchWriteCommand)
      .resolvesOnce({}) // the callback item
      .resolvesOnce({ UnprocessedItems: { [TABLE]: [unprocessed] } })
      .resolves({});
    // The mailbox item goes on its own, answering what it held (contract section 9: the relay's subscription of it).
    mock.on(DeleteCommand).resolves({});

    await dynamoDbDeviceStore(documentClient, TABLE, options).deleteDevice(deviceId);

    // The mailbox before the device (the dispatcher's mailbox writes are conditional on the mailbox item: once it is
    // gone, nothing more is pushed or recorded for the device), then the device item on its own.
    expect(mock.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE, Key: mailboxKey(deviceId, 'primary'), ReturnValues: 'ALL_OLD' },
      { TableName: TABLE, Key: deviceKey(deviceId) },
    ]);
    const batches = mock.commandCalls(BatchWriteCommand).map((call) => call.args[0].input.RequestItems?.[TABLE] ?? []);
    expect(batches.map((batch) => batch.length)).toEqual([1, 25, 1, 5]);
    expect(batches[0]).toEqual([{ DeleteRequest: { Key: callbackKey('cb-1') } }]);
    expect(batches[2]).toEqual([unprocessed]);
    // The first read names only the mailboxes and the device item: not the dedupe keys and decisions beside them.
    const queries = mock.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries[0]).toMatchObject({ KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last', ExpressionAttributeValues: { ':first': 'MAILBOX#', ':last': 'META' } });
    expect(queries.at(-1)).toMatchObject({ KeyConditionExpression: 'pk = :pk' });
  });

  it('gives up with DependencyUnavailableError when writes stay unprocessed', async () => {
    mock.on(QueryCommand).resolves({ Items: [{ pk: 'DEVICE#d', sk: 'DEDUPE#k' }] });
    mock.on(BatchWriteCommand).resolves({ UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: { pk: 'DEVICE#d', sk: 'DEDUPE#k' } } }] } });

    await expect(dynamoDbDeviceStore(documentClient, TABLE, options).deleteDevice('d')).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(mock.commandCalls(BatchWriteCommand)).toHaveLength(1 + options.batchRetries);
  });

  it('lets errors other than a failed condition propagate from writes that tolerate a failed condition', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
    mock.on(UpdateCommand).rejects(throttled);
    const store = dynamoDbDeviceStore(documentClient, TABLE, options);

    await expect(store.touchMailbox('d', 'm', 1)).rejects.toBe(throttled);
    await expect(store.retireDevice('d', { pushToken: 't', tokenRejectedAt: 1, reason: 'Unregistered', now: 1 })).rejects.toBe(throttled);
    await expect(store.updateDevice('d', { timeZone: 'UTC' }, 1)).rejects.toBe(throttled);
  });
});
