import { describe, expect, it } from 'vitest';
import { buildCostModel, costOf, type UnitUsage, type Usage } from '../../bench/cost-model.js';
import { perMailboxMonth } from '../../bench/prices.js';
import type { BenchReport } from '../../bench/support/report.js';
import { ISSUE_15_TARGETS } from '../../bench/support/targets.js';

/** The cost model prices the callback where the deployment receives it (infra/config.ts callbackEndpoint). */
describe('the cost model and callbackEndpoint', () => {
  const unit = (overrides: Partial<UnitUsage>): UnitUsage => ({
    lambdaInvocations: 1,
    billedMsPerInvocation: 10,
    apiGatewayRequests: 1,
    dynamoDbReadUnits: 2,
    dynamoDbWriteUnits: 0,
    dynamoDbIndexWriteUnits: 0,
    sqsRequests: 1,
    pushes: 0,
    ...overrides,
  });
  const newMail: Usage = { callback: unit({}), dispatcher: unit({ apiGatewayRequests: 0, dynamoDbWriteUnits: 4, sqsRequests: 2, pushes: 1 }) };
  const heartbeat: Usage = { callback: unit({ dynamoDbWriteUnits: 0.5, sqsRequests: 0 }) };
  const resubscription: Usage = { 'device-api': unit({ dynamoDbWriteUnits: 1, dynamoDbIndexWriteUnits: 2, sqsRequests: 0 }) };

  it('charges no API Gateway request for a callback on its function URL, and $1 per million on the API', () => {
    expect(costOf(newMail, 1e6, 'apns', 'function-url').byFunction.callback!.apiGateway).toBe(0);
    expect(costOf(newMail, 1e6, 'apns', 'api').byFunction.callback!.apiGateway).toBe(1);
    // The device API stays on API Gateway either way.
    expect(costOf(resubscription, 1e6, 'apns', 'function-url').total.apiGateway).toBe(1);
  });

  it('prices the default deployment (function URL) and shows the callback on API Gateway beside it, apart by exactly the callbacks\' requests', () => {
    const model = buildCostModel({ newMail, heartbeat, resubscription });
    const workload = perMailboxMonth();
    expect(model.callbackEndpoint).toBe('function-url');
    expect(model.perThousandMailboxMonths.apns.total.apiGateway).toBeCloseTo((1000 * workload.resubscription) / 1e6, 6);
    expect(model.perThousandMailboxMonthsCallbackOnApi!.apiGateway).toBeCloseTo((1000 * (workload.newMail + workload.heartbeat + workload.resubscription)) / 1e6, 6);
    expect(model.perThousandMailboxMonthsCallbackOnApi!.total - model.perThousandMailboxMonths.apns.total.total).toBeCloseTo(
      (1000 * (workload.newMail + workload.heartbeat)) / 1e6,
      1, // totals are rounded to 3 significant figures
    );
  });

  it('measures issue 15\'s cost target on the default deployment', () => {
    const model = buildCostModel({ newMail, heartbeat, resubscription });
    const target = ISSUE_15_TARGETS.find(({ name }) => name === 'Cost per 1,000 mailbox-months, direct APNs')!;
    const measured = target.measure({ awsCalls: { costModel: model } } as unknown as BenchReport['groups'])!;
    expect(measured.value).toBe(`$${model.perThousandMailboxMonths.apns.total.total.toFixed(2)}`);
    expect(measured.value).not.toBe(`$${model.perThousandMailboxMonthsCallbackOnApi!.total.toFixed(2)}`);
  });
});
