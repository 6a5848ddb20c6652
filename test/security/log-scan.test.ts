import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../functions/_lib/device-secrets.js';
import type { LocalService } from '../../infra/local/service.js';
import type { QueueMessage } from '../../shared/queue/queue-messages.js';
import { api, eventually } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';
import { RecordingLogger, teeLogger } from '../support/fakes.js';
import { AwsFaultInjector, failFirst } from '../faults/harness/aws-faults.js';
import { waitForQuiescence } from '../faults/harness/fleet.js';
import { captureProcessOutput, recordingAccepted } from '../support/privacy-scan.js';

/**
 * A full end-to-end run with the logs on (Powertools at DEBUG, the use cases' logger recorded and forwarded), through
 * the paths that log the most: registration, token change, new mail, malformed and hostile bodies, forged callbacks,
 * wrong secrets and tokens, a queue outage, a DynamoDB throttle, APNs 500, 400 and 410, device deletion. Then every
 * byte written to stdout and stderr, and every structured log entry, is scanned for what must never be logged
 * (STYLE.md habit 11): push tokens, device secrets, callback secrets, the org token and its secret, the APNs provider
 * token, Exchange item ids and mail content. The table and the queue are checked against the design: secrets stored
 * only as SHA-256 hashes, item ids never, the push token only where the push needs it.
 */
// The Powertools logger reads its level once, when its module loads (the middy middleware resets any later change on
// each invocation), so the level is set before the service's modules are imported. This file has its own module graph.
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
const { useCaseLogger } = await import('../../functions/_lib/powertools.js');
const { LOCAL_ORG_TOKEN_SECRET, startLocalService } = await import('../../infra/local/service.js');

const PUSH_TOKENS = ['c0ffee'.repeat(10) + 'c0de', 'decaf0'.repeat(10) + 'beef', 'feed00'.repeat(10) + 'face'];
const SUBJECT = 'Quarterly numbers for the board, strictly confidential';
const SENDER = 'ceo.person@example.com';
const ITEM_IDS = ['AAMkItemLogScan0001', 'AAMkItemLogScan0002', 'AAMkItemLogScan0003', 'AAMkItemLogScan0004', 'AAMkItemLogScan0005'];

describe('no secret or mail content in logs, hashes in storage', () => {
  let service: LocalService;
  const captured: string[] = [];
  const recorded = new RecordingLogger();
  const queued: QueueMessage[] = [];
  const secrets = new Map<string, string>();
  let devices: Array<{ deviceId: string; deviceSecret: string; callbackUrls: string[] }> = [];
  let restore: () => void = () => undefined;

  beforeAll(async () => {
    // Capture everything the process writes while the stack runs.
    restore = captureProcessOutput(captured).restore;

    // Use-case logs go both to the recorder (structured, for the scan) and to Powertools (JSON on stdout).
    const tee = teeLogger(recorded, useCaseLogger);
    try {
      service = await startLocalService({
        port: 0,
        dataDir: ':memory:',
        supervisorIntervalMs: 0,
        visibilityTimeoutSeconds: 3,
        alertBudget: { windowMs: 500, maxPerWindow: 3 },
        logger: tee,
        wrapEventQueue: recordingAccepted(queued),
      });
      await runEverything();
    } finally {
      restore();
    }
  }, 180_000);

  async function runEverything(): Promise<void> {
    const orgToken = await service.orgToken('org-logscan');
    secrets.set('org token', orgToken);
    secrets.set('org token signature', orgToken.split('.')[2]!);
    secrets.set('ORG_TOKEN_SECRET', LOCAL_ORG_TOKEN_SECRET);
    PUSH_TOKENS.forEach((token, n) => secrets.set(`push token ${n}`, token));
    ITEM_IDS.forEach((id, n) => secrets.set(`item id ${n}`, id));
    secrets.set('subject', SUBJECT);
    secrets.set('sender', SENDER);

    for (const [n, pushToken] of PUSH_TOKENS.slice(0, 2).entries()) {
      const answer = await api(service.baseUrl, 'POST', '/v1/devices', {
        token: orgToken,
        body: { pushToken, mailboxes: [{ id: 'inbox', kind: 'primary' }, { id: `shared-${n}`, kind: 'delegated' }] },
      });
      expect(answer.status).toBe(201);
      const callbackUrls = (answer.body.mailboxes as Array<{ callbackUrl: string }>).map((m) => m.callbackUrl);
      devices.push({ deviceId: answer.body.deviceId, deviceSecret: answer.body.deviceSecret, callbackUrls });
      secrets.set(`device secret ${n}`, answer.body.deviceSecret);
      callbackUrls.forEach((url, m) => secrets.set(`callback secret ${n}.${m}`, url.slice(url.lastIndexOf('/') + 1)));
    }
    const [first, second] = devices as [(typeof devices)[0], (typeof devices)[0]];
    const at = (device: typeof first, path = '') => `/v1/devices/${device.deviceId}${path}`;
    await api(service.baseUrl, 'PUT', at(first, '/mailboxes/inbox/subscription'), {
      token: first.deviceSecret,
      body: { subscriptionId: 'sub-logscan', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    await api(service.baseUrl, 'PATCH', at(second), { token: second.deviceSecret, body: { pushToken: PUSH_TOKENS[2] } });

    // Mail, with content where a careless parser or log line would pick it up.
    const withContent = (itemId: string) =>
      newMailBody('sub-logscan', [{ itemId }]).replace('<t:TimeStamp>', `<t:Subject>${SUBJECT}</t:Subject><t:From>${SENDER}</t:From><t:TimeStamp>`);
    const sandbox = service.apnsSandbox!;
    sandbox.respondWith((push) => (push.token === PUSH_TOKENS[0] && sandbox.pushes().length === 0 ? { status: 500, reason: 'InternalServerError' } : undefined));
    await postNotification(first.callbackUrls[0]!, withContent(ITEM_IDS[0]!));
    await postNotification(second.callbackUrls[0]!, newMailBody('any', [{ itemId: ITEM_IDS[1]! }]));

    // Hostile and broken bodies carrying the same content.
    await postNotification(first.callbackUrls[0]!, withContent(ITEM_IDS[2]!).replace('</soap:Envelope>', ''));
    await postNotification(first.callbackUrls[0]!, `<!DOCTYPE x [<!ENTITY s "${SUBJECT}">]>${withContent(ITEM_IDS[2]!)}`);
    await postNotification(first.callbackUrls[0]!, withContent(ITEM_IDS[2]!), 'application/json');
    await postNotification(first.callbackUrls[0]!.replace(/[^/]+$/, 'forged-secret-forged-secret-forged-secret00'), withContent(ITEM_IDS[2]!));
    await postNotification(first.callbackUrls[0]!, newMailBody('sub-superseded', [{ itemId: ITEM_IDS[2]! }]));

    // Wrong credentials.
    await api(service.baseUrl, 'GET', at(first), { token: second.deviceSecret });
    await api(service.baseUrl, 'GET', at(first), { token: first.deviceSecret.slice(0, -2) });
    await api(service.baseUrl, 'POST', '/v1/devices', { token: `${orgToken}x`, body: { pushToken: PUSH_TOKENS[0], mailboxes: [{ id: 'inbox', kind: 'primary' }] } });
    await api(service.baseUrl, 'PATCH', at(first), { token: first.deviceSecret, body: { pushToken: 'not-hex', timeZone: SUBJECT } });

    // Dependencies failing: the queue, then DynamoDB, during a callback (both answer 5xx and log the error).
    const sqsFaults = new AwsFaultInjector('sqs').attach(service.awsClients.sqs);
    sqsFaults.use(failFirst(1, 'unavailable', ['SendMessageBatchCommand']));
    await postNotification(first.callbackUrls[1]!, withContent(ITEM_IDS[3]!));
    sqsFaults.heal();
    const dynamoFaults = new AwsFaultInjector('dynamodb').attach(service.awsClients.dynamodb);
    dynamoFaults.use(failFirst(1, 'throttle'));
    await postNotification(first.callbackUrls[1]!, withContent(ITEM_IDS[3]!));
    dynamoFaults.heal();
    await postNotification(first.callbackUrls[1]!, withContent(ITEM_IDS[3]!));

    // APNs refusing: a rejected push, then the token unregistered (the device is retired).
    await waitForQuiescence(service);
    sandbox.respondWith((push) => (push.token === PUSH_TOKENS[2] ? { status: 400, reason: 'BadTopic' } : undefined));
    await postNotification(second.callbackUrls[1]!, newMailBody('any', [{ itemId: ITEM_IDS[4]! }]));
    await waitForQuiescence(service);
    sandbox.respondWith(undefined);
    sandbox.unregister(PUSH_TOKENS[0]!, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 600)); // past the alert-budget window of the earlier alert
    await postNotification(first.callbackUrls[0]!, withContent(ITEM_IDS[4]!));
    await eventually(async () => ((await api(service.baseUrl, 'GET', at(first), { token: first.deviceSecret })).body.status === 'retired' ? true : undefined));
    await waitForQuiescence(service);
    await api(service.baseUrl, 'GET', at(first, '/events'), { token: first.deviceSecret });

    // The provider token APNs saw must not be logged either.
    const providerToken = sandbox.pushes().find((push) => push.headers.authorization)?.headers.authorization?.replace(/^bearer /i, '');
    if (providerToken) secrets.set('APNs provider token', providerToken);

    await api(service.baseUrl, 'DELETE', at(second), { token: second.deviceSecret });
  }

  afterAll(async () => {
    await service?.stop();
  });

  const logText = () => [...captured, ...recorded.lines.map((line) => JSON.stringify(line, errorReplacer))].join('\n');

  it('captured the logs of the run (the scan is not of an empty page)', () => {
    const text = logText();
    expect(captured.join('').length).toBeGreaterThan(1_000);
    // Powertools JSON on stdout, the use cases' entries, and the paths taken.
    expect(text).toMatch(/"level":"(INFO|WARN|ERROR)"/);
    for (const message of ['request refused', 'request failed', 'answering Unsubscribe', 'APNs push retried', 'push rejected and not retried']) {
      expect(text, message).toContain(message);
    }
    // Device ids may be logged; they prove the entries are about these devices.
    expect(text).toContain(devices[0]!.deviceId);
  });

  it('logs no push token, device secret, callback secret, org token or secret, provider token, item id or mail content', () => {
    const text = logText();
    const lower = text.toLowerCase();
    const found = [...secrets].filter(([, value]) => text.includes(value) || lower.includes(value.toLowerCase()) || text.includes(encodeURIComponent(value)));
    expect(found.map(([name]) => name)).toEqual([]);
    expect(secrets.size).toBeGreaterThanOrEqual(20);
  });

  it('stores device and callback secrets only as SHA-256 hashes, and no item id or mail content', async () => {
    const items = (await service.awsClients.documentClient.send(new ScanCommand({ TableName: service.backends.tableName, ConsistentRead: true }))).Items ?? [];
    const table = JSON.stringify(items);
    for (const [name, value] of secrets) {
      if (name.startsWith('push token')) continue;
      expect(table.includes(value), name).toBe(false);
    }
    const firstDevice = items.find((item) => item.deviceId === devices[0]!.deviceId && item.secretHash !== undefined);
    expect(firstDevice?.secretHash).toBe(hashSecret(devices[0]!.deviceSecret));
    for (const url of devices[0]!.callbackUrls) {
      expect(table).toContain(hashSecret(url.slice(url.lastIndexOf('/') + 1)));
    }
  });

  it('stores a push token only in its device record, where the push needs it, and none of a deleted device', async () => {
    const items = (await service.awsClients.documentClient.send(new ScanCommand({ TableName: service.backends.tableName, ConsistentRead: true }))).Items ?? [];
    for (const item of items) {
      const { pushToken, ...rest } = item;
      expect(JSON.stringify(rest).toLowerCase()).not.toMatch(new RegExp(PUSH_TOKENS.join('|')));
      if (pushToken !== undefined) expect(pushToken).toBe(PUSH_TOKENS[0]);
    }
    expect(JSON.stringify(items)).not.toContain(devices[1]!.deviceId);
  });

  it('queues no item id, mail content or secret', () => {
    expect(queued.length).toBeGreaterThan(0);
    const text = JSON.stringify(queued);
    for (const [name, value] of secrets) expect(text.includes(value), name).toBe(false);
  });

  it('carries the registration of new mail sealed: present, and nothing of it readable, not even once decoded', () => {
    const carried = queued.flatMap((message) => (message.type === 'new-mail' && message.registration !== undefined ? [message.registration] : []));
    expect(carried.length).toBeGreaterThan(0);
    expect(JSON.stringify(queued)).not.toMatch(/pushToken|endpointArn|apnsEnvironment|timeZone|workHours/);
    for (const registration of carried) {
      expect(registration).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      const decoded = Buffer.from(registration.split('.')[2]!, 'base64url').toString('latin1');
      for (const token of PUSH_TOKENS) expect(decoded).not.toContain(token);
      expect(decoded).not.toMatch(/pushToken|"status"|realtime/);
    }
  });
});

/** Errors as Powertools would print them: name, message, stack, cause. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { ...value, name: value.name, message: value.message, stack: value.stack, cause: value.cause };
  return value;
}
