import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpResult } from '../../functions/_lib/http.js';
import { noEndpointRegistry } from '../../shared/push/push-gateway.js';
import { createInMemoryStores } from '../../shared/store/in-memory-stores.js';
import { localLambdaContext } from '../../infra/local/lambda-context.js';
import { eventually } from '../support/device-api.js';
import { organizationDeps } from '../support/organization.js';

/**
 * What X-Ray would record (issue 12, blocker 1). The device API runs as it does in Lambda, with the Powertools tracer
 * on, and the segments it emits go to a UDP listener standing in for the X-Ray daemon. Every datagram is scanned for
 * the secrets the run handed out or was sent: device secrets, callback secrets, push tokens, the org token, and a
 * secret quoted by a failing dependency's error. The environment deliberately leaves POWERTOOLS_TRACER_CAPTURE_*
 * unset, so this pins the code's own switches (the construct's environment is pinned by the infra tests): turning
 * `captureResponse` back on in functions/_lib/middleware.ts, or error capture in powertools.ts, fails this file.
 */
const daemon: Socket = createSocket('udp4');
const datagrams: string[] = [];
daemon.on('message', (message) => datagrams.push(message.toString('utf8')));
await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));

// The environment Lambda gives a traced function; read once, when the tracer and the X-Ray SDK load below.
Object.assign(process.env, {
  AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
  AWS_LAMBDA_FUNCTION_NAME: 'inbox-relay-device-api',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'index.handler',
  _X_AMZN_TRACE_ID: 'Root=1-6759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  POWERTOOLS_TRACE_ENABLED: 'true',
});
delete process.env.POWERTOOLS_TRACER_CAPTURE_RESPONSE;
delete process.env.POWERTOOLS_TRACER_CAPTURE_ERROR;
const { tracer } = await import('../../functions/_lib/powertools.js');
const { createDeviceApiHandler } = await import('../../functions/device-api/edge.js');
const { issueOrgToken } = await import('../../functions/_lib/org-token.js');

const ORG_SECRET = 'trace-scan-org-secret';
const PUSH_TOKEN = 'c0ffee'.repeat(10) + 'c0de';
const NEW_PUSH_TOKEN = 'decaf0'.repeat(10) + 'beef';
/** What a failing dependency quotes back in its error (DynamoDB and SNS errors can echo their input). */
const QUOTED_SECRET = 'quoted-by-a-dependency-0123456789abcdef';

describe('no secret in what the X-Ray tracer records', () => {
  const secrets = new Map<string, string>();
  let deviceId = '';

  beforeAll(async () => {
    expect(tracer, 'the tracer is on, as in Lambda').toBeDefined();
    const stores = createInMemoryStores();
    const failingDecisions = new Proxy(stores.decisions, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return async () => {
          throw new Error(`dependency refused the request ${QUOTED_SECRET}`);
        };
      },
    });
    const handler = createDeviceApiHandler({
      ...stores.ports,
      maxDevicesPerOrg: 100,
      decisions: failingDecisions,
      endpoints: noEndpointRegistry,
      publicUrl: 'https://relay.example.com',
      orgTokenSecret: ORG_SECRET,
      now: Date.now,
      random: Math.random,
      ...organizationDeps(),
    });
    const call = async (routeKey: string, options: { token: string; params?: Record<string, string>; body?: unknown }) => {
      const result = (await handler(
        {
          version: '2.0',
          routeKey,
          rawPath: '/',
          rawQueryString: '',
          headers: { authorization: `Bearer ${options.token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) },
          pathParameters: options.params ?? {},
          requestContext: {} as never,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          isBase64Encoded: false,
        },
        localLambdaContext('device-api'),
      )) as HttpResult;
      return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : undefined };
    };

    const orgToken = issueOrgToken('org-trace', ORG_SECRET);
    secrets.set('org token', orgToken).set('org token signature', orgToken.split('.')[2]!).set('push token', PUSH_TOKEN);
    secrets.set('new push token', NEW_PUSH_TOKEN).set('quoted secret', QUOTED_SECRET);

    const registered = await call('POST /v1/devices', {
      token: orgToken,
      body: { pushToken: PUSH_TOKEN, mailboxes: [{ id: 'inbox', kind: 'primary' }, { id: 'boss', kind: 'delegated' }] },
    });
    expect(registered.status).toBe(201);
    deviceId = registered.body.deviceId;
    secrets.set('device secret', registered.body.deviceSecret);
    for (const [n, mailbox] of (registered.body.mailboxes as Array<{ callbackUrl: string }>).entries()) {
      secrets.set(`callback URL ${n}`, mailbox.callbackUrl).set(`callback secret ${n}`, mailbox.callbackUrl.split('/').pop()!);
    }
    const params = { deviceId };
    const token = registered.body.deviceSecret as string;
    expect((await call('GET /v1/devices/{deviceId}', { token, params })).status).toBe(200);
    expect((await call('PATCH /v1/devices/{deviceId}', { token, params, body: { pushToken: NEW_PUSH_TOKEN } })).status).toBe(200);
    const added = await call('POST /v1/devices/{deviceId}/mailboxes', { token, params, body: { id: 'team', kind: 'delegated' } });
    expect(added.status).toBe(201);
    secrets.set('added callback secret', (added.body.callbackUrl as string).split('/').pop()!);
    // A dependency failing with the secret in its message: a 500 whose error the tracer sees in onError.
    expect((await call('GET /v1/devices/{deviceId}/events', { token, params })).status).toBe(500);

    // One handler subsegment per invocation: five, each sent when it closes.
    await eventually(() => (datagrams.filter((datagram) => datagram.includes('## index.handler')).length >= 5 ? true : undefined));
  });

  afterAll(() => {
    daemon.close();
  });

  it('emitted the handler subsegments of every call to the daemon (the scan is not of an empty page)', () => {
    const handlerSegments = datagrams.filter((datagram) => datagram.includes('## index.handler'));
    expect(handlerSegments).toHaveLength(5);
    expect(handlerSegments.join('\n')).toContain('"ColdStart"');
    // The failing call is marked as a fault or error, without its error's text.
    expect(handlerSegments.some((datagram) => /"(fault|error)":true/.test(datagram))).toBe(true);
  });

  it('records no device secret, callback URL or secret, push token, org token or quoted secret', () => {
    const text = datagrams.join('\n');
    const found = [...secrets].filter(([, value]) => text.includes(value) || text.includes(JSON.stringify(value).slice(1, -1)));
    expect(found.map(([name]) => name)).toEqual([]);
    expect(secrets.size).toBeGreaterThanOrEqual(10);
  });
});
