import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http2, { type Http2Session, type ServerHttp2Stream, type Settings } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApnsProviderToken } from '../../functions/_lib/adapters/apns-provider-token.js';
import { ApnsPushGateway, type ApnsPushGatewayOptions } from '../../functions/_lib/adapters/apns-push-gateway.js';
import { generateApnsTestKey, startApnsSandbox, type ApnsSandbox } from '../../infra/local/apns-sandbox.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import type { PushMessage, PushTarget } from '../../shared/push/push-gateway.js';

/** How the gateway treats its HTTP/2 connections: reuse, reconnection, GOAWAY, timeouts, stream limits, pings. */

const TOPIC = 'com.example.inboxrelay';
const key = generateApnsTestKey();
const target: PushTarget = { deviceId: 'device-1', pushToken: 'ab'.repeat(32), environment: 'production' };
const alert: PushMessage = { kind: 'alert', priority: 10, payload: { aps: { alert: 'You have new messages' } } };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function gatewayFor(url: string, overrides: Partial<ApnsPushGatewayOptions> = {}): { gateway: ApnsPushGateway; sleeps: number[] } {
  const sleeps: number[] = [];
  const gateway = new ApnsPushGateway({
    production: url,
    sandbox: url,
    topic: TOPIC,
    token: new ApnsProviderToken({ keyId: 'KEYID12345', teamId: 'TEAMID6789', privateKeyPem: key.privateKeyPem }),
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  cleanups.push(() => gateway.close());
  return { gateway, sleeps };
}

async function sandboxOn(port = 0): Promise<ApnsSandbox> {
  const sandbox = await startApnsSandbox({ port, topic: TOPIC });
  cleanups.push(() => sandbox.stop());
  return sandbox;
}

interface Peer {
  url: string;
  port: number;
  sessions: Http2Session[];
  pings: number;
  stop(): Promise<void>;
}

/** A bare HTTP/2 (h2c) server whose streams the test answers itself. */
async function startPeer(
  onStream: (stream: ServerHttp2Stream, session: Http2Session, peer: Peer) => void,
  settings: Settings = {},
): Promise<Peer> {
  const server = http2.createServer({ settings });
  const peer: Peer = {
    url: '',
    port: 0,
    sessions: [],
    pings: 0,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of peer.sessions) session.destroy();
      await closed;
    },
  };
  server.on('session', (session: Http2Session) => {
    peer.sessions.push(session);
    session.on('ping', () => {
      peer.pings += 1;
    });
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, _headers) => {
    stream.on('error', () => undefined);
    onStream(stream, stream.session!, peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.port = (server.address() as AddressInfo).port;
  peer.url = `http://127.0.0.1:${peer.port}`;
  cleanups.push(() => peer.stop());
  return peer;
}

/**
 * A peer that holds streams until `batch` are open, then answers them all after a PING round trip. Frames the client
 * wrote before the PING ACK arrive before it, so an unbounded client shows more than `batch` open streams here.
 */
async function startBatchingPeer(
  batch: number,
  settings: Settings = {},
): Promise<Peer & { received(): number; mostOpen(): number }> {
  const open: ServerHttp2Stream[] = [];
  let received = 0;
  let mostOpen = 0;
  let flushing = false;
  const peer = await startPeer((stream, session) => {
    received += 1;
    open.push(stream);
    if (open.length < batch || flushing) return;
    flushing = true;
    session.ping(() => {
      mostOpen = Math.max(mostOpen, open.length);
      for (const held of open.splice(0)) ok(held);
      flushing = false;
    });
  }, settings);
  return Object.assign(peer, { received: () => received, mostOpen: () => mostOpen });
}

function ok(stream: ServerHttp2Stream): void {
  if (!stream.destroyed) stream.respond({ ':status': 200, 'apns-id': crypto.randomUUID() }, { endStream: true });
}

function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => (condition() ? resolve() : void setTimeout(check, 5));
    check();
  });
}

describe('ApnsPushGateway connections', () => {
  it('carries sequential and concurrent pushes over one connection per origin', async () => {
    const peer = await startPeer((stream) => ok(stream));
    const { gateway } = gatewayFor(peer.url);

    for (let i = 0; i < 5; i += 1) await gateway.send(target, alert);
    await Promise.all(Array.from({ length: 50 }, () => gateway.send({ ...target, environment: 'sandbox' }, alert)));

    expect(peer.sessions).toHaveLength(1);
  });

  it('sends production and sandbox targets to their own origins', async () => {
    const production = await sandboxOn();
    const sandbox = await sandboxOn();
    const { gateway } = gatewayFor(production.url, { sandbox: sandbox.url });

    await gateway.send({ ...target, environment: 'production' }, alert);
    await gateway.send({ ...target, environment: 'sandbox' }, alert);
    await gateway.send({ ...target, environment: 'sandbox' }, alert);

    expect(production.pushes()).toHaveLength(1);
    expect(sandbox.pushes()).toHaveLength(2);
  });

  it('reconnects after the server restarts', async () => {
    const first = await startApnsSandbox({ topic: TOPIC });
    const port = Number(new URL(first.url).port);
    const { gateway } = gatewayFor(first.url);
    expect(await gateway.send(target, alert)).toMatchObject({ outcome: 'delivered' });
    await first.stop();

    const second = await sandboxOn(port);
    const result = await gateway.send(target, alert);

    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(second.pushes()).toHaveLength(1);
  });

  it('retries a refused connection and delivers once the server is back', async () => {
    const probe = await startApnsSandbox({ topic: TOPIC });
    const port = Number(new URL(probe.url).port);
    await probe.stop();
    let revived: ApnsSandbox | undefined;
    const { gateway, sleeps } = gatewayFor(probe.url, {
      sleep: async (ms) => {
        sleeps.push(ms);
        revived ??= await sandboxOn(port);
      },
    });

    const result = await gateway.send(target, alert);

    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(sleeps).toHaveLength(1);
    expect(revived?.pushes()).toHaveLength(1);
  });

  it('throws RetryableDeliveryError after the attempts when nothing listens', async () => {
    const probe = await startApnsSandbox();
    await probe.stop();
    const { gateway, sleeps } = gatewayFor(probe.url, { retry: { attempts: 2 } });

    const failure = await gateway.send(target, alert).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RetryableDeliveryError);
    expect((failure as RetryableDeliveryError).reason).toBe('ConnectionError');
    expect(sleeps).toHaveLength(1);
  });

  it('resends a push that a GOAWAY refused mid-stream, on a new connection', async () => {
    let streams = 0;
    let held: ServerHttp2Stream | undefined;
    const peer = await startPeer((stream, session) => {
      streams += 1;
      if (streams === 1) {
        held = stream;
        return;
      }
      if (streams === 2) {
        // APNs going away with the second stream in flight: it processed only the first one.
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, held!.id!, Buffer.from('{"reason":"Shutdown"}'));
        ok(held!);
        return;
      }
      ok(stream);
    });
    const warnings: Array<Record<string, unknown> | undefined> = [];
    const { gateway, sleeps } = gatewayFor(peer.url, {
      logger: { warn: (_message, meta) => warnings.push(meta), info: () => undefined },
    });

    const results = await Promise.all([gateway.send(target, alert), gateway.send(target, alert)]);

    expect(results.map((r) => r.outcome)).toEqual(['delivered', 'delivered']);
    expect(streams).toBe(3);
    expect(peer.sessions).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(warnings).toContainEqual(expect.objectContaining({ reason: 'StreamRefused', attempt: 1 }));
  });

  it('resends a push whose connection dropped before the answer', async () => {
    let streams = 0;
    const peer = await startPeer((stream, session) => {
      streams += 1;
      if (streams === 1) session.destroy();
      else ok(stream);
    });
    const { gateway, sleeps } = gatewayFor(peer.url);

    expect(await gateway.send(target, alert)).toMatchObject({ outcome: 'delivered' });
    expect(peer.sessions).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  it('finishes a stream the GOAWAY covers and opens a new connection for the next push', async () => {
    let streams = 0;
    const peer = await startPeer((stream, session) => {
      streams += 1;
      if (streams === 1) session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id!, Buffer.from('{"reason":"Shutdown"}'));
      ok(stream);
    });
    const { gateway, sleeps } = gatewayFor(peer.url);

    expect(await gateway.send(target, alert)).toMatchObject({ outcome: 'delivered' });
    expect(await gateway.send(target, alert)).toMatchObject({ outcome: 'delivered' });

    expect(peer.sessions).toHaveLength(2);
    expect(sleeps).toEqual([]);
  });

  it('moves to a new connection after 503 but stays on it after 429', async () => {
    const answers = [503, 200, 429, 200];
    const peer = await startPeer((stream) => {
      const status = answers.shift() ?? 200;
      if (status === 200) return ok(stream);
      stream.respond({ ':status': status, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ reason: status === 503 ? 'ServiceUnavailable' : 'TooManyRequests' }));
    });
    const { gateway } = gatewayFor(peer.url);

    await gateway.send(target, alert);
    expect(peer.sessions).toHaveLength(2);
    await gateway.send(target, alert);
    expect(peer.sessions).toHaveLength(2);
  });

  it('gives up with RetryableDeliveryError when the server never answers', async () => {
    let streams = 0;
    const peer = await startPeer(() => {
      streams += 1; // holds the stream open and says nothing
    });
    const { gateway } = gatewayFor(peer.url, { requestTimeoutMs: 100, retry: { attempts: 2 } });

    const failure = await gateway.send(target, alert).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RetryableDeliveryError);
    expect((failure as RetryableDeliveryError).reason).toBe('RequestTimeout');
    expect(streams).toBe(2);
  });

  it('drops a connection whose peer stopped reading, even pings, dials a new one, and still closes', async () => {
    // A peer that accepts TCP and then neither reads nor writes: what a vanished APNs host looks like.
    const sockets: Socket[] = [];
    const silent = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const warnings: string[] = [];
    const { gateway } = gatewayFor(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
      requestTimeoutMs: 100,
      retry: { attempts: 2 },
      logger: { warn: (message) => warnings.push(message), info: () => undefined },
      // Retry only once the unanswered ping made the gateway give up the first connection.
      sleep: () => until(() => warnings.includes('APNs connection unresponsive, reconnecting')),
    });

    await expect(gateway.send(target, alert)).rejects.toMatchObject({ reason: 'RequestTimeout' });
    await gateway.close(); // would hang if the session waited for the silent peer

    expect(sockets).toHaveLength(2);
  });

  it('keeps a script that awaits close() alive until the connections are closed', async () => {
    // The idle connection does not hold the process open, so close() must, or Node exits mid-await (code 13).
    const sockets: Socket[] = [];
    const silent = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const dir = await mkdtemp(join(tmpdir(), 'apns-close-'));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    });
    const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
    const module = (path: string): string => JSON.stringify(pathToFileURL(join(repoRoot, path)).href);
    const script = join(dir, 'close.mts');
    await writeFile(
      script,
      `import { ApnsProviderToken } from ${module('functions/_lib/adapters/apns-provider-token.ts')};
       import { ApnsPushGateway } from ${module('functions/_lib/adapters/apns-push-gateway.ts')};
       const token = new ApnsProviderToken({ keyId: 'KEYID12345', teamId: 'TEAMID6789', privateKeyPem: process.env.TEST_APNS_KEY });
       const url = process.env.TEST_APNS_URL;
       const gateway = new ApnsPushGateway({ production: url, sandbox: url, topic: ${JSON.stringify(TOPIC)}, token, requestTimeoutMs: 200, retry: { attempts: 1 } });
       const result = await gateway.send(${JSON.stringify(target)}, ${JSON.stringify(alert)}).catch((error) => error.reason);
       await gateway.close();
       process.stdout.write('closed after ' + result);`,
    );

    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
      cwd: repoRoot,
      env: { ...process.env, TEST_APNS_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, TEST_APNS_KEY: key.privateKeyPem },
    }).catch((error: { code?: number }) => ({ stdout: `exit code ${error.code}` }));

    expect(stdout).toBe('closed after RequestTimeout');
  });

  it('keeps no more streams in flight than maxConcurrentStreams', async () => {
    const peer = await startBatchingPeer(4);
    const { gateway } = gatewayFor(peer.url, { maxConcurrentStreams: 4 });

    const results = await Promise.all(Array.from({ length: 12 }, () => gateway.send(target, alert)));

    expect(results.every((r) => r.outcome === 'delivered')).toBe(true);
    expect(peer.received()).toBe(12);
    expect(peer.mostOpen()).toBe(4);
  });

  it('respects the server’s SETTINGS_MAX_CONCURRENT_STREAMS', async () => {
    const peer = await startBatchingPeer(2, { maxConcurrentStreams: 2 });
    const { gateway } = gatewayFor(peer.url);

    const results = await Promise.all(Array.from({ length: 10 }, () => gateway.send(target, alert)));

    expect(results.every((r) => r.outcome === 'delivered')).toBe(true);
    expect(peer.received()).toBe(10);
    expect(peer.mostOpen()).toBe(2);
  });

  it('pings an idle connection', async () => {
    const peer = await startPeer((stream) => ok(stream));
    const { gateway } = gatewayFor(peer.url, { pingIntervalMs: 20 });

    await gateway.send(target, alert);
    await until(() => peer.pings > 0);

    expect(peer.sessions).toHaveLength(1);
  });

  it('closes its connections on close() and refuses later sends', async () => {
    const peer = await startPeer((stream) => ok(stream));
    const { gateway } = gatewayFor(peer.url);
    await gateway.send(target, alert);

    await gateway.close();

    await until(() => peer.sessions.every((s) => s.closed || s.destroyed));
    await expect(gateway.send(target, alert)).rejects.toThrow(/closed/);
  });
});
