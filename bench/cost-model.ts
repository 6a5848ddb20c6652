import { DEFAULT_CALLBACK_ENDPOINT, type CallbackEndpoint } from '../infra/config.js';
import { FUNCTION_MEMORY_MB, PRICES, perMailboxMonth } from './prices.js';
import { sig } from './support/stats.js';

/**
 * AWS cost from measured usage: what one notification (or one subscription report) makes each function do, priced
 * with prices.ts. Free tiers, storage, CloudWatch (logs, EMF metrics, alarms), X-Ray traces, data transfer, the
 * supervisor's fixed sweeps and the event-source pollers' empty receives are left out: none of them grows with the
 * number of notifications the way these lines do.
 */

export type FunctionName = keyof typeof FUNCTION_MEMORY_MB;

/** What one unit of work (a new mail, a heartbeat, a resubscription) costs one function, measured. */
export interface UnitUsage {
  lambdaInvocations: number;
  /** Mean local invocation time rounded up to Lambda's 1 ms billing step. */
  billedMsPerInvocation: number;
  /**
   * HTTP requests that reach the function. All go through API Gateway, except the callback's when it is deployed on its
   * own function URL (`callbackEndpoint: 'function-url'`), which costs nothing beyond the invocation.
   */
  apiGatewayRequests: number;
  dynamoDbReadUnits: number;
  dynamoDbWriteUnits: number;
  /** Secondary-index write units (estimated; dynalite does not report them). */
  dynamoDbIndexWriteUnits: number;
  sqsRequests: number;
  pushes: number;
}

export type Usage = Partial<Record<FunctionName, UnitUsage>>;

export type PushGatewayChoice = 'sns' | 'apns';

export interface CostLines {
  apiGateway: number;
  lambdaRequests: number;
  lambdaDuration: number;
  dynamoDbReads: number;
  dynamoDbWrites: number;
  sqs: number;
  sns: number;
  total: number;
}

/** How a deployment is priced: its push gateway, and where mail servers' callbacks arrive (infra/config.ts). */
export interface Deployment {
  gateway: PushGatewayChoice;
  callbackEndpoint: CallbackEndpoint;
}

function linesFor(fn: FunctionName, usage: UnitUsage, deployment: Deployment, units: number): CostLines {
  const gbSeconds = usage.lambdaInvocations * (usage.billedMsPerInvocation / 1000) * (FUNCTION_MEMORY_MB[fn] / 1024);
  const throughApiGateway = fn === 'callback' && deployment.callbackEndpoint === 'function-url' ? 0 : usage.apiGatewayRequests;
  const gateway = deployment.gateway;
  const lines = {
    apiGateway: throughApiGateway * PRICES.apiGatewayHttpRequest.usd,
    lambdaRequests: usage.lambdaInvocations * PRICES.lambdaRequest.usd,
    lambdaDuration: gbSeconds * PRICES.lambdaArmGbSecond.usd,
    dynamoDbReads: usage.dynamoDbReadUnits * PRICES.dynamoDbReadRequestUnit.usd,
    dynamoDbWrites: (usage.dynamoDbWriteUnits + usage.dynamoDbIndexWriteUnits) * PRICES.dynamoDbWriteRequestUnit.usd,
    sqs: usage.sqsRequests * PRICES.sqsRequest.usd,
    // With direct APNs (PUSH_GATEWAY=apns) a push costs nothing beyond the dispatcher's own time.
    sns: gateway === 'sns' ? usage.pushes * (PRICES.snsPublish.usd + PRICES.snsMobilePushDelivery.usd) : 0,
  };
  return scale({ ...lines, total: Object.values(lines).reduce((sum, v) => sum + v, 0) }, units);
}

function scale(lines: CostLines, factor: number): CostLines {
  return Object.fromEntries(Object.entries(lines).map(([key, value]) => [key, value * factor])) as unknown as CostLines;
}

function add(a: CostLines, b: CostLines): CostLines {
  return Object.fromEntries(Object.keys(a).map((key) => [key, a[key as keyof CostLines] + b[key as keyof CostLines]])) as unknown as CostLines;
}

const ZERO: CostLines = { apiGateway: 0, lambdaRequests: 0, lambdaDuration: 0, dynamoDbReads: 0, dynamoDbWrites: 0, sqs: 0, sns: 0, total: 0 };

function rounded(lines: CostLines): CostLines {
  return Object.fromEntries(Object.entries(lines).map(([key, value]) => [key, sig(value, 3)])) as unknown as CostLines;
}

/**
 * Cost of `units` of work with the given per-unit usage, per function and summed; the callback on the default
 * `callbackEndpoint` unless said otherwise.
 */
export function costOf(
  usage: Usage,
  units: number,
  gateway: PushGatewayChoice,
  callbackEndpoint: CallbackEndpoint = DEFAULT_CALLBACK_ENDPOINT,
): { byFunction: Partial<Record<FunctionName, CostLines>>; total: CostLines } {
  const byFunction: Partial<Record<FunctionName, CostLines>> = {};
  let total = ZERO;
  for (const fn of Object.keys(usage).sort() as FunctionName[]) {
    const lines = linesFor(fn, usage[fn]!, { gateway, callbackEndpoint }, units);
    byFunction[fn] = rounded(lines);
    total = add(total, lines);
  }
  return { byFunction, total: rounded(total) };
}

export interface CostModel {
  /**
   * Where the figures below have mail servers' callbacks arrive: the default deployment's `callbackEndpoint`. Absent
   * in reports from before it existed (2026-12-07), whose callbacks were all on API Gateway.
   */
  callbackEndpoint?: CallbackEndpoint;
  /** USD per 1,000,000 new-mail notifications, split by function, for both push gateways. */
  perMillionNewMail: Record<PushGatewayChoice, { byFunction: Partial<Record<FunctionName, CostLines>>; total: CostLines }>;
  /** USD per 1,000 mailbox-months of the reference workload, by kind of work, for both push gateways. */
  perThousandMailboxMonths: Record<PushGatewayChoice, { newMail: CostLines; heartbeat: CostLines; resubscription: CostLines; total: CostLines }>;
  /**
   * USD per 1,000 mailbox-months with direct APNs and the callback on API Gateway (`callbackEndpoint: 'api'`), so that
   * what the function URL saves stays visible. Absent in reports from before 2026-12-07.
   */
  perThousandMailboxMonthsCallbackOnApi?: CostLines;
  /**
   * Of the 1,000 mailbox-months, what the secondary-index write units alone cost (USD, the same for both gateways)
   * and their share of the total with direct APNs.
   */
  indexWrites: { usdPerThousandMailboxMonths: number; shareOfTotal: number };
  /** USD per 1,000,000 new mails that 10 ms more billed time per invocation would add (AWS round trips are slower than loopback). */
  durationSensitivityPer10ms: number;
  workload: ReturnType<typeof perMailboxMonth>;
}

export function buildCostModel(usage: { newMail: Usage; heartbeat: Usage; resubscription: Usage }): CostModel {
  const workload = perMailboxMonth();
  const perMillionNewMail = {} as CostModel['perMillionNewMail'];
  const perThousandMailboxMonths = {} as CostModel['perThousandMailboxMonths'];
  for (const gateway of ['apns', 'sns'] as const) {
    perMillionNewMail[gateway] = costOf(usage.newMail, 1e6, gateway);
    const newMail = costOf(usage.newMail, 1000 * workload.newMail, gateway).total;
    const heartbeat = costOf(usage.heartbeat, 1000 * workload.heartbeat, gateway).total;
    const resubscription = costOf(usage.resubscription, 1000 * workload.resubscription, gateway).total;
    perThousandMailboxMonths[gateway] = { newMail, heartbeat, resubscription, total: rounded(add(add(newMail, heartbeat), resubscription)) };
  }
  const invocationGbPer10ms = (Object.keys(usage.newMail) as FunctionName[]).reduce(
    (sum, fn) => sum + (usage.newMail[fn]!.lambdaInvocations * 0.01 * FUNCTION_MEMORY_MB[fn]) / 1024,
    0,
  );
  const onApi = (kind: Usage, units: number) => costOf(kind, 1000 * units, 'apns', 'api').total;
  const perThousandMailboxMonthsCallbackOnApi = rounded(
    add(add(onApi(usage.newMail, workload.newMail), onApi(usage.heartbeat, workload.heartbeat)), onApi(usage.resubscription, workload.resubscription)),
  );
  const indexWriteUnits = (kind: Usage, units: number) =>
    Object.values(kind).reduce((sum, u) => sum + u.dynamoDbIndexWriteUnits, 0) * units;
  const indexUsd =
    (indexWriteUnits(usage.newMail, workload.newMail) + indexWriteUnits(usage.heartbeat, workload.heartbeat) + indexWriteUnits(usage.resubscription, workload.resubscription)) *
    1000 *
    PRICES.dynamoDbWriteRequestUnit.usd;
  return {
    callbackEndpoint: DEFAULT_CALLBACK_ENDPOINT,
    perMillionNewMail,
    perThousandMailboxMonths,
    perThousandMailboxMonthsCallbackOnApi,
    indexWrites: { usdPerThousandMailboxMonths: sig(indexUsd, 3), shareOfTotal: sig(indexUsd / perThousandMailboxMonths.apns.total.total, 2) },
    durationSensitivityPer10ms: sig(invocationGbPer10ms * 1e6 * PRICES.lambdaArmGbSecond.usd, 3),
    workload,
  };
}
