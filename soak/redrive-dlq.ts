import { pathToFileURL } from 'node:url';
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * Moves dead-lettered notifications back to the event queue, for SQS implementations without StartMessageMoveTask
 * (fauxqs, which `npm start` embeds). On AWS use the service's own move task instead:
 *
 *   aws sqs start-message-move-task --source-arn <dead-letter queue ARN>
 *
 * Like that task, this sends each message's body as a new message (a new SQS message id) and deletes it from the
 * DLQ only once the event queue has accepted it, so a failure half-way duplicates at worst, never loses.
 *
 * Command line (against an SQS endpoint; the queues are named as in infra/local/backends.ts unless given):
 *   npx tsx soak/redrive-dlq.ts --endpoint http://127.0.0.1:<sqs port> [--from <dlq name>] [--to <queue name>]
 */

export interface RedriveResult {
  moved: number;
}

export async function redriveDeadLetters(sqs: SQSClient, queues: { from: string; to: string }, options: { max?: number } = {}): Promise<RedriveResult> {
  let moved = 0;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  while (moved < max) {
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.from, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }),
    );
    if (messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.to,
        Entries: messages.map((message, index) => ({ Id: String(index), MessageBody: message.Body ?? '' })),
      }),
    );
    const accepted = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const done = messages.filter((_, index) => accepted.has(String(index)));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queues.from,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? '' })),
        }),
      );
    }
    moved += done.length;
    if (done.length < messages.length) throw new Error(`the event queue refused ${messages.length - done.length} messages; they stay in the DLQ`);
  }
  return { moved };
}

async function main(argv: string[]): Promise<void> {
  const argument = (name: string) => {
    const index = argv.indexOf(`--${name}`);
    return index === -1 ? undefined : argv[index + 1];
  };
  const endpoint = argument('endpoint');
  const sqs = new SQSClient({
    region: argument('region') ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, useQueueUrlAsEndpoint: false } : {}),
  });
  const url = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
  const from = await url(argument('from') ?? 'inbox-relay-events-dlq');
  const to = await url(argument('to') ?? 'inbox-relay-events');
  const { moved } = await redriveDeadLetters(sqs, { from, to });
  console.log(`moved ${moved} message(s) from ${from} to ${to}`);
  sqs.destroy();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
