import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUE_AT_ATTRIBUTE, DUE_INDEX_NAME, DUE_SHARD_ATTRIBUTE, TABLE_KEYS } from '../../functions/_lib/adapters/table-design.js';
import { withLocalBackends, type LocalBackendsHarness } from '../support/local-backends.js';
import type { SQSEvent } from 'aws-lambda';
import type { DispatcherHandler } from '../../functions/dispatcher/edge.js';
import { startSqsPoller } from '../../infra/local/sqs-poller.js';
import { RecordingLogger } from '../support/fakes.js';

let local: LocalBackendsHarness;
beforeAll(async () => {
  local = await withLocalBackends({ queueVisibilityTimeoutSeconds: 45, maxReceiveCount: 2 });
});
afterAll(() => local?.stop());

/** An IPv4 address of this machine other than loopback, if it has one. */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((info) => info && info.family === 'IPv4' && !info.internal)?.address;

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('local backends', () => {
  it('serves on 127.0.0.1', () => {
    expect(new URL(local.backends.dynamodbEndpoint).hostname).toBe('127.0.0.1');
    expect(new URL(local.backends.sqsEndpoint).hostname).toBe('127.0.0.1');
  });

  it.skipIf(!externalAddress)('cannot be reached on any other interface', async () => {
    for (const endpoint of [local.backends.dynamodbEndpoint, local.backends.sqsEndpoint]) {
      const port = Number(new URL(endpoint).port);
      expect(await connects('127.0.0.1', port)).toBe(true);
      expect(await connects(externalAddress!, port), `${externalAddress}:${port}`).toBe(false);
    }
  });

  it('creates the table from the shared table design', async () => {
    const { Table: table } = await local.clients.dynamodb.send(new DescribeTableCommand({ TableName: local.backends.tableName }));

    expect(table?.TableStatus).toBe('ACTIVE');
    expect(table?.KeySchema).toEqual([
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ]);
    expect(table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table?.GlobalSecondaryIndexes?.map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection }))).toEqual([
      {
        IndexName: DUE_INDEX_NAME,
        KeySchema: [
          { AttributeName: DUE_SHARD_ATTRIBUTE, KeyType: 'HASH' },
          { AttributeName: DUE_AT_ATTRIBUTE, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
  });

  it('configures the event queue with the visibility timeout and a redrive policy to the DLQ', async () => {
    const { Attributes: dlq } = await local.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: local.backends.deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const { Attributes: events } = await local.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: local.backends.eventQueueUrl, AttributeNames: ['All'] }),
    );

    expect(events?.VisibilityTimeout).toBe('45');
    expect(JSON.parse(events?.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: dlq?.QueueArn, maxReceiveCount: 2 });
  });

  it('moves a message received maxReceiveCount times to the dead-letter queue', async () => {
    const { sqs } = local.clients;
    await sqs.send(new SendMessageCommand({ QueueUrl: local.backends.eventQueueUrl, MessageBody: 'poison' }));
    // Visibility 0: each receive hands the message straight back, as a consumer that keeps failing would.
    const receive = (queueUrl: string) =>
      sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));

    expect((await receive(local.backends.eventQueueUrl)).Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect((await receive(local.backends.eventQueueUrl)).Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect((await receive(local.backends.eventQueueUrl)).Messages ?? []).toEqual([]);

    expect((await receive(local.backends.deadLetterQueueUrl)).Messages?.map((m) => m.Body)).toEqual(['poison']);
  });

  it('keeps a batch invisible while the dispatcher still works on it, past the visibility timeout', async () => {
    const { sqs } = local.clients;
    const body = `slow-${Date.now()}`;
    const runs: string[] = [];
    let finish = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const poller = startSqsPoller({
      sqs,
      queueUrl: local.backends.eventQueueUrl,
      logger: new RecordingLogger(),
      visibilityTimeoutSeconds: 1,
      waitTimeSeconds: 0,
      handler: (async (event: SQSEvent) => {
        const mine = event.Records.filter((record) => record.body === body);
        for (const record of mine) runs.push(record.body);
        // Three visibility timeouts of work; a second poller loop stands ready to receive it again.
        if (mine.length > 0 && runs.length === 1) await new Promise((resolve) => setTimeout(resolve, 3_000));
        finish();
        return { batchItemFailures: [] };
      }) as unknown as DispatcherHandler,
    });
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: local.backends.eventQueueUrl, MessageBody: body }));
      await finished;
    } finally {
      await poller.stop();
    }
    expect(runs).toEqual([body]);
  });
});
