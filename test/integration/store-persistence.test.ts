import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbDecisionLog } from '../../functions/_lib/adapters/dynamodb-decision-log.js';
import { dynamoDbDeviceStore, type AllDevicePorts } from '../support/device-ports.js';
import { LOCAL_BACKEND_CREDENTIALS, LOCAL_REGION, LOCAL_TABLE_NAME } from '../../infra/local/backends.js';
import { tableDefinition } from '../../functions/_lib/adapters/table-design.js';
import { startLocalBackends, withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';
import { decisionAt } from '../support/store-behaviour.js';
import { makeDevice, makeMailbox } from '../support/store-fixtures.js';

describe('local backends across a restart', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function tempDataDir(): Promise<string> {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'inbox-relay-backends-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    return dataDir;
  }

  async function start(dataDir: string): Promise<LocalBackendsHarness> {
    const local = await withLocalBackends({ dataDir });
    cleanups.push(() => local.stop());
    return local;
  }

  it('keeps DynamoDB data in the data directory; queued messages are not kept', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'inbox-relay-backends-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const device = makeDevice();
    const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
    const decision = decisionAt(Date.now(), 'pushed');

    const first = await start(dataDir);
    await dynamoDbDeviceStore(first.clients.documentClient, first.backends.tableName).createDevice(device, [primary]);
    await new DynamoDbDecisionLog(first.clients.documentClient, first.backends.tableName).record(device.deviceId, decision);
    await first.clients.sqs.send(new SendMessageCommand({ QueueUrl: first.backends.eventQueueUrl, MessageBody: 'lost on restart' }));
    await first.stop();

    const second = await start(dataDir);
    const devices = dynamoDbDeviceStore(second.clients.documentClient, second.backends.tableName);

    expect(await readdir(path.join(dataDir, 'dynamodb'))).not.toEqual([]);
    expect(await devices.getDeviceWithMailboxes(device.deviceId)).toEqual({ device, mailboxes: [primary] });
    expect(await devices.findCallback(primary.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: 'primary' });
    expect(await new DynamoDbDecisionLog(second.clients.documentClient, second.backends.tableName).list(device.deviceId, 0)).toEqual([
      decision,
    ]);
    const { Messages: messages = [] } = await second.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: second.backends.eventQueueUrl, WaitTimeSeconds: 0 }),
    );
    expect(messages).toEqual([]);
  });

  it('keeps nothing with :memory:', async () => {
    const device = makeDevice();
    const first = await start(':memory:');
    await dynamoDbDeviceStore(first.clients.documentClient, first.backends.tableName).createDevice(device, []);
    await first.stop();

    const second = await start(':memory:');

    expect(await dynamoDbDeviceStore(second.clients.documentClient, second.backends.tableName).getDevice(device.deviceId)).toBeUndefined();
  });

  it('stops idempotently', async () => {
    const local = await start(':memory:');

    await local.backends.stop();
    await local.backends.stop();
  });

  it('refuses a DATA_DIR that another running process holds with a clear error, instead of crashing', async () => {
    const dataDir = await tempDataDir();
    const holder = await holdDataDirInAnotherProcess(dataDir);
    cleanups.push(holder.stop);

    await expect(startLocalBackends({ dataDir })).rejects.toThrow(`DATA_DIR ${path.resolve(dataDir)} is in use by another inbox-relay process`);

    // Still alive, and the directory is usable once the other process is gone: the check holds nothing itself.
    await holder.stop();
    const local = await start(dataDir);
    expect(await dynamoDbDeviceStore(local.clients.documentClient, local.backends.tableName).getDevice('none')).toBeUndefined();
  });

  it('refuses a DATA_DIR whose table predates the due index, and leaves its data alone', async () => {
    const dataDir = await tempDataDir();
    const { GlobalSecondaryIndexes: _index, ...withoutIndex } = tableDefinition(LOCAL_TABLE_NAME);
    const oldItem = { pk: { S: 'DEVICE#old' }, sk: { S: 'META' } };
    await withDynalite(dataDir, async (client) => {
      await client.send(
        new CreateTableCommand({ ...withoutIndex, AttributeDefinitions: withoutIndex.AttributeDefinitions?.filter((a) => ['pk', 'sk'].includes(a.AttributeName!)) }),
      );
      // Even with createTableMs 0, dynalite turns the table ACTIVE on a later tick.
      await waitUntilTableExists({ client, maxWaitTime: 10, minDelay: 1, maxDelay: 1 }, { TableName: LOCAL_TABLE_NAME });
      await client.send(new PutItemCommand({ TableName: LOCAL_TABLE_NAME, Item: oldItem }));
    });

    await expect(startLocalBackends({ dataDir })).rejects.toThrow(/was created before the due-index index.*move that DATA_DIR away/);

    await withDynalite(dataDir, async (client) => {
      const { Table: table } = await client.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME }));
      expect(table?.GlobalSecondaryIndexes).toBeUndefined();
      const { Item: item } = await client.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: oldItem, ConsistentRead: true }));
      expect(item).toEqual(oldItem);
    });
  });
});

/** dynalite on the data directory as a version of the local backends before the due index would have left it. */
async function withDynalite(dataDir: string, use: (client: DynamoDBClient) => Promise<void>): Promise<void> {
  const dynalite = createRequire(import.meta.url)('dynalite') as (options: object) => Server;
  const server = dynalite({ path: path.join(dataDir, 'dynamodb'), createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    credentials: { ...LOCAL_BACKEND_CREDENTIALS },
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
  try {
    await use(client);
  } finally {
    client.destroy();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  }
}

/**
 * Another process (as `npm start` would be) that starts the local backends on `dataDir` and keeps them until told to
 * stop, or until this process goes away (its stdin closes).
 */
async function holdDataDirInAnotherProcess(dataDir: string): Promise<{ stop: () => Promise<void> }> {
  const backendsModule = new URL('../../infra/local/backends.ts', import.meta.url).href;
  const script = `
    const { startLocalBackends } = await import(${JSON.stringify(backendsModule)});
    const backends = await startLocalBackends({ dataDir: ${JSON.stringify(dataDir)} });
    process.stdout.write('READY\\n');
    process.stdin.resume();
    process.stdin.on('close', () => backends.stop().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('READY')) resolve();
    });
    void exited.then(([code]) => reject(new Error(`the holding process exited (${String(code)}) before it was ready: ${output}`)));
  });
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.stdin.end();
        await exited;
      })()),
  };
}
