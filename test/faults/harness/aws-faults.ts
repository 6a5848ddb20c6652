import type { MiddlewareStack } from '@smithy/types';

/**
 * Fault injection for AWS SDK v3 clients: a middleware in the `initialize` step (before the SDK's own retry
 * middleware) that fails the calls a plan picks, as if the SDK had already spent its retries. The rest pass through to
 * the real backend (dynalite, fauxqs), so a scenario sees real state before and after the outage.
 */

export type AwsFaultKind = 'throttle' | 'server-error' | 'unavailable';

export interface AwsCall {
  /** e.g. `GetCommand`, `BatchGetItemCommand`, `SendMessageBatchCommand`. */
  commandName: string;
  /** 1-based count of calls seen by this injector since the last `reset`. */
  index: number;
}

export type AwsFaultPlan = (call: AwsCall) => AwsFaultKind | undefined;

const ERROR_SHAPES: Record<string, Record<AwsFaultKind, { name: string; status: number; fault: 'client' | 'server' }>> = {
  dynamodb: {
    throttle: { name: 'ProvisionedThroughputExceededException', status: 400, fault: 'client' },
    'server-error': { name: 'InternalServerError', status: 500, fault: 'server' },
    unavailable: { name: 'ServiceUnavailable', status: 503, fault: 'server' },
  },
  sqs: {
    throttle: { name: 'RequestThrottled', status: 400, fault: 'client' },
    'server-error': { name: 'InternalError', status: 500, fault: 'server' },
    unavailable: { name: 'ServiceUnavailable', status: 503, fault: 'server' },
  },
};

/** An error shaped like the SDK's service exceptions (name, $fault, $metadata), as the adapters see them. */
export function awsServiceError(service: 'dynamodb' | 'sqs', kind: AwsFaultKind): Error {
  const shape = ERROR_SHAPES[service]![kind];
  return Object.assign(new Error(`injected ${shape.name}`), {
    name: shape.name,
    $fault: shape.fault,
    $metadata: { httpStatusCode: shape.status, attempts: 3 },
    ...(kind === 'throttle' ? { $retryable: { throttling: true } } : {}),
  });
}

export class AwsFaultInjector {
  /** Calls failed so far. */
  injected = 0;
  /** Every call seen since the last reset, with whether it failed. */
  readonly calls: Array<AwsCall & { failed: AwsFaultKind | undefined }> = [];
  private plan: AwsFaultPlan = () => undefined;
  private seen = 0;

  constructor(private readonly service: 'dynamodb' | 'sqs') {}

  attach(client: { middlewareStack: MiddlewareStack<any, any> }, name = 'assurance-fault-injector'): this {
    client.middlewareStack.add(
      (next: any, context: any) => async (args: any) => {
        const call: AwsCall = { commandName: String(context.commandName ?? 'unknown'), index: ++this.seen };
        const fault = this.plan(call);
        this.calls.push({ ...call, failed: fault });
        if (fault) {
          this.injected++;
          throw awsServiceError(this.service, fault);
        }
        return next(args);
      },
      { step: 'initialize', name, override: true },
    );
    return this;
  }

  /** Applies `plan` to the calls from now on, counting them from 1 again. */
  use(plan: AwsFaultPlan): void {
    this.plan = plan;
    this.seen = 0;
    this.calls.length = 0;
  }

  /** Lets every call through again. */
  heal(): void {
    this.use(() => undefined);
  }
}

/** Fails the first `count` calls matching `commandNames` (all commands when empty). */
export function failFirst(count: number, kind: AwsFaultKind, commandNames: string[] = []): AwsFaultPlan {
  let failed = 0;
  return (call) => {
    if (commandNames.length > 0 && !commandNames.includes(call.commandName)) return undefined;
    if (failed >= count) return undefined;
    failed++;
    return kind;
  };
}

/** Fails exactly the `n`-th call (1-based) after the plan is set. */
export function failNth(n: number, kind: AwsFaultKind): AwsFaultPlan {
  return (call) => (call.index === n ? kind : undefined);
}
