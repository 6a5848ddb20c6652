import { beforeEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../../../functions/_lib/device-secrets.js';
import type { HttpEvent, HttpHandler, HttpResult } from '../../../functions/_lib/http.js';
import type { GraphCallbackDeps } from '../../../functions/exchange-callback/accept-graph-notifications.js';
import { createExchangeCallbackHandler } from '../../../functions/exchange-callback/edge.js';
import { localLambdaContext } from '../../../infra/local/lambda-context.js';
import type { NewMailMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { newMailBody } from '../../support/exchange.js';
import { ManualClock, RecordingCounter, RecordingLogger } from '../../support/fakes.js';
import { graphBody, messageItem } from '../../support/graph.js';
import { makeDevice } from '../../support/store-fixtures.js';

/**
 * The callback function behind its own Lambda function URL (infra/config.ts `callbackEndpoint: 'function-url'`) gives
 * the same answers as behind the HTTP API: a function URL event is payload 2.0 with `routeKey: "$default"`, no
 * `pathParameters`, and the path only in `rawPath` (and `requestContext.http.path`).
 */

const SECRET = 'callback-secret-of-the-primary-mailbox-0001';
const CLIENT_STATE = 'client-state-of-the-primary-mailbox-000001';
const T0 = Date.parse('2026-12-07T10:00:00Z');
const URL_HOST = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws';

type Shape = 'api' | 'function-url' | 'function-url, base64 body';

interface Request {
  method?: string;
  path: string;
  /** The API Gateway route the path matches, if any (the API never invokes the function for another). */
  routeKey?: string;
  secret?: string;
  body: string;
  contentType: string;
  rawQueryString?: string;
}

/** A request as API Gateway's HTTP API passes it on (payload 2.0, the route matched, the body base64-encoded). */
function apiEvent(request: Request): HttpEvent {
  return {
    version: '2.0',
    routeKey: request.routeKey!,
    rawPath: request.path,
    rawQueryString: request.rawQueryString ?? '',
    headers: { 'content-type': request.contentType, host: 'relay.example.com' },
    pathParameters: { secret: request.secret! },
    requestContext: {
      accountId: '123456789012',
      apiId: 'a1b2c3d4e5',
      domainName: 'relay.example.com',
      domainPrefix: 'relay',
      http: { method: request.method ?? 'POST', path: request.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: 'ExchangeServicesClient/15.20' },
      requestId: 'api-request',
      routeKey: request.routeKey!,
      stage: '$default',
      time: '07/Dec/2026:10:00:00 +0000',
      timeEpoch: T0,
    },
    body: Buffer.from(request.body, 'utf8').toString('base64'),
    isBase64Encoded: true,
  };
}

/**
 * A request as a Lambda function URL passes it on: `$default`, no path parameters, the caller's headers in lower case,
 * and a text body as it came (base64 only when Lambda takes it for binary, which the second variant stands for).
 */
function functionUrlEvent(request: Request, base64: boolean): HttpEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: request.rawQueryString ?? '',
    headers: {
      'content-type': request.contentType,
      'content-length': String(Buffer.byteLength(request.body)),
      host: URL_HOST,
      'x-amzn-trace-id': 'Root=1-675414a0-0123456789abcdef01234567',
      'x-forwarded-for': '203.0.113.10',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      'user-agent': 'ExchangeServicesClient/15.20',
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghijklmnopqrstuvwxyz012345',
      domainName: URL_HOST,
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz012345',
      http: { method: request.method ?? 'POST', path: request.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: 'ExchangeServicesClient/15.20' },
      requestId: 'url-request',
      routeKey: '$default',
      stage: '$default',
      time: '07/Dec/2026:10:00:00 +0000',
      timeEpoch: T0,
    },
    ...(request.body === '' ? {} : { body: base64 ? Buffer.from(request.body, 'utf8').toString('base64') : request.body }),
    isBase64Encoded: base64,
  };
}

const ews = (secret: string, body: string): Request => ({
  path: `/v1/callbacks/${secret}`,
  routeKey: 'POST /v1/callbacks/{secret}',
  secret,
  body,
  contentType: 'text/xml; charset=utf-8',
});
const graph = (secret: string, body: string, rawQueryString = ''): Request => ({
  path: `/v1/graph/notifications/${secret}`,
  routeKey: 'POST /v1/graph/notifications/{secret}',
  secret,
  body,
  contentType: rawQueryString ? 'text/plain; charset=utf-8' : 'application/json',
  rawQueryString,
});

describe.each<Shape>(['api', 'function-url', 'function-url, base64 body'])('the callback function, called through %s', (shape) => {
  let stores: InMemoryStores;
  let queue: InMemoryEventQueue;
  let handler: HttpHandler;

  const call = async (request: Request): Promise<{ status: number; contentType: unknown; body: string }> => {
    const event = shape === 'api' ? apiEvent(request) : functionUrlEvent(request, shape === 'function-url, base64 body');
    const result = (await handler(event, localLambdaContext('exchange-callback'))) as HttpResult;
    return { status: result.statusCode ?? 0, contentType: result.headers?.['content-type'], body: result.body ?? '' };
  };
  const newMail = () => queue.messages.filter((m): m is NewMailMessage => m.type === 'new-mail');

  beforeEach(async () => {
    const clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    queue = new InMemoryEventQueue();
    const deps: GraphCallbackDeps = { ...stores.ports, decisions: stores.decisions, queue, now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() };
    handler = createExchangeCallbackHandler(deps);
    await stores.devices.createDevice(makeDevice({ deviceId: 'device-1', createdAt: T0 - 1000 }), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: hashSecret(SECRET), clientStateHash: hashSecret(CLIENT_STATE), createdAt: T0 - 1000 },
    ]);
  });

  it('queues new mail and answers the SOAP result OK', async () => {
    await stores.devices.setSubscription('device-1', 'primary', { subscriptionId: 'sub-1', expiresAt: T0 + 3_600_000, reportedAt: T0 - 1000, dueAt: T0 + 3_600_000 });
    const answer = await call(ews(SECRET, newMailBody('sub-1', [{ itemId: 'item-A' }])));
    expect(answer).toMatchObject({ status: 200, contentType: 'text/xml; charset=utf-8' });
    expect(answer.body).toMatch(/<m:SubscriptionStatus>OK<\/m:SubscriptionStatus>/);
    expect(newMail()).toHaveLength(1);
    expect(newMail()[0]).toMatchObject({ deviceId: 'device-1', mailboxId: 'primary' });
  });

  it('answers Unsubscribe to a secret that names no mailbox, and queues nothing', async () => {
    const answer = await call(ews('forged-secret', newMailBody('sub-1', [{ itemId: 'item-A' }])));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/<m:SubscriptionStatus>Unsubscribe<\/m:SubscriptionStatus>/);
    expect(queue.messages).toEqual([]);
  });

  it('answers 400 to a body that is not a SendNotification', async () => {
    const answer = await call(ews(SECRET, 'this is not XML'));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(queue.messages).toEqual([]);
  });

  it('serves the Graph notification path: 202 for a notification, the echo for a validation, 404 for an unknown secret', async () => {
    const item = messageItem({ subscriptionId: 'graph-sub', clientState: CLIENT_STATE, messageId: 'm1' });
    expect(await call(graph(SECRET, graphBody([item])))).toMatchObject({ status: 202, body: '' });
    expect(newMail()).toHaveLength(1);
    expect(await call(graph(SECRET, '', 'validationToken=Validation%3A+Testing'))).toMatchObject({ status: 200, body: 'Validation: Testing' });
    const unknown = await call(graph('unknown-secret', '', 'validationToken=abc'));
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { code: expect.any(String) } });
  });
});

describe('the callback function behind its function URL, on paths the API has no route for', () => {
  let handler: HttpHandler;
  let queue: InMemoryEventQueue;

  beforeEach(() => {
    const clock = new ManualClock(T0);
    const stores = createInMemoryStores({ now: clock.now });
    queue = new InMemoryEventQueue();
    handler = createExchangeCallbackHandler({ ...stores.ports, decisions: stores.decisions, queue, now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() });
  });

  it.each([
    ['the root', 'POST', '/'],
    ['a device route', 'POST', '/v1/devices'],
    ['a callback path without its secret', 'POST', '/v1/callbacks/'],
    ['a callback path with a segment more', 'POST', `/v1/callbacks/${SECRET}/more`],
    ['a callback path under another prefix', 'POST', `/v2/callbacks/${SECRET}`],
    ['a callback path with GET (the API routes POST only)', 'GET', `/v1/callbacks/${SECRET}`],
    ['a Graph path with PUT', 'PUT', `/v1/graph/lifecycle/${SECRET}`],
  ])('answers 404 not_found to %s, in the error shape of every relay answer', async (_what, method, path) => {
    const event = functionUrlEvent({ method, path, body: newMailBody('sub-1', [{ itemId: 'item-A' }]), contentType: 'text/xml; charset=utf-8' }, false);
    const result = (await handler(event, localLambdaContext('exchange-callback'))) as HttpResult;
    expect(result.statusCode).toBe(404);
    expect(result.headers?.['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(result.body!)).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    expect(result.body).not.toContain(SECRET);
    expect(queue.messages).toEqual([]);
  });
});
