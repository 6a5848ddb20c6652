import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalService } from '../../infra/local/service.js';
import type { QueueMessage } from '../../shared/queue/queue-messages.js';
import { runOrganizationScenario, type OrganizationScenarioReport } from '../../scripts/simulator/organization-scenario.js';
import { RecordingLogger, teeLogger } from '../support/fakes.js';
import { startPlayedEws, type PlayedEws } from '../support/played/played-ews.js';
import { startPlayedGraph, type PlayedGraph } from '../support/played/played-graph.js';
import { captureProcessOutput, recordingAccepted } from '../support/privacy-scan.js';

/**
 * Organization mode end to end through `npm start`'s runtime (contract sections 8 and 10): an EWS org and a Graph org
 * against played servers, detailed alerts whose `enc` decrypts to the played sender and subject while `aps.alert`
 * stays generic, a VIP's mail after hours pushed and a non-VIP's not, a mail server that is down still giving a generic
 * alert with `fetch-failed`. Then the privacy scan: no subject, preview, sender or VIP address and no service-account
 * secret in the logs (every level), in DATA_DIR's bytes, in queue messages or in push payloads outside `enc`.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
const { useCaseLogger } = await import('../../functions/_lib/powertools.js');
const { startLocalService } = await import('../../infra/local/service.js');

const EWS_PASSWORD = 'ews-service-account-password-e2e';
const GRAPH_SECRET = 'graph-client-secret-e2e~value';
const TENANT = 'contoso.onmicrosoft.com';
const CLIENT = '11111111-2222-3333-4444-555555555555';
const MAILBOXES = ['ada@example.com', 'grace@example.com'];

describe('organization mode end to end, with the privacy scan', () => {
  let service: LocalService;
  let ews: PlayedEws;
  let graph: PlayedGraph;
  let dataDir: string;
  let report: OrganizationScenarioReport;
  const captured: string[] = [];
  const recorded = new RecordingLogger();
  const queued: QueueMessage[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-org-e2e-'));
    ews = await startPlayedEws({ username: 'svc-relay', password: EWS_PASSWORD, mailboxes: MAILBOXES });
    graph = await startPlayedGraph({ tenantId: TENANT, clientId: CLIENT, clientSecret: GRAPH_SECRET, mailboxes: MAILBOXES });
    const output = captureProcessOutput(captured);
    const tee = teeLogger(recorded, useCaseLogger);
    try {
      service = await startLocalService({
        port: 0,
        dataDir,
        supervisorIntervalMs: 0,
        visibilityTimeoutSeconds: 5,
        logger: tee,
        wrapEventQueue: recordingAccepted(queued),
      });
      report = await runOrganizationScenario({
        baseUrl: service.baseUrl,
        adminToken: await service.adminToken('e2e-operator'),
        orgToken: (orgId) => service.orgToken(orgId),
        pushes: async () => service.apnsSandbox!.pushes(),
        ews,
        ewsCredentials: { username: 'svc-relay', password: EWS_PASSWORD },
        graph: { server: graph, tenantId: TENANT, clientId: CLIENT, clientSecret: GRAPH_SECRET },
      });
    } finally {
      output.restore();
    }
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await ews?.close();
    await graph?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it.each(['ews', 'graph'] as const)('%s org: a detailed alert decrypts to the played sender and subject, aps.alert stays generic', (org) => {
    const result = report.cases.find((c) => c.org === org && c.case === 'detailed-alert')!;
    expect(result).toMatchObject({ pushes: 1, alert: 'You have new messages' });
    expect(result.decrypted).toEqual(result.sent);
  });

  it.each(['ews', 'graph'] as const)("%s org: a VIP's mail after hours pushes (reason vip) and a non-VIP's does not", (org) => {
    expect(report.cases.find((c) => c.org === org && c.case === 'vip-after-hours')).toMatchObject({ pushes: 1, decision: { outcome: 'pushed', reason: 'vip' } });
    expect(report.cases.find((c) => c.org === org && c.case === 'non-vip-after-hours')).toMatchObject({ pushes: 0, decision: { outcome: 'suppressed' } });
  });

  it.each(['ews', 'graph'] as const)('%s org: a mail server that is down still gives a generic alert, reason fetch-failed', (org) => {
    const result = report.cases.find((c) => c.org === org && c.case === 'mail-server-down')!;
    expect(result).toMatchObject({ pushes: 1, alert: 'You have new messages', decision: { outcome: 'pushed', reason: 'fetch-failed' } });
    expect(result.decrypted).toBeUndefined();
  });

  it('shows each org on the status page with its mail server type and health, and nothing secret', async () => {
    const response = await fetch(`${service.baseUrl}/_local/status.json`);
    const text = await response.text();
    const snapshot = JSON.parse(text) as { orgs: Array<{ orgId: string; mailServerType: string; health: { ok: boolean } | null }> };
    expect(snapshot.orgs.map((o) => o.mailServerType).sort()).toEqual(report.orgs.map((o) => o.type).sort());
    expect(snapshot.orgs.every((o) => o.health !== null)).toBe(true);
    expect(text).not.toContain(EWS_PASSWORD);
    expect(text).not.toContain(ews.url);
  });

  it('leaves no subject, preview, sender, VIP address or service-account secret in logs, DATA_DIR, queue messages or payloads outside enc', async () => {
    expect(report.ok).toBe(true);
    const needles = new Map<string, string>([
      ['EWS password', EWS_PASSWORD],
      ['Graph client secret', GRAPH_SECRET],
      ['VIP address', 'ceo@example.com'],
      ['VIP address 2', 'cfo@example.com'],
      ['sender', 'news@example.com'],
      ['sender name', 'Grace Hopper'],
    ]);
    for (const result of report.cases) {
      needles.set(`subject ${result.org} ${result.case}`, result.sent.subject);
      needles.set(`preview ${result.org} ${result.case}`, `${result.sent.subject}: the preview`);
      needles.set(`sender ${result.org} ${result.case}`, result.sent.from);
    }
    const logs = [...captured, ...recorded.lines.map((line) => JSON.stringify(line))].join('\n');
    expect(captured.join('').length).toBeGreaterThan(1_000);
    expect(logs).toMatch(/"level":"DEBUG"/);
    const files: string[] = [];
    for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push((await readFile(path.join(entry.parentPath, entry.name))).toString('latin1'));
    }
    const dataBytes = files.join('\n');
    expect(dataBytes.length).toBeGreaterThan(1_000);
    const queue = JSON.stringify(queued);
    expect(queued.length).toBeGreaterThan(0);
    const payloads = JSON.stringify(service.apnsSandbox!.pushes().map((push) => ({ ...(push.payload as object), enc: undefined })));
    const places = { logs, 'DATA_DIR': dataBytes, 'queue messages': queue, 'push payloads': payloads };
    const found: string[] = [];
    for (const [place, text] of Object.entries(places)) {
      const lower = text.toLowerCase();
      for (const [name, value] of needles) if (lower.includes(value.toLowerCase())) found.push(`${name} in ${place}`);
    }
    expect(found).toEqual([]);
  });
});
