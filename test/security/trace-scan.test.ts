import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noEndpointRegistry } from '../../shared/push/push-gateway.js';
import { createInMemoryStores } from '../../shared/store/in-memory-stores.js';
import { eventually } from '../support/device-api.js';
import { organizationDeps } from '../support/organization.js';
import { handlerCaller } from '../support/device-api.js';

/**
 * What X-Ray would record (issue 12, blocker 1). The device API runs as it does in Lambda, with the tracer on
 * (functions/_lib/xray-tracer.ts), and the segments it emits go to a UDP listener standing in for the X-Ray daemon.
 * Every datagram is scanned for the secrets the run handed out or was sent: device secrets, callback secrets, push
 * tokens, the org token, and a secret quoted by a failing dependency's error. Traced AWS SDK calls are run too,
 * against a loopback stand-in for DynamoDB that is sent a secret and quotes one back in its error. Adding a response,
 * an error's text or a request's parameters to what the tracer records fails this file; so does a tracer that stops
 * emitting (the scan would be of an empty page).
 */
const TRACE_ROOT = '1-6759e988-bd862e3fe1be46a994272793';
/** The function segment Lambda opens for the invocation, named as the parent in the trace header. */
const LAMBDA_SEGMENT = '53995c3f42cd8ad8';

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
  _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${LAMBDA_SEGMENT};Sampled=1`,
});
const { tracer, traced } = await import('../../functions/_lib/powertools.js');
const { createDeviceApiHandler } = await import('../../functions/device-api/edge.js');
const { issueOrgToken } = await import('../../functions/_lib/org-token.js');

const ORG_SECRET = 'trace-scan-org-secret';
const PUSH_TOKEN = 'c0ffee'.repeat(10) + 'c0de';
const NEW_PUSH_TOKEN = 'decaf0'.repeat(10) + 'beef';
/** What a failing dependency quotes back in its error (DynamoDB and SNS errors can echo their input). */
const QUOTED_SECRET = 'quoted-by-a-dependency-0123456789abcdef';
/** A value a traced AWS call sends, and what the DynamoDB stand-in quotes back when it refuses a call. */
const ITEM_KEY = 'item-key-secret-fedcba9876543210';
const DYNAMODB_QUOTED_SECRET = 'dynamodb-echoes-input-5f5f5f5f5f5f';

interface SegmentDocument {
  id: string;
  name: string;
  type: string;
  trace_id: string;
  parent_id: string;
  start_time: number;
  end_time: number;
  namespace?: string;
  annotations?: Record<string, unknown>;
  fault?: boolean;
  error?: boolean;
  [field: string]: unknown;
}

/** Each datagram is the daemon's header line, then one segment document. */
function documents(): SegmentDocument[] {
  return datagrams.map((datagram) => {
    const [header, body] = datagram.split('\n');
    expect(JSON.parse(header!)).toEqual({ format: 'json', version: 1 });
    return JSON.parse(body!) as SegmentDocument;
  });
}

/** DynamoDB's JSON protocol on loopback: answers a GetItem, refuses the next with a message quoting a secret. */
const dynamodb = await (async () => {
  const headers: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      headers.push(request.headers);
      const answered = headers.length === 1;
      response.writeHead(answered ? 200 : 400, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': answered ? 'request-answered' : 'request-refused',
      });
      response.end(
        JSON.stringify(
          answered
            ? { Item: { pk: { S: ITEM_KEY } } }
            : { __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message: `bad key ${DYNAMODB_QUOTED_SECRET}` },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, headers, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
})();

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
      ...organizationDeps(stores.state),
    });
    const call = handlerCaller(handler);

    const orgToken = await issueOrgToken('org-trace', ORG_SECRET);
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
    await eventually(() => (documents().filter((document) => document.name === '## index.handler').length >= 5 ? true : undefined));

    // AWS SDK calls through a traced client, inside an invocation: one answered, one refused with a quoted secret.
    secrets.set('item key', ITEM_KEY).set('dynamodb quoted secret', DYNAMODB_QUOTED_SECRET);
    const client = traced(
      new DynamoDBClient({ region: 'eu-west-1', endpoint: dynamodb.url, maxAttempts: 1, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    );
    tracer!.startInvocation();
    await client.send(new GetItemCommand({ TableName: 'relay', Key: { pk: { S: ITEM_KEY } } }));
    await expect(client.send(new GetItemCommand({ TableName: 'relay', Key: { pk: { S: 'refused' } } }))).rejects.toThrow(DYNAMODB_QUOTED_SECRET);
    tracer!.endInvocation(false);
    client.destroy();
    await eventually(() => (documents().filter((document) => document.namespace === 'aws').length >= 2 ? true : undefined));
  });

  afterAll(async () => {
    daemon.close();
    await new Promise((resolve) => dynamodb.server.close(resolve));
  });

  it('emitted the handler subsegments of every call to the daemon (the scan is not of an empty page)', () => {
    const handlerSegments = documents().filter((document) => document.name === '## index.handler');
    expect(handlerSegments).toHaveLength(6);
    for (const segment of handlerSegments) {
      expect(segment).toMatchObject({ type: 'subsegment', trace_id: TRACE_ROOT, parent_id: LAMBDA_SEGMENT });
      expect(segment.end_time).toBeGreaterThanOrEqual(segment.start_time);
    }
    expect(handlerSegments.map((segment) => segment.annotations)).toEqual([
      { ColdStart: true, Service: 'inbox-relay' },
      ...Array.from({ length: 5 }, () => ({ ColdStart: false, Service: 'inbox-relay' })),
    ]);
    // The failing call (the fifth) is marked as a fault, without its error's text.
    expect(handlerSegments.map((segment) => segment.fault === true)).toEqual([false, false, false, false, true, false]);
  });

  it('emitted one subsegment per AWS SDK call, under its invocation, with the trace header sent on to the service', () => {
    const handler = documents().filter((document) => document.name === '## index.handler').at(-1)!;
    const calls = documents().filter((document) => document.namespace === 'aws');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({
      name: 'DynamoDB',
      trace_id: TRACE_ROOT,
      parent_id: handler.id,
      aws: { operation: 'GetItem', region: 'eu-west-1', request_id: 'request-answered', retries: 0 },
      http: { response: { status: 200 } },
    });
    expect(calls[1]).toMatchObject({ aws: { operation: 'GetItem', request_id: 'request-refused' }, http: { response: { status: 400 } }, error: true });
    expect(calls[0]!.error).toBeUndefined();
    expect(dynamodb.headers.map((headers) => headers['x-amzn-trace-id'])).toEqual(
      calls.map((call) => `Root=${TRACE_ROOT};Parent=${call.id};Sampled=1`),
    );
  });

  it('records no device secret, callback URL or secret, push token, org token or quoted secret', () => {
    const text = datagrams.join('\n');
    const found = [...secrets].filter(([, value]) => text.includes(value) || text.includes(JSON.stringify(value).slice(1, -1)));
    expect(found.map(([name]) => name)).toEqual([]);
    expect(secrets.size).toBeGreaterThanOrEqual(10);
  });
});
