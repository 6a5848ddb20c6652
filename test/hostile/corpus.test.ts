import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, PUSH_TOKEN_A } from '../support/device-api.js';
import { waitForQuiescence } from '../faults/harness/fleet.js';
import { emptyRow, printSummary } from '../faults/harness/summary.js';

/**
 * Every file of the shared corpus (test/corpus, real EWS and Graph messages, some deliberately malformed) POSTed to
 * a real callback URL of the running service. Contract section 4: a body that is not a well-formed SendNotification is
 * refused with 400; the SendNotification requests among the files (heartbeats and a folder change) are answered OK and
 * push nothing, since they carry no NewMailEvent.
 */
const CORPUS = path.resolve(import.meta.dirname, '../corpus');
const files = ['ews', 'graph'].flatMap((dir) =>
  readdirSync(path.join(CORPUS, dir))
    .filter((name) => name !== 'SOURCES.md')
    .map((name) => ({ dir, name, bytes: readFileSync(path.join(CORPUS, dir, name)) })),
);
/** The files SOURCES.md marks *malformed* (not well-formed as published, checked with expat), whatever their name says. */
const markedMalformed = new Set(
  ['ews', 'graph'].flatMap((dir) =>
    readFileSync(path.join(CORPUS, dir, 'SOURCES.md'), 'utf8')
      .split('\n')
      .filter((line) => /^\|\s*[\w.-]+\s*\|.*\*malformed/.test(line))
      .map((line) => line.split('|')[1]!.trim()),
  ),
);
/** The requests Exchange POSTs to a callback, well-formed; every other file is some other message, or broken. */
const isSendNotificationRequest = (name: string) => /sendnotification-/.test(name) && !/result/.test(name) && !markedMalformed.has(name);

describe('the shared corpus on the Exchange callback', () => {
  let service: LocalService;
  let callbackUrl: string;
  let graphUrls: { notificationUrl: string; lifecycleNotificationUrl: string };
  const row = emptyRow('hostile', 'shared corpus files (HTTP)');

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-corpus'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }] },
    });
    callbackUrl = registered.body.mailboxes[0].callbackUrl;
    graphUrls = registered.body.mailboxes[0].graph;
  });

  afterAll(async () => {
    printSummary('Hostile input: shared corpus', [row]);
    await service?.stop();
  });

  it('has malformed files to refuse and SendNotification requests to accept', () => {
    expect(files.filter((f) => markedMalformed.has(f.name)).length).toBeGreaterThanOrEqual(10);
    // A SendNotification the sources call malformed is refused like any other malformed body.
    expect(markedMalformed.has('workmail-sendnotification-statusevent-invalid-xml-version-decl.xml')).toBe(true);
    expect(files.filter((f) => isSendNotificationRequest(f.name)).length).toBeGreaterThanOrEqual(2);
  });

  it.each(files.map((file) => [`${file.dir}/${file.name}`, file] as const))('answers %s as the contract says', async (_, file) => {
    const contentTypes = file.name.endsWith('.json') ? ['application/json', 'text/xml; charset=utf-8'] : ['text/xml; charset=utf-8'];
    for (const contentType of contentTypes) {
      const response = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': contentType }, body: file.bytes });
      const text = await response.text();
      row.injected++;
      row.sent++;
      if (response.status >= 500) row.crashes++;
      if (isSendNotificationRequest(file.name)) {
        expect(response.status).toBe(200);
        expect(text).toMatch(/<(?:\w+:)?SubscriptionStatus>OK</);
      } else {
        expect(response.status).toBe(400);
        expect((JSON.parse(text) as { error: { code: string } }).error.code).toMatch(/^ews_/);
      }
    }
  });

  /** The Graph files that are well-formed collections of their kind (the rest: other messages, or broken as published). */
  const graphNotifications = new Set(['graph-change-notification-message-created-basic.json']);
  const graphLifecycleEvents = new Set(['graph-lifecycle-missed.json', 'graph-lifecycle-reauthorizationrequired-lifecycleevent-first.json', 'graph-lifecycle-structure-template-placeholder-event.json', 'graph-lifecycle-subscriptionremoved.json']);

  it.each(files.filter((file) => file.dir === 'graph').map((file) => [file.name, file] as const))('answers graph/%s on both Graph URLs as the contract says', async (name, file) => {
    for (const [url, accepted] of [
      [graphUrls.notificationUrl, graphNotifications],
      [graphUrls.lifecycleNotificationUrl, graphLifecycleEvents],
    ] as const) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: file.bytes });
      row.injected++;
      row.sent++;
      if (response.status >= 500) row.crashes++;
      // Well-formed ones are taken (202) and, with the documentation's clientState, pushed for nothing.
      expect(response.status).toBe(accepted.has(name) ? 202 : 400);
    }
  });

  it('pushed nothing for any of them', async () => {
    await waitForQuiescence(service);
    expect(service.apnsSandbox!.pushes()).toEqual([]);
  });
});
