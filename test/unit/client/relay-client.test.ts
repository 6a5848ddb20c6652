import { describe, expect, it } from 'vitest';
import {
  RelayApiError,
  RelayBadRequestError,
  RelayClientUsageError,
  RelayConflictError,
  RelayForbiddenError,
  RelayNetworkError,
  RelayNotFoundError,
  RelayPayloadTooLargeError,
  RelayProtocolError,
  RelayServerError,
  RelayUnauthorizedError,
} from '../../../shared/client/relay-errors.js';
import { RelayClient, type FetchLike, type KnownMailbox, type SettingsPatch } from '../../../shared/client/relay-client.js';
import type { DeviceView } from '../../../shared/device/device-schemas.js';
import { MailboxExistsError, MailboxLimitError, PrimaryMailboxRemovalError, ValidationError } from '../../../shared/errors.js';

const BASE = 'https://relay.example.com/prod';
const TOKEN = 'A'.repeat(64);
const CREDENTIALS = { deviceId: 'dev-1', deviceSecret: 'device-secret' };

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that records each request and answers from a queue of canned responses. */
function fakeFetch(...answers: Array<{ status: number; body?: unknown } | Error>) {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, method: init.method, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const answer = answers.shift();
    if (answer === undefined) throw new Error(`unexpected request ${init.method} ${url}`);
    if (answer instanceof Error) throw answer;
    const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    return { status: answer.status, text: async () => text };
  };
  return { fetch, calls };
}

function deviceView(overrides: Partial<DeviceView> = {}): DeviceView {
  return {
    deviceId: 'dev-1',
    status: 'active',
    pushToken: 'a'.repeat(64),
    apnsEnvironment: 'production',
    mode: 'realtime',
    intervalSeconds: 900,
    timeZone: 'UTC',
    alerts: {
      workHoursOnly: false,
      workHours: { start: '09:00', end: '18:00', days: [1, 2, 3, 4, 5] },
      weekendAlerts: false,
      vipAfterHours: false,
      showDetails: false,
    },
    mailboxes: [{ id: 'me', kind: 'primary', subscriptionId: null, expiresAt: null, lastNotificationAt: null, subscription: { subscriptionId: null, expiresAt: null, lastNotificationAt: null } }],
    createdAt: '2026-11-23T10:00:00.000Z',
    updatedAt: '2026-11-23T10:00:00.000Z',
    ...overrides,
  };
}

const mailboxView = (id: string, kind: 'primary' | 'delegated') => ({
  id,
  kind,
  subscriptionId: null,
  expiresAt: null,
  lastNotificationAt: null,
  subscription: { subscriptionId: null, expiresAt: null, lastNotificationAt: null },
});

function registeredClient(fetch: FetchLike, mailboxes?: KnownMailbox[]) {
  return new RelayClient({ baseUrl: `${BASE}/`, fetch, credentials: CREDENTIALS, ...(mailboxes ? { mailboxes } : {}) });
}

const registerAnswer = {
  status: 201,
  body: {
    deviceId: 'dev-1',
    deviceSecret: 'device-secret',
    mailboxes: [
      { id: 'me', callbackUrl: 'https://relay.example.com/prod/callback/s1' },
      { id: 'team', callbackUrl: 'https://relay.example.com/prod/callback/s2' },
    ],
  },
};

describe('RelayClient.register', () => {
  it('posts the normalized registration with the organization token and keeps the credentials', async () => {
    const { fetch, calls } = fakeFetch(registerAnswer);
    const client = new RelayClient({ baseUrl: BASE, fetch, organizationToken: 'org-token' });

    const registration = await client.register({
      pushToken: TOKEN,
      mailboxes: [
        { id: 'me', kind: 'primary' },
        { id: 'team', kind: 'delegated' },
      ],
    });

    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      url: `${BASE}/v1/devices`,
      method: 'POST',
      headers: { authorization: 'Bearer org-token', 'content-type': 'application/json' },
    });
    expect(calls[0]?.body).toMatchObject({ pushToken: 'a'.repeat(64), mode: 'realtime', intervalSeconds: 900, timeZone: 'UTC' });
    expect(registration).toEqual({
      deviceId: 'dev-1',
      deviceSecret: 'device-secret',
      mailboxes: [
        { id: 'me', kind: 'primary', callbackUrl: 'https://relay.example.com/prod/callback/s1' },
        { id: 'team', kind: 'delegated', callbackUrl: 'https://relay.example.com/prod/callback/s2' },
      ],
    });
    expect(client.credentials).toEqual(CREDENTIALS);
    expect(client.mailboxes).toEqual([
      { id: 'me', kind: 'primary' },
      { id: 'team', kind: 'delegated' },
    ]);
  });

  it('prefers an organization token given to the call', async () => {
    const { fetch, calls } = fakeFetch({ status: 201, body: { ...registerAnswer.body, mailboxes: [registerAnswer.body.mailboxes[0]] } });
    await new RelayClient({ baseUrl: BASE, fetch, organizationToken: 'configured' }).register({ pushToken: TOKEN, mailboxes: [{ id: 'me', kind: 'primary' }] }, 'given');
    expect(calls[0]?.headers.authorization).toBe('Bearer given');
  });

  it.each([
    ['two primaries', { pushToken: TOKEN, mailboxes: [{ id: 'a', kind: 'primary' }, { id: 'b', kind: 'primary' }] }, 'mailboxes'],
    ['a short push token', { pushToken: 'abc', mailboxes: [{ id: 'me', kind: 'primary' }] }, 'pushToken'],
    ['an interval below 300 s', { pushToken: TOKEN, intervalSeconds: 120, mailboxes: [{ id: 'me', kind: 'primary' }] }, 'intervalSeconds'],
    ['a mailbox id a URL cannot carry', { pushToken: TOKEN, mailboxes: [{ id: '..', kind: 'primary' }] }, 'mailboxes.0.id'],
  ])('refuses %s locally, without calling the relay', async (_name, request, path) => {
    const { fetch, calls } = fakeFetch();
    const client = new RelayClient({ baseUrl: BASE, fetch, organizationToken: 'org-token' });
    const error = await client.register(request as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toContain(path);
    expect(calls).toHaveLength(0);
  });

  it('needs an organization token', async () => {
    const { fetch, calls } = fakeFetch();
    const client = new RelayClient({ baseUrl: BASE, fetch });
    await expect(client.register({ pushToken: TOKEN, mailboxes: [{ id: 'me', kind: 'primary' }] })).rejects.toBeInstanceOf(RelayClientUsageError);
    expect(calls).toHaveLength(0);
  });

  it('treats an answer without a callback URL for a requested mailbox as a protocol error', async () => {
    const { fetch } = fakeFetch({ status: 201, body: { ...registerAnswer.body, mailboxes: [registerAnswer.body.mailboxes[0]] } });
    const client = new RelayClient({ baseUrl: BASE, fetch, organizationToken: 't' });
    const request = { pushToken: TOKEN, mailboxes: [{ id: 'me', kind: 'primary' as const }, { id: 'team', kind: 'delegated' as const }] };
    await expect(client.register(request)).rejects.toBeInstanceOf(RelayProtocolError);
    expect(client.credentials).toBeUndefined();
  });

  it.each([
    ['a body that is not JSON', '<html>ok</html>'],
    ['a body of the wrong shape', { deviceId: 'dev-1' }],
  ])('treats a success with %s as a protocol error', async (_name, body) => {
    const { fetch } = fakeFetch({ status: 201, body });
    const client = new RelayClient({ baseUrl: BASE, fetch, organizationToken: 't' });
    await expect(client.register({ pushToken: TOKEN, mailboxes: [{ id: 'me', kind: 'primary' }] })).rejects.toBeInstanceOf(RelayProtocolError);
  });
});

describe('RelayClient error answers', () => {
  const cases = [
    [400, RelayBadRequestError, 'invalid_request'],
    [401, RelayUnauthorizedError, 'unauthorized'],
    [403, RelayForbiddenError, 'forbidden'],
    [404, RelayNotFoundError, 'device_not_found'],
    [409, RelayConflictError, 'mailbox_limit_reached'],
    [409, RelayConflictError, 'concurrent_update'],
    [413, RelayPayloadTooLargeError, 'payload_too_large'],
    [405, RelayApiError, 'method_not_allowed'],
    [415, RelayApiError, 'unsupported_media_type'],
    [429, RelayApiError, 'throttled'],
    [500, RelayServerError, 'internal_error'],
    [503, RelayServerError, 'service_unavailable'],
  ] as const;

  it.each(cases)('turns %i into %o with the relay code and message', async (status, ErrorClass, code) => {
    const { fetch } = fakeFetch({ status, body: { error: { code, message: `text for ${code}` } } });
    const error = await registeredClient(fetch).getDevice().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toBeInstanceOf(RelayApiError);
    expect(error).toMatchObject({ status, code, message: `text for ${code}`, retryable: status === 429 || status >= 500 || code === 'concurrent_update' });
  });

  it('keeps each 4xx class distinct from the others', async () => {
    const classes = [RelayBadRequestError, RelayUnauthorizedError, RelayForbiddenError, RelayNotFoundError, RelayConflictError, RelayPayloadTooLargeError];
    for (const [status, ErrorClass] of cases.filter(([s]) => s < 420).map(([s, c]) => [s, c] as const)) {
      const { fetch } = fakeFetch({ status, body: { error: { code: 'x', message: 'y' } } });
      const error = await registeredClient(fetch).getDevice().catch((e: unknown) => e);
      for (const other of classes) if (other !== ErrorClass) expect(error).not.toBeInstanceOf(other);
    }
  });

  it('names an error answer without the relay body by its status', async () => {
    const { fetch } = fakeFetch({ status: 502, body: '<html>Bad Gateway</html>' });
    const error = await registeredClient(fetch).getDevice().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayServerError);
    expect(error).toMatchObject({ status: 502, code: 'http_502', retryable: true });
  });

  it('reports a request that got no answer as a network error, with the cause', async () => {
    const offline = new TypeError('fetch failed');
    const { fetch } = fakeFetch(offline);
    const error = await registeredClient(fetch).getDevice().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayNetworkError);
    expect(error).not.toBeInstanceOf(RelayApiError);
    expect((error as RelayNetworkError).cause).toBe(offline);
    expect((error as RelayNetworkError).code).toBe('network_error');
  });

  it('refuses device calls before registration', async () => {
    const { fetch, calls } = fakeFetch();
    const client = new RelayClient({ baseUrl: BASE, fetch });
    await expect(client.getDevice()).rejects.toBeInstanceOf(RelayClientUsageError);
    await expect(client.unregister()).rejects.toBeInstanceOf(RelayClientUsageError);
    expect(calls).toHaveLength(0);
  });
});

describe('RelayClient.getDevice and getEvents', () => {
  it('reads the registration with the device secret', async () => {
    const view = deviceView();
    const { fetch, calls } = fakeFetch({ status: 200, body: view });
    const client = registeredClient(fetch);
    expect(await client.getDevice()).toEqual(view);
    expect(calls[0]).toMatchObject({ url: `${BASE}/v1/devices/dev-1`, method: 'GET', headers: { authorization: 'Bearer device-secret' } });
    expect(calls[0]?.headers).not.toHaveProperty('content-type');
    expect(client.mailboxes).toEqual([{ id: 'me', kind: 'primary' }]);
  });

  it('escapes the device id in the path', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: deviceView({ deviceId: 'a/b?c' }) });
    await new RelayClient({ baseUrl: BASE, fetch, credentials: { deviceId: 'a/b?c', deviceSecret: 's' } }).getDevice();
    expect(calls[0]?.url).toBe(`${BASE}/v1/devices/a%2Fb%3Fc`);
  });

  it('returns the decision log', async () => {
    const events = [{ at: '2026-11-23T10:00:00.000Z', mailbox: 'me', outcome: 'suppressed', reason: 'outside-work-hours' }];
    const { fetch, calls } = fakeFetch({ status: 200, body: { events } });
    expect(await registeredClient(fetch).getEvents()).toEqual(events);
    expect(calls[0]?.url).toBe(`${BASE}/v1/devices/dev-1/events`);
  });

  it('refuses a decision with an outcome the contract does not have', async () => {
    const { fetch } = fakeFetch({ status: 200, body: { events: [{ at: 'x', mailbox: 'me', outcome: 'teleported', reason: 'r' }] } });
    await expect(registeredClient(fetch).getEvents()).rejects.toBeInstanceOf(RelayProtocolError);
  });
});

describe('RelayClient.updateSettings', () => {
  it('sends the merge patch and says each change applies now', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: deviceView() });
    const update = await registeredClient(fetch).updateSettings({ mode: 'interval', alerts: { workHours: { start: '08:00' }, showDetails: true } });

    expect(calls[0]).toMatchObject({ method: 'PATCH', url: `${BASE}/v1/devices/dev-1` });
    expect(calls[0]?.body).toEqual({ mode: 'interval', alerts: { workHours: { start: '08:00' }, showDetails: true } });
    expect(update.changes).toEqual([
      { path: 'mode', appliesFrom: 'now' },
      { path: 'alerts.workHours.start', appliesFrom: 'now' },
      { path: 'alerts.showDetails', appliesFrom: 'now' },
    ]);
    expect(update.appliesFrom).toBe('now');
  });

  // The relay reads the device's settings for every notification as it arrives (contract section 5), so nothing,
  // not even a change to when alerts may sound, waits for the next Exchange resubscription.
  it.each<[SettingsPatch, string[]]>([
    [{ pushToken: TOKEN }, ['pushToken']],
    [{ apnsEnvironment: 'sandbox' }, ['apnsEnvironment']],
    [{ mode: 'interval', intervalSeconds: 600 }, ['mode', 'intervalSeconds']],
    [{ alerts: { showDetails: true } }, ['alerts.showDetails']],
    [{ timeZone: 'Europe/Berlin' }, ['timeZone']],
    [{ alerts: { workHoursOnly: true } }, ['alerts.workHoursOnly']],
    [{ alerts: { weekendAlerts: true } }, ['alerts.weekendAlerts']],
    [{ alerts: { vipAfterHours: true } }, ['alerts.vipAfterHours']],
    [{ alerts: { workHours: { days: [1, 2] } } }, ['alerts.workHours.days']],
    [{ alerts: null }, ['alerts']],
  ])('says %j applies now', async (patch, paths) => {
    const { fetch } = fakeFetch({ status: 200, body: deviceView() });
    const update = await registeredClient(fetch).updateSettings(patch);
    expect(update.changes).toEqual(paths.map((path) => ({ path, appliesFrom: 'now' })));
    expect(update.appliesFrom).toBe('now');
  });

  it('lists no change for an empty patch', async () => {
    const { fetch } = fakeFetch({ status: 200, body: deviceView() });
    const update = await registeredClient(fetch).updateSettings({});
    expect(update.changes).toEqual([]);
    expect(update.appliesFrom).toBe('now');
  });

  it('refuses an unknown setting locally', async () => {
    const { fetch, calls } = fakeFetch();
    await expect(registeredClient(fetch).updateSettings({ ringtone: 'bell' } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(calls).toHaveLength(0);
  });

  it('refuses locally a patch that makes the known settings invalid', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: deviceView() });
    const client = registeredClient(fetch);
    await client.getDevice();
    const error = await client.updateSettings({ alerts: { workHours: { start: '25:00' } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('alerts.workHours.start');
    expect(calls).toHaveLength(1);
  });

  it('leaves validation of the merged settings to the relay when it does not know them', async () => {
    const { fetch } = fakeFetch({ status: 400, body: { error: { code: 'invalid_request', message: 'intervalSeconds: must be at least 300' } } });
    await expect(registeredClient(fetch).updateSettings({ intervalSeconds: 100 })).rejects.toBeInstanceOf(RelayBadRequestError);
  });
});

describe('RelayClient.reportSubscription', () => {
  it('puts the current subscription of a mailbox', async () => {
    const { fetch, calls } = fakeFetch({ status: 204 });
    await registeredClient(fetch).reportSubscription('me', { subscriptionId: 'sub-1', expiresAt: '2026-11-24T10:00:00.000Z' });
    expect(calls[0]).toMatchObject({
      method: 'PUT',
      url: `${BASE}/v1/devices/dev-1/mailboxes/me/subscription`,
      body: { subscriptionId: 'sub-1', expiresAt: '2026-11-24T10:00:00.000Z' },
    });
  });

  it.each([
    ['an expiry that is not a date-time', 'me', { subscriptionId: 'sub-1', expiresAt: 'tomorrow' }],
    ['an empty subscription id', 'me', { subscriptionId: '', expiresAt: '2026-11-24T10:00:00Z' }],
    ['a mailbox id with a slash', 'a/b', { subscriptionId: 'sub-1', expiresAt: '2026-11-24T10:00:00Z' }],
    ['a dot-segment mailbox id', '..', { subscriptionId: 'sub-1', expiresAt: '2026-11-24T10:00:00Z' }],
  ])('refuses %s locally', async (_name, mailboxId, report) => {
    const { fetch, calls } = fakeFetch();
    await expect(registeredClient(fetch).reportSubscription(mailboxId, report)).rejects.toBeInstanceOf(ValidationError);
    expect(calls).toHaveLength(0);
  });
});

describe('RelayClient delegated mailboxes', () => {
  const withDelegated = (n: number): KnownMailbox[] => [
    { id: 'me', kind: 'primary' },
    ...Array.from({ length: n }, (_, i) => ({ id: `shared-${i + 1}`, kind: 'delegated' as const })),
  ];

  it('adds a delegated mailbox and returns its callback URL', async () => {
    const { fetch, calls } = fakeFetch({ status: 201, body: { id: 'team', callbackUrl: 'https://relay.example.com/prod/callback/s3' } });
    const client = registeredClient(fetch, withDelegated(0));
    const added = await client.addDelegatedMailbox('team');
    expect(calls[0]).toMatchObject({ method: 'POST', url: `${BASE}/v1/devices/dev-1/mailboxes`, body: { id: 'team', kind: 'delegated' } });
    expect(added).toEqual({ id: 'team', kind: 'delegated', callbackUrl: 'https://relay.example.com/prod/callback/s3' });
    expect(client.mailboxes).toContainEqual({ id: 'team', kind: 'delegated' });
  });

  it('adds up to four delegated mailboxes', async () => {
    const { fetch, calls } = fakeFetch({ status: 201, body: { id: 'fourth', callbackUrl: 'https://relay.example.com/c/4' } });
    await registeredClient(fetch, withDelegated(3)).addDelegatedMailbox('fourth');
    expect(calls).toHaveLength(1);
  });

  it('refuses a fifth delegated mailbox without calling the relay', async () => {
    const { fetch, calls } = fakeFetch();
    const error = await registeredClient(fetch, withDelegated(4)).addDelegatedMailbox('fifth').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailboxLimitError);
    expect((error as MailboxLimitError).code).toBe('mailbox_limit_reached');
    expect(calls).toHaveLength(0);
  });

  it('reads the mailboxes from the relay first when it does not know them, then refuses a fifth', async () => {
    const view = deviceView({ mailboxes: [mailboxView('me', 'primary'), ...[1, 2, 3, 4].map((i) => mailboxView(`s${i}`, 'delegated'))] });
    const { fetch, calls } = fakeFetch({ status: 200, body: view });
    await expect(registeredClient(fetch).addDelegatedMailbox('fifth')).rejects.toBeInstanceOf(MailboxLimitError);
    expect(calls.map((c) => c.method)).toEqual(['GET']);
  });

  it('refuses an id already used on the device', async () => {
    const { fetch, calls } = fakeFetch();
    await expect(registeredClient(fetch, withDelegated(1)).addDelegatedMailbox('shared-1')).rejects.toBeInstanceOf(MailboxExistsError);
    expect(calls).toHaveLength(0);
  });

  it('passes on the relay refusing a mailbox as a conflict', async () => {
    const { fetch } = fakeFetch({ status: 409, body: { error: { code: 'mailbox_limit_reached', message: 'at most 4' } } });
    const error = await registeredClient(fetch, withDelegated(2)).addDelegatedMailbox('team').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayConflictError);
    expect(error).toMatchObject({ status: 409, code: 'mailbox_limit_reached' });
  });

  it('removes a delegated mailbox', async () => {
    const { fetch, calls } = fakeFetch({ status: 204 });
    const client = registeredClient(fetch, withDelegated(2));
    await client.removeDelegatedMailbox('shared-1');
    expect(calls[0]).toMatchObject({ method: 'DELETE', url: `${BASE}/v1/devices/dev-1/mailboxes/shared-1` });
    expect(client.mailboxes?.map((m) => m.id)).toEqual(['me', 'shared-2']);
  });

  it('frees a place for another delegated mailbox once one is removed', async () => {
    const { fetch, calls } = fakeFetch({ status: 204 }, { status: 201, body: { id: 'new', callbackUrl: 'https://relay.example.com/c/n' } });
    const client = registeredClient(fetch, withDelegated(4));
    await client.removeDelegatedMailbox('shared-4');
    await client.addDelegatedMailbox('new');
    expect(calls.map((c) => c.method)).toEqual(['DELETE', 'POST']);
  });

  it('refuses to remove the primary mailbox locally', async () => {
    const { fetch, calls } = fakeFetch();
    await expect(registeredClient(fetch, withDelegated(1)).removeDelegatedMailbox('me')).rejects.toBeInstanceOf(PrimaryMailboxRemovalError);
    expect(calls).toHaveLength(0);
  });

  it('refuses a mailbox id that would address the device itself', async () => {
    const { fetch, calls } = fakeFetch();
    await expect(registeredClient(fetch).removeDelegatedMailbox('..')).rejects.toBeInstanceOf(ValidationError);
    await expect(registeredClient(fetch).addDelegatedMailbox('.')).rejects.toBeInstanceOf(ValidationError);
    expect(calls).toHaveLength(0);
  });

  it('passes on an unknown mailbox as not found', async () => {
    const { fetch } = fakeFetch({ status: 404, body: { error: { code: 'mailbox_not_found', message: 'no such mailbox on this device' } } });
    await expect(registeredClient(fetch).removeDelegatedMailbox('ghost')).rejects.toMatchObject({ status: 404, code: 'mailbox_not_found' });
  });
});

describe('RelayClient.rotateMailbox', () => {
  const graph = {
    notificationUrl: `${BASE}/v1/graph/notifications/new-secret`,
    lifecycleNotificationUrl: `${BASE}/v1/graph/lifecycle/new-secret`,
    clientState: 'new-client-state',
  };

  it("POSTs to the mailbox's rotate route and returns the new callback URL and Graph block", async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: { id: 'me', callbackUrl: `${BASE}/v1/callbacks/new-secret`, graph } });
    const client = new RelayClient({ baseUrl: BASE, fetch, credentials: CREDENTIALS });
    expect(await client.rotateMailbox('me')).toEqual({ id: 'me', callbackUrl: `${BASE}/v1/callbacks/new-secret`, graph });
    expect(calls.map((call) => [call.method, call.url, call.headers.authorization])).toEqual([['POST', `${BASE}/v1/devices/dev-1/mailboxes/me/rotate`, 'Bearer device-secret']]);
  });

  it('refuses an answer for another mailbox, and passes on a 404', async () => {
    const other = fakeFetch({ status: 200, body: { id: 'other', callbackUrl: `${BASE}/v1/callbacks/x`, graph } });
    await expect(new RelayClient({ baseUrl: BASE, fetch: other.fetch, credentials: CREDENTIALS }).rotateMailbox('me')).rejects.toBeInstanceOf(RelayProtocolError);
    const missing = fakeFetch({ status: 404, body: { error: { code: 'mailbox_not_found', message: 'no such mailbox on this device' } } });
    await expect(new RelayClient({ baseUrl: BASE, fetch: missing.fetch, credentials: CREDENTIALS }).rotateMailbox('gone')).rejects.toBeInstanceOf(RelayNotFoundError);
  });
});

describe('RelayClient.unregister', () => {
  it('deletes the device and forgets the credentials', async () => {
    const { fetch, calls } = fakeFetch({ status: 204 });
    const client = registeredClient(fetch, [{ id: 'me', kind: 'primary' }]);
    await client.unregister();
    expect(calls[0]).toMatchObject({ method: 'DELETE', url: `${BASE}/v1/devices/dev-1` });
    expect(client.credentials).toBeUndefined();
    expect(client.mailboxes).toBeUndefined();
  });

  it('keeps the credentials when the relay refuses', async () => {
    const { fetch } = fakeFetch({ status: 503, body: { error: { code: 'service_unavailable', message: 'retry later' } } });
    const client = registeredClient(fetch);
    await expect(client.unregister()).rejects.toBeInstanceOf(RelayServerError);
    expect(client.credentials).toEqual(CREDENTIALS);
  });
});
