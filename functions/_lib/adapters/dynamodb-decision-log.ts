import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { decisionSchema, type Decision } from '../../../shared/device/device-schemas.js';
import { DECISION_RETENTION_MS, type DecisionLog } from '../../../shared/store/ports.js';
import { EVENT_SK_PREFIX, EVENT_SK_UPPER_BOUND, TTL_ATTRIBUTE, devicePk, eventSk } from './table-design.js';
import { isPastTtl, ttlSeconds, type Item } from './dynamodb-support.js';

export interface DynamoDbDecisionLogOptions {
  /** The clock that decides which decisions are past their 7 days (default `Date.now`). */
  now?: () => number;
}

/**
 * DecisionLog on the single table: one item per decision under the device's key, sorted by time. Items expire
 * 7 days after the decision's `at`; `list` hides expired ones itself because TTL deletion runs late.
 */
export class DynamoDbDecisionLog implements DecisionLog {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options?: DynamoDbDecisionLogOptions,
  ) {
    this.now = options?.now ?? Date.now;
  }

  /** Stores only the decision's schema fields, so nothing else a caller attaches (mail content) is persisted. */
  async record(deviceId: string, decision: Decision): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: decisionItem(deviceId, decision, this.now()) }));
  }

  async list(deviceId: string, since: number, limit = Number.POSITIVE_INFINITY): Promise<Decision[]> {
    if (limit <= 0) return [];
    const now = this.now();
    const decisions: Decision[] = [];
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': devicePk(deviceId),
            ':from': `${EVENT_SK_PREFIX}${new Date(since).toISOString()}`,
            ':to': EVENT_SK_UPPER_BOUND,
          },
          ScanIndexForward: false,
          ...(Number.isFinite(limit) ? { Limit: limit - decisions.length } : {}),
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      for (const item of (page.Items ?? []) as Item[]) {
        if (!isPastTtl(item, now)) decisions.push(toDecision(item));
      }
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey && decisions.length < limit);
    return decisions;
  }
}

/**
 * A decision's item, recorded at `recordedAt`: only the decision's schema fields, so nothing else a caller attaches
 * (mail content) is persisted.
 */
export function decisionItem(deviceId: string, decision: Decision, recordedAt: number): Item {
  const { at, mailbox, outcome, reason } = decisionSchema.parse(decision);
  const atMs = Date.parse(at);
  if (Number.isNaN(atMs)) throw new RangeError(`decision time is not a date: ${at}`);
  return {
    pk: devicePk(deviceId),
    // After `at`, when it was recorded: the decisions about one notification (retried, retried, pushed) share its
    // `at` and still list newest first. The UUID keeps two decisions of the same millisecond apart.
    sk: eventSk(new Date(atMs).toISOString(), `${String(recordedAt).padStart(15, '0')}-${randomUUID()}`),
    at,
    mailbox,
    outcome,
    reason,
    [TTL_ATTRIBUTE]: ttlSeconds(atMs + DECISION_RETENTION_MS),
  };
}

function toDecision(item: Item): Decision {
  return { at: String(item.at), mailbox: String(item.mailbox), outcome: item.outcome as Decision['outcome'], reason: String(item.reason) };
}
