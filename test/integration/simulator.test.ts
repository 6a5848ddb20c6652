import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { EXPECTATIONS } from '../../scripts/simulator/expectations.js';
import { planSimulation } from '../../scripts/simulator/plan.js';
import { runSimulation, type SimulationReport } from '../../scripts/simulator/run-simulation.js';
import { formatSummary } from '../../scripts/simulator/summary.js';

/**
 * `npm run simulate` run programmatically with a few devices. The simulator checks the relay against the contract;
 * these tests check that its summary adds up, and that its checks catch a relay that misbehaves.
 */

// A whole run is a few hundred requests against embedded backends on a loaded two-core machine.
const RUN_TIMEOUT_MS = 180_000;
const SEED = 20261123;

describe('the simulator', () => {
  let report: SimulationReport;
  const progress: string[] = [];

  beforeAll(async () => {
    report = await runSimulation({ devices: 8, seed: SEED, progress: (line) => progress.push(line) });
  }, RUN_TIMEOUT_MS);

  it('meets every one of its own expectations against the in-process relay', () => {
    expect(report.expectations.filter((e) => e.ok !== true)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.target.kind).toBe('in-process');
  });

  it('answers every notification with a SendNotificationResult: OK on the current subscription, Unsubscribe on a superseded one', () => {
    const { superseded, migrated, ...current } = report.notifications;
    expect(superseded.sent).toBeGreaterThan(0);
    expect(superseded).toEqual({ sent: superseded.sent, ok: 0, unsubscribe: superseded.sent, errors: 0 });
    // A mailbox moved to Graph: its EWS subscription is answered Unsubscribe, so nothing alerts twice.
    expect(migrated.sent).toBeGreaterThan(0);
    expect(migrated).toEqual({ sent: migrated.sent, ok: 0, unsubscribe: migrated.sent, errors: 0 });
    for (const tally of Object.values(current)) expect(tally).toEqual({ sent: tally.sent, ok: tally.sent, unsubscribe: 0, errors: 0 });
  });

  it('logs one decision per accepted notification with new mail, and every exact retry as a duplicate', () => {
    const n = report.notifications;
    const g = report.graph.notifications;
    const decided = (outcome: string) => report.decisions.filter((d) => d.outcome === outcome).reduce((sum, d) => sum + d.count, 0);
    const superseded = report.decisions.find((d) => d.outcome === 'suppressed' && d.reason === 'superseded')?.count ?? 0;
    expect(n.retry.ok + g.retry.accepted).toBeGreaterThan(0);
    expect(decided('duplicate')).toBe(n.retry.ok + g.retry.accepted);
    expect(report.decisions.find((d) => d.outcome === 'duplicate')?.reason).toBe('already-seen');
    expect(decided('pushed') + decided('suppressed') - superseded).toBe(n['new-mail-single'].ok + n['new-mail-batch'].ok + g['new-mail'].accepted);
    // A Graph item of a replaced subscription is recorded; so is an EWS notification answered Unsubscribe (a replaced
    // subscription's, or the EWS leftover of a mailbox moved to Graph), once each.
    expect(superseded).toBe(g.superseded.accepted + n.superseded.unsubscribe + n.migrated.unsubscribe);
    // Heartbeats are decided by nobody; lifecycle events once each.
    const lifecycle = decided('reauthorize-requested') + decided('resubscribe-requested') + decided('sync-requested');
    expect(lifecycle).toBe(g.lifecycle.accepted);
    expect(report.decisions.reduce((sum, d) => sum + d.count, 0)).toBe(decided('pushed') + decided('suppressed') + decided('duplicate') + lifecycle);
  });

  it('plays EWS and Graph mailboxes side by side, one moved between them, Graph URLs validated and lifecycle events answered', () => {
    expect(report.graph.mailboxes).toBeGreaterThan(0);
    expect(report.graph.mailboxes).toBeLessThan(report.devices.mailboxes);
    expect(report.graph.migrated).toBeGreaterThan(0);
    expect(report.graph.validations.sent).toBe(2 * report.graph.subscriptions);
    expect(report.graph.validations.echoed).toBe(report.graph.validations.sent);
    for (const tally of Object.values(report.graph.notifications)) expect(tally).toEqual({ sent: tally.sent, accepted: tally.sent, errors: 0 });
    expect(report.graph.notifications['new-mail'].sent).toBeGreaterThan(0);
    expect(report.graph.notifications.lifecycle.sent).toBeGreaterThan(0);
  });

  it('suppresses by the rules of section 5, and pushes no alert without new mail', () => {
    const suppressed = report.decisions.filter((d) => d.outcome === 'suppressed');
    expect(suppressed.length).toBeGreaterThan(0);
    for (const { reason } of suppressed) expect(['rule:outside-work-hours', 'rule:non-work-day', 'superseded']).toContain(reason);
    const pushedDecisions = report.decisions.filter((d) => d.outcome === 'pushed').reduce((sum, d) => sum + d.count, 0);
    expect(report.apns.alerts).toBeGreaterThan(0);
    expect(report.apns.alerts).toBeLessThanOrEqual(pushedDecisions);
    expect(report.apns.refused).toBe(0);
    // Background pushes only for lifecycle events (the supervisor finds nothing due in a run this short).
    expect(report.apns.resubscribeRequests + report.apns.reauthorizeRequests + report.apns.syncRequests).toBe(report.graph.notifications.lifecycle.accepted);
    expect(report.apns.backgroundRefreshes + report.apns.other).toBe(0);
  });

  it('shows progress one phase at a time and prints the summary tables', () => {
    const phases = progress.filter((line) => /\[\d+\/\d+\]/.test(line)).map((line) => /\[(\d+)\/(\d+)\]/.exec(line)!.slice(1).map(Number));
    expect(phases.map(([step]) => step)).toEqual(Array.from({ length: phases[0]![1]! }, (_, i) => i + 1));
    const summary = formatSummary(report);
    expect(summary).toContain(`seed ${SEED}, 8 devices`);
    expect(summary).toMatch(/superseded subscription\s+(\d+)\s+0\s+\1\s+0/);
    expect(summary).toContain('All expectations met.');
  });

  it('plans the same devices and traffic for the same seed, and others for another seed', () => {
    expect(planSimulation(SEED, 8)).toEqual(planSimulation(SEED, 8));
    expect(planSimulation(SEED + 1, 8)).not.toEqual(planSimulation(SEED, 8));
  });
});

describe('the simulator against a relay that pushes every alert twice', () => {
  let service: LocalService;

  beforeAll(async () => {
    service = await startLocalService({
      port: 0,
      dataDir: ':memory:',
      wrapPushGateway: (gateway) => ({
        send: async (target, message) => {
          await gateway.send(target, message);
          return gateway.send(target, message);
        },
      }),
    });
  }, RUN_TIMEOUT_MS);

  afterAll(async () => {
    await service?.stop();
  });

  it('drives it by URL and fails the expectation that no alert is pushed without new mail', async () => {
    const report = await runSimulation({ devices: 5, seed: SEED, url: service.baseUrl, orgToken: await service.orgToken('org-simulator') });

    expect(report.target).toEqual({ kind: 'external', baseUrl: service.baseUrl });
    expect(report.ok).toBe(false);
    const failed = report.expectations.filter((e) => e.ok === false).map((e) => e.name);
    expect(failed).toEqual([EXPECTATIONS.noPushWithoutMail]);
  }, RUN_TIMEOUT_MS);
});
