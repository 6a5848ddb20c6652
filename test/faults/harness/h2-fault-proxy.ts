import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import http2, { type ClientHttp2Session, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP/2 (h2c) man in the middle between the relay and the APNs sandbox, for the faults a status code cannot
 * express: a connection dropped before APNs saw the push, a connection dropped after APNs accepted it (the answer is
 * lost, so the relay cannot know), and a graceful GOAWAY (streams up to lastStreamID finish, later ones are refused).
 * Everything else is forwarded as is.
 */

export type H2Fault = 'drop-before' | 'drop-after' | 'goaway';

/** Picks a fault for the n-th stream (1-based) and the n-th connection's first stream, or none. */
export type H2FaultPlan = (request: { stream: number; connection: number; firstOnConnection: boolean }) => H2Fault | undefined;

export interface H2FaultProxy {
  url: string;
  /** Faults injected so far, by kind. */
  injected: Record<H2Fault, number>;
  /** `newMessages` of pushes APNs accepted but whose answer the proxy dropped (each may legitimately arrive twice). */
  acceptedButUnanswered: number;
  use(plan: H2FaultPlan | undefined): void;
  stop(): Promise<void>;
}

/**
 * Runs a session teardown on a later turn of the event loop, never inside an HTTP/2 callback: Node 20's HTTP/2 binding
 * corrupts its heap when a session is destroyed or sent GOAWAY re-entrantly while nghttp2 is still processing input
 * (seen here as "corrupted size vs. prev_size" aborts in about one run in four).
 */
function tearDown(action: () => void): void {
  setImmediate(() => {
    try {
      action();
    } catch {
      // Already gone.
    }
  });
}

const HOP_HEADERS = new Set([':method', ':path', ':scheme', ':authority', 'connection', 'host']);

export async function startH2FaultProxy(upstreamUrl: string): Promise<H2FaultProxy> {
  const server = http2.createServer();
  const sessions = new Set<Http2Session>();
  let upstream: ClientHttp2Session | undefined;
  let plan: H2FaultPlan | undefined;
  let streams = 0;
  let connections = 0;
  const proxy: Omit<H2FaultProxy, 'url' | 'stop' | 'use'> = {
    injected: { 'drop-before': 0, 'drop-after': 0, goaway: 0 },
    acceptedButUnanswered: 0,
  };

  const upstreamSession = (): ClientHttp2Session => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(upstreamUrl);
      upstream.on('error', () => undefined);
    }
    return upstream;
  };

  const forward = (headers: IncomingHttpHeaders, body: Buffer): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const outgoing: Record<string, string | string[]> = { ':method': String(headers[':method']), ':path': String(headers[':path']) };
      for (const [name, value] of Object.entries(headers)) {
        if (!HOP_HEADERS.has(name) && value !== undefined) outgoing[name] = value as string | string[];
      }
      const request = upstreamSession().request(outgoing);
      let responseHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      request.on('response', (received) => (responseHeaders = received));
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => resolve({ headers: responseHeaders, body: Buffer.concat(chunks) }));
      request.on('error', reject);
      request.end(body);
    });

  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    (session as Http2Session & { connectionNumber?: number }).connectionNumber = ++connections;
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });

  /**
   * Per session, the pushes APNs accepted whose answer may not have reached the relay yet (the stream is not closed).
   * When a fault drops the connection, their answers are lost with it: the relay has to resend those, so each may
   * legitimately arrive twice.
   */
  const answering = new Map<Http2Session, Map<ServerHttp2Stream, number>>();
  const dropConnection = (session: Http2Session) =>
    tearDown(() => {
      for (const newMessages of answering.get(session)?.values() ?? []) proxy.acceptedButUnanswered += newMessages;
      answering.delete(session);
      session.destroy();
    });
  const newMessagesOf = (body: Buffer) => {
    try {
      return Number((JSON.parse(body.toString('utf8')) as { newMessages?: number }).newMessages ?? 1);
    } catch {
      return 1;
    }
  };

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const session = stream.session as
      | (Http2Session & { connectionNumber?: number; streamsSeen?: number; forwardedMax?: number; refuseAbove?: number })
      | undefined;
    if (!session) return;
    session.streamsSeen = (session.streamsSeen ?? 0) + 1;
    const fault = plan?.({ stream: ++streams, connection: session.connectionNumber ?? 0, firstOnConnection: session.streamsSeen === 1 });
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      void (async () => {
        if (fault === 'drop-before') {
          proxy.injected['drop-before']++;
          dropConnection(session);
          return;
        }
        if (session.refuseAbove !== undefined && (stream.id ?? 0) > session.refuseAbove) {
          // After the GOAWAY: a stream it did not let through is never processed.
          tearDown(() => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
          return;
        }
        if (fault === 'goaway') {
          proxy.injected.goaway++;
          // As APNs does when it shuts a connection down: every stream it already took (up to lastStreamID) finishes,
          // this one is refused unprocessed (RST_STREAM REFUSED_STREAM), later ones too, then the connection closes.
          // lastStreamID never goes below a stream already forwarded: the relay would resend it, and APNs has it.
          const lastStreamId = Math.max(0, (stream.id ?? 2) - 2, session.forwardedMax ?? 0);
          session.refuseAbove = lastStreamId;
          tearDown(() => {
            session.goaway(http2.constants.NGHTTP2_NO_ERROR, lastStreamId, Buffer.from('{"reason":"Shutdown"}'));
            stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
            session.close();
          });
          return;
        }
        session.forwardedMax = Math.max(session.forwardedMax ?? 0, stream.id ?? 0);
        const body = Buffer.concat(chunks);
        let answer: { headers: IncomingHttpHeaders; body: Buffer };
        try {
          answer = await forward(headers, body);
        } catch {
          dropConnection(session);
          return;
        }
        const accepted = Number(answer.headers[':status']) === 200;
        if (fault === 'drop-after') {
          proxy.injected['drop-after']++;
          if (accepted) proxy.acceptedButUnanswered += newMessagesOf(body);
          dropConnection(session);
          return;
        }
        if (stream.destroyed || stream.closed || session.destroyed) {
          // The connection went down (another stream's fault) while APNs was answering this one.
          if (accepted) proxy.acceptedButUnanswered += newMessagesOf(body);
          return;
        }
        if (accepted) {
          const pending = answering.get(session) ?? new Map<ServerHttp2Stream, number>();
          answering.set(session, pending);
          pending.set(stream, newMessagesOf(body));
          stream.once('close', () => pending.delete(stream));
        }
        const responseHeaders: Record<string, string | number> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && (name === ':status' || !name.startsWith(':'))) responseHeaders[name] = value as string;
        }
        stream.respond(responseHeaders);
        stream.end(answer.body);
      })();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get injected() {
      return proxy.injected;
    },
    get acceptedButUnanswered() {
      return proxy.acceptedButUnanswered;
    },
    set acceptedButUnanswered(value: number) {
      proxy.acceptedButUnanswered = value;
    },
    use(next) {
      plan = next;
      streams = 0;
      connections = 0;
      proxy.injected = { 'drop-before': 0, 'drop-after': 0, goaway: 0 };
      proxy.acceptedButUnanswered = 0;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      upstream?.destroy();
      await closed;
    },
  } as H2FaultProxy;
}

/** A declarative plan that can cross a process boundary: the first `count` streams from now get `fault`. */
export interface H2FaultOrder {
  fault: H2Fault;
  count: number;
}

export interface H2FaultProxyProcess {
  url: string;
  use(order: H2FaultOrder | undefined): Promise<void>;
  stats(): Promise<{ injected: Record<H2Fault, number>; acceptedButUnanswered: number }>;
  stop(): Promise<void>;
}

/**
 * The proxy in a child process, as APNs is another machine: a fault that tears down an HTTP/2 session then happens
 * in another process's HTTP/2 stack, and whatever the relay's side does with it is the relay's own behaviour.
 */
export async function startH2FaultProxyProcess(upstreamUrl: string): Promise<H2FaultProxyProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['--h2-fault-proxy-child', upstreamUrl], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let sequence = 0;
  const pending = new Map<number, (value: unknown) => void>();
  child.on('message', (message: { id: number; value: unknown }) => {
    pending.get(message.id)?.(message.value);
    pending.delete(message.id);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('error', () => undefined);
  const call = <T>(command: string, argument?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error('the fault proxy process is gone'));
        return;
      }
      const id = ++sequence;
      pending.set(id, resolve as (value: unknown) => void);
      child.send({ id, command, argument });
      void exited.then(() => reject(new Error('the fault proxy process exited')));
    });
  const url = await call<string>('url');
  return {
    url,
    use: (order) => call('use', order ?? null),
    stats: () => call('stats'),
    async stop() {
      child.kill();
      await exited;
    },
  };
}

if (process.argv[2] === '--h2-fault-proxy-child') {
  const upstream = process.argv[3]!;
  const ready = startH2FaultProxy(upstream);
  process.on('message', (message: { id: number; command: string; argument: H2FaultOrder | null }) => {
    void (async () => {
      const proxy = await ready;
      let value: unknown;
      if (message.command === 'url') value = proxy.url;
      else if (message.command === 'stats') value = { injected: proxy.injected, acceptedButUnanswered: proxy.acceptedButUnanswered };
      else if (message.command === 'use') {
        const order = message.argument;
        let left = order?.count ?? 0;
        proxy.use(order ? () => (left > 0 ? (left--, order.fault) : undefined) : undefined);
      }
      process.send?.({ id: message.id, value });
    })();
  });
  process.on('disconnect', () => process.exit(0));
}
