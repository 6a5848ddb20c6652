import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The HTTP half shared by the played mail servers (EWS, Graph + login): real HTTP on a loopback port, a log of what
 * was asked, and faults queued by tests (an outage, a slow or garbage answer, throttling), each used by one request.
 */
export type PlayedFault =
  /** Never answer (the client's budget must end it). */
  | { kind: 'hang' }
  /** Answer after a pause, then normally. */
  | { kind: 'delay'; ms: number }
  /** Answer this instead of the real answer. */
  | { kind: 'answer'; status: number; body?: string | Buffer; headers?: Record<string, string> }
  /** Close the connection without an answer. */
  | { kind: 'reset' };

export interface PlayedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
  /** Which connection it came on (numbered from 1): what connection-based authentication (NTLM) is bound to. */
  connection: number;
}

export interface PlayedAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface PlayedHttpServer {
  readonly baseUrl: string;
  readonly requests: PlayedRequest[];
  /** Faults for the next requests, in order (each is used once). */
  queueFaults(...faults: PlayedFault[]): void;
  /** Drops faults that no request used. */
  clearFaults(): void;
  /** While down, every request hangs (a mail server that never answers). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** Largest request body read; the relay's requests are a few KB. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export async function startPlayedHttpServer(handle: (request: PlayedRequest) => PlayedAnswer | Promise<PlayedAnswer>): Promise<PlayedHttpServer> {
  const requests: PlayedRequest[] = [];
  const faults: PlayedFault[] = [];
  const sockets = new Set<Socket>();
  const connectionIds = new WeakMap<Socket, number>();
  let connections = 0;
  let down = false;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      void (async () => {
        const request: PlayedRequest = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
          connection: connectionIds.get(req.socket) ?? 0,
        };
        requests.push(request);
        if (down) return;
        const fault = faults.shift();
        if (fault?.kind === 'hang') return;
        if (fault?.kind === 'reset') {
          req.socket.destroy();
          return;
        }
        if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
        const answer: PlayedAnswer = fault?.kind === 'answer' ? { status: fault.status, ...(fault.headers ? { headers: fault.headers } : {}) } : await handle(request);
        const body = fault?.kind === 'answer' ? (fault.body ?? '') : (answer.body ?? '');
        if (res.destroyed) return;
        res.writeHead(answer.status, { ...(answer.headers ?? {}), 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  server.on('connection', (socket) => {
    connectionIds.set(socket, ++connections);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    queueFaults: (...more) => faults.push(...more),
    clearFaults: () => {
      faults.length = 0;
    },
    setDown: (value) => {
      down = value;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
