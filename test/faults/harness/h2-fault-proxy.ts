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

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const session = stream.session as (Http2Session & { connectionNumber?: number; streamsSeen?: number }) | undefined;
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
          session.destroy();
          return;
        }
        if (fault === 'goaway') {
          proxy.injected.goaway++;
          // As APNs does when it shuts a connection down: this stream (after lastStreamID) is refused unprocessed,
          // the ones before it finish normally, then the connection closes.
          session.goaway(http2.constants.NGHTTP2_NO_ERROR, Math.max(0, (stream.id ?? 2) - 2), Buffer.from('{"reason":"Shutdown"}'));
          stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
          session.close();
          return;
        }
        const body = Buffer.concat(chunks);
        let answer: { headers: IncomingHttpHeaders; body: Buffer };
        try {
          answer = await forward(headers, body);
        } catch {
          session.destroy();
          return;
        }
        if (fault === 'drop-after') {
          proxy.injected['drop-after']++;
          if (Number(answer.headers[':status']) === 200) {
            proxy.acceptedButUnanswered += Number((JSON.parse(body.toString('utf8')) as { newMessages?: number }).newMessages ?? 1);
          }
          session.destroy();
          return;
        }
        if (stream.destroyed || stream.closed) return;
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
