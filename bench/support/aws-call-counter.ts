import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics_channel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { AwsClients } from '../../functions/_lib/adapters/aws-clients.js';
import { CALLBACK_PATH_PREFIX, GRAPH_LIFECYCLE_PATH_PREFIX, GRAPH_NOTIFICATION_PATH_PREFIX } from '../../functions/_lib/mailbox-endpoints.js';

/**
 * Counts every AWS API call the local service makes, by the function that made it, with what AWS would bill for it:
 * DynamoDB read/write request units (from ReturnConsumedCapacity, which dynalite computes like DynamoDB) plus an
 * estimate of secondary-index writes (which dynalite does not count), and SQS requests in 64 KB chunks.
 *
 * Attribution: an HTTP request is the callback or the device API by its path (set on Node's
 * `http.server.request.start` diagnostics channel, which fires in the request's async context); everything else the
 * service does was started by its SQS poller, i.e. the dispatcher, because the service is started inside
 * `runAs('dispatcher')`. The benchmark's own calls (seeding, queue-depth polls) run inside `runAs('bench')` and are
 * left out of every figure.
 */

export type CallOrigin = 'callback' | 'device-api' | 'dispatcher' | 'bench';

export interface AwsCall {
  origin: CallOrigin;
  service: 'DynamoDB' | 'SQS';
  command: string;
  /** SDK attempts (retries are billed too). */
  attempts: number;
  readUnits: number;
  writeUnits: number;
  /** Estimated secondary-index write units (see `indexWriteUnits`). */
  indexWriteUnits: number;
  /** Billed SQS requests: one per 64 KB of payload, at least one. */
  sqsRequests: number;
  /** ReceiveMessage: messages returned. */
  messages?: number;
  failed: boolean;
}

export interface Invocation {
  origin: Exclude<CallOrigin, 'bench'>;
  ms: number;
}

export interface CounterSnapshot {
  calls: AwsCall[];
  invocations: Invocation[];
}

/** Key attributes (and projected non-key attributes) of one secondary index. */
interface IndexShape {
  name: string;
  keys: string[];
  projected: 'ALL' | string[];
}

const origin = new AsyncLocalStorage<CallOrigin>();
const httpStarts = new WeakMap<object, { origin: CallOrigin; at: number }>();
const counters = new Set<AwsCallCounter>();
/** Every route of the device API and the callback is under /v1/ (functions/_lib/routes.ts). */
const SERVICE_PATH_PREFIX = '/v1/';
let channelsSubscribed = false;

function subscribeHttpChannels(): void {
  if (channelsSubscribed) return;
  channelsSubscribed = true;
  diagnostics_channel.subscribe('http.server.request.start', (message) => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    const url = request.url ?? '';
    // dynalite and fauxqs are HTTP servers in the same process too; only the service's own routes are functions.
    if (!url.startsWith(SERVICE_PATH_PREFIX)) return;
    // The callback function serves the EWS callback and both Graph routes.
    const which: CallOrigin = [CALLBACK_PATH_PREFIX, GRAPH_NOTIFICATION_PATH_PREFIX, GRAPH_LIFECYCLE_PATH_PREFIX].some((prefix) => url.startsWith(prefix)) ? 'callback' : 'device-api';
    // The subscriber runs synchronously in the async context that goes on to handle this request.
    origin.enterWith(which);
    httpStarts.set(response, { origin: which, at: performance.now() });
  });
  diagnostics_channel.subscribe('http.server.response.finish', (message) => {
    const { response } = message as { response: ServerResponse };
    const started = httpStarts.get(response);
    if (!started || started.origin === 'bench') return;
    for (const counter of counters) counter.recordInvocation({ origin: started.origin, ms: performance.now() - started.at });
  });
}

const READ_COMMANDS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand']);
const WRITE_COMMANDS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);
const SQS_CHUNK_BYTES = 64 * 1024;

export class AwsCallCounter {
  private calls: AwsCall[] = [];
  private invocations: Invocation[] = [];
  /** Receipt handle → when the batch holding it was received, to time each dispatcher invocation. */
  private readonly receivedBatches = new Map<string, { at: number; timed: boolean }>();
  private indexes: IndexShape[] = [];

  constructor() {
    subscribeHttpChannels();
    counters.add(this);
  }

  /** Runs `fn` (and everything it starts) as calls of `who`. */
  static runAs<T>(who: CallOrigin, fn: () => T): T {
    return origin.run(who, fn);
  }

  /**
   * Adds the counting middleware to both clients. The document client shares the DynamoDB client's middleware
   * stack (lib-dynamodb's `from()` hands it the same stack), so counting there counts each document-client call once.
   */
  async attach(clients: AwsClients, tableName: string): Promise<void> {
    const table = await AwsCallCounter.runAs('bench', () => clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName })));
    this.indexes = [...(table.Table?.GlobalSecondaryIndexes ?? []), ...(table.Table?.LocalSecondaryIndexes ?? [])].map((index) => ({
      name: index.IndexName ?? '?',
      keys: (index.KeySchema ?? []).map((key) => key.AttributeName ?? ''),
      projected: index.Projection?.ProjectionType === 'ALL' ? 'ALL' : (index.Projection?.NonKeyAttributes ?? []),
    }));
    clients.dynamodb.middlewareStack.add(this.middleware('DynamoDB') as never, { step: 'initialize', name: 'benchAwsCallCounter' });
    clients.sqs.middlewareStack.add(this.middleware('SQS') as never, { step: 'initialize', name: 'benchAwsCallCounter' });
  }

  /** Everything counted since the last `take()`, which starts a new phase. */
  take(): CounterSnapshot {
    const snapshot = { calls: this.calls, invocations: this.invocations };
    this.calls = [];
    this.invocations = [];
    return snapshot;
  }

  recordInvocation(invocation: Invocation): void {
    this.invocations.push(invocation);
  }

  detach(): void {
    counters.delete(this);
  }

  private middleware(service: AwsCall['service']) {
    return (next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        const who = origin.getStore() ?? 'dispatcher';
        const command = context.commandName ?? 'unknown';
        const input = args.input;
        if (service === 'DynamoDB' && (READ_COMMANDS.has(command) || WRITE_COMMANDS.has(command)) && input.ReturnConsumedCapacity === undefined) {
          input.ReturnConsumedCapacity = 'TOTAL';
        }
        if (who !== 'bench' && command === 'DeleteMessageBatchCommand') this.timeDispatcherInvocation(input);
        let output: Record<string, unknown> | undefined;
        let failure: unknown;
        try {
          output = (await next(args)).output;
        } catch (error) {
          failure = error;
        }
        if (who !== 'bench') this.record(who, service, command, input, output, failure);
        if (failure !== undefined) throw failure;
        return { output: output! };
      };
  }

  private record(
    who: CallOrigin,
    service: AwsCall['service'],
    command: string,
    input: Record<string, unknown>,
    output: Record<string, unknown> | undefined,
    failure: unknown,
  ): void {
    const attempts = Number((output?.$metadata as { attempts?: number } | undefined)?.attempts ?? (failure as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1);
    const call: AwsCall = { origin: who, service, command, attempts, readUnits: 0, writeUnits: 0, indexWriteUnits: 0, sqsRequests: 0, failed: failure !== undefined };
    if (service === 'DynamoDB') {
      const units = consumedUnits(output?.ConsumedCapacity);
      if (READ_COMMANDS.has(command)) call.readUnits = units;
      if (WRITE_COMMANDS.has(command)) {
        // A conditional write that fails is still billed; DynamoDB then reports no capacity, so count one unit.
        call.writeUnits = failure !== undefined ? 1 : units;
        if (failure === undefined) call.indexWriteUnits = indexWriteUnits(command, input, this.indexes);
      }
    } else {
      call.sqsRequests = sqsRequests(command, input, output);
      if (command === 'ReceiveMessageCommand') {
        const messages = (output?.Messages as Array<{ ReceiptHandle?: string }> | undefined) ?? [];
        call.messages = messages.length;
        if (messages.length > 0 && who === 'dispatcher') {
          const batch = { at: performance.now(), timed: false };
          for (const message of messages) if (message.ReceiptHandle) this.receivedBatches.set(message.ReceiptHandle, batch);
        }
      }
    }
    this.calls.push(call);
  }

  /** The local poller deletes a batch right after the handler returns: receive → delete is the invocation's time. */
  private timeDispatcherInvocation(input: Record<string, unknown>): void {
    const entries = (input.Entries as Array<{ ReceiptHandle?: string }> | undefined) ?? [];
    for (const entry of entries) {
      const batch = entry.ReceiptHandle ? this.receivedBatches.get(entry.ReceiptHandle) : undefined;
      if (!batch) continue;
      this.receivedBatches.delete(entry.ReceiptHandle!);
      if (batch.timed) continue;
      batch.timed = true;
      this.recordInvocation({ origin: 'dispatcher', ms: performance.now() - batch.at });
    }
  }
}

function consumedUnits(consumed: unknown): number {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((sum: number, entry: { CapacityUnits?: number }) => sum + (entry.CapacityUnits ?? 0), 0);
}

/**
 * dynalite maintains secondary indexes but reports no capacity for them; DynamoDB bills each index write. Estimated
 * from the request: an update that SETs an index key attribute moves the item within the index (a delete and a put
 * of the index entry: 2 units, assuming the item was indexed before, as a mailbox with a subscription is; "If an
 * update to the table changes the value of an indexed key attribute (from A to B), two writes are required", DynamoDB
 * developer guide, GSI.html#GSI.Writes, as quoted on hashnode.com and in a re:Post answer [3P]); one that
 * only REMOVEs a key attribute drops the entry (1 unit); an update of a projected non-key attribute rewrites the
 * entry (1 unit); a put of an item that has the index keys adds an entry (1 unit). Index entries are taken to be
 * under 1 KB, which keys-only entries are.
 */
export function indexWriteUnits(command: string, input: Record<string, unknown>, indexes: readonly IndexShape[]): number {
  if (indexes.length === 0) return 0;
  if (command === 'PutItemCommand') {
    const item = (input.Item ?? {}) as Record<string, unknown>;
    return indexes.filter((index) => index.keys.every((key) => item[key] !== undefined)).length;
  }
  if (command !== 'UpdateItemCommand') return 0;
  const { set, removed } = updatedAttributes(String(input.UpdateExpression ?? ''), (input.ExpressionAttributeNames ?? {}) as Record<string, string>);
  let units = 0;
  for (const index of indexes) {
    const touchesKey = (names: Set<string>) => index.keys.some((key) => names.has(key));
    if (touchesKey(set)) units += 2;
    else if (touchesKey(removed)) units += 1;
    else if (index.projected === 'ALL' ? set.size + removed.size > 0 : index.projected.some((name) => set.has(name) || removed.has(name))) units += 1;
  }
  return units;
}

/** Top-level attribute names an UpdateExpression assigns (SET, ADD) and removes (REMOVE, DELETE). */
export function updatedAttributes(expression: string, names: Record<string, string>): { set: Set<string>; removed: Set<string> } {
  const set = new Set<string>();
  const removed = new Set<string>();
  const resolve = (token: string) => names[token] ?? token;
  const clauses = expression.split(/\b(SET|REMOVE|ADD|DELETE)\b/i);
  for (let i = 1; i < clauses.length; i += 2) {
    const action = clauses[i]!.toUpperCase();
    const body = clauses[i + 1] ?? '';
    if (action === 'SET') {
      for (const match of body.matchAll(/(?:^|,)\s*(#?[A-Za-z_][\w]*)[^=,]*=/g)) set.add(resolve(match[1]!));
    } else {
      for (const match of body.matchAll(/(?:^|,)\s*(#?[A-Za-z_][\w]*)/g)) (action === 'ADD' ? set : removed).add(resolve(match[1]!));
    }
  }
  return { set, removed };
}

function sqsRequests(command: string, input: Record<string, unknown>, output: Record<string, unknown> | undefined): number {
  let bytes = 0;
  if (command === 'SendMessageBatchCommand') {
    for (const entry of (input.Entries as Array<{ MessageBody?: string }> | undefined) ?? []) bytes += Buffer.byteLength(entry.MessageBody ?? '');
  } else if (command === 'SendMessageCommand') {
    bytes = Buffer.byteLength(String(input.MessageBody ?? ''));
  } else if (command === 'ReceiveMessageCommand') {
    for (const message of (output?.Messages as Array<{ Body?: string }> | undefined) ?? []) bytes += Buffer.byteLength(message.Body ?? '');
  }
  return Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES));
}
